"""The social team's verbs on a mention: review (a label for retraining), reply, make it a ticket.

Each is one transaction: a failure midway leaves the mention, its labels, customers,
conversations and the outbox as they were.
"""

from __future__ import annotations

from webcare.core.errors import StoreError
from webcare.store.base import Base, Row
from webcare.store.mentions import mention_ticket_key

REVIEW_ACTIONS = ("confirm", "dismiss", "correct")


class MentionReview(Base):
    """Review, reply to and ticket mentions; every judgement is also a label for retraining NLU."""

    def review_mention(
        self, mention_id: int, action: str, actor: str, sentiment: str | None = None, complaint: bool | None = None
    ) -> None:
        """confirm / dismiss (relevant or not), or correct the sentiment and complaint flag.

        Labels: `mention_flag` (relevant / not_relevant), `sentiment`, `complaint` (complaint /
        not_complaint); a correction that changes nothing adds no label.
        """
        if action not in REVIEW_ACTIONS:
            raise StoreError(f"unknown review action {action!r}; use one of {', '.join(REVIEW_ACTIONS)}")
        with self.transaction():
            mention = self.mention(mention_id)
            if action != "correct":
                relevant = action == "confirm"
                self.update_mention(mention_id, review_status="confirmed" if relevant else "dismissed")
                self._label(mention, "mention_flag", "relevant" if relevant else "not_relevant", actor)
            if action == "correct" and sentiment is not None and sentiment != mention["sentiment"]:
                self.update_mention(mention_id, sentiment=sentiment)
                self._label(mention, "sentiment", sentiment, actor)
            if action == "correct" and complaint is not None and complaint != bool(mention["complaint"]):
                self.update_mention(mention_id, complaint=int(complaint))
                self._label(mention, "complaint", "complaint" if complaint else "not_complaint", actor)
            self.log_event("mention_reviewed", mention_id=mention_id, actor=actor, data={"action": action})

    def _label(self, mention: Row, task: str, label: str, actor: str) -> None:
        self.add_label(task, mention["text"], label, language=mention["language"], source="mention",
                       source_id=mention["id"], author=actor)

    def reply_to_mention(self, mention_id: int, text: str, agent: str) -> int:
        """Queue a staff member's public reply to a mention; return the outbox message's id.

        The author becomes (or is) a customer by their network identity; the reply goes out in a
        conversation on the mention's network whose chat is the post replied to. That
        conversation is linked from the mention (`mentions.conversation_id`), so reports count it
        as the mention it is, not as a chat the bot resolved.
        """
        with self.transaction():
            mention = self.mention(mention_id)
            customer = self.identify(mention["source"], mention["author_id"] or mention["author"]
                                     or mention["external_id"], mention["author_name"] or mention["author"])
            conversation = self.open_conversation(customer["id"], mention["source"], mention["external_id"])
            message_id = self.queue_outgoing(conversation["id"], text, author=f"agent:{agent}")
            self.update_mention(mention_id, review_status="replied", conversation_id=conversation["id"],
                                customer_id=mention["customer_id"] or customer["id"])
            self.log_event("mention_replied", mention_id=mention_id, actor=agent,
                           conversation_id=conversation["id"], customer_id=customer["id"])
            return message_id

    def mention_to_ticket(self, mention_id: int, assignee: str) -> Row:
        """The mention's ticket (the one triage opened, or a new one), assigned to `assignee`."""
        with self.transaction():
            mention = self.mention(mention_id)
            priority = "high" if mention["complaint"] and mention["sentiment"] == "negative" else "normal"
            ticket, _ = self.open_ticket(
                "mention", mention_ticket_key(mention["source"], mention["external_id"]), mention_id=mention_id,
                customer_id=mention["customer_id"], reason="mention", priority=priority, summary=mention["text"][:300],
            )
            self.update_ticket(ticket["id"], assignee=assignee, status="assigned")
            self.update_mention(mention_id, review_status="ticket")
            self.log_event("mention_ticketed", mention_id=mention_id, ticket_id=ticket["id"], actor=assignee)
            return self.ticket(ticket["id"])
