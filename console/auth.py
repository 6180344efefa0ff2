"""Staff authentication: argon2 password hashes, roles, revocable sessions, CSRF tokens and a login rate limit."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store import Store
from webcare.errors import WebcareError

ROLES = ("agent", "social", "admin")
MIN_PASSWORD = 8
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("no such user, same work")


def hash_password(password: str) -> str:
    """An argon2id hash of a new password; refuses passwords that are too short."""
    if len(password) < MIN_PASSWORD:
        raise WebcareError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise WebcareError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def authenticate(store: Store, username: str, password: str) -> dict[str, Any] | None:
    """The user when the password is right and the account enabled; None otherwise (same work either way)."""
    user = store.user(username)
    try:
        _hasher.verify(user["password_hash"] if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user["disabled"]:
        return None
    if _hasher.check_needs_rehash(user["password_hash"]):
        store.update_user(username, keep_sessions=True, password_hash=_hasher.hash(password))
    return user


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a session token: its SHA-256, so a copy of the store signs no one in."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class LoginLimiter:
    """Allows `attempts` failed logins per key (user and address) in a sliding window of `window` seconds."""

    def __init__(self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login may be tried again for these keys; 0 when allowed now."""
        wait = 0.0
        for key in keys:
            failures = self._recent(key)
            if len(failures) >= self.attempts:
                wait = max(wait, failures[0] + self.window - self.clock())
        return wait

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(self.clock())
        if len(self._failures) > 10_000:  # forget idle keys so a spray of names cannot grow memory
            for key in [k for k, v in self._failures.items() if not self._recent(k)]:
                del self._failures[key]

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
