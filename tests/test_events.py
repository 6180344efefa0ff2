"""Push instead of polling: a reply queued in another process wakes the waiting web chat page at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from webcare.bot.channels.webchat import WebChat
from webcare.bot.events import OutboxListener
from webcare.store import Store

pytestmark = pytest.mark.postgres


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
