"""The public benchmark sets in ../shared/data as `{"text", "label"}` rows (evaluation only).

The directory is `$WEBCARE_DATA_DIR`, else `../shared/data` next to the repository. Sets with a
personal-use or unstated licence (bol.com reviews, political tweets, TweetEval) are read for
evaluation; nothing here ever ships with webcare or trains a shipped model.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from webcare.core.errors import NLUError

Rows = list[dict[str, Any]]


def data_dir(path: str | Path | None = None) -> Path:
    if path:
        return Path(path)
    if os.environ.get("WEBCARE_DATA_DIR"):
        return Path(os.environ["WEBCARE_DATA_DIR"])
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _need(path: Path) -> Path:
    if not path.exists():
        raise NLUError(f"{path} not found: point --data-dir or WEBCARE_DATA_DIR at the shared data folder")
    return path


def clinc150(root: Path) -> dict[str, Rows]:
    """CLINC150 (data_full.json): 150 intents plus `oos` in train, val and test."""
    raw = json.loads(_need(root / "clinc150" / "data_full.json").read_text())
    out = {}
    for split in ("train", "val", "test"):
        rows = [{"text": t, "label": lbl} for t, lbl in raw[split]]
        rows += [{"text": t, "label": "oos"} for t, _ in raw[f"oos_{split}"]]
        out[split] = rows
    return out


def _csv(path: Path) -> list[dict[str, str]]:
    with _need(path).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def banking77(root: Path) -> dict[str, Rows]:
    return {split: [{"text": r["text"], "label": r["category"]} for r in _csv(root / "banking77" / f"{split}.csv")]
            for split in ("train", "test")}


def _conll(path: Path) -> Rows:
    rows, text = [], None
    for line in _need(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("# text = "):
            text = line[len("# text = "):].strip()
        elif line.startswith("# intent = ") and text is not None:
            rows.append({"text": text, "label": line[len("# intent = "):].strip()})
            text = None
    return rows


def xsid(root: Path, language: str) -> dict[str, Rows]:
    """xSID: `valid` (used for training, as in the issue) and `test`, per language."""
    return {"train": _conll(root / "xsid_nl_en" / f"{language}.valid.conll"),
            "test": _conll(root / "xsid_nl_en" / f"{language}.test.conll")}


def tweeteval(root: Path) -> Rows:
    names = {"0": "negative", "1": "neutral", "2": "positive"}
    folder = root / "tweeteval_sentiment"
    texts = _need(folder / "test_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / "test_labels.txt").read_text().split()
    return [{"text": t.strip(), "label": names[lbl]} for t, lbl in zip(texts, labels, strict=True)]


def bol_reviews(root: Path) -> Rows:
    return [{"text": r["text"], "label": "positive" if r["label"].strip() == "1" else "negative"}
            for r in _csv(root / "dutch_bol_reviews" / "test.csv")]


def political_tweets(root: Path) -> Rows:
    return [{"text": r["text"].strip(), "label": r["polarity"].strip()}
            for r in _csv(root / "dutch_political_tweets" / "polarity_test.csv")]


INTENT_SETS = {
    "clinc150": lambda root: clinc150(root),
    "banking77": lambda root: banking77(root),
    "xsid-nl": lambda root: xsid(root, "nl"),
    "xsid-en": lambda root: xsid(root, "en"),
}
SENTIMENT_SETS = {"tweeteval": tweeteval, "bol": bol_reviews, "political": political_tweets}


def read_jsonl_rows(path: str | Path) -> Rows:
    """`{"text", "label"}` lines; a clear error names the bad line."""
    from webcare.nlu.data import read_jsonl

    rows = read_jsonl(Path(path))
    for n, row in enumerate(rows, 1):
        if "label" not in row:
            raise NLUError(f"{path}: row {n} has no \"label\"")
    return rows
