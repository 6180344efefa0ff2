"""The analyzer's fast paths compute what the straightforward ones compute: linear heads from their
coefficients, TF-IDF rows without the vectorizer's validation, knowledge similarities per article, sentence
vectors of a batch split over worker threads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from webcare.nlu.affect import AffectHeads, lexicon_block, with_lexicon
from webcare.nlu.linear import LinearScorer, probabilities

TEXTS = [
    "Waar blijft mijn pakket? Bestelling 12345678 is nog steeds niet aangekomen!!",
    "What are your opening hours on Saturday?",
    "niet slecht hoor, snelle levering 👍",
    "this is a scam, I want my money back 😡",
    "hoi",
    "Kan ik met iDEAL betalen?",
    "ik wil mijn order returnen",
    "😀🎉",
]


def _blocks(rng: np.random.Generator, n: int) -> list:
    dense = rng.normal(size=(n, 6)).astype(np.float32)
    tfidf = sparse.random(n, 9, density=0.4, format="csr", random_state=1)
    cues = rng.random((n, 2)).astype(np.float32)
    return [dense, tfidf, cues]


@pytest.mark.parametrize("classes", [2, 3])
def test_scorer_equals_decision_function_and_predict_proba(classes):
    rng = np.random.default_rng(0)
    blocks = _blocks(rng, 40)
    X = sparse.hstack([sparse.csr_matrix(blocks[0]), blocks[1], sparse.csr_matrix(blocks[2])], format="csr")
    y = np.arange(40) % classes
    svm = LinearSVC().fit(X[:, :15], y)  # a model on a prefix of the blocks (the intents do without the cues)
    lr = LogisticRegression(max_iter=500).fit(X, y)
    decisions = LinearScorer({"svm": svm, "lr": lr}, [6, 9, 2]).decisions(blocks)
    np.testing.assert_allclose(decisions["svm"], svm.decision_function(X[:, :15]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(decisions["lr"], lr.decision_function(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(probabilities(decisions["lr"]), lr.predict_proba(X), rtol=0, atol=1e-12)


def test_tfidf_rows_equal_the_vectorizer(analyzer):
    tfidf = next(e for e in analyzer.features.encoders if e.name == "tfidf")
    texts = [*TEXTS, "", "!!!", "x" * 3000]
    expected = tfidf.vectorizer.transform(texts)
    got = tfidf.encode(texts)
    assert got.shape == expected.shape
    assert abs(got - expected).max() < 1e-12


def test_analysis_equals_the_scikit_learn_path(analyzer):
    blocks = analyzer.features.blocks(TEXTS)
    X = analyzer.features.transform(TEXTS)
    decisions = analyzer._scorer([*blocks, lexicon_block(TEXTS)]).decisions([*blocks, lexicon_block(TEXTS)])
    np.testing.assert_allclose(decisions["intent"], analyzer.intents.model.decision_function(X), rtol=0, atol=1e-9)
    for head, model in analyzer.affect.models.items():
        np.testing.assert_allclose(probabilities(decisions[head]), model.predict_proba(with_lexicon(X, TEXTS)),
                                   rtol=0, atol=1e-9)
    reference_intents = analyzer.intents.predict(X)
    reference_affect = analyzer.affect.predict(X, TEXTS)
    for text, result, intent, affect in zip(TEXTS, analyzer.analyze_many(TEXTS), reference_intents,
                                            reference_affect, strict=True):
        if any(ch.isalnum() for ch in text):
            assert (result.intent, result.out_of_scope) == (intent.intent, intent.out_of_scope)
            assert result.confidence == pytest.approx(intent.confidence, abs=1e-4)
            assert [n for n, _ in result.ranking] == [n for n, _ in intent.ranking[:5]]
        assert (result.sentiment, result.complaint, result.urgency) == (affect.sentiment, affect.complaint,
                                                                        affect.urgency)
        assert result.sentiment_score == pytest.approx(affect.sentiment_score, abs=1e-4)
        assert result.complaint_score == pytest.approx(affect.complaint_score, abs=1e-4)


def test_untrained_affect_heads_fall_back_to_the_word_lists():
    heads = AffectHeads()
    assert heads.from_decisions({}, ["dit is echt slecht en kapot"])[0].sentiment == "negative"


def test_knowledge_similarity_is_the_best_passage_per_article(analyzer):
    kb = analyzer.knowledge
    vectors = analyzer.features.sentence_encoder.encode(TEXTS[:3])
    got = kb.similarities(vectors)
    sims = vectors @ kb.passage_vectors.T
    for article in range(len(kb.articles)):
        np.testing.assert_allclose(got[:, article], sims[:, kb.passage_article == article].max(axis=1), atol=1e-5)


def test_a_batch_split_over_worker_threads_gives_the_same_vectors():
    from webcare.nlu.encoders import UseEncoder

    texts = [f"{text} {i}" for i, text in enumerate(TEXTS * 6)]
    split, whole = UseEncoder(threads=2).encode(texts), UseEncoder(threads=1).encode(texts)
    assert split.shape == (len(texts), 512)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-5)
