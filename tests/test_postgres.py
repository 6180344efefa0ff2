"""What only the PostgreSQL backend does: placeholders, its pool, per-thread transactions, schemas.

The store's behaviour on PostgreSQL is covered by the contract suite (test_store_contract.py);
these tests run against the session's private server (emulators/postgres_server.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from tests.conftest import ROOT
from webcare.core.errors import StoreError
from webcare.store import Store
from webcare.store.postgres import PostgresBackend, to_pyformat

pytestmark = pytest.mark.postgres


def test_placeholders_become_pyformat_outside_string_literals():
    assert to_pyformat("SELECT * FROM t WHERE a = ? AND b = '?' AND c LIKE '50%'") == (
        "SELECT * FROM t WHERE a = %s AND b = '?' AND c LIKE '50%%'"
    )
    assert to_pyformat("SELECT 'it''s ?', ? % 2") == "SELECT 'it''s ?', %s %% 2"


def test_an_unreachable_server_is_one_clear_error_without_the_password():
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL at") as raised:
        Store.open("postgresql://webcare:hunter2@127.0.0.1:1/webcare")
    assert "hunter2" not in str(raised.value) and "webcare:***@" in str(raised.value)
    assert time.monotonic() - started < 5  # fails fast instead of waiting for the pool
    with pytest.raises(StoreError, match="invalid PostgreSQL url"):
        Store.open("postgresql://[broken")


def test_the_schema_named_in_the_url_is_created_and_holds_a_store_of_its_own(postgres_url, postgres_admin_url):
    with psycopg.connect(postgres_admin_url) as conn:
        schema = postgres_url.rsplit("=", 1)[1]
        assert not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchall()
    store = Store.open(postgres_url)
    store.identify("telegram", "1")
    with psycopg.connect(postgres_admin_url) as conn:
        rows = conn.execute(f'SELECT COUNT(*) FROM "{schema}".customers').fetchone()
    assert rows == (1,)
    store.close()


def test_processes_starting_together_migrate_once(postgres_url):
    results: list[object] = []
    barrier = threading.Barrier(5)

    def start() -> None:
        barrier.wait()
        try:
            results.append(Store.open(postgres_url))
        except Exception as e:  # noqa: BLE001 - asserted below
            results.append(e)

    threads = [threading.Thread(target=start) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stores = [r for r in results if isinstance(r, Store)]
    assert len(stores) == 5, results
    versions = stores[0].backend.query("SELECT version FROM schema_migrations")
    assert len(versions) == len({r["version"] for r in versions}) == stores[0].schema_version()
    for store in stores:
        store.close()


def test_each_thread_has_its_own_transaction(postgres_store):
    inside, checked = threading.Event(), threading.Event()

    def writer() -> None:
        with postgres_store.transaction():
            postgres_store.identify("telegram", "uncommitted")
            inside.set()
            checked.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(10)
    started = time.monotonic()
    assert postgres_store.customer_by_identity("telegram", "uncommitted") is None  # not yet committed
    assert postgres_store.identify("telegram", "other")["id"]  # and not blocked by the open transaction
    assert time.monotonic() - started < 2
    checked.set()
    thread.join(10)
    assert postgres_store.customer_by_identity("telegram", "uncommitted") is not None


def test_claiming_skips_replies_another_transaction_has_locked(postgres_store):
    conversations = [postgres_store.open_conversation(postgres_store.identify("telegram", c)["id"], "telegram", c)
                     for c in ("busy", "free")]
    busy = [postgres_store.queue_outgoing(conversations[0]["id"], "b") for _ in range(2)]
    free = [postgres_store.queue_outgoing(conversations[1]["id"], "f") for _ in range(2)]
    locked, done = threading.Event(), threading.Event()

    def slow_transaction() -> None:
        with postgres_store.transaction():  # e.g. an erasure touching the busy chat's replies
            postgres_store.backend.execute("UPDATE messages SET attempts = attempts WHERE chat_id = 'busy'")
            locked.set()
            done.wait(10)

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert locked.wait(10)
    started = time.monotonic()
    assert [r["id"] for r in postgres_store.claim_outbox("telegram", "worker")] == free  # SKIP LOCKED
    assert time.monotonic() - started < 2
    done.set()
    thread.join(10)
    assert [r["id"] for r in postgres_store.claim_outbox("telegram", "worker")] == busy


def test_many_threads_share_a_small_pool_without_leaking_connections(postgres_url):
    store = Store(PostgresBackend(postgres_url, max_size=3))

    def work(i: int) -> None:
        for n in range(10):
            customer = store.identify("telegram", f"{i}-{n}")
            store.open_conversation(customer["id"], "telegram", f"{i}-{n}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stats = store.backend.pool.get_stats()  # type: ignore[attr-defined]
    assert stats["pool_size"] <= 3 and stats["pool_available"] == stats["pool_size"]
    assert store.backend.query("SELECT COUNT(*) AS n FROM customers")[0]["n"] == 80
    store.close()


def test_the_pool_replaces_connections_the_server_closed(postgres_store, postgres_url, postgres_admin_url):
    postgres_store.identify("telegram", "before")
    application = postgres_url.rsplit("application_name=", 1)[1]
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", [application]
        ).fetchall()
    assert killed
    assert postgres_store.identify("telegram", "after")["id"]
    assert postgres_store.customer_by_identity("telegram", "before") is not None


def test_under_ci_a_postgresql_test_that_cannot_run_fails_instead_of_skipping(tmp_path):
    test = "tests/test_postgres.py::test_the_schema_named_in_the_url_is_created_and_holds_a_store_of_its_own"
    env = {**os.environ, "WEBCARE_TEST_PG_BINDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("WEBCARE_TEST_POSTGRES", None)
    runs = {ci: subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test],
                               cwd=ROOT, env={**env, "CI": ci}, capture_output=True, text=True, timeout=120, check=False)
            for ci in ("true", "")}
    assert runs[""].returncode == 0 and "1 skipped" in runs[""].stdout
    assert runs["true"].returncode == 1 and "CI=true: this postgres test must run" in runs["true"].stdout
