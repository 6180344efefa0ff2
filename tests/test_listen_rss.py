"""The RSS listener: feedparser on feeds from the RSS emulator, with ETag / Last-Modified."""

from __future__ import annotations

import pytest

from emulators.listen_kit import KeywordAnalyzer, config
from emulators.rss import RSSEmulator
from webcare.core.errors import ConfigError, ListenerError
from webcare.listeners.config import RSSConfig
from webcare.listeners.rss import RSSListener
from webcare.listeners.runner import ListenerRunner
from webcare.listeners.triage import Triage


@pytest.fixture
def feeds():
    with RSSEmulator() as emulator:
        yield emulator


def listener(feeds: RSSEmulator, *names: str, **kwargs) -> RSSListener:
    section = {"enabled": True, "feeds": [{"url": feeds.feed_url(n), "topic": n} for n in names], **kwargs}
    return RSSListener(RSSConfig.model_validate(section), timeout=5)


def test_entries_become_mentions_and_an_unchanged_feed_costs_a_304(feeds):
    feeds.entry("reviews", "Acme: <b>slechte</b> service", "Pakket kwam &amp; kapot aan", guid="r1")
    feeds.entry("reviews", "Acme top", "Snel geleverd", guid="r2")
    rss = listener(feeds, "reviews")
    mentions, cursor = rss.poll(None)
    assert [m.text for m in mentions] == ["Acme top — Snel geleverd", "Acme: slechte service — Pakket kwam & kapot aan"]
    first = mentions[1]
    assert first.url == "https://reviews.example/r1" and first.query == "reviews" and first.posted_at == 1795168800.0
    assert first.external_id.endswith("#r1")
    again, cursor = rss.poll(cursor)
    assert again == [] and feeds.requests[-1].headers["if-none-match"].startswith('"')
    assert "if-modified-since" in feeds.requests[-1].headers
    feeds.entry("reviews", "Acme nieuw", guid="r3")
    newer, _ = rss.poll(cursor)
    assert len(newer) == 3  # the whole feed again; the store keeps each entry once


def test_keywords_filter_entries(feeds):
    feeds.entry("news", "Acme opent winkel in Utrecht")
    feeds.entry("news", "Weerbericht: regen")
    mentions, _ = listener(feeds, "news", keywords=["acme"]).poll(None)
    assert [m.text for m in mentions] == ["Acme opent winkel in Utrecht"]


def test_runner_stores_each_entry_once_and_survives_a_broken_feed(store, feeds):
    feeds.entry("reviews", "Acme waardeloos, pakket kapot", guid="r1")
    feeds.raw["broken"] = "<html>this is not a feed"
    triage = Triage(store, KeywordAnalyzer(), config())
    runner = ListenerRunner(store, [listener(feeds, "reviews")], triage)
    assert runner.run_once(force=True)["rss"].new == 1
    feeds.entry("reviews", "Acme super", guid="r2")
    assert runner.run_once(force=True)["rss"].new == 1
    assert len(store.mentions(limit=10)) == 2 and len(store.tickets(kind="mention")) == 1
    with pytest.raises(ListenerError, match="not a feed"):
        listener(feeds, "broken").poll(None)


def test_503_with_retry_after_waits_and_404_backs_off(store, feeds):
    feeds.entry("reviews", "Acme")
    now = [100.0]
    rss = listener(feeds, "reviews")
    runner = ListenerRunner(store, [rss], Triage(store, KeywordAnalyzer(), config()), clock=lambda: now[0])
    feeds.fail_next(503, {"Retry-After": "120"})
    assert runner.run_once()["rss"].new == 0 and 220 <= runner.state["rss"].next_due <= 221
    now[0] = 221.0
    assert runner.run_once()["rss"].new == 1
    missing = listener(feeds, "gone")
    with pytest.raises(ListenerError, match="HTTP 404"):
        missing.poll(None)


def test_no_feeds_is_a_config_error():
    with pytest.raises(ConfigError, match="feeds"):
        RSSListener(RSSConfig(enabled=True))
