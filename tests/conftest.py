"""Shared fixtures: stores on every backend, and the repository's paths."""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path

import pytest

from store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("WEBCARE_SHARED_DATA", ROOT.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get("WEBCARE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL server cannot be used, or None when it can (asked once per session)."""
    try:
        from store.postgres import PostgresBackend  # noqa: F401
    except ImportError:
        return "the PostgreSQL backend is not part of this build"
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            pass
    except Exception as e:  # noqa: BLE001 - any failure means: no server to test against
        return f"no PostgreSQL server reachable at {POSTGRES_URL}: {' '.join(str(e).split())}"
    return None


@pytest.fixture
def postgres_url():
    """The URL of a fresh, empty schema in the test PostgreSQL database (dropped afterwards)."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}&application_name={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(  # connections a test left open (a killed worker's) would block the drop
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", [schema]
        )
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_store(postgres_url):
    """A store in a fresh schema of the test PostgreSQL database, or a skip with the reason."""
    store = Store.open(postgres_url)
    yield store
    store.close()


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "postgres"])
def any_store(request, tmp_path):
    """The same Store API on every backend: the contract suite runs against each."""
    if request.param == "sqlite-memory":
        store = Store.memory()
    elif request.param == "sqlite-file":
        store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    else:
        yield request.getfixturevalue("postgres_store")
        return
    yield store
    store.close()


@pytest.fixture
def store():
    """A fresh in-memory store."""
    s = Store.memory()
    yield s
    s.close()


@pytest.fixture(scope="session")
def nlu_config():
    """NLU on the shipped demo content; models cached under .webcare/ (retrained when content changes)."""
    from nlu.config import NLUConfig

    return NLUConfig(data_dir=str(ROOT / "responses"), model_dir=str(ROOT / ".webcare" / "test-models"))


@pytest.fixture(scope="session")
def analyzer(nlu_config):
    """The real, trained Analyzer (trained once per test session when needed)."""
    from nlu import Analyzer

    return Analyzer.load_or_train(nlu_config)


@pytest.fixture(scope="session")
def responses():
    from bot.responses import Responses

    return Responses.load(ROOT / "responses")
