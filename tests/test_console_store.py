"""The store verbs the console adds, on SQLite (memory and file) and PostgreSQL."""

from __future__ import annotations

import pytest

from webcare.core.errors import NotFound


def escalated(store, name: str, priority: str, due_in: float, channel: str = "webchat") -> int:
    customer = store.identify(channel, name, name.title())
    conversation = store.open_conversation(customer["id"], channel, name)
    store.record_incoming(conversation["id"], f"help from {name}")
    store.escalate(conversation["id"], "requested", priority, f"{name} needs help", sla_due_at=store.clock() + due_in)
    return conversation["id"]


def test_inbox_lists_waiting_and_owned_most_urgent_first(any_store):
    low = escalated(any_store, "lena", "low", 60)
    normal_late = escalated(any_store, "nina", "normal", 7200)
    urgent = escalated(any_store, "uwe", "urgent", 1800)
    normal_soon = escalated(any_store, "noor", "normal", 600)
    bot_only = any_store.open_conversation(any_store.identify("webchat", "bo")["id"], "webchat", "bo")["id"]
    any_store.take(normal_late, "alice")
    rows = any_store.inbox()
    assert [r["conversation_id"] for r in rows] == [urgent, normal_soon, normal_late, low]
    assert bot_only not in [r["conversation_id"] for r in rows]
    owned = next(r for r in rows if r["conversation_id"] == normal_late)
    assert owned["state"] == "human" and owned["owner"] == "alice" and owned["display_name"] == "Nina"
    assert owned["ticket_id"] and owned["sla_due_at"] and owned["escalated_at"]


def test_chat_messages_show_what_the_customer_sees_across_conversations(any_store):
    customer = any_store.identify("webchat", "chat-1")
    first = any_store.open_conversation(customer["id"], "webchat", "chat-1")["id"]
    any_store.record_incoming(first, "hello")
    sent = any_store.queue_outgoing(first, "hi there")
    any_store.mark_sent(sent)
    any_store.queue_outgoing(first, "not delivered yet")
    any_store.close_conversation(first)
    second = any_store.open_conversation(customer["id"], "webchat", "chat-1")["id"]
    any_store.record_incoming(second, "me again")
    other = any_store.open_conversation(any_store.identify("webchat", "chat-2")["id"], "webchat", "chat-2")["id"]
    any_store.record_incoming(other, "someone else")
    rows = any_store.chat_messages("webchat", "chat-1")
    assert [r["text"] for r in rows] == ["hello", "hi there", "me again"]
    assert [r["text"] for r in any_store.chat_messages("webchat", "chat-1", after_id=rows[1]["id"])] == ["me again"]


def test_ticket_for_mention_and_positive_authors(any_store):
    rows = [{"source": "x", "external_id": f"p{i}", "author": "fan", "author_reach": 10 * i, "text": "love it",
             "sentiment": "positive"} for i in range(3)]
    rows.append({"source": "x", "external_id": "n1", "author": "grump", "text": "meh", "sentiment": "negative"})
    ids = any_store.ingest_mentions(rows)
    assert any_store.ticket_for_mention(ids[0]) is None
    ticket, _ = any_store.open_ticket("mention", "mention:x:p0", mention_id=ids[0])
    assert any_store.ticket_for_mention(ids[0])["id"] == ticket["id"]
    [fan] = any_store.positive_authors()
    assert (fan["author"], fan["mentions"], fan["reach"]) == ("fan", 3, 20)


def test_report_rows_cover_the_period(any_store):
    conversation_id = escalated(any_store, "rita", "high", 60)
    any_store.ingest_mentions([{"source": "rss", "external_id": "r1", "text": "review", "sentiment": "neutral"}])
    rows = any_store.report_rows(any_store.clock() - 3600)
    assert [c["id"] for c in rows["conversations"]] == [conversation_id]
    assert rows["tickets"][0]["channel"] == "webchat" and rows["tickets"][0]["priority"] == "high"
    assert [m["id"] for m in rows["messages"]] and rows["mentions"][0]["source"] == "rss"
    assert all(not v for v in any_store.report_rows(any_store.clock() + 10).values())


def test_users_can_be_changed_and_removed(any_store):
    any_store.add_user("alice", "hash-1", "agent")
    any_store.update_user("alice", password_hash="hash-2", role="admin")
    assert (any_store.user("alice")["password_hash"], any_store.user("alice")["role"]) == ("hash-2", "admin")
    any_store.remove_user("alice")
    assert any_store.user("alice") is None
    with pytest.raises(NotFound):
        any_store.remove_user("alice")
    with pytest.raises(NotFound):
        any_store.update_user("bob", role="agent")


def test_counts_for_metrics(any_store):
    escalated(any_store, "cas", "normal", 60)
    counts = any_store.counts()
    assert {(r["direction"], r["channel"], r["n"]) for r in counts["messages"]} == {("in", "webchat", 1)}
    assert {(r["kind"], r["n"]) for r in counts["events"]} == {("escalated", 1)}
    assert {(r["state"], r["n"]) for r in counts["conversations"]} == {("waiting", 1)}
