"""Privacy: a customer's data exported (access request) or erased (erasure request), and data retention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from webcare.store.base import Base

# A customer's mentions: linked to them, or written from one of their identities.
_OWN_MENTIONS = (
    "(customer_id = ? OR EXISTS (SELECT 1 FROM identities i WHERE i.customer_id = ? "
    "AND i.channel = mentions.source AND i.external_id = mentions.author_id))"
)


class Privacy(Base):
    """Export, erase, prune: erasure keeps the rows, anonymous, so counts and metrics stay true."""

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
                f"SELECT * FROM mentions WHERE {_OWN_MENTIONS} ORDER BY id", [customer_id, customer_id]
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
                    f"(SELECT id FROM mentions WHERE {_OWN_MENTIONS}))",
                    me + me2,
                ),
                "mentions": self._anonymise_mentions(_OWN_MENTIONS, me2),
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
