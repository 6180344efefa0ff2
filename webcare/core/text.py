"""Text helpers every package shares: storable strings, the one cleaner, HTML to plain text.

JSON and Python strings may hold a lone UTF-16 surrogate (`"\\ud800"`); UTF-8, SQLite and
PostgreSQL do not, so one such character would fail a whole insert. What comes in from the
outside (chat messages, social posts) passes through `storable` once, where it is built.

`clean_text` is the one cleaner: the bot stores a chat message cleaned, the listeners build a
mention's text cleaned, and the analyzer cleans again (a no-op on clean text), so the text that
is stored is the text that was analysed. Imports nothing of webcare.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_JUNK = re.compile(r"[ \t]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]+[ \t]*")  # control characters, U+FFFD
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def storable(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (also inside lists and dicts) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list | tuple):
        return type(value)(storable(v) for v in value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def clean_text(text: Any) -> str:
    """Text safe to store and analyse: a str (bytes decoded), NFC, no lone surrogates, control
    characters or replacement junk (a run of them, with the blanks around it, becomes one space),
    trimmed. Idempotent."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", storable(str(text or "")))
    return _JUNK.sub(" ", text).strip()


def html_to_text(content: str) -> str:
    """Plain text of an HTML fragment (a Mastodon status, an RSS title or summary): line and
    paragraph breaks become newlines, other tags go, entities are decoded."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content or ""))).strip()
