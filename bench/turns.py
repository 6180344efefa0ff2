"""Dialogue turns per second with 1, 2, 4 and 8 chats at once in one process, on SQLite and PostgreSQL.

Each chat is a thread calling `DialogueEngine.handle` directly (no HTTP), alternating an opening-hours
question and a greeting. Two analyzers: `synthetic` spends a fixed 50 ms per message without holding the
GIL (as a model server or a native encoder does), so the numbers show what the store's write lock
allows; `real` is the trained NLU on the shipped content. The same worker runs on this checkout ("after")
and on another one given with `--before` (e.g. the main branch), in one run, alternating per store.
PostgreSQL is a private server started for the run (emulators/postgres_server.py). Prints JSON and
writes bench/results/turns.json.

    python bench/turns.py [--before /work/main] [--turns 40] [--concurrency 1,2,4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / ".webcare" / "test-models"
TEXTS = ("When are you open?", "Hello there")
SYNTHETIC_SECONDS = 0.05


def worker(url: str, analysis: str, concurrency: list[int], turns: int, models: Path) -> dict[str, Any]:
    """Runs in the checkout under test (its PYTHONPATH): turns/s for each number of concurrent chats."""
    from webcare.bot.engine import DialogueEngine
    from webcare.bot.responses import Responses
    from webcare.core.messages import IncomingMessage
    from webcare.store import Store

    checkout = Path(os.environ["PYTHONPATH"].split(os.pathsep)[0])
    store = Store.open(url)
    engine = DialogueEngine(store, _analyzer(analysis, checkout, models), Responses.load(checkout / "responses"))
    engine.dialogue.flood_messages = 10_000
    engine.handle(IncomingMessage("terminal", "warm-up", "warm-up", TEXTS[0]))
    results = []
    for n in concurrency:
        def chat(user: str) -> None:
            for i in range(turns):
                engine.handle(IncomingMessage("terminal", user, user, TEXTS[i % 2]))

        threads = [threading.Thread(target=chat, args=(f"c{n}-{k}",)) for k in range(n)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        results.append({"chats": n, "turns": n * turns, "seconds": round(elapsed, 3),
                        "turns_per_s": round(n * turns / elapsed, 2)})
    store.close()
    return {"analysis": analysis, "results": results}


def _analyzer(kind: str, checkout: Path, models: Path) -> Any:
    from webcare.nlu.types import Analysis

    if kind == "real":
        from webcare.nlu import Analyzer, NLUConfig

        return Analyzer.load_or_train(NLUConfig(data_dir=str(checkout / "responses"), model_dir=str(models)))

    class Synthetic:
        def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
            time.sleep(SYNTHETIC_SECONDS)
            intent = "opening_hours" if "open" in text else "greet"
            return Analysis(text=text, language="en", intent=intent, confidence=0.99,
                            ranking=[(intent, 0.99)], sentiment="neutral")

    return Synthetic()


def run_worker(checkout: Path, url: str, analysis: str, concurrency: list[int], turns: int) -> dict[str, Any]:
    venv = checkout / ".venv" / "bin" / "python"  # its own install: `webcare.bot` maps to its folders
    command = [str(venv if venv.exists() else sys.executable), __file__, "--worker", "--url", url, "--analysis", analysis, "--turns", str(turns),
               "--concurrency", ",".join(map(str, concurrency)), "--models", str(MODELS)]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout to run the same worker on (e.g. /work/main)")
    parser.add_argument("--turns", type=int, default=40, help="turns per chat")
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--analysis", default="synthetic,real")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--models", type=Path, default=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    concurrency = [int(c) for c in args.concurrency.split(",")]
    if args.worker:
        print(json.dumps(worker(args.url, args.analysis, concurrency, args.turns, args.models)))
        return
    sys.path.insert(0, str(ROOT))
    from bench.common import run_info, write_result
    from emulators.postgres_server import start_private_server

    started = run_info()
    server = start_private_server()
    runs = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for analysis in args.analysis.split(","):
                for dialect in ("sqlite", "postgres"):
                    for label, checkout in (("before", args.before), ("after", ROOT)):
                        if checkout is None:
                            continue
                        url = f"sqlite:///{folder}/{label}-{analysis}.db" if dialect == "sqlite" else \
                            f"{server.url}?options=-csearch_path%3D{label}_{analysis}"
                        result = run_worker(checkout.resolve(), url, analysis, concurrency, args.turns)
                        runs.append({"code": label, "dialect": dialect, **result})
                        print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        server.destroy()
    numbers = {"turns_per_chat": args.turns, "synthetic_analysis_ms": SYNTHETIC_SECONDS * 1000, "runs": runs}
    write_result("turns", numbers, started)
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
