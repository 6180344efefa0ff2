"""Console search on 100,000 messages: p50/p95 of typical searches and lists, SQLite FTS5 and PostgreSQL.

Seeds a temporary store (SQLite file; PostgreSQL through a private server when its binaries are there)
with customers, conversations and Dutch and English messages, then times what staff do all day: a word,
an order number, two words, a word with filters, a customer's name, the open list and a deep page.
Prints JSON and writes bench/results/console_search.json.

    python bench/console_search.py [--messages 100000] [--repeats 40] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import run_info, write_result
from webcare.store import Store
from webcare.store.search import Filters

DUTCH = ("mijn bestelling is nog niet bezorgd", "het pakket is kapot aangekomen", "ik wil mijn geld terug",
         "waar blijft de retour", "de bank heeft een scheur", "kan ik de levering verzetten",
         "de lamp doet het niet", "bedankt voor de snelle hulp", "ik heb een klacht over de bezorger",
         "wanneer komt de monteur", "factuur klopt niet", "de kast mist schroeven")
ENGLISH = ("my order has not arrived", "the parcel arrived broken", "I want a refund",
           "where is my return", "the sofa has a tear", "can I change the delivery date",
           "the lamp does not work", "thanks for the quick help", "I have a complaint about the courier",
           "when does the technician come", "the invoice is wrong", "the cupboard is missing screws")
NAMES = ("Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Smith", "Brown")
BATCH = 500


def seed(store: Store, messages: int, per_conversation: int = 10, seed_value: int = 17) -> dict[str, int]:
    """Customers (one per two conversations), conversations and messages, inserted in batches."""
    rng = random.Random(seed_value)
    conversations = messages // per_conversation
    customers = conversations // 2
    now = time.time()
    backend = store.backend

    def insert(table: str, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            marks = ", ".join("(" + ", ".join("?" for _ in columns) + ")" for _ in chunk)
            backend.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}",
                            [row[c] for row in chunk for c in columns])

    with store.transaction():
        insert("customers", [{"id": i, "display_name": f"{rng.choice('ABCDEFGHJKLMNPRSTVW')}. {rng.choice(NAMES)}",
                              "created_at": now - 86400 * 90} for i in range(1, customers + 1)])
        states = ("closed",) * 6 + ("bot", "waiting", "human")
        rows, texts = [], []
        for c in range(1, conversations + 1):
            language = "nl" if c % 3 else "en"
            started = now - 86400 * 90 + c * (86400 * 90 / conversations)
            rows.append({"id": c, "customer_id": (c - 1) % customers + 1, "channel": ("telegram", "webchat")[c % 2],
                         "chat_id": f"chat-{c}", "state": rng.choice(states), "language": language,
                         "created_at": started, "updated_at": started + 600})
            pool = DUTCH if language == "nl" else ENGLISH
            for m in range(per_conversation):
                text = rng.choice(pool)
                if rng.random() < 0.1:
                    text += f" (order {rng.randrange(10_000_000, 99_999_999)})"
                texts.append({"conversation_id": c, "direction": "in" if m % 2 == 0 else "out",
                              "author": "customer" if m % 2 == 0 else "bot", "text": text,
                              "analysis": json.dumps({"language": language}), "channel": rows[-1]["channel"],
                              "chat_id": rows[-1]["chat_id"], "created_at": started + m * 30})
        insert("conversations", rows)
        insert("messages", texts)
        if backend.dialect == "postgresql":
            for table in ("customers", "conversations"):
                backend.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    if backend.dialect == "postgresql":
        backend.execute("ANALYZE")
    return {"customers": customers, "conversations": conversations, "messages": len(texts)}


def searches(store: Store, order_number: str) -> dict[str, Callable[[], Any]]:
    """What staff search for, as the console's pages ask the store."""
    anyone = Filters(status="all")
    return {
        "common word (bestelling)": lambda: store.list_conversations(anyone, query="bestelling"),
        "order number": lambda: store.list_conversations(anyone, query=order_number),
        "two words (parcel broken)": lambda: store.list_conversations(anyone, query="parcel broken"),
        "word + status, channel, language": lambda: store.list_conversations(
            Filters(status="open", channel="telegram", language="nl"), query="retour"),
        "messages matching (refund)": lambda: store.search_messages("refund", anyone),
        "customer name (jansen)": lambda: store.search_customers("jansen"),
        "open list, page 1": lambda: store.list_conversations(Filters(status="open")),
        "all, page 40": lambda: store.list_conversations(anyone, offset=39 * 25),
    }


def measure(store: Store, repeats: int) -> dict[str, dict[str, float]]:
    row = store._one("SELECT text FROM messages WHERE text LIKE '%(order %' LIMIT 1")
    order_number = row["text"].rsplit(" ", 1)[-1].strip(")") if row else "12345678"
    results = {}
    for name, run in searches(store, order_number).items():
        found = len(run())  # warm once
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        results[name] = {"p50_ms": round(statistics.median(times), 2),
                         "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 2), "results": found}
    return results


def run_backend(kind: str, messages: int, repeats: int) -> dict[str, Any]:
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="webcare-search-")
        store = Store.open(f"sqlite:///{folder}/search.db")
        server = None
    else:
        from emulators.postgres_server import start_private_server

        server = start_private_server()
        store = Store.open(server.url)
    try:
        start = time.perf_counter()
        seeded = seed(store, messages)
        seconds = time.perf_counter() - start
        return {"seeded": seeded, "seed_seconds": round(seconds, 1), "searches": measure(store, repeats)}
    finally:
        store.close()
        if server is not None:
            server.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    started = run_info()
    backends = {}
    for kind in args.backends.split(","):
        try:
            backends[kind] = run_backend(kind, args.messages, args.repeats)
        except Exception as e:  # noqa: BLE001 - a backend that cannot run here is reported, not fatal
            backends[kind] = {"skipped": " ".join(str(e).split())[:200]}
    numbers = {"messages": args.messages, "repeats": args.repeats, "target_ms": 100, "backends": backends}
    write_result("console_search", numbers, started)
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
