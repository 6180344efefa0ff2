"""The audit trail (events, which the metrics count) and staff labels (kept for retraining NLU)."""

from __future__ import annotations

from typing import Any

from webcare.store.base import Base, Row, encode, where


class Audit(Base):
    """Append-only: events say what happened, by whom; labels say what staff corrected."""

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
                "data": encode(data),
                "created_at": self.clock(),
            },
        )

    def events(self, kind: str | None = None, since: float | None = None, limit: int = 10000) -> list[Row]:
        condition, params = where({"kind = ?": kind, "created_at >= ?": since})
        return self._all(f"SELECT * FROM events WHERE {condition} ORDER BY id LIMIT ?", [*params, limit])

    def count_events(self, kind: str, conversation_id: int) -> int:
        """How many events of a kind one conversation has had."""
        return self._count(
            "SELECT COUNT(*) AS n FROM events WHERE kind = ? AND conversation_id = ?", [kind, conversation_id]
        )

    def add_label(self, task: str, text: str, label: str, **fields: Any) -> int:
        """A staff correction (intent, sentiment, complaint, urgency), kept for retraining."""
        return self._insert(
            "labels", {"task": task, "text": text, "label": label, "created_at": self.clock(), **fields}
        )

    def labels(self, task: str | None = None) -> list[Row]:
        condition, params = where({"task = ?": task})
        return self._all(f"SELECT * FROM labels WHERE {condition} ORDER BY id", params)
