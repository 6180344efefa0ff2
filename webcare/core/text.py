"""Text every store and every network accepts: lone surrogates replaced.

JSON and Python strings may hold a lone UTF-16 surrogate (`"\\ud800"`); UTF-8, SQLite and
PostgreSQL do not, so one such character would fail a whole insert. What comes in from the
outside (chat messages, social posts) passes through `storable` once, where it is built.
Imports nothing of webcare.
"""

from __future__ import annotations

import re
from typing import Any

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (also inside lists and dicts) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list | tuple):
        return type(value)(storable(v) for v in value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value
