"""Evaluation: train a pipeline on a train set only, score it on a test set, report the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support, recall_score

from webcare.core.errors import NLUError
from webcare.nlu.affect import AffectHeads, _label, with_lexicon
from webcare.nlu.config import NLUConfig
from webcare.nlu.encoders import Features
from webcare.nlu.intents import IntentClassifier
from webcare.nlu.sentiment_model import SentimentModel

Progress = Callable[[str], None]


def features_for(config: NLUConfig) -> Features:
    return Features(config.encoder, hf_model=config.hf_model, threads=config.threads, cache_dir=config.cache_dir,
                    hf_max_length=config.hf_max_length, tfidf_features=config.tfidf_features)


def _rows(rows: list[dict[str, Any]], what: str) -> tuple[list[str], list[str]]:
    if not rows:
        raise NLUError(f"the {what} set is empty")
    return [str(r["text"]) for r in rows], [str(r["label"]) for r in rows]


def evaluate_intents(config: NLUConfig, train: list[dict[str, Any]], test: list[dict[str, Any]],
                     oos_label: str = "oos", validation: list[dict[str, Any]] | None = None,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Train the configured intent pipeline on `train` (calibrated on `validation` when given) and score
    it on `test`. Rows are `{"text", "label"}`; `oos_label` marks out-of-scope examples."""
    train_texts, train_labels = _rows(train, "training")
    test_texts, test_labels = _rows(test, "test")
    started = time.perf_counter()
    features = features_for(config)
    features.fit(train_texts)
    if progress:
        progress(f"encoding {len(train_texts)} training texts with {features.spec}")
    X = features.transform(train_texts, cached=True)
    X_val = val_labels = None
    if validation:
        val_texts, val_labels = _rows(validation, "validation")
        X_val = features.transform(val_texts, cached=True)
    classifier = IntentClassifier(config.intent_c, oos_label, config.out_of_scope_threshold)
    classifier.fit(X, train_labels, X_val, val_labels, progress=progress)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predictions = classifier.predict(features.transform(test_texts))
    test_seconds = time.perf_counter() - started
    predicted = [oos_label if p.out_of_scope else str(p.intent) for p in predictions]
    report = label_metrics(test_labels, predicted)
    gold = np.array(test_labels)
    pred = np.array(predicted)
    is_oos = gold == oos_label
    said_oos = pred == oos_label
    report.update({
        "in_scope_accuracy": float((pred[~is_oos] == gold[~is_oos]).mean()) if (~is_oos).any() else None,
        "oos_recall": float(said_oos[is_oos].mean()) if is_oos.any() else None,
        "oos_precision": float(is_oos[said_oos].mean()) if said_oos.any() else None,
        "train_seconds": round(train_seconds, 2),
        "examples_per_second": round(len(test_texts) / max(test_seconds, 1e-9), 1),
        "n_train": len(train_texts),
        "encoder": features.spec,
        "oos_threshold": round(classifier.threshold, 4),
    })
    report["confusion"] = worst_confusions(test_labels, predicted)
    return report


def label_metrics(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    """accuracy, macro_f1, macro_recall, per_class (precision/recall/f1/support) and n_test."""
    labels = sorted(set(gold))
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {
        "accuracy": float(np.mean(np.array(gold) == np.array(predicted))),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "macro_recall": float(recall_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "per_class": {lbl: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])} for i, lbl in enumerate(labels)},
        "n_test": len(gold),
    }


def worst_confusions(gold: list[str], predicted: list[str], top: int = 10) -> list[dict[str, Any]]:
    pairs: dict[tuple[str, str], int] = {}
    for g, p in zip(gold, predicted, strict=True):
        if g != p:
            pairs[(g, p)] = pairs.get((g, p), 0) + 1
    worst = sorted(pairs.items(), key=lambda kv: -kv[1])[:top]
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in worst]


def affect_rows(rows: list[dict[str, Any]], head: str) -> list[dict[str, Any]]:
    """`{"text", "label"}` rows as affect rows for one head (labels normalised; bad labels rejected)."""
    out = []
    for n, row in enumerate(rows, 1):
        value = row.get("label", row.get(head))
        converted = _label({head: value}, head)
        if converted is None:
            raise NLUError(f"row {n}: {value!r} is not a {head} label")
        out.append({"text": str(row["text"]), head: converted, "lang": row.get("lang") or row.get("language")})
    return out


def predict_affect(features: Features, heads: AffectHeads, head: str, texts: list[str],
                   allowed: list[str] | None = None, batch: int = 256,
                   sentiment_model: SentimentModel | None = None) -> list[str]:
    """The head's label per text; with `allowed`, the most probable of those labels (binary test sets).
    A `sentiment_model` joins the sentiment head as configured (`SentimentModel.combine`)."""
    out: list[str] = []
    for i in range(0, len(texts), batch):
        chunk = texts[i : i + batch]
        probs = heads.probabilities(head, with_lexicon(features.transform(chunk), chunk))
        if head == "sentiment" and sentiment_model is not None:
            probs = sentiment_model.combine(probs, chunk)  # type: ignore[assignment]
        if probs is None or None in probs:
            raise NLUError(f"the {head} head is not trained (no labelled {head} data)")
        for p in probs:
            choices = {k: v for k, v in p.items() if not allowed or k in allowed} or p
            out.append(max(choices, key=choices.get))
    return out


def evaluate_affect(head: str, test: list[dict[str, Any]], features: Features, heads: AffectHeads,
                    train_seconds: float | None = None, sentiment_model: SentimentModel | None = None) -> dict[str, Any]:
    rows = affect_rows(test, head)
    gold = [r[head] for r in rows]
    started = time.perf_counter()
    predicted = predict_affect(features, heads, head, [r["text"] for r in rows], sorted(set(gold)),
                               sentiment_model=sentiment_model)
    seconds = time.perf_counter() - started
    report = label_metrics(gold, predicted)
    report["texts_per_second"] = round(len(rows) / max(seconds, 1e-9), 1)
    if train_seconds is not None:
        report["train_seconds"] = round(train_seconds, 2)
    return report


def train_affect(config: NLUConfig, head: str, train: list[dict[str, Any]]) -> tuple[Features, AffectHeads, float]:
    started = time.perf_counter()
    rows = affect_rows(train, head)
    features = features_for(config)
    texts = [r["text"] for r in rows]
    features.fit(texts)
    heads = AffectHeads(config.affect_c).fit(features.transform(texts, cached=True), rows, heads=(head,))
    return features, heads, time.perf_counter() - started
