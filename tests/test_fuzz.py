"""Property-based tests (hypothesis): no input makes a public surface fail with a 5xx or a crash.

The web chat API, the console's forms, the Telegram update parser and each listener's item parser,
with modest example counts so the suite stays fast; `bench/fuzz.py` sends ten thousand per surface.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote_from_bytes

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from emulators import console_kit
from emulators.console_kit import fast_argon2  # noqa: F401 - autouse: cheap argon2 here
from emulators.fuzz_inputs import (
    FORMS,
    bluesky_posts,
    char_refs,
    chat_bodies,
    feed_titles,
    form_body,
    make_listeners,
    mastodon_statuses,
    raw_bytes,
    updates,
    x_pages,
)
from emulators.telegram_api import TelegramEmulator
from emulators.telegram_harness import telegram_config
from webcare.bot.channels.telegram import TelegramChannel
from webcare.console import create_app
from webcare.core.errors import ListenerError
from webcare.listeners.config import FeedConfig
from webcare.store import Store

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FUZZ_FAST = settings(FUZZ, max_examples=100)  # the parsers alone: cheap
UNLIMITED = {"chat_session_limit": "1000000/second", "chat_message_limit": "1000000/second",
             "chat_escalation_limit": "1000000/second", "login_attempts": 1_000_000}




@pytest.fixture(scope="module")
def app(tmp_path_factory):
    store = Store.memory()
    content = console_kit.write_content(tmp_path_factory.mktemp("content"))
    web = create_app(store, console_kit.settings(**UNLIMITED), console_kit.make_engine(store, content))
    console_kit.add_user(store, "root", "admin")
    yield web
    store.close()


@pytest.fixture(scope="module")
def chat(app):
    client = TestClient(app)
    client.get("/chat")
    client.post("/chat/api/messages", json={"text": "I want a human, order 12345678"})
    return client


@pytest.fixture(scope="module")
def admin(app):
    client = TestClient(app)
    assert console_kit.login(client, "root").status_code == 303
    return client


@FUZZ
@given(body=st.one_of(chat_bodies, raw_bytes))
def test_chat_posts_never_get_a_5xx(chat, body):
    response = chat.post("/chat/api/messages", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text


@FUZZ
@given(after=st.text(max_size=30), wait=st.text(max_size=10), last_event=st.binary(max_size=30))
def test_chat_reads_never_get_a_5xx(chat, after, wait, last_event):
    query = f"after={quote_from_bytes(after.encode('utf-8', 'surrogatepass'))}&wait=0"
    assert chat.get(f"/chat/api/messages?{query}").status_code < 500
    assert chat.get(f"/chat/api/messages?wait={quote_from_bytes(wait.encode('utf-8', 'surrogatepass'))}"
                    "&after=999999999").status_code < 500
    header = last_event.replace(b"\r", b"").replace(b"\n", b"")
    with chat.stream("GET", f"/chat/api/stream?{query}", headers={"Last-Event-ID": header}) as stream:
        assert stream.status_code < 500





@FUZZ
@given(path=st.sampled_from(FORMS), row=st.one_of(st.integers(), st.text(max_size=25)),
       fields=st.dictionaries(st.sampled_from(["text", "other", "action", "sentiment", "complaint", "username",
                                               "password", "next", "force", "back"]),
                              st.binary(max_size=200), max_size=5))
def test_console_forms_never_get_a_5xx(admin, path, row, fields):
    csrf = admin.app.state.csrf = getattr(admin.app.state, "csrf", None) or console_kit.csrf_of(admin.get("/inbox").text)
    target = path.replace("{id}", quote_from_bytes(str(row).encode("utf-8", "surrogatepass"), safe=""))
    response = admin.post(target, content=form_body({**fields, "csrf": csrf.encode()}), follow_redirects=False,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code < 500, (target, response.text[:300])


PAGES = ("/login", "/inbox", "/inbox/rows", "/api/inbox", "/conversations/{id}", "/conversations/{id}/transcript",
         "/mentions", "/mentions/rows", "/dashboard", "/dashboard/export.json", "/dashboard/export.csv", "/storms",
         "/ambassadors")
query_keys = st.sampled_from(["period", "channel", "language", "table", "status", "next", "after", "since"])


@FUZZ
@given(path=st.sampled_from(PAGES), row=st.one_of(st.integers(), st.text(max_size=25)),
       query=st.lists(st.tuples(query_keys, st.binary(max_size=40)), max_size=4))
def test_console_pages_never_get_a_5xx(admin, path, row, query):
    target = path.replace("{id}", quote_from_bytes(str(row).encode("utf-8", "surrogatepass"), safe=""))
    target += "?" + "&".join(f"{k}={quote_from_bytes(v)}" for k, v in query)
    response = admin.get(target, follow_redirects=False)
    assert response.status_code < 500, (target, response.text[:300])


# -- the Telegram update parser ---------------------------------------------------------------------




@pytest.fixture(scope="module")
def telegram(tmp_path_factory):
    store = Store.memory()
    engine = console_kit.make_engine(store, console_kit.write_content(tmp_path_factory.mktemp("tg")))
    with TelegramEmulator() as tg:
        channel = TelegramChannel(telegram_config(tg), engine, store)
        asyncio.run(channel.application.bot.initialize())  # getMe: the bot's name, for group messages
        yield channel
    store.close()


@FUZZ
@given(data=updates)
def test_telegram_updates_parse_or_are_dropped_and_never_crash_a_turn(telegram, data):
    try:
        update = Update.de_json(data, telegram.application.bot)
    except Exception:  # noqa: BLE001 - RobustBot drops what PTB cannot parse (see RobustBot.get_updates)
        return
    incoming = telegram.to_incoming(update)
    if incoming is not None:
        telegram.engine.handle(incoming)


# -- listener item parsers --------------------------------------------------------------------------




@pytest.fixture(scope="module")
def triage():
    from emulators.listen_kit import KeywordAnalyzer, config
    from webcare.listeners.triage import Triage

    store = Store.memory()
    yield Triage(store, KeywordAnalyzer(), config())
    store.close()


def stored(triage, mentions: list) -> bool:
    """Triage stores what a parser returned without an error (each mention once)."""
    triage.process(mentions)
    return all(triage.store.backend.query("SELECT count(*) AS n FROM mentions WHERE source = ? AND external_id = ?",
                                          [m.source, m.external_id])[0]["n"] == 1 for m in mentions)





@pytest.fixture(scope="module")
def listeners():
    return make_listeners()


@FUZZ_FAST
@given(page=x_pages)
def test_x_pages_parse_and_store_without_crashing(listeners, triage, page):
    assert stored(triage, listeners["x"]._mentions(page, "acme"))


@FUZZ_FAST
@given(post=bluesky_posts)
def test_bluesky_posts_parse_and_store_without_crashing(listeners, triage, post):
    mention = listeners["bluesky"]._mention(post, "acme")
    assert mention is None or stored(triage, [mention])


@FUZZ_FAST
@given(status=mastodon_statuses)
def test_mastodon_statuses_parse_and_store_without_crashing(listeners, triage, status):
    mention = listeners["mastodon"]._mention(status, "tag:acme")
    assert mention is None or stored(triage, [mention])


@FUZZ_FAST
@given(pieces=st.lists(st.one_of(feed_titles, char_refs, raw_bytes), max_size=4))
def test_rss_entries_parse_and_store_or_are_skipped(listeners, triage, pieces):
    items = b"".join(b"<item><title>" + p + b"</title><guid>" + str(i).encode() + b"</guid></item>"
                     for i, p in enumerate(pieces))
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + items + b"</channel></rss>"
    try:
        mentions = listeners["rss"].mentions(body, FeedConfig(url="https://feed.example/rss"))
    except ListenerError:
        return  # the whole body is not a feed: said clearly, and the runner backs off
    assert stored(triage, mentions)
