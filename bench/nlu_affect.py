"""Affect benchmarks of the decision the product ships: each text goes through `Analyzer.analyze_many`
(the heads, an optional sentiment model joined as configured, and `AffectHeads.from_probabilities`
with its praise rule), and the sentiment, complaint and urgency it answers are scored; a label the
test set does not have (e.g. "neutral" on the two-class bol.com reviews) counts as wrong.

Sets: TweetEval sentiment (test), Dutch bol.com reviews (test), Dutch political tweets (test), and our
own test split for sentiment, complaint and urgency; plus batched throughput. The shipped heads are
trained only on responses/affect's train split; the public sets are only read for evaluation.

Writes bench/results/nlu_affect.json, or with --sentiment-model (the sentiment sets only)
bench/results/nlu_affect-MODEL-wWEIGHT-LANGUAGES.json: each run its own file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from common import run_info, write_result

from webcare.nlu import Analyzer, NLUConfig
from webcare.nlu.data import AFFECT_FIELDS, load_affect
from webcare.nlu.datasets import SENTIMENT_SETS, data_dir
from webcare.nlu.evaluate import affect_rows, label_metrics

KEYS = ("accuracy", "macro_f1", "macro_recall", "n_test", "texts_per_second")
TARGETS = {"sentiment/tweeteval": "macro_recall >= 0.66", "sentiment/bol": "accuracy >= 0.88",
           "sentiment/political": "macro_f1 reported", "analyze_many_texts_per_second": ">= 300"}


def decided(analyzer: Analyzer, head: str, texts: list[str]) -> list[str]:
    """What the product answers for one head: sentiment and urgency labels, complaint yes/no."""
    labels = []
    for i in range(0, len(texts), 256):
        for a in analyzer.analyze_many(texts[i : i + 256]):
            labels.append(("yes" if a.complaint else "no") if head == "complaint" else getattr(a, head))
    return labels


def score(analyzer: Analyzer, head: str, rows: list[dict[str, Any]], per_class: bool) -> dict[str, Any]:
    rows = affect_rows(rows, head)
    started = time.perf_counter()
    predicted = decided(analyzer, head, [r["text"] for r in rows])
    seconds = time.perf_counter() - started
    report = label_metrics([r[head] for r in rows], predicted) | {"texts_per_second": round(len(rows) / seconds, 1)}
    return {k: report[k] for k in KEYS} | ({"per_class": report["per_class"]} if per_class else {})


def main(sentiment_model: str | None = None, weight: float = 1.0, languages: list[str] | None = None) -> dict:
    config = NLUConfig(model_dir=".webcare/bench-models")
    if sentiment_model:
        config = config.model_copy(update={"sentiment_model": sentiment_model, "sentiment_model_weight": weight,
                                           "sentiment_model_languages": languages or []})
    analyzer = Analyzer.load_or_train(config)
    root = data_dir()
    results: dict[str, Any] = {"scored": "the product's decision (Analyzer.analyze_many)"}
    if sentiment_model:
        results["sentiment_model"] = {"model": Path(sentiment_model).name, "weight": weight,
                                      "languages": languages or []}
    for name, read in SENTIMENT_SETS.items():
        results[f"sentiment/{name}"] = score(analyzer, "sentiment", read(root), per_class=True)
    if sentiment_model:  # the complaint and urgency heads are unchanged by a sentiment model
        return results
    ours = load_affect(Path(config.data_dir), config.languages, "test")
    for head in AFFECT_FIELDS:
        for lang in [*config.languages, None]:
            rows = [{"text": r["text"], "label": r[head]} for r in ours if lang in (None, r.get("lang"))]
            results[f"{head}/ours-{lang or 'all'}"] = score(analyzer, head, rows, per_class=False)
    texts = [r["text"] for r in SENTIMENT_SETS["tweeteval"](root)[:2000]]
    rates = []
    for _ in range(3):  # the machine is shared: the median of three runs
        started = time.perf_counter()
        for i in range(0, len(texts), 256):
            analyzer.analyze_many(texts[i : i + 256])
        rates.append(len(texts) / (time.perf_counter() - started))
    results["analyze_many_texts_per_second"] = round(statistics.median(rates), 1)
    results["targets"] = TARGETS
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment-model", help="also score with this nlu.sentiment_model (name or folder)")
    parser.add_argument("--weight", type=float, default=1.0, help="nlu.sentiment_model_weight")
    parser.add_argument("--languages", nargs="*", help="nlu.sentiment_model_languages (default: all)")
    args = parser.parse_args()
    started = run_info()
    out = main(args.sentiment_model, args.weight, args.languages)
    name = "nlu_affect"
    if args.sentiment_model:
        name += f"-{Path(args.sentiment_model).name}-w{args.weight}-{'+'.join(args.languages or []) or 'all'}"
    write_result(name, out, started)
    print(json.dumps(out, indent=2))
