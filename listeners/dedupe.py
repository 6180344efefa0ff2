"""Near-duplicate text: retweets, copy-paste storms and reposts count, but open one ticket.

A text is reduced to its words (no links, handles, "RT" prefix, punctuation or case). Two texts
are near-duplicates when the word-shingle sets of their reductions overlap by at least the
Jaccard threshold. Exact reductions are found by hash; candidates for the rest through an index
of shingles (very common shingles are skipped: they say nothing and would cost much).
"""

from __future__ import annotations

import re
from collections import OrderedDict

_NOISE = re.compile(r"https?://\S+|www\.\S+|(?<!\w)[@#](?=\w)|^rt\s+@\w+:?", re.IGNORECASE)
_WORDS = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """The words of a text, lower case, without links, the RT prefix and @/# signs."""
    text = _NOISE.sub(" ", text.strip())
    text = re.sub(r"^rt\s+\w+:?", " ", text.strip(), flags=re.IGNORECASE)
    return " ".join(_WORDS.findall(text.lower()))


def shingles(words: str, size: int = 3) -> set[str]:
    tokens = words.split()
    if len(tokens) <= size:
        return {words} if words else set()
    return {" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1)}


class NearDuplicates:
    """Remembers the last `capacity` texts and says which earlier mention a new text repeats."""

    MAX_HOLDERS = 200

    def __init__(self, capacity: int = 50000, threshold: float = 0.8) -> None:
        self.capacity = capacity
        self.threshold = threshold
        self._exact: OrderedDict[str, int] = OrderedDict()  # reduction → mention id
        self._index: dict[str, set[str]] = {}  # shingle → reductions holding it
        self._shingles: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._exact)

    def find(self, text: str) -> int | None:
        """The id of an earlier mention this text repeats, or None."""
        words = normalise(text)
        if not words:
            return None
        if words in self._exact:
            return self._exact[words]
        mine = shingles(words)
        candidates: set[str] = set()
        for s in mine:
            holders = self._index.get(s, set())
            if len(holders) <= self.MAX_HOLDERS:
                candidates |= holders
        best, best_score = None, 0.0
        for other in candidates:
            theirs = self._shingles[other]
            score = len(mine & theirs) / len(mine | theirs)
            if score > best_score:
                best, best_score = other, score
        return self._exact[best] if best is not None and best_score >= self.threshold else None

    def add(self, text: str, mention_id: int) -> None:
        words = normalise(text)
        if not words or words in self._exact:
            return
        self._exact[words] = mention_id
        mine = shingles(words)
        self._shingles[words] = mine
        for s in mine:
            self._index.setdefault(s, set()).add(words)
        while len(self._exact) > self.capacity:
            old, _ = self._exact.popitem(last=False)
            for s in self._shingles.pop(old):
                holders = self._index.get(s)
                if holders is not None:
                    holders.discard(old)
                    if not holders:
                        del self._index[s]
