"""Read models for staff: the inbox, the rows the dashboard computes from, totals for /metrics."""

from __future__ import annotations

from webcare.store.base import Base, Row

# A conversation opened only to carry staff's public reply to a mention is that mention, not a chat.
_NOT_MENTION_REPLY = "NOT EXISTS (SELECT 1 FROM mentions m WHERE m.conversation_id = conversations.id)"


class Reports(Base):
    """Queries only: nothing here writes."""

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

    def report_rows(self, since: float, limit: int = 100_000) -> dict[str, list[Row]]:
        """The rows the dashboard computes its figures from, for everything since `since`.

        Conversations that only carried a reply to a mention are left out: the mention counts once,
        under mentions, and such a conversation was never the bot's to resolve.
        """
        return {
            "conversations": self._all(
                "SELECT id, customer_id, channel, language, state, created_at, updated_at, closed_at "
                f"FROM conversations WHERE created_at >= ? AND {_NOT_MENTION_REPLY} ORDER BY id LIMIT ?",
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
