"""Affect benchmarks with the shipped heads (trained only on responses/affect train split):
TweetEval sentiment (test), Dutch bol.com reviews (test), Dutch political tweets (test), and our own
test split for sentiment, complaint and urgency; plus batched throughput. Prints JSON and writes
bench/results/nlu_affect.json. With --sentiment-model the sentiment sets are scored again with that model
joined to the head (as nlu.sentiment_model_weight / _languages configure it) and added to the JSON.
The public sets are only read for evaluation, never trained on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from nlu import Analyzer, NLUConfig
from nlu.data import AFFECT_FIELDS, load_affect
from nlu.datasets import SENTIMENT_SETS, data_dir
from nlu.evaluate import evaluate_affect

KEYS = ("accuracy", "macro_f1", "macro_recall", "n_test", "texts_per_second")
TARGETS = {"sentiment/tweeteval": "macro_recall >= 0.66", "sentiment/bol": "accuracy >= 0.88",
           "sentiment/political": "macro_f1 reported", "analyze_many_texts_per_second": ">= 300"}


def main(sentiment_model: str | None = None, weight: float = 1.0, languages: list[str] | None = None) -> dict:
    config = NLUConfig(model_dir=".webcare/bench-models")
    if sentiment_model:
        config = config.model_copy(update={"sentiment_model": sentiment_model, "sentiment_model_weight": weight,
                                           "sentiment_model_languages": languages or []})
    analyzer = Analyzer.load_or_train(config)
    root = data_dir()
    results: dict = {}
    suffix = f" [{Path(sentiment_model).name}, weight {weight}, {'+'.join(languages or []) or 'all'}]" if sentiment_model else ""
    for name, read in SENTIMENT_SETS.items():
        report = evaluate_affect("sentiment", read(root), analyzer.features, analyzer.affect,
                                 sentiment_model=analyzer.sentiment_model)
        results[f"sentiment/{name}{suffix}"] = {k: report[k] for k in KEYS} | {"per_class": report["per_class"]}
    if sentiment_model:  # the heads' own numbers are unchanged by a sentiment model
        results[f"load_average_1min{suffix}"] = round(os.getloadavg()[0], 2)
        return results
    ours = load_affect(Path(config.data_dir), config.languages, "test")
    for head in AFFECT_FIELDS:
        for lang in [*config.languages, None]:
            rows = [{"text": r["text"], "label": r[head]} for r in ours if lang in (None, r.get("lang"))]
            report = evaluate_affect(head, rows, analyzer.features, analyzer.affect)
            results[f"{head}/ours-{lang or 'all'}"] = {k: report[k] for k in KEYS}
    texts = [r["text"] for r in SENTIMENT_SETS["tweeteval"](root)[:2000]]
    rates = []
    for _ in range(3):  # the machine is shared: the median of three runs
        started = time.perf_counter()
        for i in range(0, len(texts), 256):
            analyzer.analyze_many(texts[i : i + 256])
        rates.append(len(texts) / (time.perf_counter() - started))
    results["analyze_many_texts_per_second"] = round(statistics.median(rates), 1)
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    results["targets"] = TARGETS
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment-model", help="also score with this nlu.sentiment_model (name or folder)")
    parser.add_argument("--weight", type=float, default=1.0, help="nlu.sentiment_model_weight")
    parser.add_argument("--languages", nargs="*", help="nlu.sentiment_model_languages (default: all)")
    args = parser.parse_args()
    out = main(args.sentiment_model, args.weight, args.languages)
    path = Path(__file__).parent / "results" / "nlu_affect.json"
    path.parent.mkdir(exist_ok=True)
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(previous | out if args.sentiment_model else out, indent=2))
    print(json.dumps(out, indent=2))
