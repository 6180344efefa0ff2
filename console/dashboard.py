"""The dashboard's figures and series, computed from the store for a period, channel and language."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from webcare.core.stats import percentile
from webcare.nlu.types import SENTIMENTS
from webcare.store import Store

PERIODS = {"24h": (86400, 3600), "7d": (7 * 86400, 86400), "30d": (30 * 86400, 86400), "90d": (90 * 86400, 7 * 86400)}
REOPEN_SECONDS = 24 * 3600


def _keep(row: dict[str, Any], channel: str | None, language: str | None, channel_key: str = "channel") -> bool:
    return (channel is None or row.get(channel_key) == channel) and (language is None or row.get("language") == language)


def compute(store: Store, period: str = "7d", channel: str | None = None, language: str | None = None,
            now: float | None = None) -> dict[str, Any]:
    """Figures (response and resolution times, SLA, bot resolution, escalation rate, CSAT) and time series."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    now = store.clock() if now is None else now
    span, bucket = PERIODS[period]
    since = now - span
    rows = store.report_rows(since)
    conversations = [c for c in rows["conversations"] if _keep(c, channel, language)]
    tickets = [t for t in rows["tickets"] if t["kind"] == "escalation" and _keep(t, channel, language)]
    messages = [m for m in rows["messages"] if _keep(m, channel, language)]
    mentions = [m for m in rows["mentions"] if _keep(m, channel, language, "source")]

    first = [t["first_response_at"] - t["created_at"] for t in tickets if t["first_response_at"]]
    resolution = [t["resolved_at"] - t["created_at"] for t in tickets if t["resolved_at"]]
    judged = [t for t in tickets if t["sla_due_at"] and (t["first_response_at"] or t["sla_due_at"] < now)]
    kept = [t for t in judged if t["first_response_at"] and t["first_response_at"] <= t["sla_due_at"]]
    csat = [t["csat"] for t in tickets if t["csat"]]
    escalated = {t["conversation_id"] for t in tickets}
    bot_resolved, finished = _bot_resolution(conversations, escalated, now)

    starts = [since - since % bucket + i * bucket for i in range(int(span // bucket) + 1)]
    index = {start: i for i, start in enumerate(starts)}

    def slot(ts: float) -> int | None:
        return index.get(ts - ts % bucket)

    messages_by = {s: [0] * len(starts) for s in SENTIMENTS}
    mentions_by = {s: [0] * len(starts) for s in SENTIMENTS}
    complaints = [0] * len(starts)
    for m in messages:
        analysis = m["analysis"] or {}
        i = slot(m["created_at"])
        if i is None or not analysis:
            continue
        messages_by[analysis.get("sentiment", "neutral")][i] += 1
        complaints[i] += bool(analysis.get("complaint"))
    for m in mentions:
        i = slot(m["created_at"])
        if i is None:
            continue
        if m["sentiment"] in mentions_by:
            mentions_by[m["sentiment"]][i] += 1
        complaints[i] += bool(m["complaint"])
    csat_by: list[list[int]] = [[] for _ in starts]
    for t in tickets:
        if t["csat"] and (i := slot(t["resolved_at"] or t["updated_at"])) is not None:
            csat_by[i].append(t["csat"])
    storms = [e for e in store.events("storm", since=since)]
    fmt = "%H:%M" if bucket < 86400 else "%m-%d"
    return {
        "period": period,
        "channel": channel,
        "language": language,
        "since": since,
        "figures": {
            "conversations": len(conversations),
            "escalations": len(tickets),
            "escalation_rate": _ratio(len(escalated & {c["id"] for c in conversations}), len(conversations)),
            "bot_resolution_rate": _ratio(bot_resolved, finished),
            "first_response_median_s": _round(statistics.median(first) if first else None),
            "first_response_p90_s": _round(percentile(first, 90)),
            "resolution_median_s": _round(statistics.median(resolution) if resolution else None),
            "resolution_p90_s": _round(percentile(resolution, 90)),
            "sla_kept_pct": _ratio(len(kept), len(judged), 100),
            "csat_average": _round(statistics.mean(csat) if csat else None, 2),
            "csat_responses": len(csat),
            "queue_length": store.queue_length(),
            "mentions": len(mentions),
            "flagged_mentions": sum(1 for m in mentions if m["flagged"]),
        },
        "volumes": dict(Counter(c["channel"] for c in conversations) + Counter(m["source"] for m in mentions)),
        "series": {
            "labels": [datetime.fromtimestamp(s).strftime(fmt) for s in starts],
            "starts": starts,
            "messages": messages_by,
            "mentions": mentions_by,
            "complaints": complaints,
            "csat": [_round(statistics.mean(v), 2) if v else None for v in csat_by],
            "storm_marks": sorted({i for e in storms if (i := slot(e["created_at"])) is not None}),
        },
        "storms": [{"at": e["created_at"], **(e["data"] or {})} for e in storms],
    }


def _bot_resolution(conversations: list[dict[str, Any]], escalated: set[int], now: float) -> tuple[int, int]:
    """(resolved by the bot, finished): finished means closed or quiet for 24 h; resolved means no
    escalation and no new conversation by the same customer within 24 h."""
    by_customer: dict[int, list[float]] = {}
    for c in conversations:
        by_customer.setdefault(c["customer_id"], []).append(c["created_at"])
    finished = resolved = 0
    for c in conversations:
        end = c["closed_at"] or c["updated_at"]
        if c["state"] != "closed" and end > now - REOPEN_SECONDS:
            continue
        finished += 1
        again = any(end < t <= end + REOPEN_SECONDS for t in by_customer[c["customer_id"]])
        if c["id"] not in escalated and not again:
            resolved += 1
    return resolved, finished


def _ratio(part: int, whole: int, scale: float = 1.0) -> float | None:
    return round(scale * part / whole, 3) if whole else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def series_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The time series as flat rows, for CSV."""
    series = report["series"]
    marks = set(series["storm_marks"])
    rows = []
    for i, start in enumerate(series["starts"]):
        row: dict[str, Any] = {"bucket_start": datetime.fromtimestamp(start).isoformat(timespec="minutes")}
        for kind in ("messages", "mentions"):
            for sentiment in SENTIMENTS:
                row[f"{kind}_{sentiment}"] = series[kind][sentiment][i]
        row["complaints"] = series["complaints"][i]
        row["storm"] = int(i in marks)
        rows.append(row)
    return rows
