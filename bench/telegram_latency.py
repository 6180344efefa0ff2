"""Telegram latency: update served → reply arriving, through python-telegram-bot and the Bot API emulator.

Every message comes from its own customer (a first message: customer, conversation, analysis, reply),
in Dutch and English. The time is taken from the moment the emulator hands the update to the bot in a
getUpdates answer to the moment the bot's sendMessage for that chat arrives at the emulator, so it
covers PTB's parsing, the typing indicator, the default NLU, the dialogue engine, the store, the
outbox, the rate limiters and PTB's HTTP send, all on loopback.

- latency:    N messages offered at a steady rate under Telegram's limits: 10/s by default, i.e.
              20 requests/s with the typing indicator against the bot's 30 requests/s overall.
- burst:      N messages at once with the default limits: a queue, drained at ~15 replies/s
              (two requests each), so this measures waiting, not the bot.
- capacity:   N messages at once with the limiters off (what this machine can do).

Each scenario first sends a few warm-up messages (not counted; the first one's latency is reported
as the cold start: model loading, new HTTP connections).

Prints JSON and writes bench/results/telegram_latency.json.

    python bench/telegram_latency.py [--n 500] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulators.telegram_api import TOKEN, TelegramEmulator
from webcare.app import App
from webcare.bot.channels.telegram import TelegramChannel
from webcare.bot.config import TelegramConfig
from webcare.bot.engine import DialogueEngine
from webcare.bot.outbox import OutboxDispatcher
from webcare.core.stats import percentile
from webcare.store import Store

TEXTS = [
    "Waar is mijn bestelling?", "Wat zijn jullie openingstijden?", "Hoe kan ik iets retourneren?",
    "Where is my order 40218833?", "What are your opening hours?", "Kan ik met iDEAL betalen?",
    "Mijn pakket is beschadigd aangekomen", "How much does delivery cost?", "Hallo!", "Bedankt voor de hulp",
]


WARMUP = 5  # messages (not counted) before each scenario: HTTP connections, first-use costs


def offer(tg: TelegramEmulator, users: range, rate: float | None) -> dict[int, int]:
    """Inject one message per user (at `rate`/s, or all at once); return chat id -> update id."""
    chats: dict[int, int] = {}
    begun = time.perf_counter()
    for i, user in enumerate(users):
        tg.message(user, TEXTS[i % len(TEXTS)], first_name=f"Klant{i}")
        chats[user] = tg.last_update_id
        if rate:
            time.sleep(max(0.0, begun + (i + 1) / rate - time.perf_counter()))
    return chats


def replies_to(tg: TelegramEmulator, chats: dict[int, int], timeout: float = 600) -> dict[int, float]:
    """Wait for the first sendMessage to each chat; return chat id -> when it arrived."""
    replies: dict[int, float] = {}
    seen = 0
    deadline = time.perf_counter() + timeout
    while len(replies) < len(chats) and time.perf_counter() < deadline:
        calls = tg.calls[seen:]
        seen += len(calls)
        for call in calls:
            chat = call.params.get("chat_id")
            if call.method == "sendMessage" and chat in chats and chat not in replies:
                replies[chat] = call.at
        time.sleep(0.05)
    return replies


def telegram_side(conn: Connection, n: int, rate: float | None, first_user: int) -> None:
    """The emulator in its own process (as Telegram is): offer the messages, time the replies, report."""
    with TelegramEmulator() as tg:
        conn.send(tg.url)
        conn.recv()  # the bot is running
        cold: list[float] = []
        for user in range(first_user - WARMUP, first_user):  # one at a time, so the first shows the cold start
            warmup = offer(tg, range(user, user + 1), None)
            cold.append((replies_to(tg, warmup, 120)[user] - tg.served[warmup[user]]) * 1000)
        begun = time.perf_counter()
        chats = offer(tg, range(first_user, first_user + n), rate)
        offered_s = time.perf_counter() - begun
        replies = replies_to(tg, chats)
        latencies = [(replies[chat] - tg.served[update]) * 1000 for chat, update in chats.items()
                     if chat in replies and update in tg.served]
        conn.send({
            "messages": n,
            "answered": len(replies),
            "offered_per_s": round(n / offered_s, 1) if rate else "all at once",
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "mean_ms": round(statistics.fmean(latencies), 1),
            "max_ms": round(max(latencies), 1),
            "throughput_per_s": round(len(replies) / (max(replies.values()) - begun), 1),
            "first_warmup_reply_ms": round(cold[0], 1),
            "requests": {method: sum(1 for c in tg.calls if c.method == method and c.params.get("chat_id") in chats)
                         for method in ("sendChatAction", "sendMessage")},
        })
        conn.recv()  # the bot has stopped: only now may the emulator go away


async def run(engine: DialogueEngine, n: int, rate: float | None, first_user: int, **config: Any) -> dict[str, Any]:
    """Run the bot against an emulator process offering `n` messages (at `rate`/s or all at once)."""
    conn, child_conn = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=telegram_side, args=(child_conn, n, rate, first_user), daemon=True)
    child.start()
    url = await asyncio.to_thread(conn.recv)
    settings = {"token": TOKEN, "base_url": f"{url}/bot", "base_file_url": f"{url}/file/bot", "poll_timeout": 10}
    channel = TelegramChannel(TelegramConfig(**(settings | config)), engine, engine.store)
    await channel.start()
    stop = asyncio.Event()
    sweeper = asyncio.create_task(OutboxDispatcher(engine.store, {"telegram": channel}).run(stop))
    conn.send("go")
    result = await asyncio.to_thread(conn.recv)
    stop.set()
    await sweeper
    await channel.stop()
    conn.send("stopped")
    child.join(10)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="messages per scenario")
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second offered in the latency run")
    args = parser.parse_args()
    app = App(ROOT / "config.yml")
    analyzer = app.analyzer(progress=lambda m: print(m, file=sys.stderr))
    results: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        engine = DialogueEngine(store, analyzer, app.responses, dialogue=app.settings.dialogue,
                                escalation=app.settings.escalation, languages=app.settings.nlu.languages,
                                default_language=app.settings.nlu.default_language)
        results["latency"] = asyncio.run(run(engine, args.n, args.rate, 10_000))
        results["burst"] = asyncio.run(run(engine, args.n, None, 20_000))
        results["capacity"] = asyncio.run(run(engine, args.n, None, 30_000, overall_rate=100_000))
        store.close()
    report = {
        "benchmark": "telegram_latency",
        "what": "update served by the Bot API emulator -> the bot's sendMessage arriving, real PTB 22, loopback",
        "nlu": "default (config.yml)",
        "typing_indicator": True,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                    "python": platform.python_version(), "platform": platform.platform()},
        **results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    out = ROOT / "bench" / "results" / "telegram_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
