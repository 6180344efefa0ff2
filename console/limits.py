"""Guards in front of the web app: per-address rate limits and out-of-range numbers in URLs.

Rate limits use the `limits` library (moving window, in this process's memory: with several
console processes each keeps its own count). The client address is the TCP peer, or, when that
peer is a trusted proxy (`console.forwarded_allow_ips`), the address it forwarded.
"""

from __future__ import annotations

import re
import time
from urllib.parse import unquote_plus

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from webcare.core.errors import TooManyRequests

MAX_ID = 2**63 - 1  # the largest row id SQLite and PostgreSQL hold
_INTEGER = re.compile(r"[+-]?[0-9]+")


def client_address(request: Request) -> str:
    """The customer's address (already the forwarded one when the peer is a trusted proxy)."""
    return request.client.host if request.client else "unknown"


class AddressLimits:
    """Named rates per client address, e.g. {"session": "60/hour", "message": "30/minute"}."""

    def __init__(self, rates: dict[str, str]) -> None:
        self._rates: dict[str, RateLimitItem] = {kind: parse(rate) for kind, rate in rates.items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, kind: str, address: str) -> None:
        """Count one `kind` for `address`; raise TooManyRequests when that goes over its rate."""
        rate = self._rates[kind]
        if not self._limiter.hit(rate, kind, address):
            reset = self._limiter.get_window_stats(rate, kind, address).reset_time
            raise TooManyRequests(f"too many {kind}s from your address; try again later",
                                  retry_after=max(1.0, reset - time.time()))


class NumberGuard:
    """ASGI middleware: numbers beyond 64 bits get 404 in a path (no such row) and 400 in a query string,
    before any handler tries to look them up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = _refusal(scope)
            if refusal is not None:
                return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> PlainTextResponse | None:
    """A response for a request refused on its URL alone, or None."""
    if any(_out_of_range(part) for part in scope["path"].split("/")):
        return PlainTextResponse("not found", status_code=404)
    query = scope.get("query_string", b"").decode("latin-1")
    if any(_out_of_range(unquote_plus(pair.partition("=")[2])) for pair in query.split("&")):
        return PlainTextResponse("a number in the query is out of range", status_code=400)
    return None


def _out_of_range(text: str) -> bool:
    return bool(_INTEGER.fullmatch(text)) and (len(text) > 20 or abs(int(text)) > MAX_ID)
