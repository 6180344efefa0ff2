"""Push instead of polling: a reply queued in another process wakes the waiting web chat page at once; the staff
bridge reads all open escalations in one query."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from webcare.bot.channels.webchat import WebChat
from webcare.bot.events import OutboxListener
from webcare.store import Store


@pytest.mark.postgres
def test_a_reply_queued_elsewhere_wakes_the_waiting_page_without_a_poll(postgres_url):
    here, elsewhere = Store.open(postgres_url), Store.open(postgres_url)  # two processes' stores
    try:
        customer = elsewhere.identify("webchat", "chat-1", "Anna")
        conversation = elsewhere.open_conversation(customer["id"], "webchat", "chat-1")
        chat = WebChat(here, poll_seconds=60.0)  # a poll would come far too late

        def reply_soon() -> None:
            time.sleep(1.0)  # the page is waiting (and listening) by then
            elsewhere.queue_outgoing(conversation["id"], "Hallo Anna", "agent:bob")

        threading.Thread(target=reply_soon).start()
        began = time.monotonic()
        messages = asyncio.run(chat.wait("chat-1", 0, timeout=20.0))
        assert [m["text"] for m in messages] == ["Hallo Anna"]
        assert time.monotonic() - began < 10.0
        asyncio.run(chat.stop())
    finally:
        here.close()
        elsewhere.close()


def test_sqlite_has_no_listener(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    assert OutboxListener.for_store(store, lambda channel, chat_id: None) is None
    store.close()


def _escalated(store: Store, user: str) -> tuple[dict, dict]:
    customer = store.identify("telegram", user, user.title())
    conversation = store.open_conversation(customer["id"], "telegram", user)
    store.record_incoming(conversation["id"], "help", "text", None)
    ticket, _ = store.escalate(conversation["id"], "requested")
    return conversation, ticket


@pytest.mark.parametrize("any_store", ["sqlite-memory", "postgres"], indirect=True)
def test_the_staff_bridge_reads_every_open_escalation_in_one_query(any_store):
    store = any_store
    (anna, anna_ticket), (bob, bob_ticket) = _escalated(store, "anna"), _escalated(store, "bob")
    store.set_cursor(f"bridge:{anna_ticket['id']}", '{"last": 1}')
    store.record_incoming(bob["id"], "still there?", "text", None)
    rows = {r["ticket_id"]: r for r in store.escalation_activity("bridge:")}
    assert set(rows) == {anna_ticket["id"], bob_ticket["id"]}
    assert rows[anna_ticket["id"]]["cursor"] == '{"last": 1}' and rows[bob_ticket["id"]]["cursor"] is None
    assert rows[bob_ticket["id"]]["last_id"] == store.messages(bob["id"])[-1]["id"]
    assert rows[anna_ticket["id"]]["conversation_id"] == anna["id"]


def test_the_bot_replies_are_delivered_with_the_turn_and_a_read_claims_nothing(responses, tmp_path, monkeypatch):
    from tests.test_turn_concurrency import Counting
    from webcare.bot.engine import DialogueEngine

    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    chat = WebChat(store, DialogueEngine(store, Counting(), responses))
    chat.post("chat-1", "When are you open?")
    assert store.pending_outbox("webchat") == []  # marked sent in the turn's transaction

    def claimed(*args, **kwargs):
        raise AssertionError("a read claimed the outbox")

    monkeypatch.setattr(store, "claim_outbox", claimed)
    assert [m["from"] for m in chat.history("chat-1")] == ["customer", "bot"]
    store.close()


@pytest.mark.postgres
def test_a_reply_queued_elsewhere_wakes_the_outbox_dispatcher(postgres_url):
    from webcare.bot.outbox import OutboxDispatcher

    here, elsewhere = Store.open(postgres_url), Store.open(postgres_url)
    sent: list[str] = []

    class Channel:
        async def send(self, message):
            sent.append(message.text)
            return "id"

    async def scenario() -> None:
        stop = asyncio.Event()
        dispatcher = OutboxDispatcher(here, {"webchat": Channel()}, poll_interval=60.0)  # a poll comes too late
        running = asyncio.create_task(dispatcher.run(stop))
        await asyncio.sleep(1.0)  # the first round found nothing; the dispatcher waits (and listens)
        customer = await asyncio.to_thread(elsewhere.identify, "webchat", "chat-2", "Bob")
        conversation = await asyncio.to_thread(elsewhere.open_conversation, customer["id"], "webchat", "chat-2")
        await asyncio.to_thread(elsewhere.queue_outgoing, conversation["id"], "Hallo Bob", "agent:anna")
        for _ in range(100):
            if sent:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await running

    try:
        asyncio.run(scenario())
        assert sent == ["Hallo Bob"]
    finally:
        here.close()
        elsewhere.close()
