"""An optional Hugging Face text-classification model for sentiment (`nlu.sentiment_model` in config.yml).

Any sequence-classification model that transformers can load works: its labels are mapped to
negative/neutral/positive with `nlu.sentiment_labels` (case-insensitive; several labels may map to one, e.g.
"1 star" and "2 stars" to negative). A model without a neutral label (a binary one) never says neutral.
"""

from __future__ import annotations

import numpy as np

from webcare.core.errors import NLUError
from webcare.nlu.config import NLUConfig
from webcare.nlu.encoders import hf_model
from webcare.nlu.language import LanguageDetector
from webcare.nlu.types import SENTIMENTS

_ALIASES = {"neg": "negative", "neu": "neutral", "pos": "positive"}
_KIND = "AutoModelForSequenceClassification"


def label_columns(model_labels: list[str], mapping: dict[str, str]) -> np.ndarray:
    """A (model labels × SENTIMENTS) 0/1 matrix; `NLUError` naming the labels that map to nothing."""
    wanted = {k.lower(): v.lower() for k, v in mapping.items()}
    bad = sorted(v for v in wanted.values() if v not in SENTIMENTS)
    if bad:
        raise NLUError(f"nlu.sentiment_labels maps to {bad}; use negative, neutral or positive")
    matrix = np.zeros((len(model_labels), len(SENTIMENTS)), np.float32)
    unmapped = []
    for row, label in enumerate(model_labels):
        target = wanted.get(label.lower()) or _ALIASES.get(label.lower(), label.lower())
        if target in SENTIMENTS:
            matrix[row, SENTIMENTS.index(target)] = 1.0
        else:
            unmapped.append(label)
    if unmapped:
        raise NLUError(f"the sentiment model's labels {unmapped} are not mapped: set nlu.sentiment_labels, "
                       f"e.g. {{{unmapped[0]!r}: negative}} (its labels: {model_labels})")
    return matrix


class SentimentModel:
    """Sentiment probabilities from a transformers sequence-classification model, in batches; `combine`
    weighs them with the head's for the languages the model is for."""

    def __init__(self, name: str, labels: dict[str, str] | None = None, threads: int = 1, max_length: int = 128,
                 weight: float = 1.0, languages: list[str] | None = None,
                 detector: LanguageDetector | None = None) -> None:
        self.name = name
        self.threads = threads
        self.max_length = max_length
        self.weight = weight
        self.languages = set(languages or ())
        self.detector = detector
        _, model = hf_model(name, threads, _KIND)
        id2label = model.config.id2label
        self.columns = label_columns([str(id2label[i]) for i in range(len(id2label))], labels or {})

    @classmethod
    def from_config(cls, config: NLUConfig, detector: LanguageDetector | None = None) -> SentimentModel:
        assert config.sentiment_model, "nlu.sentiment_model is not set"
        return cls(config.sentiment_model, config.sentiment_labels, config.threads, config.hf_max_length,
                   config.sentiment_model_weight, config.sentiment_model_languages, detector)

    def combine(self, head: list[dict[str, float]] | None, texts: list[str],
                languages: list[str] | None = None) -> list[dict[str, float] | None]:
        """Per text: weight × the model's probabilities + (1 − weight) × the head's (all the model's when
        the head is untrained) where the model is for the text's language; elsewhere the head's. Without
        `languages` they are detected (when the model is limited to some)."""
        if languages is None and self.languages:
            if self.detector is None:
                raise NLUError("a sentiment model limited to some languages needs the texts' languages or a detector")
            languages = [self.detector.detect(t)[0] for t in texts]
        languages = languages or [""] * len(texts)
        out: list[dict[str, float] | None] = list(head) if head else [None] * len(texts)
        rows = [i for i, lang in enumerate(languages) if not self.languages or lang in self.languages]
        for i, model in zip(rows, self.probabilities([texts[i] for i in rows]), strict=True):
            mine = head[i] if head else None
            out[i] = model if mine is None else {
                c: self.weight * model[c] + (1 - self.weight) * mine.get(c, 0.0) for c in SENTIMENTS}
        return out

    def probabilities(self, texts: list[str], batch_size: int = 64) -> list[dict[str, float]]:
        """Per text: {negative, neutral, positive} probabilities (summed over the model's labels)."""
        import torch

        tokenizer, model = hf_model(self.name, self.threads, _KIND)
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt")
                out.append(torch.softmax(model(**batch).logits, dim=-1).numpy() @ self.columns)
        probs = np.concatenate(out) if out else np.zeros((0, len(SENTIMENTS)), np.float32)
        return [dict(zip(SENTIMENTS, map(float, row), strict=True)) for row in probs]
