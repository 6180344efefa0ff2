"""Versioned migrations of the shared store, written once for SQLite and PostgreSQL.

Each migration is a list of statements with `{pk}` (an auto-increment primary key) and `{real}`
(a float column) filled in per dialect. Timestamps are epoch seconds; JSON lives in TEXT columns.
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

DIALECT_TYPES = {
    "sqlite": {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL"},
    "postgresql": {"pk": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION"},
}

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "initial schema",
        [
            """CREATE TABLE customers (
                id {pk},
                display_name TEXT,
                language TEXT,
                created_at {real} NOT NULL,
                erased_at {real}
            )""",
            """CREATE TABLE identities (
                id {pk},
                customer_id BIGINT NOT NULL REFERENCES customers(id),
                channel TEXT NOT NULL,
                external_id TEXT NOT NULL,
                display_name TEXT,
                created_at {real} NOT NULL,
                UNIQUE (channel, external_id)
            )""",
            "CREATE INDEX identities_customer ON identities(customer_id)",
            """CREATE TABLE conversations (
                id {pk},
                customer_id BIGINT NOT NULL REFERENCES customers(id),
                channel TEXT NOT NULL,
                chat_id TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'bot',
                owner TEXT,
                language TEXT,
                slots TEXT NOT NULL DEFAULT '{{}}',
                pending_intent TEXT,
                fallbacks INTEGER NOT NULL DEFAULT 0,
                created_at {real} NOT NULL,
                updated_at {real} NOT NULL,
                closed_at {real}
            )""",
            "CREATE INDEX conversations_chat ON conversations(channel, chat_id, state)",
            "CREATE INDEX conversations_customer ON conversations(customer_id)",
            """CREATE TABLE messages (
                id {pk},
                conversation_id BIGINT NOT NULL REFERENCES conversations(id),
                direction TEXT NOT NULL,
                author TEXT NOT NULL,
                kind TEXT NOT NULL DEFAULT 'text',
                text TEXT NOT NULL,
                analysis TEXT,
                buttons TEXT,
                channel TEXT NOT NULL,
                chat_id TEXT NOT NULL,
                platform_message_id TEXT,
                delivery TEXT NOT NULL DEFAULT 'none',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at {real},
                claimed_by TEXT,
                claimed_until {real},
                error TEXT,
                created_at {real} NOT NULL,
                sent_at {real}
            )""",
            """CREATE UNIQUE INDEX messages_incoming_once ON messages(channel, platform_message_id)
               WHERE direction = 'in' AND platform_message_id IS NOT NULL""",
            "CREATE INDEX messages_outbox ON messages(delivery, channel, next_attempt_at)",
            "CREATE INDEX messages_conversation ON messages(conversation_id, id)",
            """CREATE TABLE mentions (
                id {pk},
                source TEXT NOT NULL,
                external_id TEXT NOT NULL,
                author TEXT,
                author_id TEXT,
                author_name TEXT,
                author_reach INTEGER NOT NULL DEFAULT 0,
                url TEXT,
                text TEXT NOT NULL,
                language TEXT,
                analysis TEXT,
                sentiment TEXT,
                sentiment_score {real},
                complaint INTEGER,
                complaint_score {real},
                urgency TEXT,
                priority {real},
                flagged INTEGER NOT NULL DEFAULT 0,
                duplicate_of BIGINT,
                topic TEXT,
                review_status TEXT NOT NULL DEFAULT 'new',
                customer_id BIGINT REFERENCES customers(id),
                raw TEXT,
                posted_at {real},
                created_at {real} NOT NULL,
                UNIQUE (source, external_id)
            )""",
            "CREATE INDEX mentions_flagged ON mentions(flagged, review_status)",
            "CREATE INDEX mentions_author ON mentions(source, author_id)",
            """CREATE TABLE tickets (
                id {pk},
                kind TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open',
                priority TEXT NOT NULL DEFAULT 'normal',
                reason TEXT,
                summary TEXT,
                story TEXT,
                conversation_id BIGINT REFERENCES conversations(id),
                mention_id BIGINT REFERENCES mentions(id),
                customer_id BIGINT REFERENCES customers(id),
                dedupe_key TEXT UNIQUE,
                assignee TEXT,
                sla_due_at {real},
                csat INTEGER,
                reopened INTEGER NOT NULL DEFAULT 0,
                created_at {real} NOT NULL,
                updated_at {real} NOT NULL,
                first_response_at {real},
                resolved_at {real}
            )""",
            "CREATE INDEX tickets_status ON tickets(status, priority)",
            "CREATE INDEX tickets_customer ON tickets(customer_id)",
            """CREATE TABLE cursors (
                source TEXT PRIMARY KEY,
                value TEXT,
                updated_at {real},
                lease_owner TEXT,
                lease_until {real}
            )""",
            """CREATE TABLE events (
                id {pk},
                kind TEXT NOT NULL,
                conversation_id BIGINT,
                ticket_id BIGINT,
                customer_id BIGINT,
                mention_id BIGINT,
                actor TEXT,
                data TEXT,
                created_at {real} NOT NULL
            )""",
            "CREATE INDEX events_kind_time ON events(kind, created_at)",
            """CREATE TABLE labels (
                id {pk},
                task TEXT NOT NULL,
                text TEXT NOT NULL,
                label TEXT NOT NULL,
                language TEXT,
                source TEXT,
                source_id BIGINT,
                author TEXT,
                created_at {real} NOT NULL
            )""",
            """CREATE TABLE users (
                id {pk},
                username TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL,
                display_name TEXT,
                disabled INTEGER NOT NULL DEFAULT 0,
                created_at {real} NOT NULL
            )""",
        ],
    ),
    (
        2,
        "conversation lifecycle: why a conversation ended, and the one it continues",
        [
            "ALTER TABLE conversations ADD COLUMN previous_id BIGINT REFERENCES conversations(id)",
            "ALTER TABLE conversations ADD COLUMN closed_reason TEXT",
            "CREATE INDEX conversations_idle ON conversations(state, updated_at)",
        ],
    ),
    (
        3,
        "claims typed by customers; revocable staff sessions",
        [
            # What a customer types about themselves (order number, e-mail, phone) is a claim on one
            # conversation, never an identity: claims never link customers.
            """CREATE TABLE claims (
                id {pk},
                conversation_id BIGINT NOT NULL REFERENCES conversations(id),
                kind TEXT NOT NULL,
                value TEXT NOT NULL,
                verified_at {real},
                verified_by TEXT,
                created_at {real} NOT NULL,
                UNIQUE (conversation_id, kind, value)
            )""",
            "CREATE INDEX claims_value ON claims(kind, value)",
            # Typed identities of earlier versions become unverified claims on the customer's latest
            # conversation; customers they merged stay merged (staff can split them).
            """INSERT INTO claims (conversation_id, kind, value, created_at)
               SELECT (SELECT MAX(c.id) FROM conversations c WHERE c.customer_id = i.customer_id),
                      i.channel, i.external_id, i.created_at
               FROM identities i WHERE i.channel IN ('email', 'order_number', 'phone')
               AND EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = i.customer_id)""",
            "DELETE FROM identities WHERE channel IN ('email', 'order_number', 'phone')",
            """CREATE TABLE staff_sessions (
                id {pk},
                token_hash TEXT NOT NULL UNIQUE,
                user_id BIGINT NOT NULL REFERENCES users(id),
                created_at {real} NOT NULL
            )""",
            "CREATE INDEX staff_sessions_user ON staff_sessions(user_id)",
        ],
    ),
    (
        4,
        "mention replies: the conversation staff's public reply to a mention went out in",
        [
            # Reports leave such conversations out: the mention is counted once, as a mention.
            "ALTER TABLE mentions ADD COLUMN conversation_id BIGINT REFERENCES conversations(id)",
            "CREATE INDEX mentions_conversation ON mentions(conversation_id)",
            """UPDATE mentions SET conversation_id = (SELECT MAX(c.id) FROM conversations c
               WHERE c.channel = mentions.source AND c.chat_id = mentions.external_id)
               WHERE review_status = 'replied'""",
        ],
    ),
    (
        5,
        "delivery receipts",
        [
            # What a channel reports after a send (WhatsApp: delivered, read): shown to staff in the console.
            "ALTER TABLE messages ADD COLUMN receipt TEXT",
            "ALTER TABLE messages ADD COLUMN receipt_at {real}",
            """CREATE INDEX messages_platform_out ON messages(channel, platform_message_id)
               WHERE direction = 'out' AND platform_message_id IS NOT NULL""",
        ],
    ),
]


def statements(dialect: str, version: int) -> list[str]:
    """The statements of one migration, rendered for a dialect."""
    types = DIALECT_TYPES[dialect]
    for number, _name, sqls in MIGRATIONS:
        if number == version:
            return [sql.format(**types) for sql in sqls]
    raise KeyError(version)
