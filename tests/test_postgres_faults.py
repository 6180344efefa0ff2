"""Faults with several processes on one store: a worker killed with SIGKILL mid-batch, database
connections cut under running workers, a listener host dying while it holds its lease.

Workers are real processes running the real outbox dispatcher; the channel they deliver on writes
each delivery to a log file (flushed before the store hears of it), so the test sees every send —
also those of a worker that was killed before it could mark the message sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT
from webcare.bot.channels.base import OutgoingMessage
from webcare.bot.outbox import OutboxDispatcher
from webcare.store import Store

pytestmark = pytest.mark.slow

LEASE = 2.0  # seconds a claimed reply (or a source) stays with a worker that went silent


class LogChannel:
    """Delivers by appending `message_id worker` to a file, slowly enough to be killed mid-batch."""

    name = "telegram"

    def __init__(self, log: Path, worker: str, delay: float) -> None:
        self.log, self.worker, self.delay = log, worker, delay

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: OutgoingMessage) -> str:
        await asyncio.sleep(self.delay)
        with self.log.open("a") as f:
            f.write(f"{message.message_id} {self.worker}\n")
            f.flush()
            os.fsync(f.fileno())
        return f"{self.worker}:{message.message_id}"


def outbox_worker(url: str, log: str, worker: str, delay: float) -> None:
    """A delivery process: the real dispatcher, until killed."""
    store = Store.open(url)
    channel = LogChannel(Path(log), worker, delay)
    dispatcher = OutboxDispatcher(store, {"telegram": channel}, worker=worker, poll_interval=0.05,
                                  lease_seconds=LEASE)
    asyncio.run(dispatcher.run(asyncio.Event()))


def listener_worker(url: str, host: str, total: int) -> None:
    """A listener process: polls a feed of `total` posts, 5 per round, only while it holds the lease."""
    store = Store.open(url)
    while True:
        if store.acquire_lease("feed", host, LEASE):
            after = int(store.get_cursor("feed") or 0)
            batch = range(after + 1, min(after + 5, total) + 1)
            store.ingest_mentions(
                [{"source": "feed", "external_id": str(n), "text": f"post {n}", "author": host} for n in batch],
                cursor=("feed", str(batch[-1])) if batch else None,
            )
        time.sleep(0.05)


@pytest.fixture
def spawn(tmp_path):
    """`spawn(function, *args)`: run a function of this module in a new process (killed afterwards)."""
    started: list[subprocess.Popen] = []

    def start(function: str, *args: object) -> subprocess.Popen:
        code = f"from tests.test_postgres_faults import {function}; {function}(*{args!r})"
        with (tmp_path / f"{function}-{len(started)}.err").open("w") as err:
            started.append(subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=err,
                                            env={**os.environ, "PYTHONPATH": str(ROOT)}))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait(10)


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def deliveries(log: Path) -> list[tuple[int, str]]:
    if not log.exists():
        return []
    return [(int(i), w) for i, w in (line.split() for line in log.read_text().splitlines())]


@pytest.fixture
def shared_url(request, tmp_path):
    """A store that processes can share: PostgreSQL, and an SQLite file for comparison."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'webcare.db'}"


def queue_replies(url: str, n: int) -> set[int]:
    store = Store.open(url)
    ids = set()
    for chat in range(4):
        customer = store.identify("telegram", f"chat-{chat}")
        conversation = store.open_conversation(customer["id"], "telegram", f"chat-{chat}")
        ids |= {store.queue_outgoing(conversation["id"], f"reply {i}") for i in range(n // 4)}
    store.close()
    return ids


def all_sent(url: str) -> bool:
    store = Store.open(url)
    try:
        return not store.pending_outbox()
    finally:
        store.close()


@pytest.mark.parametrize("shared_url", ["postgres", "sqlite"], indirect=True)
def test_a_worker_killed_mid_batch_loses_no_reply(shared_url, tmp_path, spawn):
    ids = queue_replies(shared_url, 80)
    log = tmp_path / "sent.log"
    a = spawn("outbox_worker", shared_url, str(log), "a", 0.02)  # a first: b must not take every reply
    wait_for(lambda: sum(w == "a" for _, w in deliveries(log)) >= 10, what="worker a to deliver")
    spawn("outbox_worker", shared_url, str(log), "b", 0.02)
    a.send_signal(signal.SIGKILL)
    wait_for(lambda: all_sent(shared_url), what="every reply to be delivered")
    sent = deliveries(log)
    assert {i for i, _ in sent} == ids  # nothing lost
    duplicates = [i for i, n in Counter(i for i, _ in sent).items() if n > 1]
    assert {w for _, w in sent} == {"a", "b"}
    store = Store.open(shared_url)
    rows = [store.message(i) for i in ids]
    store.close()
    # a delivers its chats side by side: what it was sending when it died (at most one reply per
    # chat) may go out again from b; nothing else twice
    chat_of = {r["id"]: r["chat_id"] for r in rows}
    assert all([w for i, w in sent if i == d] == ["a", "b"] for d in duplicates)
    assert len({chat_of[d] for d in duplicates}) == len(duplicates)
    assert all(r["delivery"] == "sent" and r["platform_message_id"].endswith(f":{r['id']}") for r in rows)


def test_workers_survive_their_database_connections_being_cut(postgres_url, postgres_admin_url, tmp_path, spawn):
    ids = queue_replies(postgres_url, 80)
    log = tmp_path / "sent.log"
    processes = [spawn("outbox_worker", postgres_url, str(log), name, 0.02) for name in ("a", "b")]
    application = postgres_url.rsplit("application_name=", 1)[1]
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        for cut in (5, 30, 55):
            wait_for(lambda: len(deliveries(log)) >= cut, what=f"{cut} deliveries")  # noqa: B023
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", [application]
            ).fetchall()
            assert killed
    wait_for(lambda: all_sent(postgres_url), what="every reply to be delivered")
    sent = [i for i, _ in deliveries(log)]
    assert set(sent) == ids
    assert len(sent) - len(ids) <= 3 * 2  # a cut may interrupt at most one send per worker
    assert all(p.poll() is None for p in processes)  # both still running


@pytest.mark.parametrize("shared_url", ["postgres", "sqlite"], indirect=True)
def test_when_the_listener_holding_the_lease_dies_another_takes_over(shared_url, spawn):
    Store.open(shared_url).close()  # migrate once before the hosts race
    processes = [spawn("listener_worker", shared_url, host, 120) for host in ("host-a", "host-b")]
    store = Store.open(shared_url)

    def holder() -> str | None:
        rows = store.backend.query("SELECT lease_owner FROM cursors WHERE source = 'feed'")
        return rows[0]["lease_owner"] if rows else None

    wait_for(lambda: int(store.get_cursor("feed") or 0) >= 30, what="the first posts")
    first = holder()
    processes[["host-a", "host-b"].index(first)].send_signal(signal.SIGKILL)
    wait_for(lambda: store.get_cursor("feed") == "120", what="the whole feed")
    authors = Counter(r["author"] for r in store.backend.query("SELECT author FROM mentions"))
    assert sum(authors.values()) == 120  # each post once: nothing skipped, nothing twice
    assert set(authors) == {"host-a", "host-b"} and holder() != first
    store.close()


def test_workers_survive_a_postgresql_restart(postgres_server, postgres_url, tmp_path, spawn):
    ids = queue_replies(postgres_url, 80)
    log = tmp_path / "sent.log"
    processes = [spawn("outbox_worker", postgres_url, str(log), name, 0.02) for name in ("a", "b")]
    def running():
        return {w for _, w in deliveries(log)} == {"a", "b"} and len(deliveries(log)) >= 10
    wait_for(running, what="both workers to deliver")  # a worker still starting would find no server
    postgres_server.restart()  # the session's private server, never the machine's own
    wait_for(lambda: all_sent(postgres_url), timeout=120, what="every reply to be delivered after the restart")
    sent = [i for i, _ in deliveries(log)]
    assert set(sent) == ids  # nothing lost
    assert len(sent) - len(ids) <= 2  # the restart may interrupt at most one send per worker
    assert all(p.poll() is None for p in processes)  # both rode it out
