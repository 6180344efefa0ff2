"""The shared store: one API with domain verbs over SQLite (default) or PostgreSQL.

Every verb that writes more than one row does so in one transaction. SQL here is written once
for both dialects (`?` placeholders, `RETURNING`, `ON CONFLICT`); a backend runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from store.notes import Notes
from store.schema import MIGRATIONS, statements
from store.search import Search
from webcare.errors import NotFound, StoreError
from webcare.redact import redact

Row = dict[str, Any]
CONVERSATION_STATES = ("bot", "waiting", "human", "closed")
CLAIM_KINDS = ("email", "order_number", "phone")  # typed by a customer: claims, never identities
PRIORITIES = ("low", "normal", "high", "urgent")
_JSON_COLUMNS = ("analysis", "buttons", "slots", "story", "data", "raw")


class Backend(Protocol):
    """What the store needs from a database."""

    dialect: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def transaction(self) -> Any: ...

    def table_names(self) -> list[str]: ...

    def close(self) -> None: ...


def open_backend(url: str, busy_timeout_ms: int = 5000) -> Backend:
    """A backend for a store URL: `sqlite:///file.db`, `sqlite:///:memory:` or `postgresql://…`."""
    if url.startswith("sqlite://"):
        from store.sqlite import SQLiteBackend

        path = url.removeprefix("sqlite://").removeprefix("/") or ":memory:"
        return SQLiteBackend(path, busy_timeout_ms=busy_timeout_ms)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from store.postgres import PostgresBackend  # type: ignore[import-not-found]
        except ImportError as e:
            raise StoreError("the PostgreSQL backend is not available in this installation") from e
        return PostgresBackend(url)
    raise StoreError(f"unsupported store url {redact(url)!r}: use sqlite:///path.db or postgresql://…")


def _decode(row: Row | None) -> Row | None:
    if row is None:
        return None
    for column in _JSON_COLUMNS:
        value = row.get(column)
        if isinstance(value, str):
            row[column] = json.loads(value)
    return row


def _encode(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


class Store(Search, Notes):
    """Customers and their identities, conversations, messages, tickets, mentions and more."""

    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self.migrate()

    @classmethod
    def open(cls, url: str = "sqlite:///webcare.db", **kwargs: Any) -> Store:
        busy = kwargs.pop("busy_timeout_ms", 5000)
        return cls(open_backend(url, busy), **kwargs)

    @classmethod
    def memory(cls, **kwargs: Any) -> Store:
        """A throw-away in-memory store, for tests and trials."""
        return cls.open("sqlite:///:memory:", **kwargs)

    def close(self) -> None:
        self.backend.close()

    # -- plumbing --------------------------------------------------------------------------

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [_decode(r) for r in self.backend.query(sql, params)]  # type: ignore[misc]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.backend.query(sql, params)
        return _decode(rows[0]) if rows else None

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        rows = self.backend.query(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", list(values.values())
        )
        return int(rows[0]["id"])

    def _update(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        sets = ", ".join(f"{c} = ?" for c in values)
        if self.backend.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), row_id]) == 0:
            raise NotFound(f"{table[:-1]} {row_id} does not exist")

    def _lock(self, table: str, row_id: int) -> None:
        """Lock one row until the transaction ends, so a check-then-write holds across processes."""
        self.backend.execute(f"UPDATE {table} SET id = id WHERE id = ?", [row_id])

    def transaction(self) -> Any:
        """A context manager: everything inside commits together or not at all."""
        return self.backend.transaction()

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        with self.backend.transaction():
            if self.backend.dialect == "postgresql":  # processes starting together migrate one at a time
                self.backend.execute("SELECT pg_advisory_xact_lock(hashtext('migrate:' || current_schema()))")
            self.backend.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = {r["version"] for r in self.backend.query("SELECT version FROM schema_migrations")}
            applied = []
            for version, name, _ in MIGRATIONS:
                if version in done:
                    continue
                for sql in statements(self.backend.dialect, version):
                    self.backend.execute(sql)
                self.backend.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [version, name, self.clock()],
                )
                applied.append(version)
        return applied

    def schema_version(self) -> int:
        row = self._one("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"] or 0) if row else 0

    # -- customers and identities ---------------------------------------------------------

    def identify(self, channel: str, external_id: str, display_name: str | None = None) -> Row:
        """The customer behind (channel, external id), created on first contact."""
        with self.transaction():
            found = self._one(
                "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id "
                "WHERE i.channel = ? AND i.external_id = ?",
                [channel, external_id],
            )
            if found:
                return found
            now = self.clock()
            customer_id = self._insert("customers", {"display_name": display_name, "created_at": now})
            if not self.backend.query(
                "INSERT INTO identities (customer_id, channel, external_id, display_name, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, external_id) DO NOTHING RETURNING id",
                [customer_id, channel, external_id, display_name, now],
            ):  # another process created this customer meanwhile: use theirs
                self.backend.execute("DELETE FROM customers WHERE id = ?", [customer_id])
                return self.customer_by_identity(channel, external_id)  # type: ignore[return-value]
            self.log_event("customer_created", customer_id=customer_id, data={"channel": channel})
            return self.customer(customer_id)

    def customer(self, customer_id: int) -> Row:
        row = self._one("SELECT * FROM customers WHERE id = ?", [customer_id])
        if row is None:
            raise NotFound(f"customer {customer_id} does not exist")
        return row

    def customer_by_identity(self, channel: str, external_id: str) -> Row | None:
        return self._one(
            "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id "
            "WHERE i.channel = ? AND i.external_id = ?",
            [channel, external_id],
        )

    def identities(self, customer_id: int) -> list[Row]:
        return self._all("SELECT * FROM identities WHERE customer_id = ? ORDER BY id", [customer_id])

    def attach_identity(self, customer_id: int, channel: str, external_id: str) -> None:
        """Give a customer another identity that its channel verified (a Telegram user, an X account).

        Never links two customers: an identity another customer holds is refused (staff merge
        by hand), and what a customer types about themselves is a claim (`add_claim`), not an identity.
        """
        if channel in CLAIM_KINDS:
            raise StoreError(f"a typed {channel} is a claim on a conversation (add_claim), not an identity")
        with self.transaction():
            if self.backend.query(
                "INSERT INTO identities (customer_id, channel, external_id, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id",
                [customer_id, channel, external_id, self.clock()],
            ):
                return
            holder = self.customer_by_identity(channel, external_id)
            if holder is not None and holder["id"] != customer_id:
                raise StoreError(f"{channel} identity belongs to customer #{holder['id']}; merge by hand if one person")

    # -- claims: what customers type about themselves ------------------------------------------

    def add_claim(self, conversation_id: int, kind: str, value: str) -> Row:
        """Record an order number, e-mail or phone a customer typed, unverified, on their conversation."""
        if kind not in CLAIM_KINDS:
            raise StoreError(f"unknown claim kind {kind!r}; use one of {', '.join(CLAIM_KINDS)}")
        self.backend.execute(
            "INSERT INTO claims (conversation_id, kind, value, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (conversation_id, kind, value) DO NOTHING",
            [conversation_id, kind, value, self.clock()],
        )
        return self._claim(conversation_id, kind, value)  # type: ignore[return-value]

    def _claim(self, conversation_id: int, kind: str, value: str) -> Row | None:
        return self._one(
            "SELECT * FROM claims WHERE conversation_id = ? AND kind = ? AND value = ?", [conversation_id, kind, value]
        )

    def claims(self, conversation_id: int | None = None, customer_id: int | None = None) -> list[Row]:
        """The claims made in one conversation, or in all of one customer's conversations, oldest first."""
        if conversation_id is not None:
            return self._all("SELECT * FROM claims WHERE conversation_id = ? ORDER BY id", [conversation_id])
        return self._all(
            "SELECT * FROM claims WHERE conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?) "
            "ORDER BY id",
            [customer_id],
        )

    def verify_claim(self, conversation_id: int, kind: str, value: str, proof: str) -> Row:
        """Mark a claim proven (by `proof`: e.g. 'postcode' or a staff user), adding it when new."""
        with self.transaction():
            claim = self.add_claim(conversation_id, kind, value)
            if claim["verified_at"] is None:
                self.backend.execute(
                    "UPDATE claims SET verified_at = ?, verified_by = ? WHERE id = ?", [self.clock(), proof, claim["id"]]
                )
                self.log_event("claim_verified", conversation_id=conversation_id, actor=proof, data={"kind": kind})
            return self._claim(conversation_id, kind, value)  # type: ignore[return-value]

    def claim_matches(self, conversation_id: int) -> list[Row]:
        """Other customers' conversations that claimed what this one claims: link suggestions for staff."""
        return self._all(
            "SELECT mine.kind, mine.value, other.conversation_id, c.customer_id, other.verified_at "
            "FROM claims mine JOIN claims other ON other.kind = mine.kind AND other.value = mine.value "
            "JOIN conversations c ON c.id = other.conversation_id "
            "WHERE mine.conversation_id = ? AND c.customer_id <> "
            "(SELECT customer_id FROM conversations WHERE id = ?) ORDER BY other.id",
            [conversation_id, conversation_id],
        )

    def customers_claiming(self, kind: str, value: str) -> list[Row]:
        """The customers whose conversations claimed this value (for staff looking someone up)."""
        return self._all(
            "SELECT * FROM customers WHERE id IN (SELECT c.customer_id FROM claims cl JOIN conversations c "
            "ON c.id = cl.conversation_id WHERE cl.kind = ? AND cl.value = ?) ORDER BY id",
            [kind, value],
        )

    def merge_customers(self, keep_id: int, merge_id: int, actor: str | None = None) -> None:
        """Move everything of `merge_id` onto `keep_id` and delete `merge_id`."""
        if keep_id == merge_id:
            return
        with self.transaction():
            self.customer(keep_id)
            self.customer(merge_id)
            for table in ("identities", "conversations", "tickets", "mentions"):
                self.backend.execute(
                    f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?", [keep_id, merge_id]
                )
            self.backend.execute("UPDATE events SET customer_id = ? WHERE customer_id = ?", [keep_id, merge_id])
            self.backend.execute("DELETE FROM customers WHERE id = ?", [merge_id])
            self.log_event("customers_merged", customer_id=keep_id, actor=actor, data={"merged": merge_id})

    def split_identity(self, identity_id: int, actor: str | None = None) -> int:
        """Detach one identity into a new customer of its own; return the new customer's id."""
        with self.transaction():
            identity = self._one("SELECT * FROM identities WHERE id = ?", [identity_id])
            if identity is None:
                raise NotFound(f"identity {identity_id} does not exist")
            new_id = self._insert(
                "customers", {"display_name": identity["display_name"], "created_at": self.clock()}
            )
            self.backend.execute("UPDATE identities SET customer_id = ? WHERE id = ?", [new_id, identity_id])
            self.backend.execute(
                "UPDATE conversations SET customer_id = ? WHERE customer_id = ? AND channel = ? AND chat_id = ?",
                [new_id, identity["customer_id"], identity["channel"], identity["external_id"]],
            )
            self.log_event("identity_split", customer_id=new_id, actor=actor, data={"identity": identity_id})
            return new_id

    # -- conversations and messages -------------------------------------------------------

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
        pending = "" if pending_intent is None else " AND pending_intent = ?"
        return self._one(
            f"SELECT * FROM conversations WHERE channel = ? AND chat_id = ? AND customer_id = ?{pending} "
            "ORDER BY id DESC LIMIT 1",
            [channel, chat_id, customer_id, *([] if pending_intent is None else [pending_intent])],
        )

    def earlier_conversations(self, conversation_id: int, limit: int = 5) -> list[Row]:
        """The conversations this one continues (through `previous_id`), most recent first."""
        earlier: list[Row] = []
        previous = self.conversation(conversation_id)["previous_id"]
        while previous is not None and len(earlier) < limit:
            earlier.append(self.conversation(previous))
            previous = earlier[-1]["previous_id"]
        return earlier

    def conversation(self, conversation_id: int) -> Row:
        row = self._one("SELECT * FROM conversations WHERE id = ?", [conversation_id])
        if row is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        return row

    def lock_conversation(self, conversation_id: int) -> Row:
        """The conversation, locked until the caller's transaction ends (check-then-act across processes)."""
        self._lock("conversations", conversation_id)
        return self.conversation(conversation_id)

    def conversations(
        self, states: Iterable[str] | None = None, customer_id: int | None = None, limit: int = 200
    ) -> list[Row]:
        where, params = ["1 = 1"], []
        if states is not None:
            states = list(states)
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params += states
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        return self._all(
            f"SELECT * FROM conversations WHERE {' AND '.join(where)} "
            "ORDER BY updated_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )

    def update_conversation(self, conversation_id: int, **fields: Any) -> None:
        """Change state, owner, language, slots (a dict), pending_intent or fallbacks."""
        if "state" in fields and fields["state"] not in CONVERSATION_STATES:
            raise StoreError(f"unknown conversation state {fields['state']!r}")
        if "slots" in fields:
            fields["slots"] = _encode(fields["slots"])
        fields["updated_at"] = self.clock()
        self._update("conversations", conversation_id, fields)

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
        rows = self.backend.query(
            "INSERT INTO messages (conversation_id, direction, author, kind, text, analysis, channel, chat_id, "
            "platform_message_id, created_at) VALUES (?, 'in', 'customer', ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING id",
            [
                conversation_id,
                kind,
                text,
                _encode(analysis),
                conversation["channel"],
                conversation["chat_id"],
                platform_message_id,
                self.clock(),
            ],
        )
        return int(rows[0]["id"]) if rows else None

    def incoming_since(self, conversation_id: int, seconds: float) -> int:
        """How many customer messages this conversation received in the last `seconds` (flood limits)."""
        rows = self.backend.query(
            "SELECT COUNT(*) AS n FROM messages WHERE conversation_id = ? AND direction = 'in' AND created_at >= ?",
            [conversation_id, self.clock() - seconds],
        )
        return int(rows[0]["n"])

    def set_analysis(self, message_id: int, analysis: dict[str, Any]) -> None:
        self._update("messages", message_id, {"analysis": _encode(analysis)})

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
                    "buttons": _encode(buttons or None),
                    "channel": conversation["channel"],
                    "chat_id": conversation["chat_id"],
                    "delivery": "pending",
                    "created_at": self.clock(),
                },
            )
            self.backend.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", [self.clock(), conversation_id]
            )
            return message_id

    def messages(self, conversation_id: int, limit: int = 1000) -> list[Row]:
        return self._all(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id LIMIT ?", [conversation_id, limit]
        )

    def message(self, message_id: int) -> Row:
        row = self._one("SELECT * FROM messages WHERE id = ?", [message_id])
        if row is None:
            raise NotFound(f"message {message_id} does not exist")
        return row

    # -- the outbox -------------------------------------------------------------------------

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

    def pending_outbox(self, channel: str | None = None) -> list[Row]:
        if channel is None:
            return self._all("SELECT * FROM messages WHERE delivery = 'pending' ORDER BY id")
        return self._all(
            "SELECT * FROM messages WHERE delivery = 'pending' AND channel = ? ORDER BY id", [channel]
        )

    # -- tickets and handoff --------------------------------------------------------------

    def open_ticket(self, kind: str, dedupe_key: str, **fields: Any) -> tuple[Row, bool]:
        """Open a ticket once per `dedupe_key`; return (ticket, created). Never duplicates."""
        if fields.get("priority", "normal") not in PRIORITIES:
            raise StoreError(f"unknown priority {fields['priority']!r}")
        now = self.clock()
        with self.transaction():
            values = {"kind": kind, "dedupe_key": dedupe_key, "created_at": now, "updated_at": now}
            values |= {k: _encode(v) if k == "story" else v for k, v in fields.items()}
            columns = ", ".join(values)
            rows = self.backend.query(
                f"INSERT INTO tickets ({columns}) VALUES ({', '.join('?' for _ in values)}) "
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
        summary: str = "",
        story: dict[str, Any] | None = None,
        sla_due_at: float | None = None,
    ) -> tuple[Row, bool]:
        """Hand a conversation to staff: one ticket per conversation, opened or re-opened.

        Returns (ticket, new) where `new` is False when the conversation already waited for or
        was owned by a human (the ticket then only gets the higher priority and fresh story).
        """
        conversation = self.conversation(conversation_id)
        with self.transaction():
            ticket, created = self.open_ticket(
                "escalation",
                f"conversation:{conversation_id}",
                conversation_id=conversation_id,
                customer_id=conversation["customer_id"],
                reason=reason,
                priority=priority,
                summary=summary,
                story=story,
                sla_due_at=sla_due_at,
            )
            already = conversation["state"] in ("waiting", "human") and ticket["status"] != "closed"
            if not created:
                higher = max(ticket["priority"], priority, key=PRIORITIES.index)
                changes: dict[str, Any] = {"priority": higher, "summary": summary, "story": _encode(story),
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
        row = self._one("SELECT * FROM tickets WHERE id = ?", [ticket_id])
        if row is None:
            raise NotFound(f"ticket {ticket_id} does not exist")
        return row

    def ticket_for_conversation(self, conversation_id: int) -> Row | None:
        return self._one("SELECT * FROM tickets WHERE dedupe_key = ?", [f"conversation:{conversation_id}"])

    def tickets(
        self,
        status: str | None = None,
        kind: str | None = None,
        customer_id: int | None = None,
        limit: int = 200,
    ) -> list[Row]:
        where, params = ["1 = 1"], []
        for column, value in (("status", status), ("kind", kind), ("customer_id", customer_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        return self._all(
            f"SELECT * FROM tickets WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*params, limit]
        )

    def update_ticket(self, ticket_id: int, **fields: Any) -> None:
        if "story" in fields:
            fields["story"] = _encode(fields["story"])
        fields["updated_at"] = self.clock()
        self._update("tickets", ticket_id, fields)

    def queue_length(self) -> int:
        """Escalated conversations waiting for a person."""
        row = self._one("SELECT COUNT(*) AS n FROM conversations WHERE state = 'waiting'")
        return int(row["n"]) if row else 0

    def take(self, conversation_id: int, owner: str, force: bool = False) -> Row:
        """A staff member becomes the one owner of a conversation; the bot steps back."""
        with self.transaction():
            self._lock("conversations", conversation_id)
            conversation = self.conversation(conversation_id)
            if conversation["state"] == "human" and conversation["owner"] not in (None, owner) and not force:
                raise StoreError(f"conversation {conversation_id} is already owned by {conversation['owner']}")
            if conversation["state"] == "closed":
                raise StoreError(f"conversation {conversation_id} is closed")
            self.update_conversation(conversation_id, state="human", owner=owner)
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket is None:
                ticket, _ = self.open_ticket(
                    "escalation", f"conversation:{conversation_id}", conversation_id=conversation_id,
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
        """The case is done: the bot takes the conversation again; the ticket is resolved."""
        with self.transaction():
            self.update_conversation(conversation_id, state="bot", owner=None, fallbacks=0, pending_intent=None)
            ticket = self.ticket_for_conversation(conversation_id)
            if ticket and ticket["status"] not in ("resolved", "closed"):
                self.update_ticket(ticket["id"], status="resolved", resolved_at=self.clock())
            self.log_event("handed_back", conversation_id=conversation_id, actor=actor,
                           ticket_id=ticket["id"] if ticket else None)
            return self.ticket(ticket["id"]) if ticket else None

    def close_conversation(
        self, conversation_id: int, actor: str | None = None, reason: str = "staff", at: float | None = None
    ) -> bool:
        """End a conversation (`reason`: staff, idle, restart, left…) and close its ticket.

        `at` is when it ended (default now; an idle one ended at its last activity). The customer's
        next message starts a new conversation that continues this one. False when it was closed
        already (the first reason stays).
        """
        with self.transaction():
            self._lock("conversations", conversation_id)
            if self.conversation(conversation_id)["state"] == "closed":
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

    def record_csat(self, ticket_id: int, score: int) -> None:
        if not 1 <= score <= 5:
            raise StoreError(f"CSAT must be 1–5, not {score}")
        self.update_ticket(ticket_id, csat=score)
        self.log_event("csat", ticket_id=ticket_id, data={"score": score})

    # -- mentions and cursors -------------------------------------------------------------

    def ingest_mentions(self, rows: Iterable[dict[str, Any]], cursor: tuple[str, str | None] | None = None) -> list[int]:
        """Store mentions once per (source, external_id) and advance a cursor, atomically.

        Returns the ids of the mentions that were new.
        """
        new_ids = []
        now = self.clock()
        with self.transaction():
            for row in rows:
                values = {k: _encode(v) if k in ("analysis", "raw") else v for k, v in row.items()}
                values.setdefault("created_at", now)
                columns = ", ".join(values)
                inserted = self.backend.query(
                    f"INSERT INTO mentions ({columns}) VALUES ({', '.join('?' for _ in values)}) "
                    "ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
                    list(values.values()),
                )
                new_ids += [int(r["id"]) for r in inserted]
            if cursor is not None:
                self.set_cursor(*cursor)
        return new_ids

    def mention(self, mention_id: int) -> Row:
        row = self._one("SELECT * FROM mentions WHERE id = ?", [mention_id])
        if row is None:
            raise NotFound(f"mention {mention_id} does not exist")
        return row

    def mentions(self, flagged: bool | None = None, review_status: str | None = None, limit: int = 200) -> list[Row]:
        where, params = ["1 = 1"], []
        if flagged is not None:
            where.append("flagged = ?")
            params.append(int(flagged))
        if review_status is not None:
            where.append("review_status = ?")
            params.append(review_status)
        return self._all(
            f"SELECT * FROM mentions WHERE {' AND '.join(where)} "
            "ORDER BY priority DESC NULLS LAST, id DESC LIMIT ?",
            [*params, limit],
        )

    def update_mention(self, mention_id: int, **fields: Any) -> None:
        if "analysis" in fields:
            fields["analysis"] = _encode(fields["analysis"])
        self._update("mentions", mention_id, fields)

    def get_cursor(self, source: str) -> str | None:
        row = self._one("SELECT value FROM cursors WHERE source = ?", [source])
        return row["value"] if row else None

    def set_cursor(self, source: str, value: str | None) -> None:
        self.backend.execute(
            "INSERT INTO cursors (source, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [source, value, self.clock()],
        )

    def acquire_lease(self, source: str, owner: str, seconds: float) -> bool:
        """Hold `source` (e.g. a listener's polls) for `seconds`; True when `owner` holds it now.

        Leader-free scheduling: every process tries, the one that gets the lease does the work and
        renews it by acquiring again; when it dies, the lease runs out and another one takes over.
        """
        now = self.clock()
        return bool(
            self.backend.query(
                "INSERT INTO cursors (source, lease_owner, lease_until) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET lease_owner = excluded.lease_owner, "
                "lease_until = excluded.lease_until WHERE cursors.lease_owner IS NULL "
                "OR cursors.lease_owner = excluded.lease_owner OR cursors.lease_until <= ? RETURNING source",
                [source, owner, now + seconds, now],
            )
        )

    def release_lease(self, source: str, owner: str) -> bool:
        """Give a lease up early (on a clean stop); False when `owner` did not hold it."""
        return self.backend.execute(
            "UPDATE cursors SET lease_owner = NULL, lease_until = NULL WHERE source = ? AND lease_owner = ?",
            [source, owner],
        ) > 0

    # -- events, labels, users -------------------------------------------------------------

    def log_event(
        self,
        kind: str,
        *,
        conversation_id: int | None = None,
        ticket_id: int | None = None,
        customer_id: int | None = None,
        mention_id: int | None = None,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        return self._insert(
            "events",
            {
                "kind": kind,
                "conversation_id": conversation_id,
                "ticket_id": ticket_id,
                "customer_id": customer_id,
                "mention_id": mention_id,
                "actor": actor,
                "data": _encode(data),
                "created_at": self.clock(),
            },
        )

    def events(self, kind: str | None = None, since: float | None = None, limit: int = 10000) -> list[Row]:
        where, params = ["1 = 1"], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        return self._all(f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id LIMIT ?", [*params, limit])

    def count_events(self, kind: str, conversation_id: int) -> int:
        """How many events of a kind one conversation has had."""
        rows = self.backend.query(
            "SELECT COUNT(*) AS n FROM events WHERE kind = ? AND conversation_id = ?", [kind, conversation_id]
        )
        return int(rows[0]["n"])

    def add_label(self, task: str, text: str, label: str, **fields: Any) -> int:
        """A staff correction (intent, sentiment, complaint, urgency), kept for retraining."""
        return self._insert(
            "labels", {"task": task, "text": text, "label": label, "created_at": self.clock(), **fields}
        )

    def labels(self, task: str | None = None) -> list[Row]:
        if task is None:
            return self._all("SELECT * FROM labels ORDER BY id")
        return self._all("SELECT * FROM labels WHERE task = ? ORDER BY id", [task])

    def add_user(self, username: str, password_hash: str, role: str, display_name: str | None = None) -> int:
        if self.user(username) is not None:
            raise StoreError(f"user {username!r} already exists")
        return self._insert(
            "users",
            {
                "username": username,
                "password_hash": password_hash,
                "role": role,
                "display_name": display_name or username,
                "created_at": self.clock(),
            },
        )

    def user(self, username: str) -> Row | None:
        return self._one("SELECT * FROM users WHERE username = ?", [username])

    def users(self) -> list[Row]:
        return self._all("SELECT id, username, role, display_name, disabled, created_at FROM users ORDER BY id")

    # -- privacy: GDPR export and erasure, data retention ----------------------------------

    _OWN_MENTIONS = (
        "(customer_id = ? OR EXISTS (SELECT 1 FROM identities i WHERE i.customer_id = ? "
        "AND i.channel = mentions.source AND i.external_id = mentions.author_id))"
    )

    def export_customer(self, customer_id: int) -> dict[str, Any]:
        """Everything the store holds about one customer (a GDPR access request), as plain data."""
        conversations = self._all(
            "SELECT * FROM conversations WHERE customer_id = ? ORDER BY id", [customer_id]
        )
        for conversation in conversations:
            conversation["messages"] = self._all(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", [conversation["id"]]
            )
        return {
            "customer": self.customer(customer_id),
            "identities": self.identities(customer_id),
            "claims": self.claims(customer_id=customer_id),
            "conversations": conversations,
            "tickets": self._all("SELECT * FROM tickets WHERE customer_id = ? ORDER BY id", [customer_id]),
            "mentions": self._all(
                f"SELECT * FROM mentions WHERE {self._OWN_MENTIONS} ORDER BY id", [customer_id, customer_id]
            ),
            "events": self._all("SELECT * FROM events WHERE customer_id = ? ORDER BY id", [customer_id]),
        }

    def erase_customer(self, customer_id: int, actor: str | None = None) -> dict[str, int]:
        """Erase a customer's personal data (a GDPR erasure request); return rows changed per table.

        Names, identities' external ids, chat ids, message and mention texts, slots, analyses,
        ticket stories and staff labels made from their texts go; the rows stay, anonymous, so
        counts and metrics remain true. Replies not yet delivered are cancelled (failed). Someone
        who writes again afterwards is a new customer.
        """
        messages = "conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?)"
        me, me2 = [customer_id], [customer_id, customer_id]
        with self.transaction():
            self.customer(customer_id)
            counts = {  # in this order: mentions are found through identities, labels through both
                "labels": self.backend.execute(
                    f"DELETE FROM labels WHERE (source = 'message' AND source_id IN "
                    f"(SELECT id FROM messages WHERE {messages})) OR (source = 'mention' AND source_id IN "
                    f"(SELECT id FROM mentions WHERE {self._OWN_MENTIONS}))",
                    me + me2,
                ),
                "mentions": self._anonymise_mentions(self._OWN_MENTIONS, me2),
                "messages": self.backend.execute(
                    "UPDATE messages SET text = '', analysis = NULL, chat_id = 'erased', "
                    "platform_message_id = NULL, error = NULL, delivery = "
                    f"CASE WHEN delivery = 'pending' THEN 'failed' ELSE delivery END WHERE {messages}",
                    me,
                ),
                "claims": self.backend.execute(
                    "UPDATE claims SET value = 'erased:' || id WHERE conversation_id IN "
                    "(SELECT id FROM conversations WHERE customer_id = ?)",
                    me,
                ),
                "conversations": self.backend.execute(
                    "UPDATE conversations SET chat_id = 'erased', slots = '{}' WHERE customer_id = ?", me
                ),
                "identities": self.backend.execute(
                    "UPDATE identities SET external_id = 'erased:' || id, display_name = NULL "
                    "WHERE customer_id = ?",
                    me,
                ),
                "tickets": self.backend.execute(
                    "UPDATE tickets SET summary = NULL, story = NULL WHERE customer_id = ?", me
                ),
                "notes": self.backend.execute(f"UPDATE notes SET text = '' WHERE {messages}", me),
            }
            self.backend.execute(
                "UPDATE customers SET display_name = NULL, erased_at = ? WHERE id = ?",
                [self.clock(), customer_id],
            )
            self.log_event("customer_erased", customer_id=customer_id, actor=actor, data=counts)
            return counts

    def _anonymise_mentions(self, where: str, params: Sequence[Any]) -> int:
        return self.backend.execute(
            "UPDATE mentions SET text = '', author = NULL, author_id = NULL, author_name = NULL, url = NULL, "
            f"raw = NULL, analysis = NULL WHERE {where}",
            params,
        )

    def prune(self, retention_days: float) -> dict[str, int]:
        """Apply data retention: forget what is older than `retention_days`; return counts per kind.

        Customers with no activity since then are erased; delivered or failed messages are
        deleted; mentions, claims and finished tickets lose their personal data. Events (the metrics) and
        staff labels of customers not erased stay.
        """
        cutoff = self.clock() - retention_days * 86400
        with self.transaction():
            inactive = self.backend.query(
                "SELECT id FROM customers c WHERE erased_at IS NULL AND created_at < ? "
                "AND NOT EXISTS (SELECT 1 FROM conversations WHERE customer_id = c.id AND updated_at >= ?) "
                "AND NOT EXISTS (SELECT 1 FROM mentions WHERE customer_id = c.id AND created_at >= ?) "
                "AND NOT EXISTS (SELECT 1 FROM tickets WHERE customer_id = c.id "
                "AND status IN ('open', 'assigned'))",
                [cutoff, cutoff, cutoff],
            )
            for row in inactive:
                self.erase_customer(row["id"], actor="retention")
            return {
                "customers": len(inactive),
                "messages": self.backend.execute(
                    "DELETE FROM messages WHERE created_at < ? AND delivery <> 'pending'", [cutoff]
                ),
                "mentions": self._anonymise_mentions("created_at < ? AND text <> ''", [cutoff]),
                "claims": self.backend.execute(
                    "UPDATE claims SET value = 'erased:' || id WHERE created_at < ? AND value NOT LIKE 'erased:%'",
                    [cutoff],
                ),
                "tickets": self.backend.execute(
                    "UPDATE tickets SET summary = NULL, story = NULL WHERE status IN ('resolved', 'closed') "
                    "AND updated_at < ? AND (summary IS NOT NULL OR story IS NOT NULL)",
                    [cutoff],
                ),
            }

    # -- console --

    def inbox(self, limit: int = 200) -> list[Row]:
        """Escalated conversations waiting for or owned by a person, most urgent and oldest first."""
        return self._all(
            "SELECT c.id AS conversation_id, c.state, c.owner, c.channel, c.language, c.customer_id, "
            "c.updated_at, cu.display_name, t.id AS ticket_id, t.priority, t.reason, t.summary, t.sla_due_at, "
            "t.first_response_at, COALESCE(t.created_at, c.created_at) AS escalated_at "
            "FROM conversations c JOIN customers cu ON cu.id = c.customer_id "
            "LEFT JOIN tickets t ON t.conversation_id = c.id AND t.kind = 'escalation' "
            "WHERE c.state IN ('waiting', 'human') "
            "ORDER BY CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, "
            "t.sla_due_at NULLS LAST, escalated_at, c.id LIMIT ?",
            [limit],
        )

    def chat_messages(self, channel: str, chat_id: str, after_id: int = 0, limit: int = 200) -> list[Row]:
        """What a customer sees in one chat, across its conversations: their messages and delivered replies."""
        return self._all(
            "SELECT id, conversation_id, direction, author, kind, text, buttons, created_at FROM messages "
            "WHERE channel = ? AND chat_id = ? AND id > ? AND (direction = 'in' OR delivery = 'sent') "
            "ORDER BY id LIMIT ?",
            [channel, chat_id, after_id, limit],
        )

    def ticket_for_mention(self, mention_id: int) -> Row | None:
        return self._one("SELECT * FROM tickets WHERE mention_id = ? ORDER BY id LIMIT 1", [mention_id])

    def positive_authors(self, min_mentions: int = 2, limit: int = 50) -> list[Row]:
        """Authors with repeated positive mentions (ambassador candidates), most mentions first."""
        return self._all(
            "SELECT source, author, MAX(author_name) AS author_name, MAX(author_reach) AS reach, "
            "COUNT(*) AS mentions, MAX(created_at) AS last_at, MAX(url) AS url FROM mentions "
            "WHERE sentiment = 'positive' AND author IS NOT NULL GROUP BY source, author "
            "HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, MAX(author_reach) DESC LIMIT ?",
            [min_mentions, limit],
        )

    def report_rows(self, since: float, limit: int = 100_000) -> dict[str, list[Row]]:
        """The rows the dashboard computes its figures from, for everything since `since`."""
        return {
            "conversations": self._all(
                "SELECT id, customer_id, channel, language, state, created_at, updated_at, closed_at "
                "FROM conversations WHERE created_at >= ? ORDER BY id LIMIT ?",
                [since, limit],
            ),
            "tickets": self._all(
                "SELECT t.id, t.kind, t.status, t.priority, t.conversation_id, t.csat, t.reopened, t.sla_due_at, "
                "t.created_at, t.first_response_at, t.resolved_at, c.channel, c.language "
                "FROM tickets t LEFT JOIN conversations c ON c.id = t.conversation_id "
                "WHERE t.created_at >= ? ORDER BY t.id LIMIT ?",
                [since, limit],
            ),
            "messages": self._all(
                "SELECT m.id, m.analysis, m.created_at, c.channel, c.language FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.direction = 'in' AND m.created_at >= ? ORDER BY m.id LIMIT ?",
                [since, limit],
            ),
            "mentions": self._all(
                "SELECT id, source, language, sentiment, complaint, flagged, created_at FROM mentions "
                "WHERE created_at >= ? ORDER BY id LIMIT ?",
                [since, limit],
            ),
        }

    def update_user(self, username: str, keep_sessions: bool = False, **fields: Any) -> None:
        """Change a staff user's password_hash, role, display_name or disabled flag.

        A new password or disabling the account ends the user's sessions, unless `keep_sessions`
        (a rehash of the same password at sign-in).
        """
        sets = ", ".join(f"{c} = ?" for c in fields)
        with self.transaction():
            if self.backend.execute(f"UPDATE users SET {sets} WHERE username = ?", [*fields.values(), username]) == 0:
                raise NotFound(f"user {username!r} does not exist")
            if not keep_sessions and ({"password_hash", "disabled"} & fields.keys()):
                self.end_sessions(username)

    def remove_user(self, username: str) -> None:
        """Remove a staff user and end their sessions (a new user of the same name starts with none)."""
        with self.transaction():
            self.end_sessions(username)
            if self.backend.execute("DELETE FROM users WHERE username = ?", [username]) == 0:
                raise NotFound(f"user {username!r} does not exist")

    # -- staff sessions: stored by the hash of their token, so they can be ended --------------

    def start_session(self, username: str, token_hash: str, max_age: float) -> None:
        """Record a signed-in session of a user; sessions older than `max_age` seconds are forgotten."""
        user = self.user(username)
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        now = self.clock()
        with self.transaction():
            self.backend.execute("DELETE FROM staff_sessions WHERE created_at < ?", [now - max_age])
            self._insert("staff_sessions", {"token_hash": token_hash, "user_id": user["id"], "created_at": now})

    def session_user(self, token_hash: str, max_age: float) -> Row | None:
        """The user of a live session (not ended, younger than `max_age` seconds), else None."""
        return self._one(
            "SELECT u.* FROM staff_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = ? AND s.created_at >= ?",
            [token_hash, self.clock() - max_age],
        )

    def end_session(self, token_hash: str) -> None:
        self.backend.execute("DELETE FROM staff_sessions WHERE token_hash = ?", [token_hash])

    def end_sessions(self, username: str) -> int:
        """End every session of a user (signed out everywhere); return how many ended."""
        return self.backend.execute(
            "DELETE FROM staff_sessions WHERE user_id IN (SELECT id FROM users WHERE username = ?)", [username]
        )

    def counts(self) -> dict[str, list[Row]]:
        """Totals for /metrics: messages per direction and channel, mentions per source, escalations."""
        return {
            "messages": self._all(
                "SELECT direction, channel, delivery, COUNT(*) AS n FROM messages GROUP BY direction, channel, delivery"
            ),
            "mentions": self._all("SELECT source, flagged, COUNT(*) AS n FROM mentions GROUP BY source, flagged"),
            "events": self._all(
                "SELECT kind, COUNT(*) AS n FROM events WHERE kind IN ('escalated', 'taken', 'agent_replied', "
                "'handed_back', 'conversation_closed', 'csat', 'storm') GROUP BY kind"
            ),
            "conversations": self._all("SELECT state, COUNT(*) AS n FROM conversations GROUP BY state"),
        }

    # -- listeners --

    def mention_ids(self, source: str, external_ids: Iterable[str]) -> dict[str, int]:
        """Which of these external ids of a source are stored already: external id → mention id."""
        ids, found = list(dict.fromkeys(external_ids)), {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.backend.query(
                f"SELECT id, external_id FROM mentions WHERE source = ? AND external_id IN "
                f"({', '.join('?' for _ in chunk)})",
                [source, *chunk],
            )
            found |= {r["external_id"]: int(r["id"]) for r in rows}
        return found

    def mentions_since(self, since: float, limit: int = 100000) -> list[Row]:
        """Recent mentions, oldest first, with what triage needs to rebuild its memory after a restart."""
        return self._all(
            "SELECT id, source, external_id, text, topic, complaint, duplicate_of, url, "
            "COALESCE(posted_at, created_at) AS at FROM mentions WHERE created_at >= ? ORDER BY id DESC LIMIT ?",
            [since, limit],
        )[::-1]

    def author_mentions(self, since: float, source: str | None = None, author_id: str | None = None) -> list[Row]:
        """Positive and negative mentions with a known author (for ambassadors), oldest first."""
        where, params = ["created_at >= ?", "author_id IS NOT NULL", "duplicate_of IS NULL",
                         "sentiment IN ('positive', 'negative')"], [since]
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if author_id is not None:
            where.append("author_id = ?")
            params.append(author_id)
        return self._all(
            "SELECT id, source, external_id, author_id, author, author_name, author_reach, sentiment, text, url, "
            f"COALESCE(posted_at, created_at) AS at FROM mentions WHERE {' AND '.join(where)} ORDER BY id",
            params,
        )
