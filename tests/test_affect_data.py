"""The labelled sentiment/complaint/urgency data in responses/affect/ (see its README.md) stays valid and balanced."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from webcare.nlu.types import SENTIMENTS as LABELS

AFFECT = Path(__file__).resolve().parent.parent / "responses" / "affect"
LANGS = ("nl", "en")
FIELDS = {"id", "text", "lang", "kind", "sentiment", "complaint", "urgency", "split", "tags"}
SENTIMENTS = set(LABELS)
URGENCIES = {"low", "normal", "high"}
KINDS = {"chat", "social", "review", "post"}
SPLITS = {"train", "test"}
# Documented in responses/affect/README.md; the first group is judged by the annotator, the second follows from the text.
MANUAL_TAGS = {"sarcasm", "negation", "flemish", "typo", "mixed"}
SURFACE_TAGS = {"emoji", "emoji_only", "question", "allcaps", "short", "long"}
TAGS = MANUAL_TAGS | SURFACE_TAGS
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]")
NEAR_DUPLICATE = 0.8  # word-set Jaccard at or above which two texts count as the same message


def tokens(text: str) -> list[str]:
    """NFKC, casefold, every digit as 0, letters and digits only."""
    folded = re.sub(r"\d", "0", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c if c.isalnum() or c.isspace() else " " for c in folded).split()


def normalized(text: str) -> str:
    """The text as compared for duplicates; emoji count too when a text has fewer than three words."""
    words = tokens(text)
    return " ".join(words) + ("|" + "".join(EMOJI.findall(text)) if len(words) < 3 else "")


def features(text: str) -> set[str]:
    """What two texts are compared on for near-duplicates: their words and their emoji."""
    return set(tokens(text)) | set(EMOJI.findall(text))


def surface_tags(text: str) -> set[str]:
    """The tags that follow mechanically from the text."""
    tags = set()
    letters = [c for c in text if c.isalpha()]
    if EMOJI.search(text):
        tags.add("emoji")
        if not letters:
            tags.add("emoji_only")
    if "?" in text:
        tags.add("question")
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        tags.add("allcaps")
    words = len(text.split())
    if words <= 3:
        tags.add("short")
    if words >= 40:
        tags.add("long")
    return tags


def row_problems(row: object, lang: str) -> list[str]:
    """Everything wrong with one parsed line of `<lang>.jsonl` (empty when it is valid)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    problems = []
    if set(row) != FIELDS:
        problems.append(f"fields {sorted(set(row) ^ FIELDS)} missing or extra")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip() or text != text.strip() or len(text) > 1000:
        problems.append("text must be a non-empty stripped string of at most 1000 characters")
        text = ""
    if not isinstance(row.get("id"), str) or not re.fullmatch(rf"{lang}-\d{{4}}", row["id"]):
        problems.append(f"id {row.get('id')!r} is not {lang}-NNNN")
    if row.get("lang") != lang:
        problems.append(f"lang {row.get('lang')!r} is not {lang!r}")
    for field, allowed in (
        ("kind", KINDS),
        ("sentiment", SENTIMENTS),
        ("urgency", URGENCIES),
        ("split", SPLITS),
    ):
        if row.get(field) not in allowed:
            problems.append(f"{field} {row.get(field)!r} not in {sorted(allowed)}")
    if not isinstance(row.get("complaint"), bool):
        problems.append("complaint must be true or false")
    tags = row.get("tags")
    if not isinstance(tags, list) or len(set(map(str, tags))) != len(tags) or not set(tags) <= TAGS:
        problems.append(f"tags {tags!r} must be distinct names from {sorted(TAGS)}")
    elif set(tags) & SURFACE_TAGS != surface_tags(text):
        problems.append(
            f"surface tags {sorted(set(tags) & SURFACE_TAGS)} do not match the text ({sorted(surface_tags(text))})"
        )
    if row.get("kind") == "social" and "huisraad" not in text.casefold():
        problems.append("a social post must mention the brand (@huisraad, #huisraad or Huisraad)")
    if row.get("sentiment") == "positive" and (row.get("complaint") is True or row.get("urgency") == "high"):
        problems.append("a positive message is neither a complaint nor high urgency")
    if lang != "nl" and isinstance(tags, list) and "flemish" in tags:
        problems.append("flemish is a Dutch tag")
    return problems


@functools.cache
def load(lang: str) -> tuple[dict, ...]:
    """The rows of `<lang>.jsonl`, each line checked to be JSON."""
    rows = []
    for number, line in enumerate((AFFECT / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            pytest.fail(f"{lang}.jsonl line {number} is not JSON: {error}")
    return tuple(rows)


def share(rows, predicate) -> float:
    return sum(1 for row in rows if predicate(row)) / len(rows)


@pytest.mark.parametrize("lang", LANGS)
def test_every_row_follows_the_schema(lang):
    problems = [
        f"{row.get('id', i)}: {p}" for i, row in enumerate(load(lang)) for p in row_problems(row, lang)
    ]
    assert not problems, "\n".join(problems[:20])


def test_the_validator_rejects_broken_rows():
    good = dict(load("nl")[0])
    assert row_problems(good, "nl") == []
    broken = [
        {**good, "sentiment": "angry"},
        {**good, "complaint": "yes"},
        {**good, "urgency": "urgent"},
        {**good, "split": "dev"},
        {**good, "kind": "email"},
        {**good, "id": "nl-1"},
        {**good, "lang": "en"},
        {**good, "text": "  "},
        {**good, "tags": ["irony"]},
        {**good, "tags": sorted(set(good["tags"]) ^ {"question"})},
        {**good, "sentiment": "positive", "complaint": True},
        {k: v for k, v in good.items() if k != "urgency"},
        [good],
    ]
    for row in broken:
        assert row_problems(row, "nl"), row


@pytest.mark.parametrize("lang", LANGS)
def test_each_language_has_at_least_700_examples(lang):
    assert len(load(lang)) >= 700


@pytest.mark.parametrize("lang", LANGS)
def test_label_distribution_is_balanced(lang):
    rows = [r for r in load(lang) if r["kind"] in ("chat", "social")]  # the shop's own messages
    bounds = {
        "negative": (0.30, 0.45, lambda r: r["sentiment"] == "negative"),
        "neutral": (0.25, 0.40, lambda r: r["sentiment"] == "neutral"),
        "positive": (0.20, 0.35, lambda r: r["sentiment"] == "positive"),
        "complaint": (0.28, 0.45, lambda r: r["complaint"]),
        "urgency high": (0.08, 0.18, lambda r: r["urgency"] == "high"),
        "urgency low": (0.22, 0.45, lambda r: r["urgency"] == "low"),
        "social": (0.10, 0.40, lambda r: r["kind"] == "social"),
    }
    for name, (low, high, predicate) in bounds.items():
        assert low <= share(rows, predicate) <= high, f"{lang} {name}: {share(rows, predicate):.2f}"
    # Both labels of every head occur in both splits, so a held-out score means something.
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        assert {r["sentiment"] for r in part} == SENTIMENTS
        assert {r["urgency"] for r in part} == URGENCIES
        assert {r["complaint"] for r in part} == {True, False}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("kind", "minimum", "neutral"), [("post", 400, (0.30, 0.55)), ("review", 100, (0.03, 0.15))])
def test_posts_and_reviews_cover_every_sentiment_in_both_splits(lang, kind, minimum, neutral):
    """Everyday posts are mostly neutral, as timelines are; reviews mostly take a side."""
    rows = [r for r in load(lang) if r["kind"] == kind]
    assert len(rows) >= minimum
    for split in SPLITS:
        assert {r["sentiment"] for r in rows if r["split"] == split} == SENTIMENTS, (kind, split)
    low, high = neutral
    assert low <= share(rows, lambda r: r["sentiment"] == "neutral") <= high
    assert 0.15 <= share(rows, lambda r: r["split"] == "test") <= 0.25


@pytest.mark.parametrize("lang", LANGS)
def test_test_split_is_a_fifth_stratified_by_sentiment(lang):
    rows = load(lang)
    assert 0.15 <= share(rows, lambda r: r["split"] == "test") <= 0.25
    for sentiment in SENTIMENTS:
        group = [r for r in rows if r["sentiment"] == sentiment]
        assert 0.15 <= share(group, lambda r: r["split"] == "test") <= 0.25, sentiment


def test_ids_are_unique():
    ids = [row["id"] for lang in LANGS for row in load(lang)]
    assert len(ids) == len(set(ids))


def test_no_duplicate_texts_after_normalisation():
    seen: dict[str, str] = {}
    for lang in LANGS:
        for row in load(lang):
            key = normalized(row["text"])
            assert key not in seen, f"{row['id']} repeats {seen[key]}: {row['text']!r}"
            seen[key] = row["id"]


@pytest.mark.parametrize("lang", LANGS)
def test_no_near_duplicates_across_splits(lang):
    rows = load(lang)
    test = [(r["id"], features(r["text"])) for r in rows if r["split"] == "test"]
    train = [(r["id"], features(r["text"])) for r in rows if r["split"] == "train"]
    for test_id, a in test:
        for train_id, b in train:
            if a and b and len(a & b) / len(a | b) >= NEAR_DUPLICATE:
                pytest.fail(f"{test_id} (test) nearly repeats {train_id} (train)")


@pytest.mark.parametrize("lang", LANGS)
def test_hard_cases_are_covered_in_both_splits(lang):
    rows = load(lang)
    wanted = {"sarcasm": 25, "negation": 25, "emoji": 60, "typo": 25, "question": 100}
    if lang == "nl":
        wanted["flemish"] = 40
    counts = Counter(tag for row in rows for tag in row["tags"])
    for tag, minimum in wanted.items():
        assert counts[tag] >= minimum, f"{lang}: {counts[tag]} {tag}"
        assert any(tag in row["tags"] for row in rows if row["split"] == "test"), f"{lang}: no {tag} in test"
    sarcastic = [row for row in rows if "sarcasm" in row["tags"]]
    assert all(row["sentiment"] == "negative" for row in sarcastic), "sarcasm is labelled by what it means"
