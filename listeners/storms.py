"""Complaint storms: complaints per topic per window against a rolling baseline (EWMA mean and variance).

Time is cut into windows of `window_minutes`. For each topic the detector keeps an exponentially
weighted mean and variance of the complaint count per closed window (quiet windows count as 0).
The open window is a storm once its count reaches `min_count` and lies `z_threshold` standard
deviations above the mean (the deviation never below √mean nor 1, as for counts). One alert per
topic per cooldown; it names the topic, the main source, the count, the baseline, sample posts
and the top terms (`sample` holds texts, `examples` the mentions with ids and links).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from webcare.listeners.config import StormConfig

_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
STOPWORDS = {
    "about", "also", "alweer", "been", "deze", "door", "echt", "from", "geen", "gewoon", "have", "hebben",
    "heeft", "jullie", "just", "maar", "meer", "mijn", "naar", "niet", "nog", "omdat", "only", "over",
    "sinds", "that", "their", "there", "they", "this", "vandaag", "voor", "waarom", "want", "weer", "were",
    "what", "when", "will", "with", "worden", "wordt", "would", "your", "zijn",
}


@dataclass
class _Topic:
    bucket: int
    count: int = 0
    mean: float = 0.0
    var: float = 0.0
    windows: int = 0
    sources: Counter = field(default_factory=Counter)
    terms: Counter = field(default_factory=Counter)
    sample: list[dict[str, Any]] = field(default_factory=list)
    last_alert: float = -math.inf


class StormDetector:
    """Feed it complaints in time order with `observe`; it returns a storm payload when one starts."""

    def __init__(self, config: StormConfig) -> None:
        self.config = config
        self.window = config.window_minutes * 60
        self.topics: dict[str, _Topic] = {}

    def _roll(self, state: _Topic, bucket: int) -> None:
        """Close windows up to `bucket`, folding their counts (then zeros) into the baseline."""
        a = self.config.alpha
        closed = 0
        while state.bucket < bucket and closed < 500:  # after 500 quiet windows the baseline is ~0 anyway
            diff = state.count - state.mean
            state.mean += a * diff
            state.var = (1 - a) * (state.var + a * diff * diff)
            state.windows += 1
            state.bucket += 1
            state.count = 0
            closed += 1
        state.bucket = max(state.bucket, bucket)
        state.sources.clear()
        state.terms.clear()
        state.sample.clear()

    def observe(
        self, topic: str, source: str, at: float, text: str = "", mention_id: int | None = None,
        url: str | None = None,
    ) -> dict[str, Any] | None:
        """Count one complaint; the storm payload when this one makes the window a storm."""
        bucket = int(at // self.window)
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = _Topic(bucket=bucket)
        elif bucket > state.bucket:
            self._roll(state, bucket)
        state.count += 1
        state.sources[source] += 1
        state.terms.update(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS)
        if len(state.sample) < 5:
            state.sample.append({"id": mention_id, "source": source, "text": text[:280], "url": url})
        z = self.z_score(state)
        cooldown = self.config.cooldown_minutes * 60
        if state.count < self.config.min_count or z < self.config.z_threshold or at - state.last_alert < cooldown:
            return None
        state.last_alert = at
        return {
            "topic": topic,
            "source": state.sources.most_common(1)[0][0],
            "sources": dict(state.sources),
            "count": state.count,
            "baseline": round(state.mean, 2),
            "z": round(z, 1),
            "window_minutes": self.config.window_minutes,
            "sample": [e["text"] for e in state.sample],
            "examples": list(state.sample),
            "top_terms": [w for w, _ in state.terms.most_common(5)],
        }

    @staticmethod
    def z_score(state: _Topic) -> float:
        spread = math.sqrt(max(state.var, state.mean, 1.0))
        return (state.count - state.mean) / spread


def storm_text(storm: dict[str, Any]) -> str:
    """The alert for the staff channel."""
    lines = [
        (f"⚠️ Complaint storm about '{storm['topic']}' on {storm['source']}: {storm['count']} complaints in "
        f"{storm['window_minutes']:g} min (usually {storm['baseline']:g})."),
        f"Top terms: {', '.join(storm['top_terms']) or '-'}",
    ]
    lines += [f"• {text[:140]}" for text in storm["sample"][:3]]
    return "\n".join(lines)
