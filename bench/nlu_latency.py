"""Latency of one `Analyzer.analyze` call (p50/p95/p99, ms), batched throughput (texts/s), training
time and memory on the shipped content. Prints JSON and writes bench/results/nlu_latency.json.
The machine is shared: the load average before and after the run is recorded with the numbers."""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

from common import run_info, write_result

from webcare.core.stats import percentile
from webcare.nlu import Analyzer, NLUConfig
from webcare.nlu.data import load_affect, load_nlu


def main() -> dict:
    load_before = os.getloadavg()[0]
    config = NLUConfig(model_dir=".webcare/bench-models")
    started = time.perf_counter()
    analyzer = Analyzer.load_or_train(config)
    load_seconds = time.perf_counter() - started
    texts = [e.text for e in load_nlu(Path(config.data_dir), config.languages).examples]
    texts += [r["text"] for r in load_affect(Path(config.data_dir), config.languages, "test")]
    texts = list(dict.fromkeys(texts))
    for t in texts[1::3][:20]:
        analyzer.analyze(t)  # warm up (loads the encoder) on texts that are not timed
    sample = texts[::3][:600]
    timings = []
    for t in sample:
        t0 = time.perf_counter()
        analyzer.analyze(t, {"language": "nl"})
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    started = time.perf_counter()
    for i in range(0, len(texts), 256):
        analyzer.analyze_many(texts[i : i + 256])
    throughput = len(texts) / (time.perf_counter() - started)
    return {
        "n_single": len(sample), "p50_ms": round(percentile(timings, 50), 2), "p95_ms": round(percentile(timings, 95), 2),
        "p99_ms": round(percentile(timings, 99), 2),
        "batched_texts_per_second": round(throughput, 1), "n_batched": len(texts),
        "load_or_train_seconds": round(load_seconds, 2), "train_seconds": analyzer.meta["train_seconds"],
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "encoder": analyzer.meta["encoder"], "threads": config.threads,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    started = run_info()
    out = main()
    write_result("nlu_latency", out, started)
    print(json.dumps(out, indent=2))
