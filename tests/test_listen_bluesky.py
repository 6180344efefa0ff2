"""The Bluesky listener and replies: the real atproto client against the Bluesky emulator."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from emulators.bluesky import HANDLE, PASSWORD, BlueskyEmulator
from emulators.listen_kit import KeywordAnalyzer, config
from webcare.core.errors import ConfigError, DeliveryFailed, ListenerError
from webcare.listeners.base import load_cursor
from webcare.listeners.bluesky import BlueskyListener
from webcare.listeners.config import BlueskyConfig
from webcare.listeners.replies import BlueskyReplies
from webcare.listeners.runner import ListenerRunner
from webcare.listeners.triage import Triage


@pytest.fixture
def pds():
    with BlueskyEmulator() as emulator:
        yield emulator


@pytest.fixture
def entryway(pds):
    """Logs in and names `pds` as the account's PDS, as bsky.social does."""
    with BlueskyEmulator(pds_url=pds.url) as emulator:
        emulator.token = pds.token
        yield emulator


def settings(url: str, **kwargs) -> BlueskyConfig:
    return BlueskyConfig.model_validate({"enabled": True, "handle": HANDLE, "app_password": PASSWORD,
                                         "base_url": url, "queries": ["acme"], "page_size": 10, **kwargs})


def test_login_follows_the_pds_of_the_did_document_and_pages_search(entryway, pds):
    for i in range(23):
        pds.post(f"acme post {i}", author=f"user{i % 4}", likes=i)
    listener = BlueskyListener(settings(entryway.url), timeout=5)
    mentions, cursor = listener.poll(None)
    assert len(mentions) == 23 and len({m.external_id for m in mentions}) == 23
    assert entryway.hits("createSession") and not entryway.hits("searchPosts")
    assert [r.query.get("cursor") for r in pds.hits("searchPosts")] == [None, "10", "20"]
    first = mentions[0]
    assert first.external_id.startswith("at://") and first.author.endswith(".bsky.social")
    assert first.url.startswith("https://bsky.app/profile/") and first.author_id.startswith("did:plc:")
    assert load_cursor(cursor, "bluesky")["acme"]["since"] == pds.posts[-1]["indexedAt"]

    pds.post("acme nieuw")
    newer, _ = listener.poll(cursor)
    assert pds.hits("searchPosts")[-1].query["since"] == pds.posts[-2]["indexedAt"]
    assert {m.text for m in newer} == {"acme nieuw", "acme post 22"}  # the boundary post comes again


def test_follow_pds_false_stays_on_the_base_url(entryway, pds):
    entryway.post("acme hier")
    mentions, _ = BlueskyListener(settings(entryway.url, follow_pds=False), timeout=5).poll(None)
    assert [m.text for m in mentions] == ["acme hier"] and not pds.hits("searchPosts")


def test_runner_stores_search_results_once_across_polls(store, pds):
    for i in range(5):
        pds.post(f"acme bezorging kapot {i}, waardeloos", author=f"u{i}")
    triage = Triage(store, KeywordAnalyzer(), config())
    runner = ListenerRunner(store, [BlueskyListener(settings(pds.url), timeout=5)], triage)
    assert runner.run_once(force=True)["bluesky"].new == 5
    assert runner.run_once(force=True)["bluesky"].new == 0
    assert len(store.mentions(limit=50)) == 5 and len(store.tickets(kind="mention")) == 5
    assert store.customer_by_identity("bluesky", "did:plc:u0") is not None


def test_rate_limit_reset_and_server_errors(store, pds):
    for i in range(15):
        pds.post(f"acme {i}")
    now = [5000.0]
    listener = BlueskyListener(settings(pds.url), timeout=5, clock=lambda: now[0])
    runner = ListenerRunner(store, [listener], Triage(store, KeywordAnalyzer(), config()), clock=lambda: now[0],
                            backoff_base=1, backoff_max=2)
    listener.login()
    pds.fail_next(429, {"ratelimit-reset": "5030", "ratelimit-remaining": "0"}, path="searchPosts")
    assert runner.run_once()["bluesky"].new == 0 and 5030 <= runner.state["bluesky"].next_due <= 5031
    now[0] = 5031.0
    pds.fail_next(502, path="searchPosts")
    assert runner.run_once()["bluesky"] is None and runner.state["bluesky"].failures == 1
    now[0] = 5040.0
    assert runner.run_once()["bluesky"].new == 15


def test_malformed_posts_are_skipped(pds):
    pds.post("acme ok")
    pds.extra_items = [{"uri": "at://x/app.bsky.feed.post/1", "author": {"did": "did:plc:z"}, "record": {}},
                       {"uri": "not-at", "record": {"text": "acme"}, "author": {"did": "d"}}, 42]
    mentions, _ = BlueskyListener(settings(pds.url), timeout=5).poll(None)
    assert [m.text for m in mentions] == ["acme ok"]


def test_wrong_app_password_is_a_clear_error(pds):
    listener = BlueskyListener(settings(pds.url, app_password="wrong"), timeout=5)
    with pytest.raises(ListenerError, match="app password"):
        listener.poll(None)


def test_missing_credentials_are_a_config_error():
    with pytest.raises(ConfigError, match="app_password"):
        BlueskyListener(BlueskyConfig(enabled=True, handle="a.b", queries=["x"]))


def test_reply_posts_into_the_thread(pds):
    uri = pds.post("acme waarom is mijn pakket zoek?")
    replies = BlueskyReplies(settings(pds.url), timeout=5)
    posted = asyncio.run(replies.send(SimpleNamespace(chat_id=uri, text="Sorry! Stuur je ordernummer via DM?")))
    record = pds.created[-1]["record"]
    assert posted.startswith("at://") and record["text"].startswith("Sorry!")
    assert record["reply"]["parent"]["uri"] == uri == record["reply"]["root"]["uri"]
    assert record["reply"]["parent"]["cid"] == pds.posts[0]["cid"]
    with pytest.raises(DeliveryFailed) as failed:
        asyncio.run(replies.send(SimpleNamespace(chat_id="at://did:plc:gone/app.bsky.feed.post/1", text="hoi")))
    assert failed.value.permanent
