"""Knowledge answers: hybrid retrieval (BM25 + sentence embeddings) over the articles of each language.

An article is found by its title, its listed questions and its answer. The hybrid score mixes the best
cosine similarity of the query with those passages and a squashed BM25 score. The query's language is
searched first; other languages are searched only when no article there reaches the threshold.
"""

from __future__ import annotations

import re
from typing import Any

import bm25s
import numpy as np
from bm25s import stopwords as sw

from webcare.nlu.data import Article
from webcare.nlu.types import KnowledgeHit

STOPWORDS = {"nl": set(sw.STOPWORDS_DUTCH), "en": set(sw.STOPWORDS_EN), "fr": set(sw.STOPWORDS_FRENCH)}
_TOKEN = re.compile(r"\w\w+", re.UNICODE)
DENSE_WEIGHT = 0.75
BM25_HALF = 4.0  # the BM25 score that counts as 0.5


def tokens(text: str, language: str) -> list[str]:
    stop = STOPWORDS.get(language, set())
    return [t for t in _TOKEN.findall(text.lower()) if t not in stop]


class KnowledgeBase:
    """Articles per language with their passage embeddings; BM25 indexes are rebuilt on load (cheap)."""

    def __init__(self, articles: list[Article], threshold: float, top_k: int = 3) -> None:
        self.articles = articles
        self.threshold = threshold
        self.top_k = top_k
        self.passage_article: np.ndarray = np.zeros(0, int)
        self.passage_vectors: np.ndarray | None = None
        self._bm25: dict[str, Any] = {}

    @staticmethod
    def passages(article: Article) -> list[str]:
        first = article.answer.split("\n\n")[0][:400]
        return [article.title, *article.questions, first]

    def fit(self, encoder: Any | None) -> KnowledgeBase:
        texts, owners = [], []
        for i, article in enumerate(self.articles):
            for passage in self.passages(article):
                texts.append(passage)
                owners.append(i)
        self.passage_article = np.array(owners, int)
        if encoder is not None and texts:
            self.passage_vectors = encoder.encode_cached(texts)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_bm25"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bm25 = {}

    def _index(self, language: str) -> tuple[Any, list[int]] | None:
        if language not in self._bm25:
            members = [i for i, a in enumerate(self.articles) if a.language == language]
            if not members:
                self._bm25[language] = None
            else:
                corpus = [tokens(" ".join([a.title, *a.questions, a.answer]), language) or ["_"]
                          for a in (self.articles[i] for i in members)]
                retriever = bm25s.BM25()
                retriever.index(corpus, show_progress=False)
                self._bm25[language] = (retriever, members)
        return self._bm25[language]

    def similarities(self, vectors: np.ndarray) -> np.ndarray | None:
        """The best cosine similarity of each query vector with each article's passages: (queries, articles);
        None without passage embeddings."""
        if self.passage_vectors is None or not len(self.passage_article):
            return None
        sims = self.passage_vectors @ np.asarray(vectors, np.float32).T  # (passages, queries)
        starts = np.flatnonzero(np.r_[True, np.diff(self.passage_article) != 0])  # passages are grouped by article
        best = np.full((len(self.articles), sims.shape[1]), -1.0)
        best[self.passage_article[starts]] = np.maximum.reduceat(sims, starts, axis=0)
        return best.T

    def scores(self, text: str, language: str, similarity: np.ndarray | None) -> dict[int, float]:
        """Hybrid score per article of one language; `similarity` is the query's row of `similarities`."""
        index = self._index(language)
        if index is None:
            return {}
        retriever, members = index
        query = tokens(text, language)
        bm25 = retriever.get_scores(query) if query else np.zeros(len(members))
        lexical = bm25 / (bm25 + BM25_HALF)
        if similarity is None:
            return {a: float(s) for a, s in zip(members, lexical, strict=True)}
        dense = similarity[members]
        return dict(zip(members, map(float, DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical), strict=True))

    def search(self, text: str, language: str, similarity: np.ndarray | None,
               threshold: float | None = None) -> list[KnowledgeHit]:
        """Hits above the threshold, best first: the query's language first, others only as a fallback."""
        threshold = self.threshold if threshold is None else threshold
        languages = [language] + sorted({a.language for a in self.articles} - {language})
        for lang in languages:
            scored = sorted(self.scores(text, lang, similarity).items(), key=lambda kv: -kv[1])
            hits = [self._hit(a, s) for a, s in scored[: self.top_k] if s >= threshold]
            if hits:
                return hits
        return []

    def _hit(self, index: int, score: float) -> KnowledgeHit:
        a = self.articles[index]
        return KnowledgeHit(a.id, a.title, a.language, a.answer, round(min(max(score, 0.0), 1.0), 4), a.url)
