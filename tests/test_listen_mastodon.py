"""The Mastodon listener and replies: the real Mastodon.py against the Mastodon emulator."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from emulators.listen_kit import KeywordAnalyzer, config
from emulators.mastodon import TOKEN, MastodonEmulator
from webcare.core.errors import ConfigError, DeliveryFailed
from webcare.core.text import html_to_text
from webcare.listeners.base import load_cursor
from webcare.listeners.config import MastodonConfig
from webcare.listeners.mastodon import MastodonListener
from webcare.listeners.replies import MastodonReplies
from webcare.listeners.runner import ListenerRunner
from webcare.listeners.triage import Triage


@pytest.fixture
def masto():
    with MastodonEmulator() as emulator:
        yield emulator


def settings(url: str, **kwargs) -> MastodonConfig:
    return MastodonConfig.model_validate({"enabled": True, "api_base_url": url, "hashtags": ["acme"],
                                          "page_size": 10, **kwargs})


def test_html_content_becomes_text():
    assert html_to_text("<p>Hoi <a href='x'>@acme</a> &amp; co</p><p>tweede</p>") == "Hoi @acme & co\ntweede"


def test_hashtag_timeline_starts_at_the_newest_page_then_pages_forward_without_gaps(masto):
    for i in range(15):
        masto.status(f"Oud {i} #acme", tags=("acme",))
    listener = MastodonListener(settings(masto.url, max_pages=2), timeout=5)
    start, cursor = listener.poll(None)
    assert [m.text for m in start][:2] == ["Oud 14 #acme", "Oud 13 #acme"] and len(start) == 10
    for i in range(25):
        masto.status(f"Bestelling {i} #acme", tags=("acme",), author=f"u{i % 5}", followers=i)
    masto.status("ander onderwerp", tags=("other",))
    first, cursor = listener.poll(cursor)
    assert len(first) == 20  # two pages, then the page limit
    rest, cursor = listener.poll(cursor)
    assert len(rest) == 5 and {m.text for m in first + rest} == {f"Bestelling {i} #acme" for i in range(25)}
    assert [r.query.get("min_id") for r in masto.hits("/tag/acme")][1] == masto.statuses[14]["id"]
    assert load_cursor(cursor, "mastodon")["tag:acme"] == masto.statuses[-2]["id"]
    mention = first[0]
    assert mention.author.endswith("@social.example") and mention.author_reach >= 0
    assert mention.url.startswith("https://social.example/@") and mention.query == "acme"
    assert listener.poll(cursor)[0] == []


def test_search_needs_a_token_and_finds_statuses(masto):
    with pytest.raises(ConfigError, match="access_token"):
        MastodonListener(settings(masto.url, hashtags=[], queries=["acme"]))
    masto.status("acme is geweldig")
    listener = MastodonListener(settings(masto.url, hashtags=[], queries=["acme"], access_token=TOKEN), timeout=5)
    assert [m.text for m in listener.poll(None)[0]] == ["acme is geweldig"]


def test_reblogs_point_to_the_original(masto):
    original = masto.status("acme pakket kapot, waardeloos", tags=("acme",))
    masto.status("", tags=("acme",), author="ben", reblog_of=original)
    mentions, _ = MastodonListener(settings(masto.url), timeout=5).poll(None)
    reblog = next(m for m in mentions if m.repost_of)
    assert reblog.repost_of == original["id"] and reblog.text == "acme pakket kapot, waardeloos"


def test_rate_limit_then_server_error_then_success_through_the_runner(store, masto):
    for i in range(12):
        masto.status(f"acme {i}", tags=("acme",))
    now = [1_800_000_000.0]
    listener = MastodonListener(settings(masto.url), timeout=5, clock=lambda: now[0])
    runner = ListenerRunner(store, [listener], Triage(store, KeywordAnalyzer(), config()), clock=lambda: now[0],
                            backoff_base=1, backoff_max=2)
    masto.fail_next(429, {"X-RateLimit-Reset": "2030-01-01T00:00:00.000Z", "X-RateLimit-Remaining": "0"},
                    path="/timelines/")
    assert runner.run_once()["mastodon"].new == 0
    assert runner.state["mastodon"].next_due > now[0] + 60
    now[0] = runner.state["mastodon"].next_due
    masto.fail_next(500, path="/timelines/")
    assert runner.run_once()["mastodon"] is None and runner.state["mastodon"].failures == 1
    now[0] += 10
    assert runner.run_once()["mastodon"].new == 10  # the newest page: a first poll starts from now
    assert runner.run_once(force=True)["mastodon"].new == 0


def test_malformed_statuses_are_skipped(masto):
    masto.status("acme goed", tags=("acme",))
    masto.extra_items = [{"id": "5"}, "rommel"]
    mentions, _ = MastodonListener(settings(masto.url), timeout=5).poll(None)
    assert [m.text for m in mentions] == ["acme goed"]


def test_reply_is_posted_in_reply_to_the_status(masto):
    status = masto.status("@acme waar blijft mijn pakket?", tags=("acme",))
    replies = MastodonReplies(settings(masto.url, access_token=TOKEN), timeout=5)
    posted = asyncio.run(replies.send(SimpleNamespace(chat_id=status["id"], text="We zoeken het uit!")))
    assert masto.posted[-1]["in_reply_to_id"] == status["id"] and masto.posted[-1]["status"] == "We zoeken het uit!"
    assert posted == masto.statuses[-1]["id"]
    with pytest.raises(DeliveryFailed, match="500 characters") as failed:
        asyncio.run(replies.send(SimpleNamespace(chat_id=status["id"], text="x" * 501)))
    assert failed.value.permanent
