"""Handing a conversation to staff: priority, honest waits, business-hours SLAs, ratings.

The story so far is the store's (store/story.py): built at escalation, kept fresh on the ticket.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from webcare.bot.config import DAYS, EscalationConfig

DAY_NAMES = {
    "nl": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
MINUTES = {"nl": "ongeveer {n} minuten", "en": "about {n} minutes"}
AT = {"nl": "{day} om {time}", "en": "{day} at {time}"}
TODAY = {"nl": "vandaag", "en": "today"}
TOMORROW = {"nl": "morgen", "en": "tomorrow"}
CSAT_WORDS = {"👍": 5, "👎": 1}


@dataclass(frozen=True)
class WaitEstimate:
    """Either staff is in now (`minutes` until a person answers) or when they are back (`opens`)."""

    open_now: bool
    minutes: int = 0
    opens: datetime | None = None
    now: datetime | None = None  # when it was estimated: 'today' and 'tomorrow' are counted from here

    def describe(self, language: str) -> str:
        lang = language if language in MINUTES else "en"
        if self.open_now:
            return MINUTES[lang].format(n=self.minutes)
        assert self.opens is not None
        return describe_moment(self.opens, lang, self.now)


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


def _spans(config: EscalationConfig, since: datetime, days: int = 400) -> Iterator[tuple[datetime, datetime]]:
    """Business-hour spans (opens, closes) that end after `since`, in order, for up to `days` days."""
    for ahead in range(days):
        hours = _hours(config, since + timedelta(days=ahead))
        if hours and hours[1] > since:
            yield max(hours[0], since), hours[1]


def _local(config: EscalationConfig, ts: float) -> datetime:
    return datetime.fromtimestamp(ts, ZoneInfo(config.timezone))


def sla_due(config: EscalationConfig, priority: str, now: float) -> float:
    """When a ticket of this priority opened at `now` is due: its SLA minutes counted in business hours.

    As in Zendesk's business-hours SLAs, the clock only runs while staff are in: a ticket at 21:30
    with a 2-hour SLA and staff starting at 09:00 is due at 11:00 the next working day. Without any
    business hours configured the clock always runs.
    """
    seconds = config.sla_minutes.get(priority, 8 * 60) * 60.0
    if not config.business_hours:
        return now + seconds
    left = timedelta(seconds=seconds)
    for opens, closes in _spans(config, _local(config, now)):
        if opens + left <= closes:
            return (opens + left).timestamp()
        left -= closes - opens
    raise ValueError("business hours never add up to the SLA")  # unreachable: some day has hours


def business_seconds(config: EscalationConfig, start: float, end: float) -> float:
    """Seconds of business hours from `start` to `end` (negative when `end` comes first)."""
    if end < start:
        return -business_seconds(config, end, start)
    if not config.business_hours:
        return end - start
    until = _local(config, end)
    total = 0.0
    for opens, closes in _spans(config, _local(config, start)):
        if opens >= until:
            break
        total += (min(closes, until) - opens).total_seconds()
    return total


@dataclass(frozen=True)
class SlaClock:
    """An SLA deadline as staff see it: business time left, and whether the clock runs now."""

    left: float  # business seconds until due; negative when overdue
    running: bool  # staff hours now: the clock ticks
    resumes: datetime | None = None  # when paused: when staff hours start again

    def describe(self) -> str:
        """'1h 59m left', 'overdue 5m 0s', 'paused · starts Tue 09:00 · 2h 0m left'."""
        text = f"{duration(self.left)} left" if self.left >= 0 else f"overdue {duration(self.left)}"
        if self.running or self.resumes is None:
            return text
        return f"paused · starts {self.resumes.strftime('%a %H:%M')} · {text}"


def sla_clock(config: EscalationConfig, due: float, now: float) -> SlaClock:
    """The state of an SLA clock at `now` (see `sla_due`)."""
    left = business_seconds(config, now, due)
    if not config.business_hours:
        return SlaClock(left, True)
    moment = _local(config, now)
    opens, _ = next(_spans(config, moment))
    return SlaClock(left, opens <= moment, None if opens <= moment else opens)


def duration(seconds: float) -> str:
    """'2h 5m', '12m 30s', '45s' (as the console's live countdown writes it)."""
    s = abs(round(seconds))
    h, m, r = s // 3600, s % 3600 // 60, s % 60
    return f"{h}h {m}m" if h else f"{m}m {r}s" if m else f"{r}s"


def estimate_wait(config: EscalationConfig, queue_length: int, now_ts: float) -> WaitEstimate:
    """Expected wait from the queue ahead, staff on duty and business hours."""
    now = _local(config, now_ts)
    today = _hours(config, now)
    if today and today[0] <= now < today[1]:
        minutes = (queue_length + 1) * config.minutes_per_case / config.agents_on_duty
        rounded = max(5, int(math.ceil(minutes / 5.0) * 5))
        if now + timedelta(minutes=rounded) <= today[1]:
            return WaitEstimate(open_now=True, minutes=rounded, now=now)
    for days_ahead in range(8):
        day = now + timedelta(days=days_ahead)
        hours = _hours(config, day)
        if hours and hours[0] > now:
            return WaitEstimate(open_now=False, opens=hours[0], now=now)
    return WaitEstimate(open_now=False, opens=now + timedelta(days=1), now=now)


def csat_score(text: str) -> int | None:
    """A 1–5 satisfaction score from a typed number, 👍/👎, or a pressed button's `/csat N`."""
    value = text.removeprefix("/csat").strip()
    if value in CSAT_WORDS:
        return CSAT_WORDS[value]
    return int(value) if value in ("1", "2", "3", "4", "5") else None  # not isdigit(): "²" and 5,000 digits


def rating_label(score: int) -> str:
    """'★★★★☆ (4)': a rating as the customer and staff see it."""
    return "★" * score + "☆" * (5 - score) + f" ({score})"


def shown_text(text: str, kind: str) -> str:
    """What a customer's message reads as in the transcript: a pressed rating button is its stars."""
    if kind == "button" and text.startswith("/csat") and (score := csat_score(text)) is not None:
        return rating_label(score)
    return text


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
