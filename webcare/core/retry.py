"""Backoff for every retry in webcare, through tenacity's wait strategies.

One kind of jitter everywhere, named for what it is: **equal jitter** — the wait after the n-th
failure is a random value between half and all of `base·2^(n-1)`, capped at `cap`. Half of it is
fixed, so retries always spread out; the random half keeps many clients from retrying in step.

Loops that retry in place (a Telegram send, a turn while the store is locked) use tenacity's
`AsyncRetrying` with `equal_jitter(...)` as their `wait`; work that is rescheduled through the store
(the outbox, the listener runner) asks `backoff(n, ...)` for the delay to write down.
"""

from __future__ import annotations

from tenacity import RetryCallState, wait_exponential, wait_random_exponential
from tenacity.wait import wait_base


def equal_jitter(base: float, cap: float) -> wait_base:
    """A tenacity wait: between half and all of `base·2^(attempt-1)`, at most `cap` seconds."""
    half, half_cap = base / 2, cap / 2
    return wait_exponential(multiplier=half, max=half_cap) + wait_random_exponential(multiplier=half, max=half_cap)


def backoff(failures: int, base: float, cap: float) -> float:
    """The equal-jitter wait in seconds after `failures` failures in a row (1 for the first)."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(failures, 1)
    return equal_jitter(base, cap)(state)
