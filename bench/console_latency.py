"""Console and web chat latency under concurrency: p50/p95/p99 per page and API, and requests/s.

A uvicorn server (one process, as `webcare run` serves it) over a seeded SQLite file store; an httpx
client in this process fires each request kind at several concurrency levels. The web chat posts go
through the real dialogue engine with a keyword analyzer (pass --real-nlu for the trained NLU).
Prints JSON and writes bench/results/console_latency.json.

    python bench/console_latency.py [--requests 200] [--concurrency 1,8,32] [--conversations 200]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import platform
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import run_info, write_result

ROOT = Path(__file__).resolve().parent.parent


def seed(url: str, conversations: int, mentions: int) -> None:
    """Escalated conversations with transcripts, mentions and a week of history."""
    from emulators.console_kit import add_user
    from webcare.store import Store

    store = Store.open(url)
    add_user(store, "agent", "admin")
    now = time.time()
    for i in range(conversations):
        clock = now - (i % 7) * 86400 - i * 60
        past = Store(store.backend, clock=lambda c=clock: c)
        customer = past.identify("webchat" if i % 2 else "telegram", f"cust-{i}", f"Customer {i}")
        conversation = past.open_conversation(customer["id"], "webchat" if i % 2 else "telegram", f"cust-{i}")
        for n in range(8):
            mid = past.record_incoming(conversation["id"], f"message {n} about order {10000000 + i}")
            past.set_analysis(mid, {"intent": "order_status", "confidence": 0.8, "sentiment": "negative",
                                    "sentiment_score": -0.5, "complaint": n % 2 == 0, "entities": []})
            past.queue_outgoing(conversation["id"], f"reply {n}")
        past.escalate(conversation["id"], "complaint", ("normal", "high", "urgent")[i % 3], f"summary {i}",
                      sla_due_at=clock + 3600)
    store.ingest_mentions(
        {"source": "x", "external_id": f"m{i}", "author": f"a{i % 50}", "text": f"mention {i} <b>x</b>",
         "sentiment": ("negative", "neutral", "positive")[i % 3], "complaint": i % 2, "flagged": int(i % 4 == 0),
         "priority": (i % 10) / 10, "author_reach": i}
        for i in range(mentions)
    )
    store.close()


def serve(url: str, port: int, real_nlu: bool) -> None:
    """The server process."""
    from emulators.console_kit import KeywordAnalyzer, settings, write_content
    from webcare.bot.engine import DialogueEngine
    from webcare.bot.responses import Responses
    from webcare.console import create_app
    from webcare.console.config import ConsoleConfig
    from webcare.console.server import build_server
    from webcare.store import Store

    store = Store.open(url)
    if real_nlu:
        from webcare.config import Settings
        from webcare.nlu import Analyzer

        analyzer, content = Analyzer.load_or_train(Settings().nlu), ROOT / "responses"
    else:
        analyzer, content = KeywordAnalyzer(), write_content(Path(tempfile.mkdtemp()))
    engine = DialogueEngine(store, analyzer, Responses.load(content))
    app = create_app(store, settings(login_attempts=1000), engine)
    build_server(app, ConsoleConfig(port=port)).run()


@functools.cache
def chat_sessions() -> Any:
    """Web chat sessions signed with the server's key (settings()), so each post is a new customer's."""
    from emulators.console_kit import settings
    from webcare.bot.channels.webchat import ChatSessions

    return ChatSessions(settings().console.secret_key.get_secret_value())


async def measure(client: httpx.AsyncClient, method: str, path: str, count: int, concurrency: int,
                  body: Any = None) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            i = queue.get_nowait()
            start = time.perf_counter()
            if body is None:
                response = await client.request(method, path)
            else:  # every post is a new customer's first message: identify, analyse, answer, store
                cookie = {"Cookie": f"webcare_chat={chat_sessions().issue()}"}
                response = await client.request(method, path, json={"text": body.format(i=i)}, headers=cookie)
            latencies.append(time.perf_counter() - start)
            errors += response.status_code >= 400

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50_ms": round(1000 * statistics.median(ordered), 2), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "requests_per_s": round(count / wall, 1), "errors": errors}


async def run(base: str, requests: int, levels: list[int], conversation_id: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=max(levels) + 4)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as staff, \
            httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as customer, \
            httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as poster:
        token = re.search(r'name="csrf" value="([^"]+)"', (await staff.get("/login")).text).group(1)  # type: ignore[union-attr]
        from emulators.console_kit import PASSWORD

        signed = await staff.post("/login", data={"username": "agent", "password": PASSWORD, "csrf": token},
                                  follow_redirects=True)
        assert signed.status_code == 200 and "Inbox" in signed.text, "sign-in failed"
        await customer.get("/chat")
        kinds = [
            ("inbox page", staff, "GET", "/inbox", None),
            ("inbox live rows", staff, "GET", "/inbox/rows", None),
            ("conversation page", staff, "GET", f"/conversations/{conversation_id}", None),
            ("mention queue", staff, "GET", "/mentions", None),
            ("dashboard 7d", staff, "GET", "/dashboard?period=7d", None),
            ("healthz", staff, "GET", "/healthz", None),
            ("webchat post (bot turn)", poster, "POST", "/chat/api/messages", "hello, where is order {i}?"),
            ("webchat poll", customer, "GET", "/chat/api/messages?after=0", None),
        ]
        results: dict[str, Any] = {}
        for name, client, method, path, body in kinds:
            requests_here = max(20, requests // 4) if name.startswith("dashboard") else requests
            results[name] = {str(c): await measure(client, method, path, requests_here, c, body) for c in levels}
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per kind and concurrency level")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--mentions", type=int, default=2000)
    parser.add_argument("--real-nlu", action="store_true")
    args = parser.parse_args()
    started = run_info()
    levels = [int(c) for c in args.concurrency.split(",")]
    folder = tempfile.mkdtemp(prefix="console-bench-")
    url = f"sqlite:///{folder}/webcare.db"
    seed(url, args.conversations, args.mentions)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(url, port, args.real_nlu), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    try:
        results = asyncio.run(run(base, args.requests, levels, conversation_id=1))
    finally:
        server.terminate()
        server.join(10)
    report = {
        "benchmark": "console_latency",
        "store": "sqlite file (WAL)",
        "server": "uvicorn, one process",
        "nlu": "trained nlu.Analyzer" if args.real_nlu else "keyword analyzer (web and store cost only)",
        "seeded": {"escalated_conversations": args.conversations, "messages": args.conversations * 16,
                   "mentions": args.mentions},
        "requests_per_kind": args.requests,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m": os.getloadavg()[0]},
        "results": results,
    }
    write_result("console_latency", report, started)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
