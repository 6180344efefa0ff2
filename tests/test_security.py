"""Hardening: secrets kept out of output, abuse limits, malformed input, health and metrics, leases."""

from __future__ import annotations

import html
import io
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from emulators.console_kit import (
    add_user,
    csrf_of,
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    login,
    make_engine,
    settings,
    write_content,
)
from emulators.telegram_harness import STAFF_CHAT, staff_config, telegram_config
from webcare.bot.channels.staff_telegram import StaffBridge
from webcare.bot.channels.telegram import TelegramChannel, utf16_len
from webcare.cli import cli
from webcare.config import parse_settings
from webcare.console import create_app
from webcare.core import redact
from webcare.core.errors import ConfigError, StoreError
from webcare.store import Store, open_backend

pytest_plugins = ["emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot

BOT_TOKEN = "987654321:AAH-a-real-looking-secret-token_xyz123"


@pytest.fixture(autouse=True)
def no_remembered_secrets():
    redact.forget_all()
    yield
    redact.forget_all()


# -- secrets never in output ----------------------------------------------------------------------


async def test_a_rejected_telegram_token_is_not_in_the_error(tg, engine):
    channel = TelegramChannel(telegram_config(tg, token=BOT_TOKEN), engine, engine.store)
    with pytest.raises(ConfigError, match="did not accept") as caught:
        await channel.start()
    assert BOT_TOKEN not in str(caught.value) and "AAH-a-real" not in str(caught.value)
    assert redact.MASK in str(caught.value)


def test_an_unsupported_store_url_does_not_echo_its_password():
    with pytest.raises(StoreError) as caught:
        open_backend("mysql://shop:hunter2-secret@db.example.com/shop")
    assert "hunter2-secret" not in str(caught.value)
    assert "mysql://shop:***@db.example.com/shop" in str(caught.value)


def test_values_from_the_environment_and_secret_fields_are_masked(monkeypatch):
    monkeypatch.setenv("SHOP_BLUESKY_PASSWORD", "app-pass-1234")
    parse_settings("listeners:\n  bluesky:\n    app_password: ${SHOP_BLUESKY_PASSWORD}\n"
                   "console:\n  secret_key: literally-written-key\n")
    text = "login with app-pass-1234 failed; key literally-written-key; port 8080"
    assert redact.redact(text) == "login with *** failed; key ***; port 8080"


def test_cli_errors_mask_configured_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_STORE_URL", "oracle://shop:pw-in-url-42@db/shop")
    (tmp_path / "config.yml").write_text("store:\n  url: ${SHOP_STORE_URL}\n")
    result = CliRunner().invoke(cli, ["tickets", "list"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "pw-in-url-42" not in result.output and "oracle://shop:***@db/shop" in result.output


def test_log_lines_and_tracebacks_are_masked():
    redact.register("s3cr3t-token-value")
    stream = io.StringIO()
    logger = logging.getLogger("webcare.test.redact")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    redact.install_logging(logger)
    try:
        logger.warning("calling with %s and %s", "s3cr3t-token-value", f"bot{BOT_TOKEN}/getMe")
        try:
            raise RuntimeError("postgresql://app:db-password@host/db refused")
        except RuntimeError:
            logger.exception("store down")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "s3cr3t" not in output and BOT_TOKEN not in output and "db-password" not in output
    assert "calling with *** and bot***/getMe" in output and "postgresql://app:***@host/db" in output



# -- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["tickets", "show", str(2**63)], ["customers", "export", "9" * 5000],
                                  ["mentions", "show", "0"]], ids=["2^63", "5000-digits", "zero"])
def test_cli_ids_out_of_range_are_one_line_errors(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "Error: Invalid value" in result.output and "Traceback" not in result.output


def test_cli_arguments_that_are_not_utf8_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    broken = b"caf\xe9".decode("utf-8", "surrogateescape")  # what Python makes of a Latin-1 argument
    result = CliRunner().invoke(cli, ["users", "add", broken, "--role", "admin"])
    assert result.exit_code == 2 and result.output == "Error: argument 3 is not valid UTF-8\n"


@pytest.mark.parametrize("make, reason", [(lambda p: p.mkdir(), "it is a directory"),
                                          (lambda p: p.write_bytes(b"not a database at all" * 100),
                                           "file is not a database")], ids=["directory", "not-sqlite"])
def test_a_store_path_that_is_no_sqlite_file_is_a_one_line_error(tmp_path, monkeypatch, make, reason):
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "store.db")
    (tmp_path / "config.yml").write_text(f"store:\n  url: sqlite:///{tmp_path / 'store.db'}\n")
    result = CliRunner().invoke(cli, ["tickets", "list"])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and reason in result.output, result.output

# -- the web app: abuse limits, malformed input, health and metrics ------------------------------


def web(store: Store, tmp_path, **console) -> TestClient:
    app = create_app(store, settings(**console), make_engine(store, write_content(tmp_path / "content")))
    if store.user("root") is None:
        add_user(store, "root", "admin")
    return app


def customer(app, address: str = "198.51.100.7", headers: dict | None = None) -> TestClient:
    client = TestClient(app, client=(address, 50000), headers=headers)
    assert client.get("/chat").status_code == 200
    return client


def test_new_chat_sessions_are_limited_per_address_with_retry_after(store, tmp_path):
    app = web(store, tmp_path, chat_session_limit="3/hour")
    for _ in range(3):
        customer(app)
    refused = TestClient(app, client=("198.51.100.7", 1)).get("/chat")
    assert refused.status_code == 429 and 3500 < int(refused.headers["retry-after"]) <= 3601
    assert "too many" in refused.json()["detail"]
    assert customer(app, "203.0.113.9").cookies.get("webcare_chat")  # another address is not affected


def test_messages_are_limited_per_address_across_chat_cookies(store, tmp_path):
    app = web(store, tmp_path, chat_message_limit="4/minute")
    clients = [customer(app) for _ in range(2)]
    codes = [c.post("/chat/api/messages", json={"text": "hello"}).status_code for c in clients * 3]
    assert codes == [202] * 4 + [429] * 2
    assert len([m for m in store.backend.query("SELECT * FROM messages WHERE direction = 'in'")]) == 4


def test_forty_fresh_cookies_from_one_address_open_only_the_allowed_escalations(store, tmp_path):
    app = web(store, tmp_path, chat_escalation_limit="3/hour")
    codes = []
    for _ in range(40):
        codes.append(customer(app).post("/chat/api/messages", json={"text": "I want a human"}).status_code)
    assert codes.count(202) == 3 and codes.count(429) == 37
    assert len(store.tickets(kind="escalation")) == 3 and store.queue_length() == 3  # the wait told stays true
    other = customer(app, "203.0.113.9")
    assert other.post("/chat/api/messages", json={"text": "I want a human"}).status_code == 202


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(store, tmp_path):
    app = web(store, tmp_path, chat_session_limit="1/hour", forwarded_allow_ips=["10.0.0.2"])
    behind_proxy = [TestClient(app, client=("10.0.0.2", 1), headers={"X-Forwarded-For": ip})
                    for ip in ("198.51.100.1", "198.51.100.2")]
    assert [c.get("/chat").status_code for c in behind_proxy] == [200, 200]  # one bucket per customer
    spoofing = [TestClient(app, client=("203.0.113.5", 1), headers={"X-Forwarded-For": ip})
                for ip in ("198.51.100.3", "198.51.100.4")]
    assert [c.get("/chat").status_code for c in spoofing] == [200, 429]  # an untrusted peer's header is ignored


MALFORMED_BODIES = [
    ("[" * 100_000 + "]" * 100_000, 400),  # RecursionError in the JSON parser
    ('{"text": "' + "9" * 5000 + '"}', 202),  # a long digit string is just text
    ('{"text": "hi", "id": ' + "9" * 5000 + "}", 400),  # a 5,000-digit number
    ('{"text": "\\ud800 hi"}', 400),  # a lone surrogate
    ('{"text": "hi", "id": "\\udfff"}', 400),
]


@pytest.mark.parametrize("body, status", MALFORMED_BODIES, ids=["nested", "digits-text", "digits", "surrogate",
                                                                "surrogate-id"])
def test_malformed_chat_posts_get_4xx_not_500(store, tmp_path, body, status):
    client = customer(web(store, tmp_path, max_body_bytes=2_000_000))
    response = client.post("/chat/api/messages", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text


def test_out_of_range_numbers_and_odd_headers_get_4xx(store, tmp_path):
    app = web(store, tmp_path)
    client = customer(app)
    assert client.get(f"/chat/api/messages?after={2**63}").status_code == 400
    assert client.get("/chat/api/messages?after=-" + "9" * 5000).status_code == 400
    assert client.get(f"/chat/api/messages?after={2**63 - 1}").json() == {"messages": []}
    with client.stream("GET", "/chat/api/stream", headers={"Last-Event-ID": "²³".encode("latin-1")}) as stream:
        assert stream.status_code == 200 and next(stream.iter_lines()) == "retry: 1000"
    staff = TestClient(app)
    login(staff, "root")
    for path in (f"/inbox/{2**63}", f"/mentions/{2**64}", f"/inbox/{'1' * 5000}"):
        assert staff.get(path).status_code == 404, path
    csrf = csrf_of(staff.get("/inbox").text)
    for other in ("²", str(2**63), "9" * 5000):  # the customer to merge into, typed by staff
        response = staff.post("/customers/1/merge", data={"other": other, "csrf": csrf}, follow_redirects=False)
        assert response.status_code == 303, other


async def test_the_body_limit_applies_while_reading(store, tmp_path):
    app = web(store, tmp_path, max_body_bytes=10_000)
    cookie = customer(app).cookies["webcare_chat"]
    chunks_read, sent = [0], []

    async def receive():  # 50 MB offered in 50 KB chunks, without a Content-Length
        chunks_read[0] += 1
        return {"type": "http.request", "body": b"a" * 50_000, "more_body": chunks_read[0] < 1000}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/chat/api/messages", "raw_path": b"/chat/api/messages", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"cookie", f"webcare_chat={cookie}".encode())],
             "client": ("198.51.100.7", 1), "server": ("testserver", 80)}
    await app(scope, receive, send)
    assert sent[0]["status"] == 413 and chunks_read[0] == 1  # refused at the first chunk past the limit
    client = customer(app)
    declared = client.post("/chat/api/messages", content=b"x" * 20_000, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413


def test_sign_in_names_are_capped_hashed_and_pruned(store, tmp_path):
    app = web(store, tmp_path, login_window_seconds=60)
    for n in range(60):
        client = TestClient(app, client=(f"203.0.113.{n}", 1))
        assert login(client, f"{n}" + "x" * 900_000, "wrong").status_code == 401
    limiter = app.state.limiters["pair"]
    assert len(limiter) == 60 and all(len(key) == 16 for key in limiter._failures)  # 16 bytes, not 900 KB
    limiter.clock = lambda: time.monotonic() + 61
    limiter.failed("one more")
    assert len(limiter) == 1


def test_an_attacker_elsewhere_cannot_lock_an_admin_out(store, tmp_path):
    app = web(store, tmp_path, login_attempts=2, login_max_delay_seconds=30)
    admin = TestClient(app, client=("192.0.2.10", 1))
    assert login(admin, "root").status_code == 303
    for n in range(30):  # a botnet: wrong passwords for root from many addresses
        login(TestClient(app, client=(f"203.0.113.{n}", 1)), "root", "guess")
    assert app.state.limiters["user"].retry_after("root") > 0  # strangers now wait for "root"…
    assert app.state.limiters["user"].retry_after("root") <= 30  # …but never longer than the cap
    assert login(TestClient(app, client=("192.0.2.10", 1)), "root").status_code == 303  # the admin is let in


def test_healthz_shows_no_store_error_to_the_public(store, tmp_path, monkeypatch, caplog):
    app = web(store, tmp_path)

    def broken() -> int:
        raise StoreError("PostgreSQL: connection to server at 10.1.2.3 failed: password authentication failed")

    monkeypatch.setattr(store, "schema_version", broken)
    response = TestClient(app).get("/healthz")
    assert response.status_code == 503 and response.text == "store unavailable"
    assert "10.1.2.3" in caplog.text  # the operator still finds the reason in the log


def test_metrics_need_the_token_and_are_computed_once_per_interval(store, tmp_path, monkeypatch):
    assert TestClient(web(store, tmp_path)).get("/metrics").status_code == 404  # no token configured: off
    app = web(store, tmp_path, metrics_token="scrape-secret", metrics_cache_seconds=60)
    calls = []
    compute = store.counts

    def counted():
        calls.append(1)
        time.sleep(0.05)
        return compute()

    monkeypatch.setattr(store, "counts", counted)
    client = TestClient(app)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    auth = {"Authorization": "Bearer scrape-secret"}
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: client.get("/metrics", headers=auth), range(20)))
    assert {r.status_code for r in responses} == {200} and len(calls) == 1
    assert "webcare_queue_length" in responses[0].text


# -- the staff Telegram group ---------------------------------------------------------------------


def escalated_conversation(store: Store, name: str, summary: str, lines: list[str]) -> dict:
    customer = store.identify("webchat", name, name)
    conversation = store.open_conversation(customer["id"], "webchat", name)
    story = {"transcript": [{"author": "customer", "text": line} for line in lines]}
    ticket, _ = store.escalate(conversation["id"], "requested", "normal", summary, story)
    return ticket


def test_a_long_card_is_cut_before_escaping_and_in_utf16_units(store):
    text = "<b>&amp;\"😀" * 2000  # escaping makes it longer; the emoji take two UTF-16 units each
    ticket = escalated_conversation(store, "long", text, [text] * 12)
    bridge = StaffBridge(staff_config(), None, store, None, lambda chat: None)
    card = bridge.card(store.ticket(ticket["id"]), store.conversation(ticket["conversation_id"]), [])
    assert utf16_len(card) <= 4096
    visible = re.sub(r"</?(b|i)>", "", card)
    assert "<" not in visible and ">" not in visible  # only our own tags: nothing cut in half
    assert not re.search(r"&[a-z#0-9]*(?![a-z#0-9;])", visible.replace("&amp;", "").replace("&quot;", "")
                         .replace("&lt;", "").replace("&gt;", "").replace("&#x27;", ""))
    assert "\ud83d" not in html.unescape(visible).encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    assert f"/take {ticket['id']}" in card and "…" in card


async def test_a_card_telegram_refuses_is_marked_failed_and_later_escalations_still_post(tg, store, analyzer,
                                                                                       responses):
    from telegram import Bot

    from webcare.bot.engine import DialogueEngine

    first = escalated_conversation(store, "first", "rejected one", ["hi"])
    second = escalated_conversation(store, "second", "next one", ["hello"])
    bot = Bot(tg.token, base_url=tg.base_url)
    async with bot:
        bridge = StaffBridge(staff_config(), DialogueEngine(store, analyzer, responses), store, bot, lambda chat: None)
        tg.fail("sendMessage", 400)
        assert await bridge.sync_once() == 1
        assert await bridge.sync_once() == 0  # the refused card is not retried forever
    [posted] = [p["text"] for p in tg.sent("sendMessage", STAFF_CHAT)]
    [failed] = store.events("staff_post_failed")
    assert "Injected error 400" in failed["data"]["reason"]
    assert {failed["ticket_id"], int(re.search(r"#(\d+)", posted).group(1))} == {first["id"], second["id"]}


# -- listeners ------------------------------------------------------------------------------------

FEED_WITH_A_BAD_ENTRY = """<?xml version="1.0"?><rss version="2.0"><channel><title>reviews</title>
<item><title>Acme kwam snel</title><guid>good-1</guid></item>
<item><title>Acme &#xD800; kapot &#1114112;</title><guid>bad-1</guid></item>
<item><title>Acme prima</title><guid>good-2</guid></item>
</channel></rss>"""


@pytest.fixture
def feeds():
    from emulators.rss import RSSEmulator

    with RSSEmulator() as emulator:
        yield emulator


def test_one_malformed_rss_entry_does_not_fail_the_feed(store, feeds):
    from emulators.listen_kit import KeywordAnalyzer, config
    from webcare.listeners.config import RSSConfig
    from webcare.listeners.rss import RSSListener
    from webcare.listeners.runner import ListenerRunner
    from webcare.listeners.triage import Triage

    feeds.raw["reviews"] = FEED_WITH_A_BAD_ENTRY
    rss = RSSListener(RSSConfig.model_validate({"enabled": True, "feeds": [{"url": feeds.feed_url("reviews")}]}))
    runner = ListenerRunner(store, [rss], Triage(store, KeywordAnalyzer(), config()))
    assert runner.run_once(force=True)["rss"].new == 3 and runner.run_once(force=True)["rss"].new == 0
    texts = sorted(m["text"] for m in store.mentions(limit=10))
    assert texts == ["Acme kapot", "Acme kwam snel", "Acme prima"]  # each stored once, cleaned as analysed


def test_a_post_with_odd_field_types_is_stored_not_the_batch_lost(store):
    from emulators.listen_kit import KeywordAnalyzer, config
    from webcare.listeners.base import Mention
    from webcare.listeners.triage import Triage

    odd = Mention("mastodon", 12, "acme \ud800 kapot", author_id=["1"], author=["a", "b"], author_name=True,
                  url={"u": 1}, author_reach=10**30, posted_at=float("inf"), raw={"lang": "\udfff"})
    fine = Mention("mastodon", "2", "acme prima", author="fan", author_reach=5, posted_at=1.5)
    assert Triage(store, KeywordAnalyzer(), config()).process([odd, fine]).new == 2
    rows = {m["external_id"]: m for m in store.mentions(limit=10)}
    assert rows["12"]["text"] == "acme kapot" and rows["12"]["author"] is None  # cleaned, as analysed
    assert rows["12"]["author_reach"] == 2**63 - 1 and rows["2"]["author"] == "fan"

def test_listen_once_releases_its_leases(tmp_path, feeds, monkeypatch):
    import yaml

    from emulators.listen_kit import KeywordAnalyzer
    from webcare.app import App

    monkeypatch.setattr(App, "analyzer", lambda self, progress=None: KeywordAnalyzer())
    feeds.entry("reviews", "Acme kapot", guid="r1")
    db = tmp_path / "w.db"
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{db}"}, "listeners": {
        "rss": {"enabled": True, "keywords": [], "feeds": [{"url": feeds.feed_url("reviews")}]}}}))
    assert CliRunner().invoke(cli, ["-c", str(path), "listen", "--once"]).exit_code == 0
    store = Store.open(f"sqlite:///{db}")
    assert store.backend.query("SELECT lease_owner FROM cursors WHERE source = 'listener:rss'") == [
        {"lease_owner": None}]
    store.acquire_lease("listener:rss", "another process", 600)  # `webcare listen` running elsewhere
    held = CliRunner().invoke(cli, ["-c", str(path), "listen", "--once"])
    assert "rss: not polled, another process holds its lease" in held.output


# -- NLU ------------------------------------------------------------------------------------------


def test_the_analyzer_reads_at_most_max_input_chars(analyzer):
    text = "Mijn bestelling 12345678 is kapot. " + "en nog meer 87654321 tekst " * 40_000  # a million characters
    started = time.perf_counter()
    analysis = analyzer.analyze(text)
    assert time.perf_counter() - started < 5  # was 29 s in entity extraction
    assert len(analysis.text) == analyzer.config.max_input_chars
    orders = [e.value for e in analysis.entities if e.type == "order_number"]
    assert orders[0] == "12345678" and len(orders) < 300
