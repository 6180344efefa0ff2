"""Staff authentication: argon2 password hashes, roles, revocable sessions, CSRF tokens and sign-in backoff."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from webcare.core.errors import WebcareError
from webcare.store import Store

ROLES = ("agent", "social", "admin")
MIN_PASSWORD = 8
MAX_USERNAME = 64  # `webcare users add` allows no more; longer names are refused at sign-in without a look-up
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
    """Exponential backoff on failed sign-ins per key (user name, address, or both).

    The first `attempts` failures are free; each further one doubles the wait (1 s, 2 s, 4 s, …)
    up to `max_delay` seconds, so nobody is locked out for longer than that after the last
    failure. Keys are kept as fixed-size hashes, and a key is forgotten `window` seconds after
    its last failure, so a spray of long or new names cannot grow memory for good.
    """

    def __init__(self, attempts: int, window: float, max_delay: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.max_delay = max_delay
        self.clock = clock
        self._failures: OrderedDict[bytes, tuple[int, float]] = OrderedDict()  # oldest failure first

    def _prune(self) -> None:
        cutoff = self.clock() - self.window
        while self._failures and next(iter(self._failures.values()))[1] < cutoff:
            self._failures.popitem(last=False)

    def retry_after(self, *keys: str) -> float:
        """Seconds until a sign-in may be tried again for these keys; 0 when allowed now."""
        self._prune()
        wait = 0.0
        for key in keys:
            count, last = self._failures.get(_digest(key), (0, 0.0))
            if count >= self.attempts:
                delay = min(2.0 ** (count - self.attempts), self.max_delay)
                wait = max(wait, last + delay - self.clock())
        return wait

    def failed(self, *keys: str) -> None:
        self._prune()
        for key in keys:
            digest = _digest(key)
            count, _ = self._failures.pop(digest, (0, 0.0))
            self._failures[digest] = (count + 1, self.clock())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(_digest(key), None)

    def __len__(self) -> int:
        return len(self._failures)


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class KnownSignIns:
    """Recent successful (user, address) pairs: from there, a user is not held up by failures elsewhere."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._pairs: OrderedDict[bytes, None] = OrderedDict()

    def add(self, username: str, address: str) -> None:
        digest = _digest(f"{username}\n{address}")
        self._pairs.pop(digest, None)
        self._pairs[digest] = None
        while len(self._pairs) > self.size:
            self._pairs.popitem(last=False)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return _digest("\n".join(pair)) in self._pairs
