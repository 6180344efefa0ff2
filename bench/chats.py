"""Chats end to end: many customers in the web chat, served by 1, 2 or 4 `webcare run --only console`
processes that share one store (SQLite file, or PostgreSQL), with the real NLU and dialogue engine.

Every chat has two turns ("Waar is mijn bestelling?" → asks for the number → "12345678" → the
status), and its two messages go to *different* processes (round robin, no sticky sessions), so
the second turn only works when the conversation state is shared through the store. A turn's
latency is from posting the message to the bot's reply being readable from the chat API (long poll).
`--concurrency` chats are in flight at once. Prints JSON; `bench/scale.py --chats N` runs it too.

    python bench/chats.py [--chats 5000] [--processes 1,2,4] [--concurrency 50] [--postgres URL] [--out chats]

Before/after: run it with another checkout's interpreter (its `webcare` serves the chats), e.g.
`cd /work/main && .venv/bin/python /path/to/bench/chats.py --out chats_before`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webcare.bot.channels.webchat import ChatSessions
from webcare.core.stats import percentile
from webcare.nlu import Analyzer, NLUConfig

MODELS = ROOT / ".webcare" / "bench-models"
SECRET_KEY = "bench-only-secret-key-0123456789"  # every console process signs web chat sessions with it
UNLIMITED = {f"chat_{kind}_limit": "1000000/minute" for kind in ("session", "message", "escalation")}  # one address
TURNS = [("Waar is mijn bestelling?", "Where is my order?"), ("12345678", "12345678")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_consoles(url: str, processes: int, folder: Path) -> tuple[list[subprocess.Popen], list[str]]:
    """`webcare run --only console` × processes on one store; returns them and their base URLs."""
    procs, bases = [], []
    for n in range(processes):
        port = free_port()
        config = folder / f"console-{n}.yml"
        config.write_text(yaml.safe_dump({
            "store": {"url": url},
            "nlu": {"data_dir": str(ROOT / "responses"), "model_dir": str(MODELS)},
            "console": {"port": port, "secret_key": SECRET_KEY, **UNLIMITED},
            "dialogue": {"flood_messages": 1000},
        }))
        log = open(folder / f"console-{n}.log", "w")  # noqa: SIM115 - lives as long as the process
        procs.append(subprocess.Popen([sys.executable, "-m", "webcare", "-c", str(config), "run", "--only", "console"],
                                      cwd=folder, stdout=log, stderr=subprocess.STDOUT))
        bases.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 180
    for base in bases:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"console at {base} did not start: see {folder}")
            time.sleep(0.2)
    return procs, bases


async def call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, sent again when the connection drops (as the chat page does; posts carry an id,
    so a resent message is handled once)."""
    attempt = 1
    while True:
        try:
            response = await client.request(method, url, **kwargs)
            response.raise_for_status()
            return response
        except httpx.TransportError:
            if attempt == 5:
                raise
            await asyncio.sleep(0.2 * attempt)
            attempt += 1


async def one_chat(client: httpx.AsyncClient, bases: list[str], n: int, latencies: list[float]) -> bool:
    """Two turns of one customer, each on the next process; True when both were answered."""
    cookies = {"webcare_chat": ChatSessions(SECRET_KEY).issue()}  # as the servers would issue it
    language = n % 2
    seen = 0
    for turn, texts in enumerate(TURNS):
        base = bases[(n + turn) % len(bases)]
        began = time.perf_counter()
        await call(client, "POST", f"{base}/chat/api/messages", cookies=cookies,
                   json={"text": texts[language], "id": f"{n}-{turn}"})
        while True:
            got = await call(client, "GET", f"{base}/chat/api/messages", params={"after": seen, "wait": 10},
                             cookies=cookies)
            messages = got.json()["messages"]
            if messages:
                seen = messages[-1]["id"]
            if any(m["from"] == "bot" for m in messages):
                break
            if time.perf_counter() - began > 60:
                return False
        latencies.append(time.perf_counter() - began)
        if turn == 1 and "12345678" not in " ".join(m["text"] for m in messages):
            return False  # the second process did not know the first turn
    return True


async def drive(bases: list[str], chats: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=90, limits=limits) as client:

        async def run(n: int) -> bool:
            async with gate:
                return await one_chat(client, bases, n, latencies)

        began = time.perf_counter()
        answered = await asyncio.gather(*(run(n) for n in range(chats)))
        elapsed = time.perf_counter() - began
    return {"slowest_ms": round(max(latencies) * 1000, 1), "chats": chats, "complete": sum(answered), "turns": len(latencies),
            "turns_per_s": round(len(latencies) / elapsed, 1), "seconds": round(elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p95_ms": round(percentile(latencies, 95) * 1000, 1)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run_chats(url: str, processes: int, chats: int, concurrency: int) -> dict[str, Any]:
    """One run: start the consoles on `url`, drive the chats, stop them; the result with peak RSS."""
    Analyzer.load_or_train(NLUConfig(data_dir=str(ROOT / "responses"), model_dir=str(MODELS)))
    folder = Path(tempfile.mkdtemp(prefix="webcare-chats-"))
    procs, bases = start_consoles(url, processes, folder)
    try:
        asyncio.run(drive(bases, len(bases), 1))  # warm up: the first turn of a process loads lazily
        result = asyncio.run(drive(bases, chats, concurrency))
        result["rss_mb_per_process"] = max(rss_mb(p.pid) for p in procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    if result["complete"] != chats:
        raise AssertionError(f"only {result['complete']} of {chats} chats got both answers: see {folder}")
    return result


def main() -> None:
    from bench.scale import Databases, postgres_reason

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=5000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--out", default="chats", help="write bench/results/OUT.json (chats_before: another checkout)")
    parser.add_argument("--postgres", default=os.environ.get("WEBCARE_TEST_POSTGRES",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    skipped = postgres_reason(args.postgres)
    databases = Databases(None if skipped else args.postgres)
    results = []
    try:
        runs = [("sqlite", 1)] + ([] if skipped else [("postgresql", int(p)) for p in args.processes.split(",")])
        for dialect, processes in runs:
            result = run_chats(databases.fresh(dialect), processes, args.chats, args.concurrency)
            results.append({"dialect": dialect, "processes": processes, **result})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        databases.drop()
    report = {"machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}, "code": str(Path.cwd()),
              "postgresql_skipped": skipped, "concurrency": args.concurrency, "results": results}
    print(json.dumps(report, indent=2))
    out = Path(__file__).parent / "results" / f"{args.out}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
