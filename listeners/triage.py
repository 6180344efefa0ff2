"""Triage: from polled mentions to stored, analysed, flagged mentions, tickets, storms and ambassadors.

One batch is one transaction: the mentions, their tickets, the author links, storm and ambassador
events and the listener's cursor commit together or not at all, so a crash mid-batch loses nothing
and a restart duplicates nothing. Analysis (the slow part) happens before the transaction.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from webcare.listeners.ambassadors import AmbassadorWatch
from webcare.listeners.base import Mention
from webcare.listeners.config import ListenersConfig
from webcare.listeners.dedupe import NearDuplicates, normalise
from webcare.listeners.storms import StormDetector, storm_text
from webcare.nlu.types import Analysis, TextAnalyzer
from webcare.store import Store, mention_ticket_key

log = logging.getLogger(__name__)
URGENCY_WEIGHT = {"low": 0.0, "normal": 0.3, "high": 1.0}
RECENT_SECONDS = 7 * 86400  # how far back triage's memory is rebuilt on start


@dataclass
class Verdict:
    """What triage concludes about one analysed mention."""

    priority: float
    flagged: bool
    reason: str | None
    ticket_priority: str
    topic: str


@dataclass
class BatchResult:
    new: int = 0
    known: int = 0
    duplicates: int = 0
    flagged: int = 0
    tickets: int = 0
    linked: int = 0
    storms: list[dict[str, Any]] = field(default_factory=list)
    ambassadors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        for name in ("new", "known", "duplicates", "flagged", "tickets", "linked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.storms += other.storms
        self.ambassadors += other.ambassadors


class Triage:
    """Dedupes, analyses, scores, flags and stores mentions; opens tickets; watches storms and ambassadors."""

    def __init__(
        self,
        store: Store,
        analyzer: TextAnalyzer,
        config: ListenersConfig,
        notify: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.config = config
        self.notify = notify
        self.clock = clock
        self.handles = [h.lower().lstrip("@") for h in config.triage.brand_handles]
        self._remember()

    def _remember(self) -> None:
        """(Re)build the near-duplicate memory, storm baselines and known ambassadors from the store."""
        self.near = NearDuplicates(self.config.triage.dedupe_window, self.config.triage.near_duplicate_jaccard)
        self.storms = StormDetector(self.config.storms)
        self.watch = AmbassadorWatch(self.store, self.config.ambassadors)
        for row in self.store.mentions_since(self.clock() - RECENT_SECONDS, self.config.triage.dedupe_window):
            if row["duplicate_of"] is None:
                self.near.add(row["text"], row["id"])
            if row["complaint"]:  # replaying history also replays its alerts: no second alert after a restart
                self.storms.observe(row["topic"] or "general", row["source"], row["at"])

    # -- scoring ------------------------------------------------------------------------------

    def topic(self, mention: Mention) -> str:
        words = f" {normalise(mention.text)} "
        for name, keywords in self.config.triage.topics.items():
            if any(f" {k.lower()}" in words for k in keywords):
                return name
        return "general"

    def verdict(self, mention: Mention, a: Analysis) -> Verdict:
        t = self.config.triage
        complaint = a.complaint or a.complaint_score >= t.complaint_threshold
        negative = max(0.0, -a.sentiment_score) if a.sentiment_score else float(a.sentiment == "negative")
        urgency = max(URGENCY_WEIGHT.get(a.urgency, 0.3), a.urgency_score if a.urgency == "high" else 0.0)
        reach = min(1.0, math.log10(1 + max(mention.author_reach, 0)) / 6)
        priority = round(0.5 * a.complaint_score + 0.2 * negative + 0.2 * urgency + 0.1 * reach, 4)
        text = mention.text.lower()
        addressed = mention.query == "@mentions" or any(h and h in text for h in self.handles)
        reason = (
            "complaint" if complaint
            else "negative and urgent" if a.sentiment == "negative" and a.urgency == "high"
            else "question to the brand" if addressed and "?" in text
            else "priority" if priority >= t.flag_priority
            else None
        )
        if a.urgency == "high" and (complaint or a.sentiment == "negative"):
            level = "urgent"
        else:
            level = "high" if priority >= 0.7 else "normal" if priority >= 0.4 else "low"
        return Verdict(priority, reason is not None, reason, level, self.topic(mention))

    # -- one batch ----------------------------------------------------------------------------

    def process(self, mentions: Sequence[Mention], cursor: tuple[str, str | None] | None = None) -> BatchResult:
        """Store a polled batch and advance the cursor in one transaction per `batch_size` mentions."""
        size = self.config.triage.batch_size
        total = BatchResult()
        chunks = [mentions[i:i + size] for i in range(0, len(mentions), size)] or [[]]
        for index, chunk in enumerate(chunks):
            total.add(self._process(list(chunk), cursor if index == len(chunks) - 1 else None))
        return total

    def _fresh(self, mentions: list[Mention], result: BatchResult) -> list[Mention]:
        """Drop what the store has and repeats within the batch, by (source, external id)."""
        seen: set[tuple[str, str]] = set()
        by_source: dict[str, list[str]] = {}
        for m in mentions:
            by_source.setdefault(m.source, []).append(m.external_id)
        stored = {(s, e) for s, ids in by_source.items() for e in self.store.mention_ids(s, ids)}
        fresh = []
        for m in mentions:
            key = (m.source, m.external_id)
            if key in seen or key in stored:
                result.known += 1
                continue
            seen.add(key)
            fresh.append(m)
        return fresh

    def _analyse(self, mentions: list[Mention]) -> list[Analysis]:
        """One analysis per distinct normalised text: copy-paste storms cost one."""
        unique: dict[str, int] = {}
        texts: list[str] = []
        for m in mentions:
            key = normalise(m.text) or m.text
            if key not in unique:
                unique[key] = len(texts)
                texts.append(m.text)
        analyses = self.analyzer.analyze_many(texts) if texts else []
        return [analyses[unique[normalise(m.text) or m.text]] for m in mentions]

    def _process(self, mentions: list[Mention], cursor: tuple[str, str | None] | None) -> BatchResult:
        result = BatchResult()
        fresh = self._fresh(mentions, result)
        analyses = self._analyse(fresh)
        now = self.clock()
        try:
            with self.store.transaction():
                for mention, analysis in zip(fresh, analyses, strict=True):
                    self._store_one(mention, analysis, now, result)
                if cursor is not None:
                    self.store.set_cursor(*cursor)
        except BaseException:
            self._remember()  # the memory may hold what was rolled back
            raise
        for storm in result.storms:
            self._notify(storm_text(storm))
        return result

    def _store_one(self, m: Mention, a: Analysis, now: float, result: BatchResult) -> None:
        v = self.verdict(m, a)
        original = self._original(m)
        customer = self.store.customer_by_identity(m.source, m.author_id) if m.author_id else None
        flagged = v.flagged and original is None
        if flagged and m.author_id and customer is None:
            customer = self.store.identify(m.source, m.author_id, m.author_name or m.author)
        row = {
            "source": m.source, "external_id": m.external_id, "author": m.author, "author_id": m.author_id,
            "author_name": m.author_name, "author_reach": m.author_reach, "url": m.url, "text": m.text,
            "language": a.language, "analysis": a.to_dict(), "sentiment": a.sentiment,
            "sentiment_score": a.sentiment_score, "complaint": int(v.reason == "complaint"),
            "complaint_score": a.complaint_score, "urgency": a.urgency, "priority": v.priority,
            "flagged": int(flagged), "duplicate_of": original, "topic": v.topic,
            "customer_id": customer["id"] if customer else None,
            "raw": {"query": m.query, "repost_of": m.repost_of, **m.raw}, "posted_at": m.posted_at,
        }
        ids = self.store.ingest_mentions([row])
        if not ids:  # another process stored it meanwhile
            result.known += 1
            return
        mention_id = ids[0]
        result.new += 1
        result.linked += customer is not None
        if original is not None:
            result.duplicates += 1
        else:
            self.near.add(m.text, mention_id)
        if flagged:
            result.flagged += 1
            _, created = self.store.open_ticket(
                "mention", mention_ticket_key(m.source, m.external_id), mention_id=mention_id,
                customer_id=customer["id"] if customer else None, priority=v.ticket_priority,
                reason=v.reason, summary=f"{m.source} @{m.author or m.author_id}: {m.text[:200]}",
            )
            result.tickets += created
        if row["complaint"]:
            storm = self.storms.observe(v.topic, m.source, m.posted_at or now, m.text, mention_id, m.url)
            if storm is not None:
                self.store.log_event("storm", mention_id=mention_id, actor="listeners", data=storm)
                result.storms.append(storm)
        if a.sentiment == "positive" and m.author_id and original is None:
            found = self.watch.check(m.source, m.author_id, now)
            if found is not None:
                result.ambassadors.append(found)

    def _original(self, m: Mention) -> int | None:
        """The stored mention this one repeats (a repost of it, or near-identical text), if any."""
        if m.repost_of:
            found = self.store.mention_ids(m.source, [m.repost_of])
            if found:
                return found[m.repost_of]
        return self.near.find(m.text)

    def _notify(self, text: str) -> None:
        if self.notify is None:
            return
        try:
            self.notify(text)
        except Exception:
            log.exception("storm notification failed")
