"""How long `webcare` commands take to start: median of 5 runs each, this checkout against another;
and how long `webcare run --only console` takes until it serves (/healthz answers) when models exist.

The other checkout (default: the repository's main worktree) gives the "before" column; runs alternate
between the two so that both see the same load. Writes bench/results/startup.json.

    python bench/startup.py [--before /work/main] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import run_info, write_result

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ("--version",),
    ("--help",),
    ("tickets", "list"),
    ("users", "list"),
    ("customers", "find", "telegram", "1"),
)


def timed(root: Path, config: Path, command: tuple[str, ...]) -> float:
    """Seconds from starting `python -m webcare` with `root` first on the path to its exit."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "webcare", "-c", str(config), *command], cwd=config.parent, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)
    return time.perf_counter() - started


def until_served(root: Path, folder: Path) -> float:
    """Seconds from starting `webcare run --only console` to its /healthz answering (its models exist)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = folder / f"run-{root.name}.yml"  # models trained into the temporary folder: no checkout is touched
    config.write_text(f"store:\n  url: sqlite:///{folder / 'run.db'}\nconsole:\n  port: {port}\n"
                      f"nlu:\n  data_dir: {root / 'responses'}\n  model_dir: {folder / ('models-' + root.name)}\n")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "webcare", "-c", str(config), "run", "--only", "console"],
                               cwd=folder, env={**os.environ, "PYTHONPATH": str(root)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return time.perf_counter() - started
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"webcare run of {root} exited with {process.returncode}") from None
                time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def main_worktree() -> Path:
    """The repository's main worktree (where `git worktree add` was run), e.g. a checkout of main."""
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.strip()
    return Path(common).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=main_worktree(), help="checkout for the 'before' column")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = run_info()
    roots = {"after": ROOT, **({"before": args.before} if (args.before / "webcare").is_dir() else {})}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(f"store:\n  url: sqlite:///{Path(tmp) / 'webcare.db'}\n")
        for root in roots.values():  # a first run of each migrates the store and warms the file cache
            timed(root, config, ("tickets", "list"))
        for command in COMMANDS:
            seconds: dict[str, list[float]] = {name: [] for name in roots}
            for _ in range(args.runs):
                for name, root in roots.items():
                    seconds[name].append(timed(root, config, command))
            results.append({"command": "webcare " + " ".join(command),
                            **{f"{name}_s": round(statistics.median(s), 3) for name, s in seconds.items()}})
            print(results[-1])
        for root in roots.values():  # trains the models when they are missing or stale: not timed
            until_served(root, Path(tmp))
        served: dict[str, list[float]] = {name: [] for name in roots}
        for _ in range(args.runs):
            for name, root in roots.items():
                served[name].append(until_served(root, Path(tmp)))
        serving = {"command": "webcare run --only console (until /healthz answers)", "target_s": 2.0,
                   **{f"{name}_s": round(statistics.median(s), 3) for name, s in served.items()}}
        print(serving)
    write_result("startup", {"runs_per_command": args.runs, "statistic": "median", "target_s": 0.3,
                             "before": str(roots.get("before", "")), "results": results,
                             "serving": serving}, started)


if __name__ == "__main__":
    main()
