"""Versioned migrations of the shared store, written once for SQLite and PostgreSQL.

Each migration is a list of statements with `{pk}` (an auto-increment primary key) and `{real}`
(a float column) filled in per dialect. Timestamps are epoch seconds; JSON lives in TEXT columns.
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

from typing import Any

DIALECT_TYPES = {
    "sqlite": {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL"},
    "postgresql": {"pk": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION"},
}



def _fts5(table: str, *columns: str) -> list[str]:
    """An SQLite FTS5 index over some text columns of a table, kept up to date by triggers."""
    cols, new, old = ", ".join(columns), ", ".join(f"new.{c}" for c in columns), ", ".join(f"old.{c}" for c in columns)
    fts = f"{table}_fts"
    return [
        (f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"),
        f"INSERT INTO {fts}(rowid, {cols}) SELECT id, {cols} FROM {table}",
        (f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END"),
        (f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END"),
        (f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {cols} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END"),
    ]


# A statement is SQL for both dialects, or {dialect: [SQL, …]} where they differ.
MIGRATIONS: list[tuple[int, str, list[Any]]] = [
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
    (
        6,
        "console: full-text search, internal notes, labels with colours, assignment, notifications, saved views",
        [
            """CREATE TABLE notes (
                id {pk},
                conversation_id BIGINT NOT NULL REFERENCES conversations(id),
                author TEXT NOT NULL,
                text TEXT NOT NULL,
                created_at {real} NOT NULL
            )""",
            "CREATE INDEX notes_conversation ON notes(conversation_id, id)",
            # `labels` holds NLU training labels; the labels staff put on cases are tags.
            """CREATE TABLE tags (
                id {pk},
                name TEXT NOT NULL UNIQUE,
                colour TEXT NOT NULL,
                created_at {real} NOT NULL
            )""",
            """CREATE TABLE conversation_tags (
                id {pk},
                conversation_id BIGINT NOT NULL REFERENCES conversations(id),
                tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                UNIQUE (conversation_id, tag_id)
            )""",
            "CREATE INDEX conversation_tags_tag ON conversation_tags(tag_id)",
            """CREATE TABLE mention_tags (
                id {pk},
                mention_id BIGINT NOT NULL REFERENCES mentions(id),
                tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                UNIQUE (mention_id, tag_id)
            )""",
            "CREATE INDEX mention_tags_tag ON mention_tags(tag_id)",
            "ALTER TABLE conversations ADD COLUMN assignee TEXT",  # a username, or team:<name>
            "CREATE INDEX conversations_assignee ON conversations(assignee)",
            "ALTER TABLE users ADD COLUMN team TEXT",
            "ALTER TABLE users ADD COLUMN language TEXT",  # the console's language for this user
            """CREATE TABLE notifications (
                id {pk},
                username TEXT NOT NULL,
                kind TEXT NOT NULL,
                actor TEXT,
                conversation_id BIGINT REFERENCES conversations(id),
                created_at {real} NOT NULL,
                read_at {real}
            )""",
            "CREATE INDEX notifications_user ON notifications(username, read_at)",
            """CREATE TABLE saved_views (
                id {pk},
                username TEXT NOT NULL,
                name TEXT NOT NULL,
                query TEXT NOT NULL,
                created_at {real} NOT NULL,
                UNIQUE (username, name)
            )""",
            "CREATE INDEX conversations_updated ON conversations(updated_at, id)",  # lists, newest first
            "CREATE INDEX tickets_conversation ON tickets(conversation_id)",
            {
                "sqlite": _fts5("messages", "text") + _fts5("customers", "display_name")
                + _fts5("tickets", "reason", "summary") + _fts5("mentions", "text", "author", "author_name"),
                "postgresql": [
                    # A message's words are stemmed in its own language (Dutch or English; `simple` otherwise),
                    # and kept as written too (`simple`), so stop words and prefixes are found. Expression
                    # indexes (no extra columns): a query names the same function.
                    """CREATE FUNCTION webcare_ts_config(language TEXT) RETURNS regconfig
                       LANGUAGE sql IMMUTABLE AS $$
                       SELECT CASE language WHEN 'nl' THEN 'dutch'::regconfig WHEN 'en' THEN 'english'::regconfig
                       ELSE 'simple'::regconfig END $$""",
                    """CREATE FUNCTION webcare_search(body TEXT, language TEXT) RETURNS tsvector
                       LANGUAGE plpgsql IMMUTABLE AS $$
                       BEGIN
                         RETURN to_tsvector(webcare_ts_config(language), COALESCE(body, ''))
                                || to_tsvector('simple', COALESCE(body, ''));
                       END $$""",
                    """CREATE FUNCTION webcare_language(analysis TEXT) RETURNS TEXT
                       LANGUAGE plpgsql IMMUTABLE AS $$
                       BEGIN
                         RETURN analysis::jsonb ->> 'language';
                       EXCEPTION WHEN others THEN RETURN NULL;
                       END $$""",
                    "CREATE INDEX messages_search ON messages USING GIN (webcare_search(text, webcare_language(analysis)))",
                    "CREATE INDEX customers_search ON customers USING GIN (webcare_search(display_name, NULL))",
                    """CREATE INDEX tickets_search ON tickets USING GIN
                       (webcare_search(COALESCE(reason, '') || ' ' || COALESCE(summary, ''), NULL))""",
                    """CREATE INDEX mentions_search ON mentions USING GIN
                       (webcare_search(text || ' ' || COALESCE(author, '') || ' ' || COALESCE(author_name, ''), language))""",
                ],
            },
        ],
    ),
]


def statements(dialect: str, version: int) -> list[str]:
    """The statements of one migration, rendered for a dialect."""
    types = DIALECT_TYPES[dialect]
    for number, _name, items in MIGRATIONS:
        if number == version:
            return [sql for item in items
                    for sql in (item[dialect] if isinstance(item, dict) else [item.format(**types)])]
    raise KeyError(version)
