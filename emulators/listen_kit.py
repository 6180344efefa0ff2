"""What the listener tests and the fuzz benchmark share: a keyword analyzer, a mention maker, a config.

Test support, not shipped (like every module in emulators/): no network, no models.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from webcare.listeners.base import Mention
from webcare.listeners.config import ListenersConfig
from webcare.nlu.types import Analysis

_NEGATIVE = re.compile(r"\b(slecht|boos|kapot|waardeloos|terrible|broken|angry|never again|nooit meer)\b", re.IGNORECASE)
_POSITIVE = re.compile(r"\b(top|super|geweldig|great|love|blij|fantastic)\b", re.IGNORECASE)
_URGENT = re.compile(r"\b(nu|direct|asap|now|urgent|immediately)\b", re.IGNORECASE)


class KeywordAnalyzer:
    """A tiny stand-in for nlu.Analyzer with the same `analyze_many` contract."""

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        negative, positive = bool(_NEGATIVE.search(text)), bool(_POSITIVE.search(text))
        complaint = negative
        sentiment = "negative" if negative else "positive" if positive else "neutral"
        return Analysis(
            text=text, language="nl", sentiment=sentiment,
            sentiment_score=-0.8 if negative else 0.8 if positive else 0.0,
            complaint=complaint, complaint_score=0.9 if complaint else 0.05,
            urgency="high" if _URGENT.search(text) else "normal",
            urgency_score=0.9 if _URGENT.search(text) else 0.2,
        )

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        self.calls += 1
        self.texts += len(texts)
        return [self.analyze(t) for t in texts]


def mention(external_id: str, text: str, author: str = "a1", reach: int = 100, at: float | None = None,
            source: str = "x", query: str | None = "acme", repost_of: str | None = None) -> Mention:
    return Mention(source=source, external_id=external_id, text=text, author_id=author, author=f"h_{author}",
                   author_reach=reach, posted_at=at, query=query, repost_of=repost_of)


def config(**storms: float) -> ListenersConfig:
    return ListenersConfig.model_validate({
        "triage": {"brand_handles": ["@acme"], "topics": {"delivery": ["pakket", "bezorging", "delivery"]}},
        "storms": {"window_minutes": 10, "min_count": 5, "z_threshold": 3, **storms},
        "ambassadors": {"min_positive": 3},
    })
