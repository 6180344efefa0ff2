"""Ambassadors: authors who keep saying good things, weighted by reach and recency, with evidence.

Each positive mention weighs 2^(-age / half-life) · (1 + log10(1 + reach)); a negative one
subtracts the same. An author is an ambassador with at least `min_positive` positive mentions
and at most `max_negative_share` negative ones among the last 4 half-lives.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from webcare.listeners.config import AmbassadorConfig
from webcare.store import Store


def _weight(age_seconds: float, reach: int, half_life_days: float) -> float:
    return 2 ** (-max(age_seconds, 0.0) / (half_life_days * 86400)) * (1 + math.log10(1 + max(reach, 0)))


def rank(rows: list[dict[str, Any]], config: AmbassadorConfig, now: float) -> list[dict[str, Any]]:
    """Ambassadors among mention rows (see `Store.author_mentions`), best first."""
    authors: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        authors[(row["source"], row["author_id"])].append(row)
    ranked = []
    for (source, author_id), items in authors.items():
        positive = [r for r in items if r["sentiment"] == "positive"]
        negative = len(items) - len(positive)
        if len(positive) < config.min_positive or negative / len(items) > config.max_negative_share:
            continue
        reach = max(int(r["author_reach"] or 0) for r in items)
        score = sum((1 if r["sentiment"] == "positive" else -1) * _weight(now - r["at"], reach, config.half_life_days)
                    for r in items)
        latest = items[-1]
        ranked.append({
            "source": source, "author_id": author_id, "author": latest["author"],
            "author_name": latest["author_name"], "reach": reach, "positive": len(positive),
            "negative": negative, "score": round(score, 3),
            "evidence": [{"id": r["id"], "text": r["text"][:280], "url": r["url"]} for r in positive[-3:][::-1]],
        })
    return sorted(ranked, key=lambda a: -a["score"])


def ambassadors(store: Store, config: AmbassadorConfig, now: float, limit: int = 50) -> list[dict[str, Any]]:
    """The ranked list, from the store."""
    since = now - 4 * config.half_life_days * 86400
    return rank(store.author_mentions(since), config, now)[:limit]


class AmbassadorWatch:
    """Writes one `ambassador` event the moment an author becomes one."""

    def __init__(self, store: Store, config: AmbassadorConfig) -> None:
        self.store = store
        self.config = config
        self.known = {(e["data"] or {}).get("source", "") + ":" + str((e["data"] or {}).get("author_id"))
                      for e in store.events(kind="ambassador", limit=1_000_000)}

    def check(self, source: str, author_id: str, now: float) -> dict[str, Any] | None:
        """After a positive mention by this author was stored: the new ambassador, or None."""
        key = f"{source}:{author_id}"
        if key in self.known:
            return None
        since = now - 4 * self.config.half_life_days * 86400
        found = rank(self.store.author_mentions(since, source, author_id), self.config, now)
        if not found:
            return None
        self.known.add(key)
        self.store.log_event("ambassador", actor="listeners", data=found[0])
        return found[0]
