"""The one place that keeps secrets out of output: errors, CLI messages and log lines.

Imports nothing of webcare, so every package may use it. Secrets are registered as config is
loaded (every value that came from `${VAR}` and every `SecretStr`), or by the code that holds
one (`register`); `redact` then replaces each with `***`. Passwords inside URLs
(`scheme://user:password@host`) and Telegram bot tokens are masked even when never registered.
`install_logging` puts a filter on the root handlers so no log line carries a secret.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
MIN_SECRET = 6  # shorter values (ports, flags, "true") would mask ordinary words
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)(?=@)")
_TELEGRAM_TOKEN = re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}")  # also inside /bot<token>/

_lock = threading.Lock()
_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Remember these values as secrets (too short or empty values are ignored)."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= MIN_SECRET)


def forget_all() -> None:
    """Forget every registered secret (for tests)."""
    with _lock:
        _secrets.clear()


def redact(text: str, *extra: str | None) -> str:
    """`text` with every registered secret, `extra` value, URL password and bot token masked."""
    with _lock:
        known = set(_secrets)
    known.update(v for v in extra if v)
    for secret in sorted(known, key=len, reverse=True):  # longest first: a secret may contain another
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _TELEGRAM_TOKEN.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that formats the record's message (and traceback) and masks secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_logging(logger: logging.Logger | None = None) -> None:
    """Add the redacting filter to every handler of `logger` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
