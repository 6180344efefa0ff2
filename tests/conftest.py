"""Shared fixtures: stores on every backend, and the repository's paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.postgres_server import PrivateServer, start_private_server
from webcare.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("WEBCARE_SHARED_DATA", ROOT.parent / "shared" / "data"))
EXTERNAL_POSTGRES = os.environ.get("WEBCARE_TEST_POSTGRES")  # a server of your own instead of a private one
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
MUST_RUN_IN_CI = ("postgres", "browser", "imap")  # markers whose tests may not skip under CI=true


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the PostgreSQL fixtures (also through `any_store[postgres]`) carry the postgres marker."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if {"postgres_url", "postgres_store", "postgres_server"} & set(item.fixturenames) or (
            "postgres" in params.values()
        ):
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Under CI=true a skipped PostgreSQL, browser or IMAP test fails the run: CI must not pass without them."""
    outcome = yield
    report = outcome.get_result()
    markers = {m.name for m in item.iter_markers()} & set(MUST_RUN_IN_CI)
    if IN_CI and report.skipped and markers and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true: this {'/'.join(sorted(markers))} test must run, but it skipped: {reason}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivateServer]:
    """This session's private PostgreSQL server (started on first use, deleted at the end)."""
    if EXTERNAL_POSTGRES:
        pytest.skip("WEBCARE_TEST_POSTGRES names an external server: the tests do not stop or restart it")
    try:
        server = start_private_server()
    except Exception as e:  # noqa: BLE001 - any failure means: no server to test against
        pytest.skip(f"no private PostgreSQL server: {' '.join(str(e).split())}")
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def postgres_admin_url(request: pytest.FixtureRequest) -> str:
    """The URL of the test database: the private server's, or $WEBCARE_TEST_POSTGRES."""
    url = EXTERNAL_POSTGRES or request.getfixturevalue("postgres_server").url
    try:
        import psycopg

        from webcare.store.postgres import PostgresBackend  # noqa: F401

        with psycopg.connect(url, connect_timeout=5):
            pass
    except Exception as e:  # noqa: BLE001 - any failure means: no server to test against
        pytest.skip(f"no PostgreSQL server reachable at {url}: {' '.join(str(e).split())}")
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """The URL of a fresh, empty schema in the test PostgreSQL database (dropped afterwards)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_admin_url}?options=-csearch_path%3D{schema}&application_name={schema}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
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
    from webcare.nlu.config import NLUConfig

    return NLUConfig(data_dir=str(ROOT / "responses"), model_dir=str(ROOT / ".webcare" / "test-models"))


@pytest.fixture(scope="session")
def analyzer(nlu_config):
    """The real, trained Analyzer (trained once per test session when needed)."""
    from webcare.nlu import Analyzer

    return Analyzer.load_or_train(nlu_config)


@pytest.fixture(scope="session")
def responses():
    from webcare.bot.responses import Responses

    return Responses.load(ROOT / "responses")
