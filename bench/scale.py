"""Scale: what the shared store does with several worker processes, SQLite file vs PostgreSQL.

- turns:  the store's part of a chat turn (identify, open conversation, store the message with its
          analysis, queue the reply), each process for its own customers.
- outbox: processes draining a queue of replies the way the outbox dispatcher does (claim 50, renew
          each claim, mark it sent).
- mentions: processes ingesting social mentions in batches of 500 (each process its own source,
          every 10th mention a duplicate that must be dropped): the listeners' write path.
- chats:  5,000 two-turn web chats end to end (HTTP, real NLU and dialogue engine) through 1, 2 or 4
          `webcare run --only console` processes, each turn on the next process (bench/chats.py).
- copy:   `webcare store copy` of the resulting SQLite store into PostgreSQL.

Prints JSON, then a Markdown table for BENCHMARKS.md. PostgreSQL runs are skipped (with the reason)
when no server is reachable.

    python bench/scale.py [--postgres URL] [--workers 1,2,4] [--turns 3000] [--messages 3000] [--mentions 100000]
                          [--chats 5000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chats import run_chats
from bench.common import run_info, write_result
from webcare.core.stats import percentile
from webcare.store import Store
from webcare.store.copy import copy_store

ANALYSIS = {"language": "nl", "intent": "order_status", "confidence": 0.93, "sentiment_score": -0.2,
            "entities": {"order_number": "40218833"}}


def turn_worker(url: str, worker: int, turns: int, start: Any) -> dict[str, Any]:
    store = Store.open(url)
    start.wait()
    latencies = []
    began = time.perf_counter()
    for n in range(turns):
        t = time.perf_counter()
        user = f"{worker}-{n % 50}"  # 50 returning customers per process
        customer = store.identify("telegram", user, f"Customer {user}")
        conversation = store.open_conversation(customer["id"], "telegram", user)
        store.record_incoming(conversation["id"], "waar blijft mijn pakket 40218833?",
                              platform_message_id=f"{worker}-{n}", analysis=ANALYSIS)
        store.queue_outgoing(conversation["id"], "Je pakket is onderweg en komt morgen.")
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - began
    store.close()
    return {"elapsed": elapsed, "latencies": latencies}


def outbox_worker(url: str, worker: int, _: int, start: Any) -> dict[str, Any]:
    store = Store.open(url)
    start.wait()
    sent = 0
    began = time.perf_counter()
    while rows := store.claim_outbox("telegram", f"w{worker}", limit=50, lease_seconds=60):
        for row in rows:
            if store.renew_claim(row["id"], f"w{worker}", 60):
                store.mark_sent(row["id"], f"tg-{row['id']}")
                sent += 1
    elapsed = time.perf_counter() - began
    store.close()
    return {"elapsed": elapsed, "sent": sent}


def mention_worker(url: str, worker: int, mentions: int, start: Any) -> dict[str, Any]:
    store = Store.open(url)
    start.wait()
    latencies, stored = [], 0
    began = time.perf_counter()
    for first in range(0, mentions, 500):
        batch = [{"source": f"x{worker}", "external_id": str(n - n % 10 if n % 10 == 9 else n),
                  "author": f"user{n % 997}", "text": f"@huisraad mijn pakket {n} is nog niet bezorgd",
                  "language": "nl", "sentiment": "negative", "complaint": 1, "flagged": 1}
                 for n in range(first, min(first + 500, mentions))]
        t = time.perf_counter()
        stored += len(store.ingest_mentions(batch, cursor=(f"x{worker}", str(first))))
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - began
    store.close()
    return {"elapsed": elapsed, "latencies": latencies, "stored": stored,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_processes(target: Any, url: str, workers: int, each: int) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(workers) as pool:
        start = manager.Barrier(workers)
        return pool.starmap(target, [(url, w, each, start) for w in range(workers)])


def queue_replies(url: str, messages: int, chats: int = 200) -> None:
    store = Store.open(url)
    with store.transaction():
        conversations = []
        for c in range(chats):
            customer = store.identify("telegram", f"chat-{c}")
            conversations.append(store.open_conversation(customer["id"], "telegram", f"chat-{c}"))
        for n in range(messages):
            store.queue_outgoing(conversations[n % chats]["id"], f"reply {n}")
    store.close()


class Databases:
    """Fresh, empty stores: SQLite files in a temporary folder, PostgreSQL schemas dropped at the end."""

    def __init__(self, postgres: str | None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="webcare-scale-"))
        self.postgres = postgres
        self.schemas: list[str] = []

    def fresh(self, dialect: str) -> str:
        name = f"scale_{uuid.uuid4().hex[:10]}"
        if dialect == "sqlite":
            return f"sqlite:///{self.folder / name}.db"
        self.schemas.append(name)
        return f"{self.postgres}?options=-csearch_path%3D{name}"

    def drop(self) -> None:
        for file in self.folder.glob("*"):
            file.unlink()
        self.folder.rmdir()
        if self.schemas:
            import psycopg

            with psycopg.connect(self.postgres, autocommit=True) as conn:
                for schema in self.schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_reason(url: str) -> str | None:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=2).close()
    except Exception as e:  # noqa: BLE001 - any failure means: skip PostgreSQL
        return " ".join(str(e).split())
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("WEBCARE_TEST_POSTGRES",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--workers", default="1,2,4", help="process counts to try")
    parser.add_argument("--turns", type=int, default=3000, help="chat turns per run, over all processes")
    parser.add_argument("--messages", type=int, default=3000, help="replies in the outbox per run")
    parser.add_argument("--mentions", type=int, default=100_000, help="mentions ingested per run")
    parser.add_argument("--chats", type=int, default=5000, help="web chats end to end per run (0: skip)")
    parser.add_argument("--concurrency", type=int, default=50, help="chats in flight at once")
    args = parser.parse_args()
    started = run_info()
    counts = [int(w) for w in args.workers.split(",")]
    skipped = postgres_reason(args.postgres)
    dialects = ["sqlite"] + ([] if skipped else ["postgresql"])
    databases = Databases(None if skipped else args.postgres)
    results: list[dict[str, Any]] = []
    try:
        last_sqlite = None
        for dialect in dialects:
            for workers in counts:
                url = databases.fresh(dialect)
                Store.open(url).close()
                runs = run_processes(turn_worker, url, workers, args.turns // workers)
                latencies = [x for r in runs for x in r["latencies"]]
                results.append({
                    "scenario": "turns", "dialect": dialect, "workers": workers, "ops": len(latencies),
                    "per_second": round(len(latencies) / max(r["elapsed"] for r in runs), 1),
                    "p50_ms": round(percentile(latencies, 50) * 1000, 2),
                    "p95_ms": round(percentile(latencies, 95) * 1000, 2),
                })
                if dialect == "sqlite":
                    last_sqlite = url
                url = databases.fresh(dialect)
                queue_replies(url, args.messages)
                runs = run_processes(outbox_worker, url, workers, 0)
                sent = sum(r["sent"] for r in runs)
                assert sent == args.messages, f"{sent} of {args.messages} sent"
                results.append({
                    "scenario": "outbox", "dialect": dialect, "workers": workers, "ops": sent,
                    "per_second": round(sent / max(r["elapsed"] for r in runs), 1),
                })
                url = databases.fresh(dialect)
                Store.open(url).close()
                runs = run_processes(mention_worker, url, workers, args.mentions // workers)
                stored = sum(r["stored"] for r in runs)
                unique = workers * len({n - n % 10 if n % 10 == 9 else n for n in range(args.mentions // workers)})
                assert stored == unique, f"{stored} mentions stored, {unique} expected"
                batches = [x for r in runs for x in r["latencies"]]
                results.append({
                    "scenario": "mentions", "dialect": dialect, "workers": workers, "ops": workers * (args.mentions // workers),
                    "per_second": round(workers * (args.mentions // workers) / max(r["elapsed"] for r in runs), 1),
                    "p50_ms": round(percentile(batches, 50) * 1000, 2),
                    "p95_ms": round(percentile(batches, 95) * 1000, 2),
                    "rss_mb": round(max(r["rss_mb"] for r in runs), 1),
                })
                print(json.dumps(results[-3:]), file=sys.stderr)
                if args.chats and (dialect == "postgresql" or workers == 1):
                    chats = run_chats(databases.fresh(dialect), workers, args.chats, args.concurrency)
                    results.append({"scenario": "chats", "dialect": dialect, "workers": workers,
                                    "ops": chats["turns"], "per_second": chats["turns_per_s"],
                                    "p50_ms": chats["p50_ms"], "p95_ms": chats["p95_ms"],
                                    "rss_mb": chats["rss_mb_per_process"]})
                    print(json.dumps(results[-1]), file=sys.stderr)
        if not skipped and last_sqlite:
            source, target = Store.open(last_sqlite), Store.open(databases.fresh("postgresql"))
            began = time.perf_counter()
            copied = sum(copy_store(source, target).values())
            seconds = time.perf_counter() - began
            results.append({"scenario": "copy sqlite→postgresql", "dialect": "both", "workers": 1,
                            "ops": copied, "per_second": round(copied / seconds, 1)})
            source.close()
            target.close()
    finally:
        databases.drop()
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "postgresql_skipped": skipped, "results": results}
    print(json.dumps(report, indent=2))
    write_result("scale", report, started)
    print("\n| scenario | store | processes | operations | per second | p50 ms | p95 ms | RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['scenario']} | {r['dialect']} | {r['workers']} | {r['ops']} | {r['per_second']} "
              f"| {r.get('p50_ms', '')} | {r.get('p95_ms', '')} | {r.get('rss_mb', '')} |")


if __name__ == "__main__":
    main()
