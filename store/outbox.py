"""The outbox: replies (the bot's and staff's) queued as messages, claimed by workers under leases.

On PostgreSQL the claims of one channel take turns under a transaction-scoped advisory lock
(`pg_advisory_xact_lock('outbox:<channel>')`): each claim then sees the leases of the one before,
which is what keeps a chat's replies with one worker at a time, in order. `FOR UPDATE SKIP LOCKED`
on the claimed rows only passes over a row another transaction is changing at that moment (an
erasure, a worker marking it sent). SQLite serialises the claims with `BEGIN IMMEDIATE`.

On PostgreSQL a queued reply also sends `NOTIFY webcare_outbox, '<channel>:<chat_id>'` (delivered at
commit), so processes that wait for replies (bot/events.py) are woken instead of polling.
"""

from __future__ import annotations

from typing import Any

from webcare.store.base import Base, Row, encode, where

OUTBOX_EVENTS = "webcare_outbox"  # PostgreSQL NOTIFY channel: payload "<channel>:<chat_id>" of a queued reply


class Outbox(Base):
    """Queue, claim, renew, release, mark sent or failed."""

    def queue_outgoing(
        self,
        conversation_id: int,
        text: str,
        author: str = "bot",
        buttons: list[dict[str, str]] | None = None,
    ) -> int:
        """Put a reply in the outbox; the channel (or the outbox dispatcher) delivers it."""
        conversation = self.conversation(conversation_id)
        with self.transaction():
            message_id = self._insert(
                "messages",
                {
                    "conversation_id": conversation_id,
                    "direction": "out",
                    "author": author,
                    "text": text,
                    "buttons": encode(buttons or None),
                    "channel": conversation["channel"],
                    "chat_id": conversation["chat_id"],
                    "delivery": "pending",
                    "created_at": self.clock(),
                },
            )
            if self.backend.dialect == "postgresql":  # wakes listeners in every process, at commit
                self.backend.execute("SELECT pg_notify(?, ?)", [OUTBOX_EVENTS,
                                                                f"{conversation['channel']}:{conversation['chat_id']}"])
            self.backend.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", [self.clock(), conversation_id]
            )
            return message_id

    def claim_outbox(
        self,
        channel: str,
        worker: str,
        limit: int = 50,
        lease_seconds: float = 30.0,
        chat_id: str | None = None,
    ) -> list[Row]:
        """Claim pending replies of a channel (or one chat) for one worker, oldest first, for a lease.

        A claimed message is invisible to other workers until the lease runs out, so a worker that
        dies mid-send lets another pick the message up again. A chat's replies stay in order
        across workers: none is claimed while another of its chat is claimed by a worker or
        waits for a retry.
        """
        now = self.clock()
        chat_filter = "" if chat_id is None else " AND chat_id = ?"
        postgres = self.backend.dialect == "postgresql"
        with self.transaction():
            if postgres:  # claims of a channel take turns and see each other (SQLite: BEGIN IMMEDIATE)
                self.backend.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"outbox:{channel}"])
            rows = self._all(
                "SELECT * FROM messages WHERE delivery = 'pending' AND channel = ?" + chat_filter
                + " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                " AND (claimed_until IS NULL OR claimed_until < ?)"
                " AND chat_id NOT IN (SELECT chat_id FROM messages WHERE delivery = 'pending' AND channel = ?"
                " AND (next_attempt_at > ? OR claimed_until >= ?))"
                " ORDER BY id LIMIT ?" + (" FOR UPDATE SKIP LOCKED" if postgres else ""),
                [channel, *([] if chat_id is None else [chat_id]), now, now, channel, now, now, limit],
            )
            if rows:
                self.backend.execute(
                    f"UPDATE messages SET claimed_by = ?, claimed_until = ? "
                    f"WHERE id IN ({', '.join('?' for _ in rows)})",
                    [worker, now + lease_seconds, *(row["id"] for row in rows)],
                )
            return rows

    def mark_sent(self, message_id: int, platform_message_id: str | None = None) -> None:
        self._update(
            "messages",
            message_id,
            {
                "delivery": "sent",
                "platform_message_id": platform_message_id,
                "sent_at": self.clock(),
                "claimed_by": None,
                "claimed_until": None,
                "error": None,
            },
        )

    def mark_failed(self, message_id: int, error: str, retry_in: float | None) -> None:
        """Record a failed send: retried after `retry_in` seconds, or given up when None."""
        message = self.message(message_id)
        self._update(
            "messages",
            message_id,
            {
                "delivery": "pending" if retry_in is not None else "failed",
                "attempts": message["attempts"] + 1,
                "next_attempt_at": None if retry_in is None else self.clock() + retry_in,
                "claimed_by": None,
                "claimed_until": None,
                "error": error[:500],
            },
        )

    def renew_claim(self, message_id: int, worker: str, lease_seconds: float = 30.0) -> bool:
        """Extend a worker's claim on a reply just before sending it.

        False when the claim is no longer the worker's (its lease ran out and another worker took
        the reply): then it must not be sent, or the customer would get it twice.
        """
        return self.backend.execute(
            "UPDATE messages SET claimed_until = ? WHERE id = ? AND claimed_by = ? AND delivery = 'pending'",
            [self.clock() + lease_seconds, message_id, worker],
        ) > 0

    def release_claim(self, message_id: int) -> None:
        """Give a claimed reply back to the queue untouched (e.g. behind an earlier failure)."""
        self.backend.execute(
            "UPDATE messages SET claimed_by = NULL, claimed_until = NULL WHERE id = ?", [message_id]
        )

    def pending_outbox(self, channel: str | None = None, chat_id: str | None = None) -> list[Row]:
        condition, params = where({"channel = ?": channel, "chat_id = ?": chat_id})
        return self._all(f"SELECT * FROM messages WHERE delivery = 'pending' AND {condition} ORDER BY id", params)

    def record_receipt(self, channel: str, platform_message_id: str, receipt: str, error: str | None = None) -> bool:
        """A channel's report on a sent reply: 'delivered' or 'read' (never back from read), or 'failed'.

        A failure the platform reports after accepting the message marks the reply failed, with the
        reason for staff. False when nothing changed (no such reply, or it was read already).
        """
        condition = "channel = ? AND platform_message_id = ? AND direction = 'out'"
        if receipt == "failed":
            fields: dict[str, Any] = {"delivery": "failed", "error": (error or "the platform reported a failure")[:500]}
        else:
            fields = {"receipt": receipt, "receipt_at": self.clock()}
            condition += " AND (receipt IS NULL OR receipt <> 'read')"
        sets = ", ".join(f"{name} = ?" for name in fields)
        return self.backend.execute(f"UPDATE messages SET {sets} WHERE {condition}",
                                    [*fields.values(), channel, platform_message_id]) > 0

    def release_held(self, channel: str, chat_id: str) -> int:
        """Queue again the replies of a chat that were held ('held: …' failures), e.g. once the customer
        writes again and the channel may send them; returns how many."""
        return self.backend.execute(
            "UPDATE messages SET delivery = 'pending', next_attempt_at = NULL, error = NULL WHERE channel = ? "
            "AND chat_id = ? AND direction = 'out' AND delivery = 'failed' AND error LIKE 'held:%'",
            [channel, chat_id],
        )
