"""Fuzzing as a figure: thousands of generated inputs per public surface, counting 5xx answers and crashes.

Surfaces: the web chat API (posts, reads, the event stream's Last-Event-ID), the console's forms
(signed in as admin), the Telegram update parser with the dialogue turn behind it, and each
listener's item parser (X, Bluesky, Mastodon, RSS) with triage storing what it returns. The inputs
come from the hypothesis strategies of tests/test_fuzz.py (lone surrogates, deep JSON, huge
numbers, invalid UTF-8, wrong types). Every tenth input a valid one is sent, twice where the surface
promises exactly-once (chat retries, Telegram redeliveries, re-polled posts), and at the end the
bench checks that each valid item was stored exactly once. Prints JSON and writes
bench/results/fuzz.json.

    python bench/fuzz.py [--inputs 10000] [--only webchat,console,telegram,x,bluesky,mastodon,rss]

With --only, a full-size run replaces those surfaces' figures in the results file and keeps the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fuzz.json"
UNLIMITED = {"chat_session_limit": "1000000/second", "chat_message_limit": "1000000/second",
             "chat_escalation_limit": "1000000/second", "login_attempts": 1_000_000}
WORDS = ("pakket bezorging kapot factuur retour winkel levering app korting maat kleur jas schoen tas "
         "delivery parcel refund invoice size colour order late broken great thanks").split()


class Tally:
    """What one surface did: inputs, answers by class, crashes, and the valid items' fate."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs = 0
        self.statuses: Counter[str] = Counter()
        self.crashes: Counter[str] = Counter()
        self.examples: list[str] = []
        self.valid: list[str] = []

    def status(self, code: int) -> None:
        self.statuses[f"{code // 100}xx"] += 1

    def crash(self, error: BaseException, given: Any) -> None:
        kind = f"{type(error).__name__}: {str(error)[:120]}"
        self.crashes[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind} on {given!r:.200}\n{traceback.format_exc(limit=3)[-600:]}")

    def report(self, stored: Counter[str], seconds: float) -> dict[str, Any]:
        once = sum(1 for v in self.valid if stored[v] == 1)
        return {"inputs": self.inputs, "answers": dict(sorted(self.statuses.items())),
                "server_errors_5xx": self.statuses["5xx"], "crashes": sum(self.crashes.values()),
                "crash_kinds": dict(self.crashes), "crash_examples": self.examples,
                "valid_items": len(self.valid), "valid_stored_exactly_once": once,
                "valid_lost_or_repeated": len(self.valid) - once, "seconds": round(seconds, 1)}


def drive(strategy: st.SearchStrategy, count: int, each: Callable[[Any], None]) -> None:
    """Call `each` with `count` generated inputs (hypothesis' generator only: no shrinking, no database)."""

    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value: Any) -> None:
        each(value)

    run()


def distinct_text(rng: random.Random, n: int) -> str:
    return f"acme {n} " + " ".join(rng.choice(WORDS) + str(rng.randrange(10_000)) for _ in range(6))


# -- web surfaces -----------------------------------------------------------------------------------


def web_app(tmp: Path) -> tuple[Any, Any]:
    from emulators import console_kit
    from webcare.console import create_app
    from webcare.store import Store

    store = Store.open(f"sqlite:///{tmp / 'web.db'}")
    app = create_app(store, console_kit.settings(**UNLIMITED),
                     console_kit.make_engine(store, console_kit.write_content(tmp / "content")))
    console_kit.add_user(store, "root", "admin")
    return app, store


def fuzz_webchat(count: int, tmp: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from emulators.fuzz_inputs import chat_bodies, raw_bytes
    from webcare.bot.channels import webchat

    webchat.STREAM_SECONDS = 0.0  # the stream answers its header and ends: Last-Event-ID is what is fuzzed
    app, store = web_app(tmp)
    client = TestClient(app, raise_server_exceptions=False)
    client.get("/chat")
    tally, rng = Tally("webchat"), random.Random(1)
    kinds = st.one_of(
        st.tuples(st.just("post"), st.one_of(chat_bodies, raw_bytes)),
        st.tuples(st.just("read"), st.text(max_size=30)),
        st.tuples(st.just("stream"), st.binary(max_size=30)),
    )

    def each(case: tuple[str, Any]) -> None:
        kind, value = case
        tally.inputs += 1
        try:
            if kind == "post":
                response = client.post("/chat/api/messages", content=value,
                                       headers={"Content-Type": "application/json"})
            elif kind == "read":
                after = quote_from_bytes(value.encode("utf-8", "surrogatepass"))
                response = client.get(f"/chat/api/messages?after={after}")
            else:
                header = value.replace(b"\r", b"").replace(b"\n", b"")
                response = client.get("/chat/api/stream", headers={"Last-Event-ID": header})
            tally.status(response.status_code)
        except Exception as e:  # noqa: BLE001 - counted, not raised
            tally.crash(e, case)
        if tally.inputs % 10 == 0:
            text, client_id = distinct_text(rng, tally.inputs), f"v{tally.inputs}"
            tally.valid.append(text)
            for _ in range(2):  # a retried post is stored once
                tally.status(client.post("/chat/api/messages", json={"text": text, "id": client_id}).status_code)

    started = time.perf_counter()
    drive(kinds, count, each)
    rows = store.backend.query("SELECT text FROM messages WHERE direction = 'in'")
    return tally.report(Counter(r["text"] for r in rows), time.perf_counter() - started)


def fuzz_console(count: int, tmp: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from emulators import console_kit
    from emulators.fuzz_inputs import FORMS, form_body

    app, store = web_app(tmp)
    customer = store.identify("webchat", "fuzz-customer", "Fuzz")
    conversation = store.open_conversation(customer["id"], "webchat", "fuzz-customer")["id"]
    store.escalate(conversation, "requested")
    client = TestClient(app, raise_server_exceptions=False)
    console_kit.login(client, "root")
    csrf = console_kit.csrf_of(client.get("/inbox").text)
    store.take(conversation, "root")
    tally, rng = Tally("console"), random.Random(2)
    fields = st.dictionaries(st.sampled_from(["text", "other", "action", "sentiment", "complaint", "username",
                                              "password", "next", "force", "back"]), st.binary(max_size=200),
                             max_size=5)
    rows = st.one_of(st.just(conversation), st.integers(), st.text(max_size=25))

    def each(case: tuple[str, Any, dict[str, bytes]]) -> None:
        path, row, form = case
        tally.inputs += 1
        target = path.replace("{id}", quote_from_bytes(str(row).encode("utf-8", "surrogatepass"), safe=""))
        try:
            response = client.post(target, content=form_body({**form, "csrf": csrf.encode()}),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"},
                                   follow_redirects=False)
            tally.status(response.status_code)
        except Exception as e:  # noqa: BLE001
            tally.crash(e, case)
        if tally.inputs % 10 == 0:  # a valid reply in the conversation the admin owns
            store.take(conversation, "root", force=True)
            text = distinct_text(rng, tally.inputs)
            tally.valid.append(text)
            response = client.post(f"/conversations/{conversation}/reply", data={"text": text, "csrf": csrf},
                                   follow_redirects=False)
            tally.status(response.status_code)

    started = time.perf_counter()
    drive(st.tuples(st.sampled_from([f for f in FORMS if f != "/login"]), rows, fields), count, each)
    stored = store.backend.query("SELECT text FROM messages WHERE direction = 'out' AND author = 'agent:root'")
    return tally.report(Counter(r["text"] for r in stored), time.perf_counter() - started)


# -- Telegram ---------------------------------------------------------------------------------------


def fuzz_telegram(count: int, tmp: Path) -> dict[str, Any]:
    from telegram import Update

    from emulators import console_kit
    from emulators.fuzz_inputs import updates
    from emulators.telegram_api import TelegramEmulator
    from emulators.telegram_harness import telegram_config
    from webcare.bot.channels.telegram import TelegramChannel
    from webcare.store import Store

    store = Store.open(f"sqlite:///{tmp / 'tg.db'}")
    engine = console_kit.make_engine(store, console_kit.write_content(tmp / "content-tg"))
    tally, rng = Tally("telegram"), random.Random(3)
    with TelegramEmulator() as tg:
        channel = TelegramChannel(telegram_config(tg), engine, store)
        asyncio.run(channel.application.bot.initialize())
        bot = channel.application.bot

        def turn(data: dict[str, Any]) -> None:
            try:
                update = Update.de_json(data, bot)
            except Exception:  # noqa: BLE001 - RobustBot drops an update PTB cannot parse
                tally.statuses["dropped"] += 1
                return
            incoming = channel.to_incoming(update)
            tally.statuses["handled" if incoming is not None else "ignored"] += 1
            if incoming is not None:
                engine.handle(incoming)

        def each(data: dict[str, Any]) -> None:
            tally.inputs += 1
            try:
                turn(data)
            except Exception as e:  # noqa: BLE001
                tally.crash(e, data)
            if tally.inputs % 10 == 0:
                text = distinct_text(rng, tally.inputs)
                tally.valid.append(text)
                valid = {"update_id": tally.inputs, "message": {
                    "message_id": tally.inputs, "date": int(time.time()), "text": text,
                    "chat": {"id": 10_000 + tally.inputs % 50, "type": "private"},
                    "from": {"id": 10_000 + tally.inputs % 50, "is_bot": False, "first_name": "Valid"}}}
                for _ in range(2):  # Telegram redelivers: stored once
                    turn(valid)

        started = time.perf_counter()
        drive(updates, count, each)
    rows = store.backend.query("SELECT text FROM messages WHERE direction = 'in'")
    return tally.report(Counter(r["text"] for r in rows), time.perf_counter() - started)


# -- listeners --------------------------------------------------------------------------------------


def fuzz_listener(name: str, count: int, tmp: Path) -> dict[str, Any]:
    """Fuzzed items between valid ones, parsed by the listener and stored by triage, 50 items a batch."""
    from emulators.fuzz_inputs import bluesky_posts, make_listeners, mastodon_statuses, tweets
    from emulators.listen_kit import KeywordAnalyzer, config
    from webcare.listeners.config import FeedConfig
    from webcare.listeners.triage import Triage
    from webcare.store import Store

    store = Store.open(f"sqlite:///{tmp / f'{name}.db'}")
    triage = Triage(store, KeywordAnalyzer(), config())
    source = make_listeners()[name]
    tally, rng = Tally(name), random.Random(hash(name) % 1000)
    feed = FeedConfig(url="https://feed.example/rss")
    batch: list[Any] = []

    def valid(n: int) -> tuple[str, Any]:
        text = distinct_text(rng, n)
        tally.valid.append(text)
        items = {
            "x": {"id": f"v{n}", "text": text, "author_id": "1"},
            "bluesky": {"uri": f"at://did:plc:v/app.bsky.feed.post/v{n}", "record": {"text": text},
                        "author": {"did": "did:plc:v", "handle": "v.bsky.social"}},
            "mastodon": {"id": f"v{n}", "content": f"<p>{text}</p>", "account": {"id": "1", "acct": "v"}},
            "rss": f"<item><title>{text}</title><guid>v{n}</guid></item>".encode(),
        }
        return text, items[name]

    def parse(items: list[Any]) -> list[Any]:
        if name == "x":
            return source._mentions({"data": items}, "acme")
        if name == "rss":
            body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + b"".join(items) \
                + b"</channel></rss>"
            return source.mentions(body, feed)
        parsed = (source._mention(item, "acme") if name == "bluesky" else source._mention(item, "tag:acme")
                  for item in items)
        return [m for m in parsed if m is not None]

    def flush() -> None:
        try:
            mentions = parse(batch)
            for _ in range(2):  # polled again: stored once
                triage.process(mentions)
            tally.statuses["batches"] += 1
        except Exception as e:  # noqa: BLE001
            tally.crash(e, batch[:3])
        batch.clear()

    def each(item: Any) -> None:
        tally.inputs += 1
        batch.append(item)
        if tally.inputs % 10 == 0:
            batch.append(valid(tally.inputs)[1])
        if len(batch) >= 50:
            flush()

    strategies = {"x": tweets.map(lambda ts: ts[0] if ts else {}), "bluesky": bluesky_posts,
                  "mastodon": mastodon_statuses, "rss": rss_entries()}
    started = time.perf_counter()
    drive(strategies[name], count, each)
    if batch:
        flush()
    rows = store.backend.query("SELECT text FROM mentions")
    return tally.report(Counter(r["text"] for r in rows), time.perf_counter() - started)


def rss_entries() -> st.SearchStrategy[bytes]:
    """One <item> whose title is any text (escaped; lone surrogates and control characters as
    character references, as a broken feed writes them) or any character reference at all."""
    from xml.sax.saxutils import escape

    from emulators.fuzz_inputs import TEXT

    def as_xml(text: str) -> bytes:
        return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else f"&#{ord(c)};"
                       for c in escape(text)).encode()

    titles = st.one_of(TEXT.map(as_xml), st.integers(0, 0x200000).map(lambda c: f"&#{c};".encode()))
    return st.tuples(titles, st.text("abc123", max_size=8)).map(
        lambda t: b"<item><title>" + t[0] + b"</title><guid>f" + t[1].encode() + b"</guid></item>")


SURFACES = ("webchat", "console", "telegram", "x", "bluesky", "mastodon", "rss")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="generated inputs per surface")
    parser.add_argument("--only", default=",".join(SURFACES), help="comma-separated surfaces")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)  # the skipped items are logged; thousands of lines are noise here
    results: dict[str, Any] = {}
    if args.inputs >= 10_000 and RESULTS.exists():  # a full run of some surfaces updates those only
        results = json.loads(RESULTS.read_text())["surfaces"]
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only.split(","):
            tmp = Path(folder) / name
            tmp.mkdir()
            runner = {"webchat": fuzz_webchat, "console": fuzz_console, "telegram": fuzz_telegram}.get(name)
            results[name] = runner(args.inputs, tmp) if runner else fuzz_listener(name, args.inputs, tmp)
            print(f"{name}: {json.dumps({k: v for k, v in results[name].items() if k != 'crash_examples'})}",
                  file=sys.stderr)
    report = {
        "inputs_per_surface": args.inputs,
        "surfaces": results,
        "totals": {"inputs": sum(r["inputs"] for r in results.values()),
                   "server_errors_5xx": sum(r["server_errors_5xx"] for r in results.values()),
                   "crashes": sum(r["crashes"] for r in results.values()),
                   "valid_lost_or_repeated": sum(r["valid_lost_or_repeated"] for r in results.values())},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m": os.getloadavg()[0]},
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if set(results) == set(SURFACES) and args.inputs >= 10_000:
        RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
