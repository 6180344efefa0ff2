"""Tickets and the handoff to staff: escalate, take, reply, hand back, rate, the queue."""

from __future__ import annotations

from typing import Any

from webcare.core.errors import StoreError
from webcare.store.base import Base, Row, encode, where

PRIORITIES = ("low", "normal", "high", "urgent")


def conversation_ticket_key(conversation_id: int) -> str:
    """The dedupe key of a conversation's one escalation ticket."""
    return f"conversation:{conversation_id}"


class Handoff(Base):
    """One escalation ticket per conversation, opened or re-opened; each verb is one transaction."""

    def open_ticket(self, kind: str, dedupe_key: str, **fields: Any) -> tuple[Row, bool]:
        """Open a ticket once per `dedupe_key`; return (ticket, created). Never duplicates."""
        if fields.get("priority", "normal") not in PRIORITIES:
            raise StoreError(f"unknown priority {fields['priority']!r}")
        now = self.clock()
        with self.transaction():
            values = {"kind": kind, "dedupe_key": dedupe_key, "created_at": now, "updated_at": now}
            values |= {k: encode(v) if k == "story" else v for k, v in fields.items()}
            rows = self.backend.query(
                f"INSERT INTO tickets ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)}) "
                "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                list(values.values()),
            )
            if rows:
                ticket_id = int(rows[0]["id"])
                self.log_event("ticket_opened", ticket_id=ticket_id, customer_id=fields.get("customer_id"),
                               conversation_id=fields.get("conversation_id"), mention_id=fields.get("mention_id"),
                               data={"kind": kind, "priority": fields.get("priority", "normal")})
                return self.ticket(ticket_id), True
            existing = self._one("SELECT * FROM tickets WHERE dedupe_key = ?", [dedupe_key])
            assert existing is not None
            return existing, False

    def escalate(
        self,
        conversation_id: int,
        reason: str,
        priority: str = "normal",
        summary: str | None = None,
        story: dict[str, Any] | None = None,
        sla_due_at: float | None = None,
    ) -> tuple[Row, bool]:
        """Hand a conversation to staff: one ticket per conversation, opened or re-opened.

        The story so far is built here (`build_story`) unless given, and kept fresh on the ticket
        by the verbs that add to it. Returns (ticket, new) where `new` is False when the
        conversation already waited for or was owned by a human (the ticket then only gets the
        higher priority and a fresh story).
        """
        conversation = self.conversation(conversation_id)
        with self.transaction():
            if story is None:
                built, story = self.build_story(conversation_id, reason)
                summary = built if summary is None else summary
            ticket, created = self.open_ticket(
                "escalation", conversation_ticket_key(conversation_id), conversation_id=conversation_id,
                customer_id=conversation["customer_id"], reason=reason, priority=priority, summary=summary or "",
                story=story, sla_due_at=sla_due_at,
            )
            already = conversation["state"] in ("waiting", "human") and ticket["status"] != "closed"
            if not created:
                higher = max(ticket["priority"], priority, key=PRIORITIES.index)
                changes: dict[str, Any] = {"priority": higher, "summary": summary or "", "story": encode(story),
                                           "updated_at": self.clock()}
                if ticket["status"] in ("resolved", "closed"):
                    changes |= {"status": "open", "reopened": ticket["reopened"] + 1, "resolved_at": None,
                                "reason": reason, "sla_due_at": sla_due_at, "assignee": None}
                self._update("tickets", ticket["id"], changes)
            if conversation["state"] == "bot":
                self.update_conversation(conversation_id, state="waiting", owner=None)
            self.log_event("escalated", conversation_id=conversation_id, ticket_id=ticket["id"],
                           customer_id=conversation["customer_id"], data={"reason": reason, "priority": priority})
            return self.ticket(ticket["id"]), not already

    def ticket(self, ticket_id: int) -> Row:
        return self._get("tickets", ticket_id)

    def escalation_activity(self, cursor_prefix: str, limit: int = 500) -> list[Row]:
        """Every open escalation (a waiting or human conversation with its ticket) in one query: the
        conversation and ticket ids, the ticket's `reopened`, the newest message id (`last_id`) and the
        cursor stored under `cursor_prefix` + ticket id (`cursor`, None when there is none)."""
        return self._all(
            "SELECT c.id AS conversation_id, t.id AS ticket_id, t.reopened, cur.value AS cursor, "
            "(SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = c.id) AS last_id "
            "FROM conversations c JOIN tickets t ON t.dedupe_key = 'conversation:' || c.id "
            "LEFT JOIN cursors cur ON cur.source = CAST(? AS TEXT) || t.id "
            "WHERE c.state IN ('waiting', 'human') ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
            [cursor_prefix, limit],
        )

    def ticket_for_conversation(self, conversation_id: int) -> Row | None:
        return self._one("SELECT * FROM tickets WHERE dedupe_key = ?", [conversation_ticket_key(conversation_id)])

    def tickets(
        self,
        status: str | None = None,
        kind: str | None = None,
        customer_id: int | None = None,
        limit: int = 200,
    ) -> list[Row]:
        condition, params = where({"status = ?": status, "kind = ?": kind, "customer_id = ?": customer_id})
        return self._all(f"SELECT * FROM tickets WHERE {condition} ORDER BY id DESC LIMIT ?", [*params, limit])

    def update_ticket(self, ticket_id: int, **fields: Any) -> None:
        if "story" in fields:
            fields["story"] = encode(fields["story"])
        fields["updated_at"] = self.clock()
        self._update("tickets", ticket_id, fields)

    def queue_length(self) -> int:
        """Escalated conversations waiting for a person."""
        return self._count("SELECT COUNT(*) AS n FROM conversations WHERE state = 'waiting'")

    def take(self, conversation_id: int, owner: str, force: bool = False) -> Row:
        """A staff member becomes the one owner of a conversation; the bot steps back."""
        with self.transaction():
            conversation = self.lock_conversation(conversation_id)
            if conversation["state"] == "human" and conversation["owner"] not in (None, owner) and not force:
                raise StoreError(f"conversation {conversation_id} is already owned by {conversation['owner']}")
            if conversation["state"] == "closed":
                raise StoreError(f"conversation {conversation_id} is closed")
            self.update_conversation(conversation_id, state="human", owner=owner)
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket is None:
                ticket, _ = self.open_ticket(
                    "escalation", conversation_ticket_key(conversation_id), conversation_id=conversation_id,
                    customer_id=conversation["customer_id"], reason="taken by staff",
                )
            self.update_ticket(ticket["id"], assignee=owner, status="assigned")
            self.log_event("taken", conversation_id=conversation_id, ticket_id=ticket["id"], actor=owner)
            return self.conversation(conversation_id)

    def agent_reply(self, conversation_id: int, agent: str, text: str) -> int:
        """A staff member's reply, queued for delivery on the customer's channel."""
        with self.transaction():
            conversation = self.conversation(conversation_id)
            if conversation["state"] != "human" or conversation["owner"] != agent:
                self.take(conversation_id, agent)
            message_id = self.queue_outgoing(conversation_id, text, author=f"agent:{agent}")
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket and ticket["first_response_at"] is None:
                self.update_ticket(ticket["id"], first_response_at=self.clock())
            self.log_event("agent_replied", conversation_id=conversation_id, actor=agent,
                           ticket_id=ticket["id"] if ticket else None)
            return message_id

    def hand_back(self, conversation_id: int, actor: str | None = None) -> Row | None:
        """The case is done: the bot takes the conversation again and the ticket is resolved, in one transaction."""
        with self.transaction():
            self.update_conversation(conversation_id, state="bot", owner=None, fallbacks=0, pending_intent=None)
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket and ticket["status"] not in ("resolved", "closed"):
                self.update_ticket(ticket["id"], status="resolved", resolved_at=self.clock())
            self.log_event("handed_back", conversation_id=conversation_id, actor=actor,
                           ticket_id=ticket["id"] if ticket else None)
            return self.ticket(ticket["id"]) if ticket else None

    def withdraw_escalation(self, conversation_id: int) -> None:
        """The customer leaves the queue: the bot has the conversation again, the ticket is closed as withdrawn."""
        with self.transaction():
            self.update_conversation(conversation_id, state="bot", owner=None, pending_intent=None, fallbacks=0)
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket and ticket["status"] not in ("resolved", "closed"):
                self.update_ticket(ticket["id"], status="closed", resolved_at=self.clock())
            self.log_event("escalation_withdrawn", conversation_id=conversation_id,
                           ticket_id=ticket["id"] if ticket else None)

    def record_csat(self, ticket_id: int, score: int) -> None:
        if not 1 <= score <= 5:
            raise StoreError(f"CSAT must be 1–5, not {score}")
        with self.transaction():
            self.update_ticket(ticket_id, csat=score)
            self.log_event("csat", ticket_id=ticket_id, data={"score": score})
