"""Sentiment (negative/neutral/positive), complaint (yes/no) and urgency (low/normal/high) heads.

Each head is a logistic regression over the analyzer's features, trained on labelled rows
(`{"text", "sentiment", "complaint", "urgency"}`; a row may lack some labels). A head without
training data falls back to the word-list signal of `nlu.lexicon`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from webcare.nlu.lexicon import lexicon_affect, lexicon_features
from webcare.nlu.linear import probabilities
from webcare.nlu.types import SENTIMENTS, URGENCIES


@dataclass(frozen=True)
class Affect:
    sentiment: str
    sentiment_score: float  # -1 .. 1
    complaint: bool
    complaint_score: float  # 0 .. 1
    urgency: str
    urgency_score: float  # 0 (low) .. 1 (high): the expected level


def _label(row: dict[str, Any], head: str) -> str | None:
    value = row.get(head)
    if value is None or value == "":
        return None
    if head == "complaint":
        if isinstance(value, str):
            return "yes" if value.lower() in ("yes", "true", "1", "complaint") else "no"
        return "yes" if value else "no"
    value = str(value).lower()
    valid = SENTIMENTS if head == "sentiment" else URGENCIES
    aliases = {"neg": "negative", "pos": "positive", "neu": "neutral", "medium": "normal"}
    value = aliases.get(value, value)
    return value if value in valid else None


LEXICON_WEIGHT = 3.0


@functools.cache
def _lexicon_width() -> int:
    return len(lexicon_features(""))


def lexicon_block(texts: list[str]) -> np.ndarray:
    """The lexicon cues (word lists, VADER and the Dutch sentiment lexicon) as extra feature columns."""
    rows = [lexicon_features(t) for t in texts]
    return np.array(rows, np.float32).reshape(len(rows), _lexicon_width()) * LEXICON_WEIGHT


def with_lexicon(X, texts: list[str]):
    """The analyzer's features plus the word-list cues."""
    return sparse.hstack([X, sparse.csr_matrix(lexicon_block(texts))], format="csr")


class AffectHeads:
    """The three heads; `fit` on labelled rows and their feature rows, `predict` per feature row."""

    HEADS = ("sentiment", "complaint", "urgency")

    def __init__(self, c: float = 4.0) -> None:
        self.c = c
        self.models: dict[str, LogisticRegression] = {}
        self.sizes: dict[str, int] = {}

    def fit(self, X, rows: list[dict[str, Any]], progress: Callable[[str], None] | None = None,
            heads: tuple[str, ...] = HEADS) -> AffectHeads:
        X = with_lexicon(X, [str(r["text"]) for r in rows])
        for head in heads:
            labels = [_label(r, head) for r in rows]
            idx = [i for i, lbl in enumerate(labels) if lbl is not None]
            if len({labels[i] for i in idx}) < 2:
                continue
            if progress:
                progress(f"affect: {head} head on {len(idx)} labelled texts")
            model = LogisticRegression(C=self.c, max_iter=500, class_weight="balanced")
            self.models[head] = model.fit(X[idx], np.array([labels[i] for i in idx]))
            self.sizes[head] = len(idx)
        return self

    @property
    def trained(self) -> bool:
        return bool(self.models)

    def probabilities(self, head: str, X) -> list[dict[str, float]] | None:
        """Class probabilities per row of `with_lexicon` features; None when the head is not trained."""
        model = self.models.get(head)
        return None if model is None else self._named(head, model.predict_proba(X))

    def _named(self, head: str, probs: np.ndarray) -> list[dict[str, float]]:
        classes = [str(c) for c in self.models[head].classes_]
        return [dict(zip(classes, map(float, row), strict=True)) for row in probs]

    def predict(self, X, texts: list[str]) -> list[Affect]:
        X = with_lexicon(X, texts)
        return self.from_probabilities({h: self.probabilities(h, X) for h in self.HEADS}, texts)

    def head_probabilities(self, decisions: dict[str, np.ndarray]) -> dict[str, list[dict[str, float]] | None]:
        """Class probabilities per head from decision values (e.g. computed by `nlu.linear.LinearScorer`)."""
        return {h: self._named(h, probabilities(decisions[h])) if h in self.models else None for h in self.HEADS}

    def from_decisions(self, decisions: dict[str, np.ndarray], texts: list[str]) -> list[Affect]:
        """Affect from each trained head's decision values."""
        return self.from_probabilities(self.head_probabilities(decisions), texts)

    def from_probabilities(self, probs: dict[str, Any], texts: list[str]) -> list[Affect]:
        """Affect per text; a head's list is None when untrained (and a sentiment row None when nothing
        scored it): the word lists stand in."""
        sent, comp, urg = probs["sentiment"], probs["complaint"], probs["urgency"]
        out = []
        for i, text in enumerate(texts):
            lex = lexicon_affect(text) if not (sent and sent[i] and comp and urg) else None
            p_positive = 0.0
            if sent and sent[i]:
                p = sent[i]
                p_positive = p.get("positive", 0.0)
                s_score = p_positive - p.get("negative", 0.0)
                sentiment = max(p, key=p.get)
            else:
                s_score = lex["sentiment"] * 0.6  # type: ignore[index]
                sentiment = "negative" if s_score <= -0.2 else "positive" if s_score >= 0.2 else "neutral"
            # As the data is labelled, praise is neither a complaint nor urgent: the heads are independent,
            # so their probabilities are weighed by how sure the sentiment is that the text is not positive.
            c_score = (comp[i].get("yes", 0.0) if comp else lex["complaint"]) * (1 - p_positive)  # type: ignore[index]
            if urg:
                p = dict(urg[i])
                moved = p.get("high", 0.0) * p_positive
                p["high"], p["normal"] = p.get("high", 0.0) - moved, p.get("normal", 0.0) + moved
                u_score = p.get("normal", 0.0) * 0.5 + p.get("high", 0.0)
                urgency = max(p, key=p.get)
            else:
                u_score = lex["urgency"]  # type: ignore[index]
                urgency = "high" if u_score >= 0.7 else "normal"
            out.append(Affect(sentiment, round(s_score, 4), c_score >= 0.5, round(c_score, 4),
                              urgency, round(u_score, 4)))
        return out
