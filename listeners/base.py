"""What every listener speaks: the normalised `Mention` and the `Listener` seam.

A listener polls its network from a cursor (an opaque string the runner stores) and returns
the mentions found and the cursor to poll from next time. It keeps no state between polls that
matters: everything needed to resume (since ids, paging tokens, ETags) lives in the cursor, and
the runner stores that cursor only together with the mentions, in one transaction.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from webcare.core.errors import ListenerError, RateLimited
from webcare.core.text import clean_text, storable

MAX_INTEGER = 2**63 - 1  # what SQLite and PostgreSQL integers hold


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Mention:
    """One post about the brand, the same for every network."""

    source: str  # x | bluesky | mastodon | rss
    external_id: str
    text: str
    author_id: str | None = None
    author: str | None = None  # handle
    author_name: str | None = None
    author_reach: int = 0  # followers, or what the network has instead
    url: str | None = None
    posted_at: float | None = None
    query: str | None = None  # the query, hashtag or feed that found it
    repost_of: str | None = None  # the external id of the original, for retweets and reposts
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Bring what a network sent into the types the store holds: one odd field (a list for a
        handle, a 20-digit follower count, a lone surrogate) must not fail the whole batch."""
        for name in ("source", "external_id"):
            setattr(self, name, storable(str(getattr(self, name))))
        self.text = clean_text(self.text)  # the text stored is the text analysed
        for name in ("author_id", "author", "author_name", "url", "query", "repost_of"):
            value = getattr(self, name)
            setattr(self, name, storable(str(value)) if isinstance(value, str | int) and value is not True
                    and value is not False else None)
        reach = self.author_reach
        self.author_reach = min(max(int(reach), 0), MAX_INTEGER) if _finite(reach) else 0
        self.posted_at = float(self.posted_at) if _finite(self.posted_at) else None
        self.raw = storable(self.raw) if isinstance(self.raw, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Listener(Protocol):
    """One social network: `poll(cursor) -> (mentions, next_cursor)`."""

    name: str
    interval: float

    def poll(self, cursor: str | None) -> tuple[list[Mention], str | None]: ...


class PollRateLimited(RateLimited):
    """The network asked to wait in the middle of a poll.

    Carries what was gathered before (`mentions`) and the cursor that resumes exactly at the
    page that was refused, so the runner stores the part and waits: no gap, no duplicates.
    """

    def __init__(self, message: str, retry_after: float, mentions: list[Mention], cursor: str | None) -> None:
        super().__init__(message, retry_after)
        self.mentions = mentions
        self.cursor = cursor


def load_cursor(cursor: str | None, source: str) -> dict[str, Any]:
    """A listener's cursor as a dict; a clear error when the stored one is not ours."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except json.JSONDecodeError as e:
        raise ListenerError(f"{source}: stored cursor is not JSON ({cursor[:60]!r}); reset it") from e
    if not isinstance(value, dict):
        raise ListenerError(f"{source}: stored cursor {cursor[:60]!r} is not an object; reset it")
    return value


def dump_cursor(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_time(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 string or a datetime; None when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None
