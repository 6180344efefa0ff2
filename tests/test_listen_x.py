"""The X listener: the real tweepy against the X emulator, through the runner and triage."""

from __future__ import annotations

import time

import pytest

from emulators.listen_kit import KeywordAnalyzer, config
from emulators.x_api import XEmulator
from webcare.core.errors import ConfigError
from webcare.listeners.config import XConfig
from webcare.listeners.runner import ListenerRunner
from webcare.listeners.triage import Triage
from webcare.listeners.x import XListener


@pytest.fixture
def x_api():
    with XEmulator() as emulator:
        yield emulator


def make_runner(store, listener, clock=time.time):
    triage = Triage(store, KeywordAnalyzer(), config(), clock=clock)
    return ListenerRunner(store, [listener], triage, backoff_base=0.01, backoff_max=0.05, clock=clock)


def x_listener(x_api, clock=time.time, **kwargs):
    settings = {"enabled": True, "bearer_token": "test-token", "base_url": x_api.url, "queries": ["acme"],
                "page_size": 10, **kwargs}
    return XListener(XConfig.model_validate(settings), timeout=5, clock=clock)


def test_search_pages_with_next_token_then_polls_since_the_newest_id(store, x_api):
    for i in range(25):
        x_api.tweet(f"acme bericht {i}", author_id=str(i % 3))
    x_api.users["1"]["public_metrics"]["followers_count"] = 5000
    runner = make_runner(store, x_listener(x_api))
    first = runner.poll(runner.listeners[0])
    assert first.new == 25 and len(x_api.hits("/search/recent")) == 3
    assert "next_token" in x_api.hits("/search/recent")[1].query
    by_author = {m["author_id"]: m for m in store.mentions(limit=100)}
    assert by_author["1"]["author_reach"] == 5000 and by_author["1"]["author"] == "user1"
    assert by_author["1"]["url"].startswith("https://x.com/user1/status/")
    newest = x_api.tweets[-1]["id"]
    x_api.tweet("acme nieuw bericht")
    second = runner.poll(runner.listeners[0])
    assert second.new == 1 and x_api.hits("/search/recent")[-1].query["since_id"] == newest
    fields = x_api.hits("/search/recent")[0].query
    assert fields["expansions"] == "author_id,referenced_tweets.id" and "public_metrics" in fields["user.fields"]


def test_user_mentions_are_read_with_pagination_token(store, x_api):
    for i in range(12):
        x_api.tweet(f"@brand vraag {i}?", author_id="7", mentions="42")
    listener = x_listener(x_api, queries=[], user_id="42")
    mentions, cursor = listener.poll(None)
    assert len(mentions) == 12 and {m.query for m in mentions} == {"@mentions"}
    assert "pagination_token" in x_api.hits("/users/42/mentions")[1].query
    assert listener.poll(cursor)[0] == []


def test_429_waits_until_the_reset_and_resumes_without_gap_or_duplicates(store, x_api):
    for i in range(30):
        x_api.tweet(f"acme tweet {i}")
    now = [1000.0]
    def clock():
        return now[0]
    runner = make_runner(store, x_listener(x_api, clock, max_pages=5), clock=clock)
    x_api.fail_next(429, {"x-rate-limit-reset": "1042"}, path="/search/recent")
    x_api.requests.clear()
    assert runner.poll(runner.listeners[0]).new == 0  # refused at the first page: nothing to store
    state = runner.state["x"]
    assert 1042.0 <= state.next_due <= 1043.0 and state.failures == 0
    assert runner.run_once() == {"x": None}  # not due before the reset

    # a 429 in the middle of paging: the pages before it are kept, the cursor resumes at the refused page
    now[0] = 1043.0
    original_route = x_api.route
    calls = []

    def route(request):
        calls.append(request.query.get("next_token"))
        if len(calls) == 2:  # the third request is refused
            x_api.fail_next(429, {"x-rate-limit-reset": "1100"})
        return original_route(request)

    x_api.route = route
    result = runner.run_once()["x"]
    assert result is not None and result.new == 20  # the two pages before the refusal are stored
    assert '"token":"20"' in store.get_cursor("listener:x")
    assert 1100.0 <= runner.state["x"].next_due <= 1101.0
    now[0] = 1101.0
    rest = runner.run_once()["x"]
    assert rest.new == 10 and calls[-1] == "20"  # resumed at the refused page
    ids = [m["external_id"] for m in store.mentions(limit=100)]
    assert len(ids) == len(set(ids)) == 30


def test_server_errors_back_off_with_jitter_and_keep_the_cursor(store, x_api):
    x_api.tweet("acme een")
    runner = make_runner(store, x_listener(x_api))
    runner.poll(runner.listeners[0])
    cursor = store.get_cursor("listener:x")
    x_api.tweet("acme twee")
    x_api.fail_next(503, times=2)
    before = time.time()
    assert runner.poll(runner.listeners[0]) is None
    assert runner.state["x"].failures == 1 and "503" in runner.state["x"].last_error
    assert before < runner.state["x"].next_due <= time.time() + 0.01
    assert runner.poll(runner.listeners[0]) is None and runner.state["x"].failures == 2
    assert store.get_cursor("listener:x") == cursor
    assert runner.poll(runner.listeners[0]).new == 1 and runner.state["x"].failures == 0


def test_malformed_tweets_are_skipped_and_the_rest_stored(store, x_api):
    x_api.tweet("acme goed")
    x_api.extra_items = [{"id": "77"}, "not a tweet", {"text": "no id"}]
    runner = make_runner(store, x_listener(x_api))
    assert runner.poll(runner.listeners[0]).new == 1


def test_retweets_are_linked_to_the_original(store, x_api):
    original = x_api.tweet("acme bezorging kapot, waardeloos", author_id="1")
    x_api.tweet("RT @user1: acme bezorging kapot, waardeloos", author_id="2", retweet_of=original)
    runner = make_runner(store, x_listener(x_api))
    result = runner.poll(runner.listeners[0])
    assert (result.new, result.duplicates, result.tickets) == (2, 1, 1)


def test_restart_mid_run_loses_and_duplicates_nothing(store, x_api):
    for i in range(15):
        x_api.tweet(f"acme bericht {i}")
    first = make_runner(store, x_listener(x_api, max_pages=1))
    first.poll(first.listeners[0])  # one page of two, then the process "dies"
    second = make_runner(store, x_listener(x_api, max_pages=5))  # a fresh process on the same store
    second.poll(second.listeners[0])
    ids = [m["external_id"] for m in store.mentions(limit=100)]
    assert len(ids) == len(set(ids)) == 15


def test_a_second_process_does_not_poll_a_leased_source(store, x_api):
    x_api.tweet("acme een")
    one, two = make_runner(store, x_listener(x_api)), make_runner(store, x_listener(x_api))
    two.worker = "other"
    assert one.poll(one.listeners[0]).new == 1
    assert two.poll(two.listeners[0]) is None and len(x_api.hits("/search/recent")) == 1


def test_missing_credentials_are_a_config_error():
    with pytest.raises(ConfigError, match="bearer_token"):
        XListener(XConfig(enabled=True, queries=["acme"]))
