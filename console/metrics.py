"""/metrics for Prometheus: totals read from the store at scrape time, and request latencies."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from webcare.console.dashboard import compute
from webcare.store import Store


class StoreCollector:
    """Messages, mentions, escalations, queue and response times, as the store knows them now."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        counts = self.store.counts()
        messages = CounterMetricFamily("webcare_messages", "Messages stored", labels=["direction", "channel", "delivery"])
        for row in counts["messages"]:
            messages.add_metric([row["direction"], row["channel"], row["delivery"]], row["n"])
        yield messages
        mentions = CounterMetricFamily("webcare_mentions", "Mentions stored", labels=["source", "flagged"])
        for row in counts["mentions"]:
            mentions.add_metric([row["source"], str(bool(row["flagged"])).lower()], row["n"])
        yield mentions
        events = CounterMetricFamily("webcare_events", "Handoff events (escalated, taken, …)", labels=["kind"])
        for row in counts["events"]:
            events.add_metric([row["kind"]], row["n"])
        yield events
        states = GaugeMetricFamily("webcare_conversations", "Conversations per state", labels=["state"])
        for row in counts["conversations"]:
            states.add_metric([row["state"]], row["n"])
        yield states
        yield GaugeMetricFamily("webcare_queue_length", "Conversations waiting for a person",
                                value=self.store.queue_length())
        figures = compute(self.store, "24h")["figures"]
        for name, key in (("first_response", "first_response"), ("resolution", "resolution")):
            gauge = GaugeMetricFamily(f"webcare_{name}_seconds", f"{name.replace('_', ' ')} time, last 24 h",
                                      labels=["quantile"])
            for quantile, suffix in (("0.5", "median_s"), ("0.9", "p90_s")):
                value = figures[f"{key}_{suffix}"]
                if value is not None:
                    gauge.add_metric([quantile], value)
            yield gauge


def make_registry(store: Store) -> tuple[CollectorRegistry, Histogram]:
    """A registry of its own per app (so several apps in one process do not collide)."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))  # type: ignore[arg-type]
    latency = Histogram("webcare_http_request_seconds", "Console and web chat request latency",
                        ["route", "method"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30))
    return registry, latency
