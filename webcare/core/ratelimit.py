"""How long a network asked us to wait, read one way for every network.

X, Bluesky and Mastodon send the time the limit resets (epoch seconds: `x-rate-limit-reset`,
`ratelimit-reset`, Mastodon.py's `ratelimit_reset`); feeds send `Retry-After` (seconds or an HTTP
date); Telegram sends a duration. Each becomes seconds to wait, at least `MIN_WAIT`, and
`DEFAULT_WAIT` when the network said nothing usable.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime

MIN_WAIT = 1.0
DEFAULT_WAIT = 60.0


def until_reset(reset: str | float | None, now: float) -> float:
    """Seconds from `now` until `reset` (epoch seconds, as a number or a header string)."""
    try:
        return max(MIN_WAIT, float(reset) - now) if reset not in (None, "") else DEFAULT_WAIT  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_WAIT


def retry_after(value: str | float | timedelta | None, now: float) -> float:
    """Seconds to wait from a Retry-After value: seconds, an HTTP date, or a duration."""
    if isinstance(value, timedelta):
        return max(MIN_WAIT, value.total_seconds())
    if isinstance(value, int | float):
        return max(MIN_WAIT, float(value))
    if not value or not value.strip():
        return DEFAULT_WAIT
    if value.strip().isdigit():
        return max(MIN_WAIT, float(value))
    try:
        return max(MIN_WAIT, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return DEFAULT_WAIT
