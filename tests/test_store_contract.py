"""One contract for the Store on every backend: SQLite in memory, an SQLite file, PostgreSQL.

Each test runs three times (the `any_store` fixture); the PostgreSQL run skips with the reason
when no server is reachable. Concurrency tests use separate Store objects (separate connections)
where the backend has a database others can open, and separate processes for the outbox.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import Clock
from webcare.core.errors import NotFound, StoreError
from webcare.store import Store

TABLES = {"customers", "identities", "conversations", "messages", "mentions", "tickets", "cursors",
          "events", "labels", "users", "schema_migrations", "claims", "staff_sessions"}


@pytest.fixture
def clock(any_store) -> Clock:
    clock = Clock()
    any_store.clock = clock
    return clock


def url_of(store: Store) -> str | None:
    """A URL another connection (or process) can open the same database with; None for memory."""
    backend = store.backend
    if backend.dialect == "postgresql":
        return backend.url  # type: ignore[attr-defined]
    return f"sqlite:///{backend.path}" if backend.path else None  # type: ignore[attr-defined]


@pytest.fixture
def peers(any_store):
    """`peers(n)`: n stores on the same database, each with its own connection where possible."""
    opened: list[Store] = []

    def make(n: int) -> list[Store]:
        url = url_of(any_store)
        if url is None:
            return [any_store] * n
        opened.extend(Store.open(url) for _ in range(n))
        return opened[-n:]

    yield make
    for store in opened:
        store.close()


def together(stores: list[Store], work: Callable[[Store, int], Any]) -> list[Any]:
    """Run `work(store, i)` in one thread per store, all released at once; results or exceptions."""
    barrier = threading.Barrier(len(stores))
    results: list[Any] = [None] * len(stores)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(stores[i], i)
        except Exception as e:  # noqa: BLE001 - handed to the test to assert on
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def conversation_of(store: Store, channel: str = "telegram", user: str = "42", name: str = "Anna") -> dict:
    customer = store.identify(channel, user, name)
    return store.open_conversation(customer["id"], channel, user)


def chats(store: Store, n: int) -> list[dict]:
    """Conversations in n Telegram chats (replies of different chats may go out in parallel)."""
    return [conversation_of(store, user=f"chat-{i}") for i in range(n)]


def count(store: Store, table: str) -> int:
    return store.backend.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


# -- schema and transactions -------------------------------------------------------------------


def test_migrations_are_applied_once(any_store):
    assert set(any_store.backend.table_names()) >= TABLES
    assert any_store.schema_version() >= 1
    assert any_store.migrate() == []


def test_a_transaction_commits_together_or_not_at_all(any_store):
    with pytest.raises(RuntimeError), any_store.transaction():
        any_store.identify("telegram", "1")
        raise RuntimeError("boom")
    assert any_store.customer_by_identity("telegram", "1") is None
    with any_store.transaction():
        any_store.identify("telegram", "2")
        try:
            with any_store.transaction():  # a savepoint: only this part is undone
                any_store.identify("telegram", "3")
                raise RuntimeError("inner")
        except RuntimeError:
            pass
    assert any_store.customer_by_identity("telegram", "2") is not None
    assert any_store.customer_by_identity("telegram", "3") is None


def test_a_database_error_is_a_store_error_and_leaves_the_store_usable(any_store):
    with pytest.raises(StoreError):
        any_store.backend.execute("INSERT INTO customers (display_name) VALUES (?)", ["no created_at"])
    with pytest.raises(StoreError), any_store.transaction():
        any_store.identify("telegram", "5")
        any_store.backend.execute("SELECT * FROM no_such_table")
    assert any_store.customer_by_identity("telegram", "5") is None
    assert any_store.identify("telegram", "5")["id"]


# -- customers and identities ------------------------------------------------------------------


def test_identify_creates_a_customer_once(any_store):
    first = any_store.identify("telegram", "42", "Anna")
    again = any_store.identify("telegram", "42", "Someone else")
    assert again["id"] == first["id"] and again["display_name"] == "Anna"
    assert [i["external_id"] for i in any_store.identities(first["id"])] == ["42"]
    assert any_store.identify("webchat", "42")["id"] != first["id"]
    assert len(any_store.events("customer_created")) == 2


def test_identify_is_safe_when_processes_race(any_store, peers):
    stores = peers(6)
    results = together(stores, lambda s, i: s.identify("telegram", "777", f"Racer {i}")["id"])
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert count(any_store, "customers") == 1 and count(any_store, "identities") == 1
    assert len(any_store.events("customer_created")) == 1


def test_attach_identity_never_links_two_customers(any_store):
    anna = any_store.identify("telegram", "42", "Anna")
    any_store.attach_identity(anna["id"], "x", "@anna")
    any_store.attach_identity(anna["id"], "x", "@anna")  # again: nothing changes
    web = any_store.identify("webchat", "sess-1")
    with pytest.raises(StoreError, match=f"belongs to customer #{anna['id']}"):
        any_store.attach_identity(web["id"], "x", "@anna")
    with pytest.raises(StoreError, match="claim"):
        any_store.attach_identity(web["id"], "email", "anna@example.nl")
    assert {i["channel"] for i in any_store.identities(anna["id"])} == {"telegram", "x"}
    assert any_store.customer(web["id"]) and any_store.events("customers_merged") == []


def test_claims_stay_on_their_conversation_and_suggest_links(any_store):
    anna = any_store.identify("webchat", "a")
    mine = any_store.open_conversation(anna["id"], "webchat", "a")
    stranger = any_store.identify("webchat", "s")
    theirs = any_store.open_conversation(stranger["id"], "webchat", "s")
    first = any_store.add_claim(mine["id"], "order_number", "40218833")
    assert any_store.add_claim(mine["id"], "order_number", "40218833")["id"] == first["id"]  # once per conversation
    any_store.add_claim(mine["id"], "email", "anna@example.nl")
    any_store.add_claim(theirs["id"], "order_number", "40218833")
    with pytest.raises(StoreError, match="unknown claim kind"):
        any_store.add_claim(theirs["id"], "telegram", "1")
    assert [c["kind"] for c in any_store.claims(customer_id=anna["id"])] == ["order_number", "email"]
    assert [c["value"] for c in any_store.claims(theirs["id"])] == ["40218833"]
    [match] = any_store.claim_matches(theirs["id"])
    assert (match["customer_id"], match["conversation_id"], match["verified_at"]) == (anna["id"], mine["id"], None)
    assert [c["id"] for c in any_store.customers_claiming("order_number", "40218833")] == [anna["id"], stranger["id"]]
    verified = any_store.verify_claim(mine["id"], "order_number", "40218833", "postcode")
    assert verified["verified_by"] == "postcode" and verified["verified_at"] is not None
    assert any_store.verify_claim(mine["id"], "order_number", "40218833", "kim")["verified_by"] == "postcode"
    assert any_store.claims(theirs["id"])[0]["verified_at"] is None  # proven there, not here
    assert len(any_store.events("claim_verified")) == 1
    any_store.merge_customers(anna["id"], stranger["id"], actor="kim")  # a person links them: claims follow
    assert len(any_store.claims(customer_id=anna["id"])) == 3 and any_store.claim_matches(theirs["id"]) == []


def test_staff_sessions_end_on_logout_password_change_disabling_and_removal(any_store, clock):
    any_store.add_user("kim", "hash-1", "agent")
    for token in ("t1", "t2", "t3"):
        any_store.start_session("kim", token, max_age=3600)
    assert any_store.session_user("t1", 3600)["username"] == "kim" and any_store.session_user("nope", 3600) is None
    any_store.end_session("t1")
    assert any_store.session_user("t1", 3600) is None and any_store.session_user("t2", 3600) is not None
    any_store.update_user("kim", keep_sessions=True, password_hash="hash-1b")  # a rehash at sign-in
    any_store.update_user("kim", role="admin")
    assert any_store.session_user("t2", 3600) is not None
    any_store.update_user("kim", password_hash="hash-2")
    assert any_store.session_user("t2", 3600) is None and any_store.session_user("t3", 3600) is None
    any_store.start_session("kim", "t4", max_age=3600)
    any_store.update_user("kim", disabled=1)
    assert any_store.session_user("t4", 3600) is None
    any_store.update_user("kim", disabled=0)
    any_store.start_session("kim", "t5", max_age=3600)
    clock.advance(3601)
    assert any_store.session_user("t5", 3600) is None  # too old
    any_store.start_session("kim", "t6", max_age=3600)  # forgets the expired ones
    assert count(any_store, "staff_sessions") == 1
    any_store.remove_user("kim")
    any_store.add_user("kim", "hash-3", "agent")  # the same name again inherits nothing
    assert any_store.session_user("t6", 3600) is None and count(any_store, "staff_sessions") == 0
    with pytest.raises(NotFound):
        any_store.start_session("nobody", "t7", 3600)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_typed_identities_of_earlier_versions_become_claims(request, tmp_path, kind):
    from webcare.store.schema import statements
    from webcare.store.store import open_backend

    url = request.getfixturevalue("postgres_url") if kind == "postgres" else f"sqlite:///{tmp_path / 'old.db'}"
    backend = open_backend(url)
    with backend.transaction():
        backend.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                        "applied_at DOUBLE PRECISION NOT NULL)")
        for sql in statements(backend.dialect, 1):
            backend.execute(sql)
        backend.execute("INSERT INTO schema_migrations VALUES (1, 'initial schema', 0)")
        backend.execute("INSERT INTO customers (id, created_at) VALUES (1, 0), (2, 0)")
        backend.execute("INSERT INTO identities (customer_id, channel, external_id, created_at) VALUES "
                        "(1, 'telegram', '42', 0), (1, 'email', 'anna@example.nl', 0), (2, 'order_number', '1', 0)")
        backend.execute("INSERT INTO conversations (id, customer_id, channel, chat_id, created_at, updated_at) "
                        "VALUES (7, 1, 'telegram', '42', 0, 0), (8, 1, 'telegram', '42', 1, 1)")
    store = Store(backend)
    assert [i["channel"] for i in store.identities(1)] == ["telegram"] and store.identities(2) == []
    [claim] = store.claims(customer_id=1)
    assert (claim["conversation_id"], claim["kind"], claim["value"], claim["verified_at"]) == (
        8, "email", "anna@example.nl", None)
    store.close()


def test_merge_and_split(any_store):
    a = any_store.identify("telegram", "1", "A")
    b = any_store.identify("webchat", "2", "B")
    conversation = any_store.open_conversation(b["id"], "webchat", "2")
    any_store.merge_customers(a["id"], a["id"])  # nothing to do
    any_store.merge_customers(a["id"], b["id"], actor="agent")
    assert len(any_store.identities(a["id"])) == 2
    with pytest.raises(NotFound):
        any_store.merge_customers(a["id"], 9999)
    web_identity = next(i for i in any_store.identities(a["id"]) if i["channel"] == "webchat")
    new_id = any_store.split_identity(web_identity["id"], actor="agent")
    assert [i["channel"] for i in any_store.identities(new_id)] == ["webchat"]
    assert any_store.conversation(conversation["id"])["customer_id"] == new_id
    assert [i["channel"] for i in any_store.identities(a["id"])] == ["telegram"]
    with pytest.raises(NotFound):
        any_store.split_identity(9999)


# -- conversations and messages ----------------------------------------------------------------


def test_one_open_conversation_per_chat_and_a_new_one_after_closing(any_store):
    first = conversation_of(any_store)
    assert conversation_of(any_store)["id"] == first["id"]
    any_store.close_conversation(first["id"])
    closed = any_store.conversation(first["id"])
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    second = conversation_of(any_store)
    assert second["id"] != first["id"] and second["state"] == "bot"
    with pytest.raises(NotFound):
        any_store.conversation(9999)


def test_update_and_list_conversations(any_store, clock):
    first = conversation_of(any_store)
    clock.advance(1)
    second = conversation_of(any_store, "webchat", "s")
    clock.advance(1)
    any_store.update_conversation(first["id"], slots={"order_number": "123", "emoji": "🙂"}, language="nl")
    row = any_store.conversation(first["id"])
    assert row["slots"] == {"order_number": "123", "emoji": "🙂"} and row["language"] == "nl"
    with pytest.raises(StoreError):
        any_store.update_conversation(first["id"], state="sleeping")
    with pytest.raises(NotFound):
        any_store.update_conversation(9999, language="en")
    assert [c["id"] for c in any_store.conversations()] == [first["id"], second["id"]]  # recently updated first
    any_store.escalate(second["id"], "requested")
    assert [c["id"] for c in any_store.conversations(states=["waiting"])] == [second["id"]]
    assert [c["id"] for c in any_store.conversations(customer_id=first["customer_id"])] == [first["id"]]


def test_incoming_messages_are_stored_once_per_platform_id(any_store):
    conversation = conversation_of(any_store)
    first = any_store.record_incoming(conversation["id"], "hallo", platform_message_id="m1",
                                      analysis={"intent": "greet"})
    assert isinstance(first, int)
    assert any_store.record_incoming(conversation["id"], "hallo", platform_message_id="m1") is None
    other = conversation_of(any_store, "webchat", "42")
    assert any_store.record_incoming(other["id"], "hallo", platform_message_id="m1") is not None  # other channel
    assert any_store.record_incoming(conversation["id"], "no id") != any_store.record_incoming(conversation["id"], "no id")
    stored = any_store.message(first)
    assert stored["analysis"] == {"intent": "greet"} and stored["direction"] == "in" and stored["chat_id"] == "42"
    any_store.set_analysis(first, {"intent": "greet", "sentiment_score": 0.5})
    assert any_store.message(first)["analysis"]["sentiment_score"] == 0.5
    assert len(any_store.messages(conversation["id"])) == 3
    with pytest.raises(NotFound):
        any_store.record_incoming(9999, "lost")


def test_the_same_update_delivered_to_several_processes_is_stored_once(any_store, peers):
    conversation = conversation_of(any_store)
    stores = peers(6)
    results = together(stores, lambda s, i: s.record_incoming(conversation["id"], "dubbel", platform_message_id="u1"))
    assert sum(isinstance(r, int) for r in results) == 1 and results.count(None) == 5, results


@pytest.mark.parametrize("text", ["🙂🙂🙂", "a" * 1_000_000, "naïve “quotes” 'and' ? % %s ?", "line\nbreak\ttab"])
def test_any_text_survives_a_round_trip(any_store, text):
    conversation = conversation_of(any_store)
    message_id = any_store.record_incoming(conversation["id"], text)
    assert any_store.message(message_id)["text"] == text


def test_a_nul_character_does_not_break_the_store(any_store):
    conversation = conversation_of(any_store)
    message_id = any_store.record_incoming(conversation["id"], "a\x00b")
    assert any_store.message(message_id)["text"] in ("a\x00b", "a\ufffdb")  # PostgreSQL text holds no NUL


# -- the outbox ------------------------------------------------------------------------------


def test_outbox_claims_oldest_first_and_hides_claimed_messages(any_store, clock):
    ids = [any_store.queue_outgoing(c["id"], "reply", buttons=[{"title": "Ja", "payload": "/yes"}])
           for c in chats(any_store, 5)]
    first = any_store.claim_outbox("telegram", "w1", limit=3, lease_seconds=30)
    assert [r["id"] for r in first] == ids[:3]
    assert first[0]["buttons"] == [{"title": "Ja", "payload": "/yes"}]
    assert all(any_store.message(i)["claimed_by"] == "w1" for i in ids[:3])
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w2", limit=10, lease_seconds=300)] == ids[3:]
    assert any_store.claim_outbox("telegram", "w3") == []
    assert any_store.claim_outbox("webchat", "w3") == []
    clock.advance(31)  # w1 died: its lease ran out, another worker takes over
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w3", limit=10)] == ids[:3]


def test_mark_sent_failed_backoff_and_release(any_store, clock):
    sent, retried, dead, released = (any_store.queue_outgoing(c["id"], "hi") for c in chats(any_store, 4))
    assert len(any_store.claim_outbox("telegram", "w1")) == 4
    any_store.mark_sent(sent, "tg-1")
    any_store.mark_failed(retried, "HTTP 502", retry_in=10)
    any_store.mark_failed(dead, "HTTP 400 chat not found" * 100, retry_in=None)
    any_store.release_claim(released)
    row = any_store.message(sent)
    assert (row["delivery"], row["platform_message_id"], row["claimed_by"]) == ("sent", "tg-1", None)
    assert row["sent_at"] is not None
    row = any_store.message(retried)
    assert (row["delivery"], row["attempts"], row["error"]) == ("pending", 1, "HTTP 502")
    row = any_store.message(dead)
    assert row["delivery"] == "failed" and len(row["error"]) == 500
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w2")] == [released]  # retry not due yet
    clock.advance(11)
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w2")] == [retried]
    assert {r["id"] for r in any_store.pending_outbox("telegram")} == {retried, released}
    with pytest.raises(NotFound):
        any_store.mark_sent(9999)


def test_a_claim_is_renewed_only_by_its_worker(any_store, clock):
    conversation = conversation_of(any_store)
    message_id = any_store.queue_outgoing(conversation["id"], "hallo")
    any_store.claim_outbox("telegram", "slow", lease_seconds=10)
    clock.advance(8)
    assert any_store.renew_claim(message_id, "slow", 10)  # still mine: now until t+18
    clock.advance(8)
    assert any_store.claim_outbox("telegram", "fast") == []
    clock.advance(3)  # the slow worker's lease ran out; another worker takes the reply
    assert [r["id"] for r in any_store.claim_outbox("telegram", "fast")] == [message_id]
    assert not any_store.renew_claim(message_id, "slow", 10)  # so the slow worker must not send it
    any_store.mark_sent(message_id)
    assert not any_store.renew_claim(message_id, "fast", 10)


def test_a_chats_replies_stay_in_order_across_workers(any_store, clock):
    x, y = conversation_of(any_store, user="x"), conversation_of(any_store, user="y")
    x1, x2 = any_store.queue_outgoing(x["id"], "x1"), any_store.queue_outgoing(x["id"], "x2")
    y1 = any_store.queue_outgoing(y["id"], "y1")
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w1", limit=1)] == [x1]
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w2")] == [y1]  # not x2: x1 is still out
    any_store.mark_failed(x1, "HTTP 502", retry_in=10)
    any_store.release_claim(y1)
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w2")] == [y1]  # not x2: x1 waits for a retry
    clock.advance(11)
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w2")] == [x1, x2]


def test_outbox_claims_one_chat(any_store):
    a, b = conversation_of(any_store, user="1"), conversation_of(any_store, user="2")
    any_store.queue_outgoing(a["id"], "for a")
    mine = any_store.queue_outgoing(b["id"], "for b")
    assert [r["id"] for r in any_store.claim_outbox("telegram", "w", chat_id="2")] == [mine]


def test_threads_claiming_the_outbox_never_share_a_message(any_store, peers):
    conversations = chats(any_store, 12)
    ids = {any_store.queue_outgoing(conversations[i % 12]["id"], f"m{i}") for i in range(120)}

    def drain(store: Store, i: int) -> list[int]:
        got = []
        while rows := store.claim_outbox("telegram", f"w{i}", limit=7, lease_seconds=300):
            got += [r["id"] for r in rows]
            for r in rows:
                store.mark_sent(r["id"], f"w{i}")
        return got

    results = together(peers(4), drain)
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)  # every message exactly once
    assert all(any_store.message(i)["platform_message_id"] == f"w{n}" for n, r in enumerate(results) for i in r)


def test_workers_delivering_at_once_keep_each_chat_in_order(any_store, peers):
    conversations = chats(any_store, 2)
    for round_ in range(30):
        for c in conversations:
            any_store.queue_outgoing(c["id"], str(round_))
    delivered: list[tuple[str, str]] = []
    lock = threading.Lock()

    def deliver(store: Store, i: int) -> None:
        deadline = time.monotonic() + 20
        while store.pending_outbox() and time.monotonic() < deadline:
            for row in store.claim_outbox("telegram", f"w{i}", limit=2, lease_seconds=300):
                time.sleep(0.001)
                with lock:
                    delivered.append((row["chat_id"], row["text"]))
                store.mark_sent(row["id"])

    together(peers(4), deliver)
    assert len(delivered) == 60
    for c in conversations:
        assert [text for chat, text in delivered if chat == c["chat_id"]] == [str(r) for r in range(30)]


def _drain_in_process(url: str, worker: str, start) -> list[int]:
    store = Store.open(url)
    start.wait()
    got = []
    while rows := store.claim_outbox("telegram", worker, limit=5, lease_seconds=300):
        for row in rows:
            time.sleep(0.001)
            store.mark_sent(row["id"], worker)
            got.append(row["id"])
    store.close()
    return got


def test_processes_claiming_the_outbox_never_share_a_message(any_store):
    url = url_of(any_store)
    if url is None:
        pytest.skip("an in-memory database cannot be shared between processes")
    conversations = chats(any_store, 30)
    ids = {any_store.queue_outgoing(conversations[i % 30]["id"], f"m{i}") for i in range(300)}
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(3) as pool:
        start = manager.Barrier(3)
        results = pool.starmap(_drain_in_process, [(url, f"p{i}", start) for i in range(3)])
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)
    assert sum(1 for r in results if r) >= 2, "the workers did not overlap; the test proved nothing"
    by_worker = {i: f"p{n}" for n, r in enumerate(results) for i in r}
    assert all(any_store.message(i)["platform_message_id"] == w for i, w in by_worker.items())


# -- tickets and handoff -----------------------------------------------------------------------


def test_escalate_opens_one_ticket_per_conversation_and_reopens_it(any_store):
    conversation = conversation_of(any_store)
    ticket, new = any_store.escalate(conversation["id"], "requested", priority="normal", summary="s1",
                                     story={"transcript": []})
    assert new and ticket["status"] == "open" and ticket["kind"] == "escalation"
    assert any_store.conversation(conversation["id"])["state"] == "waiting"
    assert any_store.queue_length() == 1
    again, new = any_store.escalate(conversation["id"], "complaint", priority="high", summary="s2")
    assert not new and again["id"] == ticket["id"] and again["priority"] == "high" and again["summary"] == "s2"
    lower, _ = any_store.escalate(conversation["id"], "requested", priority="low")
    assert lower["priority"] == "high"  # never lowered
    assert len(any_store.tickets()) == 1
    any_store.take(conversation["id"], "kim")
    resolved = any_store.hand_back(conversation["id"], actor="kim")
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    assert any_store.conversation(conversation["id"])["state"] == "bot"
    reopened, new = any_store.escalate(conversation["id"], "requested", priority="urgent")
    assert new and reopened["id"] == ticket["id"] and reopened["status"] == "open"
    assert reopened["reopened"] == 1 and reopened["assignee"] is None and reopened["resolved_at"] is None
    assert len(any_store.tickets()) == 1 and len(any_store.events("escalated")) == 4


def test_take_reply_hand_back_close_and_csat(any_store):
    conversation = conversation_of(any_store)
    any_store.escalate(conversation["id"], "requested")
    taken = any_store.take(conversation["id"], "kim")
    assert (taken["state"], taken["owner"]) == ("human", "kim")
    ticket = any_store.ticket_for_conversation(conversation["id"])
    assert (ticket["status"], ticket["assignee"]) == ("assigned", "kim")
    with pytest.raises(StoreError, match="already owned by kim"):
        any_store.take(conversation["id"], "lea")
    any_store.take(conversation["id"], "kim")  # taking your own case again is fine
    reply = any_store.agent_reply(conversation["id"], "kim", "Ik kijk even mee.")
    row = any_store.message(reply)
    assert (row["author"], row["direction"], row["delivery"]) == ("agent:kim", "out", "pending")
    first_response = any_store.ticket(ticket["id"])["first_response_at"]
    assert first_response is not None
    any_store.agent_reply(conversation["id"], "kim", "Opgelost!")
    assert any_store.ticket(ticket["id"])["first_response_at"] == first_response
    forced = any_store.take(conversation["id"], "lea", force=True)
    assert forced["owner"] == "lea"
    any_store.hand_back(conversation["id"], actor="lea")
    any_store.record_csat(ticket["id"], 5)
    with pytest.raises(StoreError):
        any_store.record_csat(ticket["id"], 6)
    assert any_store.ticket(ticket["id"])["csat"] == 5
    any_store.close_conversation(conversation["id"], actor="lea")
    assert any_store.ticket(ticket["id"])["status"] == "closed"
    with pytest.raises(StoreError, match="closed"):
        any_store.take(conversation["id"], "kim")


def test_agent_reply_takes_an_unowned_conversation(any_store):
    conversation = conversation_of(any_store)
    any_store.agent_reply(conversation["id"], "kim", "Hallo!")
    assert any_store.conversation(conversation["id"])["owner"] == "kim"
    assert any_store.ticket_for_conversation(conversation["id"])["assignee"] == "kim"


def test_two_agents_taking_at_once_leave_one_owner(any_store, peers):
    conversation = conversation_of(any_store)
    any_store.escalate(conversation["id"], "requested")
    results = together(peers(2), lambda s, i: s.take(conversation["id"], f"agent{i}")["owner"])
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1 and isinstance(next(r for r in results if not isinstance(r, str)), StoreError)
    assert any_store.conversation(conversation["id"])["owner"] == winners[0]


def test_open_ticket_is_idempotent(any_store, peers):
    mention_ticket, created = any_store.open_ticket("mention", "mention:x:1", priority="high", reason="complaint")
    assert created and mention_ticket["priority"] == "high"
    again, created = any_store.open_ticket("mention", "mention:x:1", priority="low")
    assert not created and again["id"] == mention_ticket["id"] and again["priority"] == "high"
    with pytest.raises(StoreError):
        any_store.open_ticket("mention", "mention:x:2", priority="sky-high")
    results = together(peers(5), lambda s, i: s.open_ticket("mention", "mention:x:3")[1])
    assert results.count(True) == 1 and results.count(False) == 4, results
    assert [t["dedupe_key"] for t in any_store.tickets(kind="mention")] == ["mention:x:3", "mention:x:1"]
    assert len(any_store.events("ticket_opened")) == 2
    with pytest.raises(NotFound):
        any_store.ticket(9999)


def test_ticket_filters_and_updates(any_store):
    a, b = conversation_of(any_store, user="1"), conversation_of(any_store, user="2")
    ta, _ = any_store.escalate(a["id"], "requested")
    tb, _ = any_store.escalate(b["id"], "complaint", priority="high")
    any_store.update_ticket(tb["id"], status="resolved", story={"note": "done"})
    assert [t["id"] for t in any_store.tickets(status="open")] == [ta["id"]]
    assert any_store.ticket(tb["id"])["story"] == {"note": "done"}
    assert [t["id"] for t in any_store.tickets(customer_id=b["customer_id"])] == [tb["id"]]
    assert [t["id"] for t in any_store.tickets(limit=1)] == [tb["id"]]


# -- mentions, cursors and leases ------------------------------------------------------------


def mention(n: int, **fields: Any) -> dict[str, Any]:
    return {"source": "x", "external_id": str(n), "author": "@someone", "author_id": "u1",
            "text": f"mention {n}", "raw": {"id": n}, **fields}


def test_ingest_mentions_once_and_advance_the_cursor(any_store):
    new = any_store.ingest_mentions([mention(1), mention(2, priority=0.9)], cursor=("x", "2"))
    assert len(new) == 2 and any_store.get_cursor("x") == "2"
    again = any_store.ingest_mentions([mention(2), mention(3, analysis={"sentiment": "negative"})], cursor=("x", "3"))
    assert len(again) == 1 and any_store.get_cursor("x") == "3"
    row = any_store.mention(again[0])
    assert row["raw"] == {"id": 3} and row["analysis"] == {"sentiment": "negative"}
    assert [m["external_id"] for m in any_store.mentions()] == ["2", "3", "1"]  # priority first, NULLs last
    any_store.update_mention(new[0], flagged=True, review_status="done", analysis={"topic": "delivery"})
    assert [m["id"] for m in any_store.mentions(flagged=True)] == [new[0]]
    assert [m["id"] for m in any_store.mentions(review_status="done")] == [new[0]]
    assert any_store.mention(new[0])["analysis"] == {"topic": "delivery"}
    with pytest.raises(NotFound):
        any_store.mention(9999)


def test_a_failing_row_rolls_back_the_batch_and_the_cursor(any_store):
    any_store.ingest_mentions([mention(1)], cursor=("x", "1"))
    broken = {"source": "x", "external_id": "3"}  # no text: violates NOT NULL
    with pytest.raises(StoreError):
        any_store.ingest_mentions([mention(2), broken], cursor=("x", "3"))
    assert any_store.get_cursor("x") == "1"
    assert [m["external_id"] for m in any_store.mentions()] == ["1"]
    assert any_store.ingest_mentions([mention(2)], cursor=("x", "2"))  # the retry after a crash goes through


def test_overlapping_batches_from_several_processes_store_each_mention_once(any_store, peers):
    results = together(peers(4), lambda s, i: s.ingest_mentions([mention(n) for n in range(i * 5, i * 5 + 15)]))
    new_ids = [m for r in results for m in r]
    assert len(new_ids) == len(set(new_ids)) == 30 == count(any_store, "mentions"), results


def test_cursors(any_store):
    assert any_store.get_cursor("rss:feed") is None
    any_store.set_cursor("rss:feed", "etag-1")
    any_store.set_cursor("rss:feed", "etag-2")
    assert any_store.get_cursor("rss:feed") == "etag-2"
    any_store.set_cursor("rss:feed", None)
    assert any_store.get_cursor("rss:feed") is None


def test_a_lease_has_one_holder_until_it_runs_out_or_is_released(any_store, clock):
    any_store.set_cursor("x", "100")
    assert any_store.acquire_lease("x", "host-a", 30)
    assert not any_store.acquire_lease("x", "host-b", 30)
    clock.advance(20)
    assert any_store.acquire_lease("x", "host-a", 30)  # renewed until t+50
    clock.advance(20)
    assert not any_store.acquire_lease("x", "host-b", 30)
    clock.advance(11)
    assert any_store.acquire_lease("x", "host-b", 30)  # host-a died: host-b takes over
    assert not any_store.release_lease("x", "host-a")
    assert any_store.release_lease("x", "host-b")
    assert any_store.acquire_lease("x", "host-a", 30)
    assert any_store.get_cursor("x") == "100"  # leases leave the cursor alone, and the other way round
    any_store.set_cursor("x", "101")
    assert not any_store.acquire_lease("x", "host-b", 30)
    assert any_store.acquire_lease("bluesky", "host-b", 30)  # one lease per source
    assert any_store.get_cursor("bluesky") is None


def test_processes_racing_for_a_lease_get_exactly_one(any_store, peers):
    results = together(peers(6), lambda s, i: s.acquire_lease("mastodon", f"host-{i}", 60))
    assert results.count(True) == 1 and results.count(False) == 5, results


# -- events, labels, users ---------------------------------------------------------------------


def test_events(any_store, clock):
    any_store.log_event("custom", actor="kim", data={"n": 1, "tekst": "é"})
    clock.advance(10)
    later = any_store.log_event("custom", customer_id=None, data=None)
    assert [e["data"] for e in any_store.events("custom")] == [{"n": 1, "tekst": "é"}, None]
    assert [e["id"] for e in any_store.events("custom", since=clock.now)] == [later]
    assert any_store.events("nothing") == []


def test_labels(any_store):
    any_store.add_label("intent", "waar blijft mijn pakket", "order_status", language="nl", author="kim")
    any_store.add_label("sentiment", "top!", "positive")
    assert [row["label"] for row in any_store.labels()] == ["order_status", "positive"]
    assert any_store.labels("intent")[0]["language"] == "nl"


def test_users(any_store):
    any_store.add_user("kim", "argon2-hash", "agent", "Kim")
    any_store.add_user("root", "argon2-hash", "admin")
    with pytest.raises(StoreError, match="already exists"):
        any_store.add_user("kim", "x", "agent")
    assert any_store.user("kim")["password_hash"] == "argon2-hash"
    assert any_store.user("nobody") is None
    users = any_store.users()
    assert [u["username"] for u in users] == ["kim", "root"] and "password_hash" not in users[0]
    assert users[1]["display_name"] == "root"


# -- privacy: GDPR and retention ---------------------------------------------------------------

PERSONAL = ("Anna de Vries", "tg-anna-42", "anna@example.nl", "mijn pakket 40218833 is kapot", "@annadv",
            "Anna's tweet over pakket", "Annie")


def personal_customer(store: Store) -> tuple[int, int]:
    """A customer with everything: identities, a conversation with messages, a ticket, mentions, a label."""
    anna = store.identify("telegram", "tg-anna-42", "Anna de Vries")
    store.attach_identity(anna["id"], "x", "@annadv")
    conversation = store.open_conversation(anna["id"], "telegram", "tg-anna-42")
    store.add_claim(conversation["id"], "email", "anna@example.nl")
    message = store.record_incoming(conversation["id"], "mijn pakket 40218833 is kapot", platform_message_id="9",
                                    analysis={"entities": {"order_number": "40218833"}})
    store.update_conversation(conversation["id"], slots={"order_number": "40218833"})
    store.escalate(conversation["id"], "complaint", summary="Anna de Vries: order 40218833",
                   story={"customer": "Anna de Vries"})
    store.agent_reply(conversation["id"], "kim", "Sorry Anna de Vries, pakket 40218833 komt eraan")
    [mention_id] = store.ingest_mentions([{"source": "x", "external_id": "t1", "author": "@annadv",
                                           "author_id": "@annadv", "author_name": "Annie",
                                           "text": "Anna's tweet over pakket", "raw": {"user": "Annie"}}])
    store.add_label("complaint", "mijn pakket 40218833 is kapot", "yes", source="message", source_id=message)
    store.add_label("complaint", "Anna's tweet over pakket", "yes", source="mention", source_id=mention_id)
    return anna["id"], conversation["id"]


def dump(store: Store) -> str:
    return repr([store.backend.query(f"SELECT * FROM {t}") for t in sorted(TABLES)])


def test_export_holds_everything_about_a_customer(any_store):
    customer_id, _ = personal_customer(any_store)
    other = conversation_of(any_store, user="someone-else", name="Bob")
    any_store.record_incoming(other["id"], "Bob's secret")
    export = any_store.export_customer(customer_id)
    assert export["customer"]["display_name"] == "Anna de Vries"
    assert {i["external_id"] for i in export["identities"]} == {"tg-anna-42", "@annadv"}
    assert [(c["kind"], c["value"]) for c in export["claims"]] == [("email", "anna@example.nl")]
    [conversation] = export["conversations"]
    assert conversation["messages"][0]["text"] == "mijn pakket 40218833 is kapot"
    assert len(conversation["messages"]) == 2 and conversation["slots"] == {"order_number": "40218833"}
    assert export["tickets"][0]["story"] == {"customer": "Anna de Vries"}
    assert [m["text"] for m in export["mentions"]] == ["Anna's tweet over pakket"]  # matched through an identity
    assert {"customer_created", "escalated"} <= {e["kind"] for e in export["events"]}
    assert "Bob" not in repr(export)
    with pytest.raises(NotFound):
        any_store.export_customer(9999)


def test_erase_removes_personal_data_and_keeps_the_counts(any_store):
    customer_id, conversation_id = personal_customer(any_store)
    bob = conversation_of(any_store, user="bob", name="Bob")
    any_store.record_incoming(bob["id"], "Bob's own words")
    before = {t: count(any_store, t) for t in TABLES - {"events", "labels"}}
    counts = any_store.erase_customer(customer_id, actor="dpo")
    assert counts["identities"] == 2 and counts["claims"] == 1 and counts["messages"] == 2 and counts["mentions"] == 1 and counts["labels"] == 2
    everything = dump(any_store)
    for value in PERSONAL:
        assert value not in everything, value
    assert "Bob's own words" in everything and "Bob" in everything
    assert {t: count(any_store, t) for t in TABLES - {"events", "labels"}} == before
    assert any_store.customer(customer_id)["erased_at"] is not None
    assert any_store.message(any_store.messages(conversation_id)[1]["id"])["delivery"] == "failed"  # not sent now
    assert any_store.events("customer_erased")[0]["actor"] == "dpo"
    assert any_store.identify("telegram", "tg-anna-42")["id"] != customer_id  # writing again: a new customer


def test_prune_forgets_old_data_and_keeps_recent_data_and_metrics(any_store, clock):
    _, conversation_id = personal_customer(any_store)
    for row in any_store.claim_outbox("telegram", "w"):
        any_store.mark_sent(row["id"])
    any_store.hand_back(conversation_id)  # an open ticket would keep the customer
    carla = conversation_of(any_store, user="carla", name="Carla")
    any_store.escalate(carla["id"], "requested", summary="Carla's old case")
    any_store.hand_back(carla["id"])
    any_store.ingest_mentions([mention(1, author="@stranger", text="a stranger's old post")])
    any_store.add_claim(carla["id"], "phone", "0612345678")  # typed long ago
    clock.advance(100 * 86400)
    any_store.record_incoming(carla["id"], "Carla's recent words")
    any_store.add_claim(carla["id"], "email", "carla@example.nl")
    pending = any_store.queue_outgoing(carla["id"], "answer")
    events = count(any_store, "events")
    counts = any_store.prune(retention_days=30)
    assert counts == {"customers": 1, "messages": 2, "mentions": 1, "claims": 1, "tickets": 1}
    everything = dump(any_store)
    assert "carla@example.nl" in everything
    for value in (*PERSONAL, "Carla's old case", "@stranger", "a stranger's old post", "0612345678"):
        assert value not in everything, value
    assert "Carla's recent words" in everything and any_store.message(pending)["delivery"] == "pending"
    assert any_store.customer(carla["customer_id"])["erased_at"] is None
    assert count(any_store, "events") == events + 1  # metrics stay; the erasure is logged
    assert any_store.prune(retention_days=30) == {"customers": 0, "messages": 0, "mentions": 0, "claims": 0,
                                                  "tickets": 0}


# -- domain verbs: one verb, one transaction ----------------------------------------------------


def fail_at(monkeypatch, store: Store, kind: str) -> None:
    """Make the store's last step of a verb, logging the event `kind`, fail."""
    log_event = store.log_event

    def failing(event: str, **fields: Any) -> int:
        if event == kind:
            raise StoreError(f"disk full while logging {event}")
        return log_event(event, **fields)

    monkeypatch.setattr(store, "log_event", failing)


def snapshot(store: Store) -> dict[str, list[dict]]:
    tables = ("customers", "identities", "conversations", "messages", "mentions", "tickets", "labels", "events")
    return {t: store.backend.query(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


def escalated(store: Store) -> tuple[dict, dict]:
    conversation = conversation_of(store)
    store.record_incoming(conversation["id"], "Waar blijft mijn pakket?")
    ticket, _ = store.escalate(conversation["id"], "requested")
    store.take(conversation["id"], "kim")
    return conversation, ticket


@pytest.mark.parametrize("verb, event", [("hand_back", "handed_back"), ("close_conversation", "conversation_closed")])
def test_hand_back_and_close_are_all_or_nothing(any_store, monkeypatch, verb, event):
    conversation, ticket = escalated(any_store)
    before = snapshot(any_store)
    fail_at(monkeypatch, any_store, event)
    with pytest.raises(StoreError, match="disk full"):
        getattr(any_store, verb)(conversation["id"], "kim")
    assert snapshot(any_store) == before
    monkeypatch.undo()
    getattr(any_store, verb)(conversation["id"], "kim")
    after = any_store.ticket(ticket["id"])
    assert after["status"] == ("resolved" if verb == "hand_back" else "closed") and after["resolved_at"]
    assert any_store.conversation(conversation["id"])["state"] == ("bot" if verb == "hand_back" else "closed")


def test_the_story_is_built_at_escalation_and_kept_fresh_while_the_ticket_is_open(any_store):
    conversation, ticket = escalated(any_store)
    assert [m["text"] for m in ticket["story"]["transcript"]] == ["Waar blijft mijn pakket?"]
    assert ticket["summary"].startswith("Anna via telegram; escalated: requested")
    message_id = any_store.record_incoming(conversation["id"], "Het is order 40218833")
    any_store.set_analysis(message_id, {"intent": "order_status", "sentiment_score": -0.5})
    any_store.update_conversation(conversation["id"], slots={"order_number": "40218833", "_memory": {"x": 1}})
    any_store.add_claim(conversation["id"], "order_number", "40218833")
    story = any_store.ticket(ticket["id"])["story"]
    assert [m["text"] for m in story["transcript"]] == ["Waar blijft mijn pakket?", "Het is order 40218833"]
    assert story["intents"] == ["order_status"] and story["sentiment_trend"] == [-0.5]
    assert story["slots"] == {"order_number": "40218833"}  # the bot's own memory ("_…") is not staff's story
    assert story["claims"] == [{"kind": "order_number", "value": "40218833", "verified": False}]
    assert "order number 40218833" in any_store.ticket(ticket["id"])["summary"]
    any_store.hand_back(conversation["id"], "kim")
    any_store.record_incoming(conversation["id"], "Dank je!")  # the case is done: its story stays as it was
    assert any_store.ticket(ticket["id"])["story"] == story


def test_a_given_story_is_kept(any_store):
    conversation = conversation_of(any_store)
    ticket, _ = any_store.escalate(conversation["id"], "requested", summary="s", story={"transcript": []})
    assert (ticket["summary"], ticket["story"]) == ("s", {"transcript": []})


def reply_mention(store: Store) -> int:
    return store.ingest_mentions([mention(7, author_name="Piet", language="nl", sentiment="negative",
                                          complaint=1)])[0]


def test_reply_to_a_mention_is_one_verb(any_store):
    mention_id = reply_mention(any_store)
    message_id = any_store.reply_to_mention(mention_id, "Sorry Piet, we kijken ernaar!", "sam")
    message = any_store.message(message_id)
    assert (message["channel"], message["chat_id"], message["author"], message["delivery"]) == \
        ("x", "7", "agent:sam", "pending")
    row = any_store.mention(mention_id)
    customer = any_store.customer_by_identity("x", "u1")
    assert row["review_status"] == "replied" and row["customer_id"] == customer["id"]
    assert row["conversation_id"] == message["conversation_id"]
    assert [e["actor"] for e in any_store.events("mention_replied")] == ["sam"]


def test_reply_to_a_mention_is_all_or_nothing(any_store, monkeypatch):
    mention_id = reply_mention(any_store)
    before = snapshot(any_store)
    fail_at(monkeypatch, any_store, "mention_replied")
    with pytest.raises(StoreError, match="disk full"):
        any_store.reply_to_mention(mention_id, "Sorry!", "sam")
    assert snapshot(any_store) == before


def test_review_a_mention_labels_what_staff_judged(any_store):
    mention_id = reply_mention(any_store)
    any_store.review_mention(mention_id, "confirm", "sam")
    any_store.review_mention(mention_id, "correct", "sam", sentiment="neutral", complaint=False)
    any_store.review_mention(mention_id, "correct", "sam", sentiment="neutral", complaint=False)  # no change
    row = any_store.mention(mention_id)
    assert (row["review_status"], row["sentiment"], row["complaint"]) == ("confirmed", "neutral", 0)
    assert [(lb["task"], lb["label"], lb["author"]) for lb in any_store.labels()] == [
        ("mention_flag", "relevant", "sam"), ("sentiment", "neutral", "sam"), ("complaint", "not_complaint", "sam")]
    assert len(any_store.events("mention_reviewed")) == 3
    with pytest.raises(StoreError, match="unknown review action"):
        any_store.review_mention(mention_id, "like", "sam")


def test_review_a_mention_is_all_or_nothing(any_store, monkeypatch):
    mention_id = reply_mention(any_store)
    before = snapshot(any_store)
    fail_at(monkeypatch, any_store, "mention_reviewed")
    with pytest.raises(StoreError, match="disk full"):
        any_store.review_mention(mention_id, "dismiss", "sam")
    assert snapshot(any_store) == before


@pytest.mark.parametrize("verb, event", [("merge", "customers_merged"), ("erase", "customer_erased")])
def test_merge_and_erase_are_all_or_nothing(any_store, monkeypatch, verb, event):
    conversation, _ = escalated(any_store)
    other = any_store.identify("webchat", "w1", "Anna")
    before = snapshot(any_store)
    fail_at(monkeypatch, any_store, event)
    with pytest.raises(StoreError, match="disk full"):
        if verb == "merge":
            any_store.merge_customers(conversation["customer_id"], other["id"], actor="kim")
        else:
            any_store.erase_customer(conversation["customer_id"], actor="kim")
    assert snapshot(any_store) == before


def test_reports_count_a_mention_reply_once_and_not_as_a_chat(any_store):
    chat = conversation_of(any_store)
    any_store.reply_to_mention(reply_mention(any_store), "Sorry!", "sam")
    rows = any_store.report_rows(0)
    assert [c["id"] for c in rows["conversations"]] == [chat["id"]]
    assert [m["source"] for m in rows["mentions"]] == ["x"]
    assert len(any_store.conversations()) == 2  # the reply's conversation exists, for the outbox and the export


def test_optional_filters(any_store):
    conversation = conversation_of(any_store)
    assert any_store.conversations(states=[]) == []
    assert [c["id"] for c in any_store.conversations(states=["bot", "waiting"])] == [conversation["id"]]
    assert any_store.conversations(states=["closed"], customer_id=conversation["customer_id"]) == []
    assert len(any_store.events()) == len(any_store.events(since=0)) == 2
