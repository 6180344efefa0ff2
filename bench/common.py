"""What every benchmark records with its numbers: when, on what machine, under what load.

Each run writes its own file under bench/results/ (nothing is merged into an older run's JSON);
bench/report.py turns those files into BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def run_info() -> dict[str, Any]:
    """The date, machine and current load, to be stored with a run's numbers."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def write_result(name: str, numbers: dict[str, Any], started: dict[str, Any]) -> Path:
    """Write one run's numbers to bench/results/NAME.json, replacing any earlier run.

    `started` is run_info() taken before the run; the load after the run is added to it.
    """
    info = {**started, "load_avg_1m": [started["load_avg_1m"], round(os.getloadavg()[0], 2)]}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"run": info, **numbers}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
