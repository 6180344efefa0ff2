"""What the NLU found, for people: intent titles from the content, sentiment as a word with a colour.

One function decides a message's mood, so the story panel and the transcript always agree.
"""

from __future__ import annotations

from typing import Any

from babel.dates import format_datetime

from webcare.bot.handoff import SlaClock, duration
from webcare.console import i18n
from webcare.console.pages import N_, templates

MOODS = {"negative": N_("negative"), "neutral": N_("neutral"), "positive": N_("positive")}
STATES = {"bot": N_("with the bot"), "waiting": N_("waiting"), "human": N_("with staff"), "closed": N_("closed")}
DELIVERY = {"none": N_("stored"), "pending": N_("sending"), "sent": N_("sent"), "failed": N_("failed")}
AUTHORS = {"customer": N_("customer"), "bot": N_("bot")}
RECEIPTS = {"delivered": N_("delivered"), "read": N_("read")}  # what a channel reports after a send (WhatsApp)
# Stored values that templates show through _(): priorities, ticket and review statuses, urgency,
# why a conversation closed, entity and claim kinds.
VOCABULARY = (
    N_("low"), N_("normal"), N_("high"), N_("urgent"),
    N_("open"), N_("assigned"), N_("resolved"),
    N_("new"), N_("confirmed"), N_("dismissed"), N_("replied"), N_("ticket"),
    N_("idle"), N_("staff"), N_("restart"),
    N_("order number"), N_("email"), N_("phone"), N_("amount"), N_("date"), N_("product"),
)
THRESHOLD = 0.25  # a score this far from 0 is a mood when the analysis names none


def mood(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """The mood of a message: key (negative|neutral|positive), word to translate, score for the hover."""
    if not analysis:
        return None
    score = float(analysis.get("sentiment_score") or 0.0)
    key = analysis.get("sentiment")
    if key not in MOODS:
        key = "negative" if score <= -THRESHOLD else "positive" if score >= THRESHOLD else "neutral"
    return {"key": key, "word": MOODS[key], "score": round(score, 2) + 0.0}  # + 0.0: never "-0.0"


def intent_title(engine: Any, intent: str | None, language: str) -> str | None:
    """The intent's title in the content (responses/templates `_intent_titles`), else the id made readable."""
    if not intent:
        return None
    responses = getattr(engine, "responses", None)
    if responses is not None:
        return responses.intent_title(intent, language)
    return intent.replace("_", " ").capitalize()


def sla_text(clock: SlaClock, locale: str) -> str:
    """'1h 59m left', 'overdue 5m 0s', 'paused · starts Tue 09:00 · 2h 0m left', in the console's language."""
    left = duration(clock.left)
    text = i18n.text(locale, "%(d)s left", d=left) if clock.left >= 0 else i18n.text(locale, "overdue %(d)s", d=left)
    if clock.running or clock.resumes is None:
        return text
    when = format_datetime(clock.resumes, "EEE HH:mm", locale=locale)
    return i18n.text(locale, "paused · starts %(when)s · %(left)s", when=when, left=text)


class Words:
    """The vocabularies above, for templates (`words.STATES[...]`)."""

    STATES = STATES
    DELIVERY = DELIVERY
    AUTHORS = AUTHORS
    RECEIPTS = RECEIPTS


templates.env.globals["words"] = Words
