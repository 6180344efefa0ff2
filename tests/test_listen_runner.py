"""The runner built from config over all four networks, its loops, the CLI, replies, and the real NLU end to end."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from emulators.bluesky import HANDLE, PASSWORD, BlueskyEmulator
from emulators.listen_kit import KeywordAnalyzer
from emulators.mastodon import TOKEN, MastodonEmulator
from emulators.rss import RSSEmulator
from emulators.x_api import XEmulator
from webcare.app import App
from webcare.cli import cli
from webcare.core.errors import ConfigError, DeliveryFailed
from webcare.core.retry import backoff
from webcare.listeners.config import ListenersConfig
from webcare.listeners.replies import reply_channels
from webcare.listeners.runner import ListenerRunner, run_listeners


@pytest.fixture
def networks():
    with XEmulator() as x, BlueskyEmulator() as bsky, MastodonEmulator() as masto, RSSEmulator() as rss:
        x.tweet("acme pakket kapot, waardeloos", author_id="1")
        bsky.post("acme top service")
        masto.status("acme waar blijft mijn bestelling?", tags=("acme",))
        rss.entry("reviews", "Acme review", "Goed geholpen")
        yield SimpleNamespace(x=x, bluesky=bsky, mastodon=masto, rss=rss)


def listeners_section(n: SimpleNamespace) -> dict:
    return {
        "enabled": True, "timeout_seconds": 5,
        "x": {"enabled": True, "bearer_token": "test-token", "base_url": n.x.url, "queries": ["acme"]},
        "bluesky": {"enabled": True, "handle": HANDLE, "app_password": PASSWORD, "base_url": n.bluesky.url,
                    "queries": ["acme"]},
        "mastodon": {"enabled": True, "api_base_url": n.mastodon.url, "hashtags": ["acme"], "access_token": TOKEN},
        "rss": {"enabled": True, "feeds": [{"url": n.rss.feed_url("reviews"), "topic": "reviews"}]},
        "triage": {"brand_handles": ["@acme"]},
    }


def test_from_config_builds_and_polls_every_enabled_network(store, networks):
    progress: list[str] = []
    runner = ListenerRunner.from_config(ListenersConfig.model_validate(listeners_section(networks)), store,
                                        KeywordAnalyzer(), progress=progress.append)
    assert [listener.name for listener in runner.listeners] == ["x", "bluesky", "mastodon", "rss"]
    results = runner.run_once()
    assert {name: r.new for name, r in results.items()} == {"x": 1, "bluesky": 1, "mastodon": 1, "rss": 1}
    assert runner.run_once() == {"x": None, "bluesky": None, "mastodon": None, "rss": None}  # not due yet
    assert progress[-1].startswith("rss: +1 new") and "total 4 mentions" in progress[-1]
    assert {store.get_cursor(f"listener:{n}") is not None for n in ("x", "bluesky", "mastodon", "rss")} == {True}


def test_from_config_without_networks_is_a_config_error(store):
    with pytest.raises(ConfigError, match="no network is enabled"):
        ListenerRunner.from_config(ListenersConfig(enabled=True), store, KeywordAnalyzer())


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    waits = [backoff(n, base=2, cap=60) for n in range(1, 10)]
    assert 1 <= waits[0] <= 2 and 4 <= waits[2] <= 8 and all(w <= 60 for w in waits)
    assert len({round(backoff(3, 2, 60), 6) for _ in range(20)}) > 1


def test_run_loops_until_stop_and_releases_its_leases(store, networks):
    config = ListenersConfig.model_validate(listeners_section(networks) | {"bluesky": {}, "mastodon": {},
                                                                           "rss": {}})
    runner = ListenerRunner.from_config(config, store, KeywordAnalyzer())
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.time() + 10
    while not store.mentions(limit=5) and time.time() < deadline:
        time.sleep(0.05)
    runner.stop()
    thread.join(5)
    assert not thread.is_alive() and len(store.mentions(limit=5)) == 1
    assert store.acquire_lease("listener:x", "someone-else", 60)  # released on stop


def test_run_listeners_serves_until_the_stop_event(store, networks):
    settings = SimpleNamespace(listeners=ListenersConfig.model_validate(listeners_section(networks)))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_listeners(settings, store, KeywordAnalyzer(), stop))
        for _ in range(200):
            if len(store.mentions(limit=10)) == 4:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert len(store.mentions(limit=10)) == 4


def test_x_replies_and_reply_channels(networks):
    config = ListenersConfig.model_validate(listeners_section(networks))
    channels = reply_channels(config)
    assert set(channels) == {"x", "bluesky", "mastodon"}
    tweet_id = networks.x.tweets[0]["id"]
    posted = asyncio.run(channels["x"].send(SimpleNamespace(chat_id=tweet_id, text="Sorry! Stuur ons een DM.")))
    assert networks.x.posted[-1] == {"text": "Sorry! Stuur ons een DM.", "reply": {"in_reply_to_tweet_id": tweet_id}}
    assert posted.isdigit()
    networks.x.fail_next(429, {"x-rate-limit-reset": str(int(time.time()) + 30)})
    with pytest.raises(DeliveryFailed) as limited:
        asyncio.run(channels["x"].send(SimpleNamespace(chat_id=tweet_id, text="nog eens")))
    assert 20 <= limited.value.retry_after <= 31 and not limited.value.permanent
    networks.x.fail_next(403)
    with pytest.raises(DeliveryFailed) as refused:
        asyncio.run(channels["x"].send(SimpleNamespace(chat_id=tweet_id, text="nog eens")))
    assert refused.value.permanent


def _config_file(tmp_path, networks) -> str:
    import yaml

    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'w.db'}"},
                                    "listeners": listeners_section(networks)}))
    return str(path)


def test_cli_listen_once_then_mentions_commands(tmp_path, networks, monkeypatch):
    monkeypatch.setattr(App, "analyzer", lambda self, progress=None: KeywordAnalyzer())
    config = _config_file(tmp_path, networks)
    cli_runner = CliRunner()
    result = cli_runner.invoke(cli, ["-c", config, "listen", "--once"])
    assert result.exit_code == 0, result.output
    assert "4 new mentions, 2 flagged" in result.output
    listed = json.loads(cli_runner.invoke(cli, ["-c", config, "mentions", "list", "--json"]).output)
    assert len(listed) == 4
    flagged = json.loads(cli_runner.invoke(cli, ["-c", config, "mentions", "list", "--flagged", "--json"]).output)
    assert {m["source"] for m in flagged} == {"x", "mastodon"}
    table = cli_runner.invoke(cli, ["-c", config, "mentions", "list"]).output
    assert "kapot" in table and "mastodon" in table
    calm = next(m for m in listed if m["source"] == "rss")
    assert "Goed geholpen" in cli_runner.invoke(cli, ["-c", config, "mentions", "show", str(calm["id"])]).output
    assert "flagged" in cli_runner.invoke(cli, ["-c", config, "mentions", "flag", str(calm["id"])]).output
    assert cli_runner.invoke(cli, ["-c", config, "mentions", "review", str(calm["id"]), "ignored"]).exit_code == 0
    shown = json.loads(cli_runner.invoke(cli, ["-c", config, "mentions", "show", str(calm["id"]), "--json"]).output)
    assert shown["flagged"] == 1 and shown["review_status"] == "ignored"
    assert "No storm alerts." in cli_runner.invoke(cli, ["-c", config, "mentions", "storms"]).output
    assert "No ambassadors yet." in cli_runner.invoke(cli, ["-c", config, "mentions", "ambassadors"]).output
    missing = cli_runner.invoke(cli, ["-c", config, "mentions", "show", "999"])
    assert missing.exit_code == 1 and "mention 999 does not exist" in missing.output


def test_cli_storms_and_ambassadors_show_what_triage_found(tmp_path, networks, monkeypatch):
    monkeypatch.setattr(App, "analyzer", lambda self, progress=None: KeywordAnalyzer())
    for i in range(12):
        networks.x.tweet(f"acme pakket {i} kapot, waardeloos", author_id=str(100 + i))
    for i in range(3):
        networks.x.tweet(f"acme geweldig, dank {i}", author_id="7")
    config = _config_file(tmp_path, networks)
    cli_runner = CliRunner()
    assert cli_runner.invoke(cli, ["-c", config, "listen", "--once"]).exit_code == 0
    storms = json.loads(cli_runner.invoke(cli, ["-c", config, "mentions", "storms", "--json"]).output)
    assert len(storms) == 1 and storms[0]["count"] >= 10 and storms[0]["source"] == "x"
    assert "complaints" in cli_runner.invoke(cli, ["-c", config, "mentions", "storms"]).output
    ambassadors = json.loads(cli_runner.invoke(cli, ["-c", config, "mentions", "ambassadors", "--json"]).output)
    assert [a["author_id"] for a in ambassadors] == ["7"] and ambassadors[0]["positive"] == 3


def test_end_to_end_with_the_real_analyzer(store, analyzer):
    """The real NLU decides: Dutch and English complaints are flagged with a ticket, praise is not."""
    with XEmulator() as x:
        complaint_nl = x.tweet("@acme mijn pakket is al twee weken zoek en niemand reageert, dit is echt waardeloos",
                               author_id="1")
        complaint_en = x.tweet("@acme my order arrived broken and customer service ignores me, terrible",
                               author_id="2")
        praise = x.tweet("Wat een geweldige service van acme, morgen besteld en vandaag al in huis! Top!",
                         author_id="3")
        config = ListenersConfig.model_validate({
            "x": {"enabled": True, "bearer_token": "test-token", "base_url": x.url, "queries": ["acme"]},
            "triage": {"brand_handles": ["@acme"]}})
        runner = ListenerRunner.from_config(config, store, analyzer)
        result = runner.run_once()["x"]
    assert result.new == 3
    rows = {m["external_id"]: m for m in store.mentions(limit=10)}
    assert rows[complaint_nl]["language"] == "nl" and rows[complaint_en]["language"] == "en"
    assert rows[complaint_nl]["flagged"] and rows[complaint_en]["flagged"]
    assert rows[praise]["sentiment"] == "positive" and not rows[praise]["flagged"]
    assert rows[complaint_nl]["priority"] > rows[praise]["priority"]
    tickets = {t["mention_id"] for t in store.tickets(kind="mention")}
    assert tickets == {rows[complaint_nl]["id"], rows[complaint_en]["id"]}
