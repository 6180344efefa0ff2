"""The data that NLU hands to the rest of webcare: one `Analysis` per text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, get_args

Sentiment = Literal["negative", "neutral", "positive"]
Urgency = Literal["low", "normal", "high"]
SENTIMENTS: tuple[str, ...] = get_args(Sentiment)  # the one list of sentiment labels, in this order
URGENCIES: tuple[str, ...] = get_args(Urgency)


@dataclass(frozen=True)
class Entity:
    """A value found in a text: `type` is e.g. order_number, email, phone, date, product."""

    type: str
    value: str
    text: str
    start: int
    end: int
    source: str = "regex"  # regex | lookup | synonym | rule | annotation


@dataclass(frozen=True)
class KnowledgeHit:
    """A knowledge-base article that answers the text, best first."""

    article_id: str
    title: str
    language: str
    answer: str
    score: float
    url: str | None = None


@dataclass
class Analysis:
    """Everything NLU can tell about one text. Scores are in [0, 1]."""

    text: str
    language: str
    language_confidence: float = 1.0
    intent: str | None = None
    confidence: float = 0.0
    ranking: list[tuple[str, float]] = field(default_factory=list)
    out_of_scope: bool = False
    entities: list[Entity] = field(default_factory=list)
    sentiment: Sentiment = "neutral"
    sentiment_score: float = 0.0  # -1 (very negative) .. +1 (very positive)
    complaint: bool = False
    complaint_score: float = 0.0
    urgency: Urgency = "normal"
    urgency_score: float = 0.0
    knowledge: list[KnowledgeHit] = field(default_factory=list)
    near_knowledge: list[KnowledgeHit] = field(default_factory=list)  # below the threshold, above the floor

    def entity(self, type_: str) -> Entity | None:
        """The first entity of this type, if any."""
        return next((e for e in self.entities if e.type == type_), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, as stored with each message."""
        data = asdict(self)
        data["ranking"] = [[name, round(conf, 4)] for name, conf in self.ranking]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        """The inverse of `to_dict`."""
        data = dict(data)
        data["entities"] = [Entity(**e) for e in data.get("entities", [])]
        data["knowledge"] = [KnowledgeHit(**k) for k in data.get("knowledge", [])]
        data["near_knowledge"] = [KnowledgeHit(**k) for k in data.get("near_knowledge", [])]
        data["ranking"] = [(name, conf) for name, conf in data.get("ranking", [])]
        return cls(**data)


class TextAnalyzer(Protocol):
    """What the bot and the listeners need from NLU; `nlu.Analyzer` provides it, tests use stand-ins."""

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        """One text, with the conversation's context (the language so far, a pending slot)."""
        ...

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        """Many texts at once (listener batches): the same analysis, cheaper per text."""
        ...
