"""Mentions from social listening: ingest once, cursors per source, leases on sources, lookups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webcare.store.base import Base, Row, encode, where

_CHUNK = 500  # external ids per IN (…) lookup


def mention_ticket_key(source: str, external_id: str) -> str:
    """The dedupe key of a mention's ticket: the same post is one ticket, whoever opens it."""
    return f"mention:{source}:{external_id}"


class Mentions(Base):
    """Stored once per (source, external id); a cursor and a lease per source."""

    def ingest_mentions(self, rows: Iterable[dict[str, Any]], cursor: tuple[str, str | None] | None = None) -> list[int]:
        """Store mentions once per (source, external_id) and advance a cursor, atomically.

        Returns the ids of the mentions that were new.
        """
        new_ids = []
        now = self.clock()
        with self.transaction():
            for row in rows:
                values = {k: encode(v) if k in ("analysis", "raw") else v for k, v in row.items()}
                values.setdefault("created_at", now)
                inserted = self.backend.query(
                    f"INSERT INTO mentions ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)}) "
                    "ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
                    list(values.values()),
                )
                new_ids += [int(r["id"]) for r in inserted]
            if cursor is not None:
                self.set_cursor(*cursor)
        return new_ids

    def mention(self, mention_id: int) -> Row:
        return self._get("mentions", mention_id)

    def mentions(self, flagged: bool | None = None, review_status: str | None = None, limit: int = 200) -> list[Row]:
        condition, params = where({"flagged = ?": None if flagged is None else int(flagged),
                                   "review_status = ?": review_status})
        return self._all(
            f"SELECT * FROM mentions WHERE {condition} ORDER BY priority DESC NULLS LAST, id DESC LIMIT ?",
            [*params, limit],
        )

    def update_mention(self, mention_id: int, **fields: Any) -> None:
        if "analysis" in fields:
            fields["analysis"] = encode(fields["analysis"])
        self._update("mentions", mention_id, fields)

    def ticket_for_mention(self, mention_id: int) -> Row | None:
        return self._one("SELECT * FROM tickets WHERE mention_id = ? ORDER BY id LIMIT 1", [mention_id])

    def mention_ids(self, source: str, external_ids: Iterable[str]) -> dict[str, int]:
        """Which of these external ids of a source are stored already: external id → mention id."""
        ids, found = list(dict.fromkeys(external_ids)), {}
        for start in range(0, len(ids), _CHUNK):
            condition, params = where({"source = ?": source, "external_id IN (?)": ids[start:start + _CHUNK]})
            rows = self.backend.query(f"SELECT id, external_id FROM mentions WHERE {condition}", params)
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
        condition, params = where({"created_at >= ?": since, "source = ?": source, "author_id = ?": author_id})
        return self._all(
            "SELECT id, source, external_id, author_id, author, author_name, author_reach, sentiment, text, url, "
            f"COALESCE(posted_at, created_at) AS at FROM mentions WHERE {condition} AND author_id IS NOT NULL "
            "AND duplicate_of IS NULL AND sentiment IN ('positive', 'negative') ORDER BY id",
            params,
        )

    def positive_authors(self, min_mentions: int = 2, limit: int = 50) -> list[Row]:
        """Authors with repeated positive mentions (ambassador candidates), most mentions first."""
        return self._all(
            "SELECT source, author, MAX(author_name) AS author_name, MAX(author_reach) AS reach, "
            "COUNT(*) AS mentions, MAX(created_at) AS last_at, MAX(url) AS url FROM mentions "
            "WHERE sentiment = 'positive' AND author IS NOT NULL GROUP BY source, author "
            "HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, MAX(author_reach) DESC LIMIT ?",
            [min_mentions, limit],
        )

    # -- cursors and leases: where each source's polling stands, and who polls it -----------------

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
