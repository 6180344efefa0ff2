"""The Analyzer: one object that trains, saves, loads and analyses, built from the small NLU parts."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib

from webcare.core.errors import ModelNotTrained, NLUError
from webcare.core.text import clean_text
from webcare.nlu.affect import AffectHeads, lexicon_block
from webcare.nlu.config import NLUConfig
from webcare.nlu.data import BUILTIN_OOS, content_hash, load_affect, load_articles, load_catalogue, load_nlu
from webcare.nlu.encoders import Features, single_threaded_blas
from webcare.nlu.entities import EntityExtractor
from webcare.nlu.intents import IntentClassifier
from webcare.nlu.knowledge import KnowledgeBase
from webcare.nlu.language import LanguageDetector
from webcare.nlu.linear import LinearScorer
from webcare.nlu.sentiment_model import SentimentModel
from webcare.nlu.types import Analysis

MODEL_FORMAT = 3  # bump when a change in code changes what training produces
MODEL_FILE = "analyzer.joblib"
META_FILE = "meta.json"
Progress = Callable[[str], None]


def _fingerprint(config: NLUConfig) -> str:
    keys = ("languages", "encoder", "hf_model", "tfidf_features", "hf_max_length", "intent_c", "oos_label",
            "out_of_scope_threshold", "builtin_out_of_scope", "knowledge_threshold", "knowledge_top_k", "order_number_pattern", "affect_c")
    settings = {k: getattr(config, k) for k in keys}
    settings["builtin_oos"] = hashlib.sha256(BUILTIN_OOS.read_bytes()).hexdigest()
    return content_hash(Path(config.data_dir), config.languages,
                        json.dumps({"format": MODEL_FORMAT, **settings}, sort_keys=True))


class Analyzer:
    """Language, intent (+ out of scope), entities, sentiment/complaint/urgency and knowledge hits."""

    def __init__(self, config: NLUConfig, features: Features, intents: IntentClassifier, affect: AffectHeads,
                 knowledge: KnowledgeBase, entities: EntityExtractor, meta: dict[str, Any]) -> None:
        self.config = config
        self.features = features
        self.intents = intents
        self.affect = affect
        self.knowledge = knowledge
        self.entities = entities
        self.meta = meta
        self.language = LanguageDetector(config.detect_languages, config.default_language, config.short_text_words)
        features.set_threads(config.threads)
        single_threaded_blas()  # for the whole process: per call, threads analysing at once would race
        self._linear: LinearScorer | None = None
        self.sentiment_model = SentimentModel.from_config(config, self.language) if config.sentiment_model else None
        for lang in config.languages:  # build the BM25 indexes now: analysing stays read-only
            knowledge._index(lang)

    # -- training and persistence ---------------------------------------------------------------

    @classmethod
    def train(cls, config: NLUConfig, progress: Progress | None = None,
              label_files: list[tuple[str, str]] | None = None) -> Analyzer:
        """Train on the content in `config.data_dir` and save to `model_dir`. `label_files` adds a team's
        own labels: (head, JSONL path) pairs, e.g. ("sentiment", "labels/sentiment.jsonl"), whose
        `{"text", "label"}` rows are remembered and folded in again on every retraining."""
        from webcare.nlu.datasets import read_jsonl_rows
        from webcare.nlu.evaluate import affect_rows as to_affect

        say = progress or (lambda _: None)
        label_files = [(head, str(Path(path).resolve())) for head, path in label_files or []]
        extra_affect = [row for head, path in label_files for row in to_affect(read_jsonl_rows(path), head)]
        started = time.perf_counter()
        data_dir = Path(config.data_dir)
        data = load_nlu(data_dir, config.languages, config.oos_label if config.builtin_out_of_scope else None)
        if not data.examples:
            raise NLUError(f"no intent examples found in {data_dir / 'nlu'}/<language>.yml "
                           f"for languages {', '.join(config.languages)}")
        articles = load_articles(data_dir, config.languages)
        products = load_catalogue(data_dir)
        affect_rows = load_affect(data_dir, config.languages, "train") + list(extra_affect or [])
        say(f"nlu: {len(data.examples)} intent examples, {len(articles)} articles, "
            f"{len(affect_rows)} affect texts, {len(products)} products")
        features = Features(config.encoder, hf_model=config.hf_model, threads=config.threads,
                            cache_dir=config.cache_dir, hf_max_length=config.hf_max_length,
                            tfidf_features=config.tfidf_features)
        texts = [e.text for e in data.examples]
        affect_texts = [clean_text(r["text"])[: config.max_chars] for r in affect_rows]
        features.fit(texts + affect_texts + [q for a in articles for q in a.questions])
        say(f"nlu: encoding with {features.spec}")
        X = features.transform(texts, cached=True)
        intents = IntentClassifier(config.intent_c, config.oos_label, config.out_of_scope_threshold)
        intents.fit(X, [e.intent for e in data.examples], progress=say)
        affect = AffectHeads(config.affect_c)
        if affect_rows:
            affect.fit(features.transform(affect_texts, cached=True), affect_rows, progress=say)
        else:
            say("affect: no labelled data in affect/<language>.jsonl; using the word-list fallback")
        say("knowledge: indexing articles")
        knowledge = KnowledgeBase(articles, config.knowledge_threshold, config.knowledge_top_k)
        knowledge.fit(features.sentence_encoder)
        meta = {
            "format": MODEL_FORMAT,
            "hash": _fingerprint(config),
            "label_files": label_files,
            "trained_at": time.time(),
            "train_seconds": round(time.perf_counter() - started, 2),
            "encoder": features.spec,
            "intents": [c for c in intents.classes if c != config.oos_label],
            "examples": len(data.examples),
            "articles": len(articles),
            "affect_rows": len(affect_rows),
            "affect_heads": sorted(affect.models),
            "out_of_scope_threshold": intents.threshold,
            "temperature": intents.temperature,
        }
        analyzer = cls(config, features, intents, affect, knowledge,
                       EntityExtractor(data, products, config.order_number_pattern), meta)
        analyzer.save()
        say(f"nlu: trained in {meta['train_seconds']} s, saved to {config.model_dir}")
        return analyzer

    def save(self) -> None:
        model_dir = Path(self.config.model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        state = {"features": self.features, "intents": self.intents, "affect": self.affect,
                 "knowledge": self.knowledge, "entities": self.entities}
        tmp = model_dir / f".{MODEL_FILE}.{os.getpid()}.tmp"
        joblib.dump(state, tmp)
        os.replace(tmp, model_dir / MODEL_FILE)
        (model_dir / META_FILE).write_text(json.dumps(self.meta, indent=2))

    @classmethod
    def load(cls, config: NLUConfig) -> Analyzer:
        """The saved model; `ModelNotTrained` when there is none (or it is unreadable)."""
        model_dir = Path(config.model_dir)
        path, meta_path = model_dir / MODEL_FILE, model_dir / META_FILE
        if not path.exists() or not meta_path.exists():
            raise ModelNotTrained(f"no trained NLU model in {model_dir}: run `webcare nlu train` first")
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("format") != MODEL_FORMAT:
                raise ValueError(f"model format {meta.get('format')}, this webcare reads {MODEL_FORMAT}")
            state = joblib.load(path)
        except Exception as e:
            raise ModelNotTrained(f"the NLU model in {model_dir} cannot be read ({e}): "
                                  "run `webcare nlu train` again") from e
        return cls(config, state["features"], state["intents"], state["affect"], state["knowledge"],
                   state["entities"], meta)

    @classmethod
    def load_or_train(cls, config: NLUConfig, progress: Progress | None = None) -> Analyzer:
        """Load the saved model, or train when there is none or the content or settings changed."""
        meta_path = Path(config.model_dir) / META_FILE
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("hash") == _fingerprint(config):
            try:
                return cls.load(config)
            except ModelNotTrained:
                pass
        if progress:
            progress("nlu: the content changed or no model exists; training")
        label_files = [(head, path) for head, path in meta.get("label_files", []) if Path(path).exists()]
        return cls.train(config, progress, label_files)

    # -- analysis ------------------------------------------------------------------------------

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        """Analyse one text; `context` may carry the conversation's `language` and what it is `expecting`."""
        return self.analyze_many([text], [context])[0]

    def analyze_many(self, texts: list[str], contexts: list[dict[str, Any] | None] | None = None) -> list[Analysis]:
        """Analyse a batch (one encoder pass for all texts)."""
        contexts = contexts or [None] * len(texts)
        if len(contexts) != len(texts):
            raise NLUError("analyze_many needs one context per text")
        cleaned = [clean_text(t[: self.config.max_input_chars]) for t in texts]  # a megabyte of text costs no more
        cut = [t[: self.config.max_chars] for t in cleaned]
        results = [self._empty(t, c) for t, c in zip(cleaned, contexts, strict=True)]
        batch = [i for i, t in enumerate(cut) if t]  # emoji only: no intent, but affect still counts
        if not batch:
            return results
        unique = list(dict.fromkeys(cut[i] for i in batch))  # a repeated text ("ok", a retweet) is done once
        sentence = self.features.sentence_encoder
        dense = sentence.encode(unique) if sentence is not None else None
        blocks = self.features.blocks(unique, dense=dense) + [lexicon_block(unique)]
        decisions = self._scorer(blocks).decisions(blocks)
        intents = self.intents.from_decision(decisions["intent"])
        probs = self.affect.head_probabilities(decisions)
        if self.sentiment_model:
            language_of = {cut[i]: results[i].language for i in reversed(batch)}
            probs["sentiment"] = self.sentiment_model.combine(probs["sentiment"], unique,
                                                              [language_of[t] for t in unique])
        affects = self.affect.from_probabilities(probs, unique)
        similarity = self.knowledge.similarities(dense) if dense is not None else None
        row_of = {t: row for row, t in enumerate(unique)}
        for i in batch:
            a, row = results[i], row_of[cut[i]]
            affect = affects[row]
            a.sentiment, a.sentiment_score = affect.sentiment, affect.sentiment_score  # type: ignore[assignment]
            a.complaint, a.complaint_score = affect.complaint, affect.complaint_score
            a.urgency, a.urgency_score = affect.urgency, affect.urgency_score  # type: ignore[assignment]
            if not any(ch.isalnum() for ch in cut[i]):
                continue
            p = intents[row]
            a.intent, a.confidence, a.ranking, a.out_of_scope = p.intent, round(p.confidence, 4), \
                [(n, round(c, 4)) for n, c in p.ranking[:5]], p.out_of_scope
            a.entities = self.entities.extract(cleaned[i], (contexts[i] or {}).get("expecting"))
            query = similarity[row] if similarity is not None else None
            a.knowledge = self.knowledge.search(cut[i], a.language, query)
            if self.config.knowledge_floor < self.knowledge.threshold:
                near = self.knowledge.search(cut[i], a.language, query, self.config.knowledge_floor)
                a.near_knowledge = [h for h in near if h not in a.knowledge]
        return results

    def _scorer(self, blocks: list[Any]) -> LinearScorer:
        """All linear heads in one pass over the feature blocks (built on first use: the widths are known then)."""
        if self._linear is None:
            self._linear = LinearScorer({"intent": self.intents.model, **self.affect.models},
                                        [b.shape[1] for b in blocks])
        return self._linear

    def _empty(self, text: str, context: dict[str, Any] | None) -> Analysis:
        fallback = (context or {}).get("language") or self.config.default_language
        language, confidence = self.language.detect(text[: self.config.max_chars], fallback)
        return Analysis(text=text, language=language, language_confidence=confidence, out_of_scope=True)

