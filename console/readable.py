"""What the NLU found, for people: intent titles from the content, sentiment as a word with a colour.

One function decides a message's mood, so the story panel and the transcript always agree.
"""

from __future__ import annotations

from typing import Any

from console.pages import N_

MOODS = {"negative": N_("negative"), "neutral": N_("neutral"), "positive": N_("positive")}
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
