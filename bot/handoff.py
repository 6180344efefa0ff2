"""Handing a conversation to staff: priority, the honest expected wait, and the story so far."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import DAYS, EscalationConfig
from store import Store

DAY_NAMES = {
    "nl": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
MINUTES = {"nl": "ongeveer {n} minuten", "en": "about {n} minutes"}
AT = {"nl": "{day} om {time}", "en": "{day} at {time}"}
TODAY = {"nl": "vandaag", "en": "today"}
TOMORROW = {"nl": "morgen", "en": "tomorrow"}


@dataclass(frozen=True)
class WaitEstimate:
    """Either staff is in now (`minutes` until a person answers) or when they are back (`opens`)."""

    open_now: bool
    minutes: int = 0
    opens: datetime | None = None

    def describe(self, language: str) -> str:
        lang = language if language in MINUTES else "en"
        if self.open_now:
            return MINUTES[lang].format(n=self.minutes)
        assert self.opens is not None
        return describe_moment(self.opens, lang)


def describe_moment(moment: datetime, language: str, now: datetime | None = None) -> str:
    """'maandag om 09:00', 'tomorrow at 09:00'."""
    now = now or datetime.now(moment.tzinfo)
    if moment.date() == now.date():
        day = TODAY[language]
    elif moment.date() == (now + timedelta(days=1)).date():
        day = TOMORROW[language]
    else:
        day = DAY_NAMES[language][moment.weekday()]
    return AT[language].format(day=day, time=moment.strftime("%H:%M"))


def _hours(config: EscalationConfig, day: datetime) -> tuple[datetime, datetime] | None:
    span = config.business_hours.get(DAYS[day.weekday()])
    if not span:
        return None
    start, end = span.split("-")
    def at(hhmm: str) -> datetime:
        return day.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:]), second=0, microsecond=0)
    return at(start), at(end)


def estimate_wait(config: EscalationConfig, queue_length: int, now_ts: float) -> WaitEstimate:
    """Expected wait from the queue ahead, staff on duty and business hours."""
    now = datetime.fromtimestamp(now_ts, ZoneInfo(config.timezone))
    today = _hours(config, now)
    if today and today[0] <= now < today[1]:
        minutes = (queue_length + 1) * config.minutes_per_case / config.agents_on_duty
        rounded = max(5, int(math.ceil(minutes / 5.0) * 5))
        if now + timedelta(minutes=rounded) <= today[1]:
            return WaitEstimate(open_now=True, minutes=rounded)
    for days_ahead in range(8):
        day = now + timedelta(days=days_ahead)
        hours = _hours(config, day)
        if hours and hours[0] > now:
            return WaitEstimate(open_now=False, opens=hours[0])
    return WaitEstimate(open_now=False, opens=now + timedelta(days=1))


def priority_for(reason: str, analysis: dict[str, Any] | None) -> str:
    """low | normal | high | urgent, from why we escalate and how the customer feels."""
    if not analysis:
        return "normal"
    urgent = analysis.get("urgency") == "high"
    angry = analysis.get("sentiment_score", 0.0) <= -0.6
    complaint = bool(analysis.get("complaint")) or reason == "complaint"
    if urgent and complaint:
        return "urgent"
    if urgent or (complaint and angry):
        return "high"
    return "normal"


def build_story(store: Store, conversation_id: int, reason: str, transcript_limit: int = 30) -> tuple[str, dict]:
    """The story so far: who, on which channels, what they asked, entities, mood, earlier tickets.

    Returns a one-paragraph summary for staff and the structured story stored on the ticket.
    """
    conversation = store.conversation(conversation_id)
    customer = store.customer(conversation["customer_id"])
    identities = store.identities(customer["id"])
    messages = store.messages(conversation_id)
    incoming = [m for m in messages if m["direction"] == "in" and m["analysis"]]
    intents: list[str] = []
    for m in incoming:
        intent = m["analysis"].get("intent")
        if intent and not m["analysis"].get("out_of_scope") and intent not in intents:
            intents.append(intent)
    sentiments = [round(float(m["analysis"].get("sentiment_score", 0.0)), 2) for m in incoming]
    earlier = [
        {"id": t["id"], "kind": t["kind"], "status": t["status"], "reason": t["reason"], "created_at": t["created_at"]}
        for t in store.tickets(customer_id=customer["id"])
        if t["conversation_id"] != conversation_id
    ]
    channels = sorted({i["channel"] for i in identities if i["channel"] not in ("email", "order_number", "phone")})
    story = {
        "customer": {"id": customer["id"], "name": customer["display_name"], "language": conversation["language"]},
        "identities": [{"channel": i["channel"], "external_id": i["external_id"]} for i in identities],
        "channels": channels,
        "reason": reason,
        "intents": intents,
        "slots": {k: v for k, v in conversation["slots"].items() if not k.startswith("_")},
        "sentiment_trend": sentiments,
        "earlier_tickets": earlier,
        "transcript": [
            {"author": m["author"], "text": m["text"], "at": m["created_at"]} for m in messages[-transcript_limit:]
        ],
    }
    return summarize(story), story


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


def summarize(story: dict) -> str:
    """One readable paragraph of a story, for staff."""
    name = story["customer"]["name"] or f"Customer #{story['customer']['id']}"
    parts = [f"{name} via {', '.join(story['channels']) or 'unknown channel'}"]
    parts.append(f"escalated: {story['reason']}")
    if story["intents"]:
        parts.append("asked about " + ", ".join(i.replace("_", " ") for i in story["intents"]))
    if story["slots"]:
        parts.append(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in story["slots"].items()))
    parts.append(f"mood {_trend(story['sentiment_trend'])}")
    if story["earlier_tickets"]:
        parts.append(
            "earlier tickets " + ", ".join(f"#{t['id']} ({t['status']}, {t['reason']})" for t in story["earlier_tickets"])
        )
    return "; ".join(parts) + "."
