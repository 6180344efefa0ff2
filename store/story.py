"""The story so far of an escalated conversation: built once at escalation, kept fresh on its ticket.

Staff read the story from the ticket (`ticket["story"]`, `ticket["summary"]`); nothing rebuilds it
per page view. The verbs that add to it — a customer's message or its analysis, new slots, a claim,
a merge or split — call `refresh_story`, which rebuilds it while the ticket is open.
"""

from __future__ import annotations

from typing import Any

from webcare.store.base import Base
from webcare.store.handoff import conversation_ticket_key

TRANSCRIPT_LINES = 30


class Stories(Base):
    """Who, on which channels, what they asked, entities, mood, earlier tickets, transcript."""

    def build_story(self, conversation_id: int, reason: str) -> tuple[str, dict[str, Any]]:
        """(a one-paragraph summary for staff, the structured story stored on the ticket)."""
        conversation = self.conversation(conversation_id)
        customer = self.customer(conversation["customer_id"])
        identities = self.identities(customer["id"])
        messages = self.messages(conversation_id)
        incoming = [m for m in messages if m["direction"] == "in" and m["analysis"]]
        intents: list[str] = []
        for m in incoming:
            intent = m["analysis"].get("intent")
            if intent and not m["analysis"].get("out_of_scope") and intent not in intents:
                intents.append(intent)
        story = {
            "customer": {"id": customer["id"], "name": customer["display_name"], "language": conversation["language"]},
            "identities": [{"channel": i["channel"], "external_id": i["external_id"]} for i in identities],
            "claims": [{"kind": c["kind"], "value": c["value"], "verified": c["verified_at"] is not None}
                       for c in self.claims(conversation_id)],  # typed in this conversation; unverified unless proven
            "channels": sorted({i["channel"] for i in identities}),  # identities are channels; typed ones are claims
            "reason": reason,
            "intents": intents,
            "slots": {k: v for k, v in conversation["slots"].items() if not k.startswith("_")},  # "_": bot's memory
            "sentiment_trend": [round(float(m["analysis"].get("sentiment_score", 0.0)), 2) for m in incoming],
            "earlier_tickets": [
                {"id": t["id"], "kind": t["kind"], "status": t["status"], "reason": t["reason"],
                 "created_at": t["created_at"]}
                for t in self.tickets(customer_id=customer["id"]) if t["conversation_id"] != conversation_id
            ],
            "continues": [
                {"id": c["id"], "channel": c["channel"], "created_at": c["created_at"], "closed_at": c["closed_at"],
                 "closed_reason": c["closed_reason"], "last": self._last_words(c["id"])}
                for c in self.earlier_conversations(conversation_id)
            ],
            "transcript": [
                {"author": m["author"], "text": m["text"], "at": m["created_at"]} for m in messages[-TRANSCRIPT_LINES:]
            ],
        }
        return summarize(story), story

    def refresh_story(self, conversation_id: int) -> None:
        """Rebuild the story on the conversation's ticket while it is open (new facts arrived)."""
        ticket = self._one(
            "SELECT id, reason FROM tickets WHERE dedupe_key = ? AND status IN ('open', 'assigned')",
            [conversation_ticket_key(conversation_id)],
        )
        if ticket is not None:
            summary, story = self.build_story(conversation_id, ticket["reason"] or "—")
            self.update_ticket(ticket["id"], summary=summary, story=story)

    def refresh_stories(self, customer_id: int) -> None:
        """Rebuild the stories of a customer's open tickets (their identities or tickets changed)."""
        for row in self.backend.query(
            "SELECT conversation_id FROM tickets WHERE customer_id = ? AND kind = 'escalation' "
            "AND status IN ('open', 'assigned')",
            [customer_id],
        ):
            self.refresh_story(row["conversation_id"])

    def _last_words(self, conversation_id: int) -> str:
        """The customer's last message in a conversation (what they were on about), or ''."""
        row = self._one(
            "SELECT text FROM messages WHERE conversation_id = ? AND direction = 'in' ORDER BY id DESC LIMIT 1",
            [conversation_id],
        )
        return row["text"] if row else ""


def _trend(scores: list[float]) -> str:
    if not scores:
        return "unknown"
    last = scores[-1]
    mood = "negative" if last <= -0.25 else "positive" if last >= 0.25 else "neutral"
    if len(scores) > 1 and scores[-1] < scores[0] - 0.2:
        return f"{mood}, getting worse"
    if len(scores) > 1 and scores[-1] > scores[0] + 0.2:
        return f"{mood}, improving"
    return mood


def summarize(story: dict[str, Any]) -> str:
    """One readable paragraph of a story, for staff."""
    name = story["customer"]["name"] or f"Customer #{story['customer']['id']}"
    parts = [f"{name} via {', '.join(story['channels']) or 'unknown channel'}", f"escalated: {story['reason']}"]
    if story["intents"]:
        parts.append("asked about " + ", ".join(i.replace("_", " ") for i in story["intents"]))
    if story["slots"]:
        parts.append(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in story["slots"].items()))
    parts.append(f"mood {_trend(story['sentiment_trend'])}")
    if story.get("continues"):
        before = story["continues"][0]
        parts.append(f"continues conversation #{before['id']} ({before['closed_reason'] or 'closed'})")
    if story["earlier_tickets"]:
        parts.append(
            "earlier tickets " + ", ".join(f"#{t['id']} ({t['status']}, {t['reason']})" for t in story["earlier_tickets"])
        )
    return "; ".join(parts) + "."
