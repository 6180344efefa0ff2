"""The customer web chat: its JSON and server-sent-events API over the real dialogue engine and store."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from fastapi.testclient import TestClient

from emulators.console_kit import (
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    make_engine,
    settings,
    write_content,
)
from webcare.bot.channels import webchat
from webcare.bot.channels.webchat import WebChat
from webcare.bot.outbox import OutboxDispatcher
from webcare.console import create_app


@pytest.fixture
def engine(store, tmp_path):
    return make_engine(store, write_content(tmp_path / "content"))


@pytest.fixture
def app(store, engine):
    return create_app(store, settings(), engine)


@pytest.fixture
def chat(app):
    client = TestClient(app)
    page = client.get("/chat")
    assert page.status_code == 200 and 'src="/chat/assets/chat.js"' in page.text
    return client


def test_the_page_gives_an_httponly_chat_cookie_once(app):
    client = TestClient(app)
    first = client.get("/chat")
    cookie = first.headers["set-cookie"].lower()
    assert "webcare_chat=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "set-cookie" not in client.get("/chat").headers
    assert "frame-ancestors *" in first.headers["content-security-policy"]  # the widget may embed it


def test_assets_are_served_and_nothing_else(chat):
    assert chat.get("/chat/assets/widget.js").headers["content-type"].startswith("text/javascript")
    assert chat.get("/chat/assets/chat.css").status_code == 200
    assert chat.get("/chat/assets/..%2Fwebchat.py").status_code == 404


def test_a_message_is_answered_by_the_bot(chat):
    assert chat.post("/chat/api/messages", json={"text": "hello"}).status_code == 202
    messages = chat.get("/chat/api/messages").json()["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [("customer", "hello"), ("bot", "Hello! How can I help?")]
    later = chat.get(f"/chat/api/messages?after={messages[-1]['id']}").json()["messages"]
    assert later == []


def test_buttons_come_with_replies_and_can_be_pressed(chat, store):
    chat.post("/chat/api/messages", json={"text": "I want a human"})
    conversation = store.conversations()[0]
    store.take(conversation["id"], "alice")
    chat.app.state.engine.hand_back(conversation["id"], "alice")
    last = chat.get("/chat/api/messages").json()["messages"][-1]
    assert [b["payload"] for b in last["buttons"]] == [f"/csat {n}" for n in range(1, 6)]
    chat.post("/chat/api/messages", json={"text": last["buttons"][3]["payload"], "kind": "button"})
    assert store.ticket_for_conversation(conversation["id"])["csat"] == 4


def test_a_retried_post_is_handled_once(chat, store):
    for _ in range(2):
        chat.post("/chat/api/messages", json={"text": "hello", "id": "abc-1"})
    texts = [m["text"] for m in chat.get("/chat/api/messages").json()["messages"]]
    assert texts == ["hello", "Hello! How can I help?"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b'{"text": 5}', {"content-type": "application/json"}, 400, "needs a \\\"text\\\" string"),
        (b'{"text": "hi", "kind": "photo"}', {"content-type": "application/json"}, 400, "kind must be one of"),
        (json.dumps({"text": "x" * 20001}).encode(), {"content-type": "application/json"}, 413, "at most 20000"),
        (b"text=hi", {"content-type": "application/x-www-form-urlencoded"}, 415, "send JSON"),
    ],
)
def test_bad_posts_get_a_clear_error_and_store_nothing(chat, store, body, headers, status, detail):
    response = chat.post("/chat/api/messages", content=body, headers=headers)
    assert response.status_code == status and detail in response.text
    assert store.conversations() == []


def test_a_chat_session_the_server_never_issued_is_refused_and_replaced(app, store):
    client = TestClient(app)
    refused = client.post("/chat/api/messages", json={"text": "hi"})
    assert refused.status_code == 401 and "webcare_chat=" in refused.headers["set-cookie"]
    assert client.post("/chat/api/messages", json={"text": "hi"}).status_code == 202  # the new session works
    issued = client.cookies["webcare_chat"]
    token, _, signature = issued.rpartition(".")
    for forged in ("short", "a" * 40, token, f"{token}.{signature[::-1]}", f"x{issued}", issued * 10):
        headers = {"cookie": f"webcare_chat={forged}"}
        stranger = TestClient(app)
        for response in (stranger.get("/chat/api/messages", headers=headers),
                         stranger.get("/chat/api/stream", headers=headers),
                         stranger.post("/chat/api/messages", json={"text": "forged"}, headers=headers)):
            assert response.status_code == 401, forged
            fresh = response.cookies["webcare_chat"]
            assert fresh not in (forged, issued) and webchat.ChatSessions("test-secret").chat_id(fresh)
    assert len(store.conversations()) == 1 and "forged" not in repr(store.messages(store.conversations()[0]["id"]))


def test_the_store_keeps_a_hash_of_the_session_and_staff_see_a_short_reference(chat, store):
    chat.post("/chat/api/messages", json={"text": "hello"})
    [conversation] = store.conversations()
    cookie = chat.cookies["webcare_chat"]
    assert conversation["chat_id"] not in cookie and cookie.partition(".")[0] not in repr(store.messages(conversation["id"]))
    assert re.fullmatch(r"web-[0-9a-f]{4}", webchat.reference(conversation["chat_id"]))


def test_without_an_engine_the_chat_says_so(store):
    client = TestClient(create_app(store, settings()))
    client.get("/chat")
    response = client.post("/chat/api/messages", json={"text": "hello"})
    assert response.status_code == 503 and "not running" in response.text


def test_two_customers_never_see_each_others_messages(app):
    anna, ben = TestClient(app), TestClient(app)
    anna.get("/chat")
    ben.get("/chat")
    anna.post("/chat/api/messages", json={"text": "hello from anna"})
    assert ben.get("/chat/api/messages").json()["messages"] == []


def test_the_stream_sends_messages_as_server_sent_events(chat, monkeypatch):
    monkeypatch.setattr(webchat, "STREAM_SECONDS", 0.5)
    chat.post("/chat/api/messages", json={"text": "hello"})
    with chat.stream("GET", "/chat/api/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert [e["text"] for e in events] == ["hello", "Hello! How can I help?"]
    assert f"id: {events[-1]['id']}" in body
    with chat.stream("GET", "/chat/api/stream", headers={"Last-Event-ID": str(events[-1]["id"])}) as response:
        assert "data: " not in "".join(response.iter_text())  # a reconnect resumes after the last event


async def test_a_waiting_page_is_woken_by_the_outbox_dispatcher(store, engine):
    chat = WebChat(store, engine, poll_seconds=30)
    await asyncio.to_thread(chat.post, "chat-1234567890abcdefghij", "I want a human")
    seen = await chat.wait("chat-1234567890abcdefghij", 0, 0)
    conversation = store.conversations()[0]
    store.take(conversation["id"], "alice")
    waiter = asyncio.create_task(chat.wait("chat-1234567890abcdefghij", seen[-1]["id"], 20))
    await asyncio.sleep(0.05)
    store.agent_reply(conversation["id"], "alice", "Hi, Alice here")
    sent = await OutboxDispatcher(store, {"webchat": chat}).dispatch_once()
    new = await asyncio.wait_for(waiter, 5)  # far sooner than the 30 s poll: send() woke it
    assert sent == 1 and [(m["from"], m["name"], m["text"]) for m in new] == [("agent", "alice", "Hi, Alice here")]
    assert store.message(new[0]["id"])["platform_message_id"] == f"webchat:{new[0]['id']}"
