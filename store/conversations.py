"""Conversations and their lifecycle (open, idle, closed, continued), and the messages customers send."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webcare.core.errors import StoreError
from webcare.store.base import Base, Row, encode, where

CONVERSATION_STATES = ("bot", "waiting", "human", "closed")


class Conversations(Base):
    """A conversation is one case in one chat: `bot` → `waiting` → `human` → `bot` …, ended `closed`."""

    def open_conversation(
        self, customer_id: int, channel: str, chat_id: str, idle_seconds: float | None = None
    ) -> Row:
        """The customer's current conversation in this chat, or a new one.

        A new one starts after the last was closed, or when the last, left with the bot, had no
        activity for `idle_seconds` (it is closed as 'idle' first). A new conversation continues
        the one before it in this chat (`previous_id`) and starts in its language.
        """
        with self.transaction():
            row = self._one(
                "SELECT * FROM conversations WHERE channel = ? AND chat_id = ? AND customer_id = ? "
                "AND state <> 'closed' ORDER BY id DESC LIMIT 1",
                [channel, chat_id, customer_id],
            )
            now = self.clock()
            idle = row is not None and row["state"] == "bot" and idle_seconds is not None \
                and row["updated_at"] <= now - idle_seconds
            if row and not idle:
                return row
            if row and not self.close_conversation(row["id"], reason="idle", at=row["updated_at"]):
                return self.open_conversation(customer_id, channel, chat_id)  # another process ended it first
            previous = self.latest_conversation(customer_id, channel, chat_id)
            conversation_id = self._insert(
                "conversations",
                {
                    "customer_id": customer_id,
                    "channel": channel,
                    "chat_id": chat_id,
                    "language": previous["language"] if previous else None,
                    "previous_id": previous["id"] if previous else None,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            self.log_event("conversation_opened", conversation_id=conversation_id, customer_id=customer_id,
                           data={"previous": previous["id"]} if previous else None)
            return self.conversation(conversation_id)

    def close_conversation(
        self, conversation_id: int, actor: str | None = None, reason: str = "staff", at: float | None = None
    ) -> bool:
        """End a conversation (`reason`: staff, idle, restart, left…) and close its ticket, in one transaction.

        `at` is when it ended (default now; an idle one ended at its last activity). The customer's
        next message starts a new conversation that continues this one. False when it was closed
        already (the first reason stays).
        """
        with self.transaction():
            if self.lock_conversation(conversation_id)["state"] == "closed":
                return False
            self.update_conversation(conversation_id, state="closed", owner=None)
            self.backend.execute(
                "UPDATE conversations SET closed_at = ?, closed_reason = ? WHERE id = ?",
                [self.clock() if at is None else at, reason, conversation_id],
            )
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket and ticket["status"] != "closed":
                self.update_ticket(ticket["id"], status="closed", resolved_at=ticket["resolved_at"] or self.clock())
            self.log_event("conversation_closed", conversation_id=conversation_id, actor=actor,
                           ticket_id=ticket["id"] if ticket else None, data={"reason": reason})
            return True

    def close_idle_conversations(self, idle_seconds: float, limit: int = 100) -> int:
        """Close conversations left with the bot for `idle_seconds` (as 'idle'); return how many.

        The same rule `open_conversation` applies when the customer writes again, done ahead of
        time so that states and metrics stay true for customers who never come back.
        """
        rows = self._all(
            "SELECT id, updated_at FROM conversations WHERE state = 'bot' AND updated_at <= ? ORDER BY id LIMIT ?",
            [self.clock() - idle_seconds, limit],
        )
        return sum(self.close_conversation(r["id"], reason="idle", at=r["updated_at"]) for r in rows)

    def latest_conversation(
        self, customer_id: int, channel: str, chat_id: str, pending_intent: str | None = None
    ) -> Row | None:
        """The customer's most recent conversation in this chat, closed or not (and waiting for
        `pending_intent`, when given)."""
        condition, params = where({"channel = ?": channel, "chat_id = ?": chat_id, "customer_id = ?": customer_id,
                                   "pending_intent = ?": pending_intent})
        return self._one(f"SELECT * FROM conversations WHERE {condition} ORDER BY id DESC LIMIT 1", params)

    def earlier_conversations(self, conversation_id: int, limit: int = 5) -> list[Row]:
        """The conversations this one continues (through `previous_id`), most recent first."""
        earlier: list[Row] = []
        previous = self.conversation(conversation_id)["previous_id"]
        while previous is not None and len(earlier) < limit:
            earlier.append(self.conversation(previous))
            previous = earlier[-1]["previous_id"]
        return earlier

    def conversation(self, conversation_id: int) -> Row:
        return self._get("conversations", conversation_id)

    def lock_conversation(self, conversation_id: int) -> Row:
        """The conversation, locked until the caller's transaction ends (check-then-act across processes)."""
        self._lock("conversations", conversation_id)
        return self.conversation(conversation_id)

    def conversations(
        self, states: Iterable[str] | None = None, customer_id: int | None = None, limit: int = 200
    ) -> list[Row]:
        condition, params = where({"state IN (?)": None if states is None else list(states),
                                   "customer_id = ?": customer_id})
        return self._all(
            f"SELECT * FROM conversations WHERE {condition} ORDER BY updated_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )

    def update_conversation(self, conversation_id: int, **fields: Any) -> None:
        """Change state, owner, language, slots (a dict), pending_intent or fallbacks."""
        if "state" in fields and fields["state"] not in CONVERSATION_STATES:
            raise StoreError(f"unknown conversation state {fields['state']!r}")
        if "slots" in fields:
            fields["slots"] = encode(fields["slots"])
        fields["updated_at"] = self.clock()
        self._update("conversations", conversation_id, fields)
        if "slots" in fields:
            self.refresh_story(conversation_id)

    # -- what customers send -------------------------------------------------------------------

    def record_incoming(
        self,
        conversation_id: int,
        text: str,
        kind: str = "text",
        platform_message_id: str | None = None,
        analysis: dict[str, Any] | None = None,
    ) -> int | None:
        """Store a customer's message; None when this platform message was stored before."""
        conversation = self.conversation(conversation_id)
        with self.transaction():
            rows = self.backend.query(
                "INSERT INTO messages (conversation_id, direction, author, kind, text, analysis, channel, chat_id, "
                "platform_message_id, created_at) VALUES (?, 'in', 'customer', ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                [conversation_id, kind, text, encode(analysis), conversation["channel"], conversation["chat_id"],
                 platform_message_id, self.clock()],
            )
            if not rows:
                return None
            self.refresh_story(conversation_id)
            return int(rows[0]["id"])

    def incoming_since(self, conversation_id: int, seconds: float) -> int:
        """How many customer messages this conversation received in the last `seconds` (flood limits)."""
        return self._count(
            "SELECT COUNT(*) AS n FROM messages WHERE conversation_id = ? AND direction = 'in' AND created_at >= ?",
            [conversation_id, self.clock() - seconds],
        )

    def set_analysis(self, message_id: int, analysis: dict[str, Any]) -> None:
        """Store what NLU made of a customer's message (its intent and mood join the story)."""
        with self.transaction():
            self._update("messages", message_id, {"analysis": encode(analysis)})
            self.refresh_story(self.message(message_id)["conversation_id"])

    def messages(self, conversation_id: int, limit: int = 1000) -> list[Row]:
        return self._all(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id LIMIT ?", [conversation_id, limit]
        )

    def message(self, message_id: int) -> Row:
        return self._get("messages", message_id)

    def chat_messages(self, channel: str, chat_id: str, after_id: int = 0, limit: int = 200) -> list[Row]:
        """What a customer sees in one chat, across its conversations: their messages and delivered replies."""
        return self._all(
            "SELECT id, conversation_id, direction, author, kind, text, buttons, created_at FROM messages "
            "WHERE channel = ? AND chat_id = ? AND id > ? AND (direction = 'in' OR delivery = 'sent') "
            "ORDER BY id LIMIT ?",
            [channel, chat_id, after_id, limit],
        )

    def last_message(self, channel: str, chat_id: str, direction: str) -> Row | None:
        """The newest message of one chat in one direction ('in' or 'out'), across its conversations."""
        return self._one(
            "SELECT * FROM messages WHERE channel = ? AND chat_id = ? AND direction = ? ORDER BY id DESC LIMIT 1",
            [channel, chat_id, direction],
        )
