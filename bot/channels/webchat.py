"""The customer web chat: a page, an embeddable widget, and a JSON + server-sent-events API.

Thin over the dialogue engine: a posted message becomes an `IncomingMessage`; replies (the bot's
and staff's) are the chat's outbox rows, delivered by claiming them for this chat whenever the page
asks, or by the outbox dispatcher calling `send`, which wakes the waiting page. Pages wait for events,
not polls: a posted message's replies and `send` wake them in this process, PostgreSQL NOTIFY from
other processes (bot/events.py); a slow safety poll covers a lost event. The server issues
each chat session: a random token, signed, in an HttpOnly cookie. A cookie the server did not sign
is refused and replaced by a new session; the store keeps only a hash of the token as the chat id,
and staff see a short reference of that (`web-3fa2`). Everything the customer sees is read back
from the store, so a reload, a second tab or a restart (with the same secret key) loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from itsdangerous import BadSignature, Signer

from webcare.bot.channels.base import Channel, ChannelContext, IncomingMessage, OutgoingMessage
from webcare.bot.engine import DialogueEngine
from webcare.bot.events import OutboxListener
from webcare.bot.outbox import worker_name
from webcare.store import Store

COOKIE = "webcare_chat"
MAX_TEXT = 20_000
STREAM_SECONDS = 25.0  # a stream ends after this; the browser reconnects with Last-Event-ID
KEEP_ALIVE_SECONDS = 10.0
SAFETY_POLL_SECONDS = 5.0  # waiting pages are woken by events; this re-read only covers a lost one
SESSION_DAYS = 90
MAX_COOKIE = 200
_ASSETS = Path(__file__).with_name("static")  # chat.html, chat.js, chat.css, widget.js
_KINDS = ("text", "button")
NEW_ESCALATION = ("escalate_ack", "escalate_ack_closed")  # the replies of a turn that opened a ticket


class Limits(Protocol):
    """Per-address rates (console.limits.AddressLimits): `hit` raises TooManyRequests when over."""

    def hit(self, kind: str, address: str) -> None: ...


def reference(chat_id: str) -> str:
    """A short, non-secret reference to a web chat for staff ('web-3fa2'); not unique, not a key."""
    return "web-" + hashlib.sha256(chat_id.encode()).hexdigest()[:4]


class ChatSessions:
    """Web chat sessions the server issues: a signed random token in the cookie, its hash as the chat id."""

    def __init__(self, secret: str | None = None) -> None:
        self._signer = Signer(secret or secrets.token_urlsafe(32), salt="webcare.webchat.session",
                              digest_method=hashlib.sha256)

    def issue(self) -> str:
        """A new session: the cookie value to set."""
        return self._signer.sign(secrets.token_urlsafe(24)).decode()

    def chat_id(self, cookie: str | None) -> str | None:
        """The chat id of a cookie this server issued; None for anything else."""
        if not cookie or len(cookie) > MAX_COOKIE:
            return None
        try:
            token = self._signer.unsign(cookie)
        except BadSignature:
            return None
        return hashlib.sha256(token).hexdigest()[:32]


class WebChat(Channel):
    """The web chat channel: customers in browsers, one server-issued chat session each."""

    name = "webchat"
    supports_buttons = True

    def __init__(self, store: Store, engine: DialogueEngine | None = None, poll_seconds: float = SAFETY_POLL_SECONDS,
                 secret: str | None = None, limits: Limits | None = None, secure_cookies: bool = False) -> None:
        self.store = store
        self.secure_cookies = secure_cookies
        self.engine = engine
        self.limits = limits
        self.poll_seconds = poll_seconds
        self.sessions = ChatSessions(secret)
        self.worker = worker_name("webchat")
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._listener: OutboxListener | None = None
        self._listening = False

    @classmethod
    def from_config(cls, section: Any, context: ChannelContext) -> WebChat:
        """The chat of the console's app: `context.options` gives the signing `secret` and address `limits`."""
        return cls(context.store, context.engine, secret=context.options.get("secret"),
                   limits=context.options.get("limits"), secure_cookies=context.settings.console.secure_cookies)

    def router(self) -> APIRouter:
        return router(self, self.secure_cookies)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        for chat_id in list(self._waiters):
            self.wake(chat_id)

    def _listen(self) -> None:
        """Hear of replies queued by other processes (PostgreSQL NOTIFY), from the first waiting page on."""
        if not self._listening:
            self._listening = True
            self._listener = OutboxListener.for_store(
                self.store, lambda channel, chat_id: self.wake(chat_id) if channel == self.name else None)

    async def send(self, message: OutgoingMessage) -> str | None:
        """Called by the outbox dispatcher: the reply is in the store already; wake the customer's page."""
        self.wake(message.chat_id)
        return f"webchat:{message.message_id}"

    def wake(self, chat_id: str) -> None:
        """Wake the pages waiting on this chat (safe from any thread)."""
        for loop, event in list(self._waiters.get(chat_id, ())):
            loop.call_soon_threadsafe(event.set)

    def post(self, chat_id: str, text: str, kind: str = "text", client_id: str | None = None,
             address: str | None = None) -> None:
        """Hand one customer message to the dialogue engine (blocking: run it in a thread).

        A turn that opens a new escalation counts against the client address's escalation rate;
        over it, the whole turn is undone and `TooManyRequests` raised.
        """
        assert self.engine is not None
        message = IncomingMessage(channel=self.name, external_user_id=chat_id, chat_id=chat_id, text=text,
                                  kind=kind, platform_message_id=client_id)
        with self.store.transaction():
            replies = self.engine.handle(message)
            if self.limits and address and any(r.template in NEW_ESCALATION for r in replies):
                self.limits.hit("escalation", address)
            for reply in replies:  # the engine's replies are delivered by being shown: no claim, no read-back
                self.store.mark_sent(reply.message_id, f"webchat:{reply.message_id}")

    def history(self, chat_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Deliver the chat's pending replies, then return what the customer sees after message `after`.

        The bot's replies were delivered with the turn (`post`); what is pending here is a staff reply
        no dispatcher delivered yet. Only then is there a claim (a write): a plain read otherwise.
        """
        if self.store.pending_outbox(self.name, chat_id):
            for row in self.store.claim_outbox(self.name, self.worker, chat_id=chat_id):
                self.store.mark_sent(row["id"], f"webchat:{row['id']}")
        return [public(row) for row in self.store.chat_messages(self.name, chat_id, after)]

    async def wait(self, chat_id: str, after: int, timeout: float) -> list[dict[str, Any]]:
        """New messages after `after`, waiting up to `timeout` seconds for some to arrive."""
        deadline = time.monotonic() + timeout
        self._listen()
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        waiters = self._waiters.setdefault(chat_id, set())
        waiters.add(waiter)
        try:
            while True:
                waiter[1].clear()
                messages = await asyncio.to_thread(self.history, chat_id, after)
                left = deadline - time.monotonic()
                if messages or left <= 0:
                    return messages
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter[1].wait(), min(left, self.poll_seconds))
        finally:
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(chat_id, None)


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the customer's page shows it (no analysis, no staff internals)."""
    author = row["author"]
    sender = "customer" if row["direction"] == "in" else "agent" if author.startswith("agent:") else "bot"
    return {
        "id": row["id"],
        "from": sender,
        "name": author.removeprefix("agent:") if sender == "agent" else None,
        "text": row["text"],
        "kind": row["kind"],
        "buttons": row["buttons"] or [],
        "at": row["created_at"],
    }


def _address(request: Request) -> str:
    """The client address (the forwarded one behind a trusted proxy, see console.forwarded_allow_ips)."""
    return request.client.host if request.client else "unknown"


def _is_unicode(text: str) -> bool:
    """False for text with lone surrogates, which JSON allows and no database stores."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def router(chat: WebChat, secure_cookies: bool = False) -> APIRouter:  # noqa: C901 - one closure per route; each is small
    """The web chat's routes, to include under /chat in the web app."""
    api = APIRouter()

    def chat_id_of(request: Request) -> str | None:
        return chat.sessions.chat_id(request.cookies.get(COOKIE))

    def new_session(request: Request, response: Response) -> Response:
        """Issue a chat session (counted against the client address's session rate)."""
        if chat.limits:
            chat.limits.hit("session", _address(request))
        response.set_cookie(COOKIE, chat.sessions.issue(), max_age=SESSION_DAYS * 86400, httponly=True,
                            samesite="lax", secure=secure_cookies)
        return response

    def refused(request: Request) -> Response:
        """No session this server issued: refused, with a new session for the next try."""
        return new_session(request, JSONResponse({"detail": "no chat session: a new one was started, try again"}, 401))

    @api.get("/chat", include_in_schema=False)
    def page(request: Request) -> Response:
        response = FileResponse(_ASSETS / "chat.html", media_type="text/html")
        if chat_id_of(request) is None:
            new_session(request, response)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors *"
        )
        return response

    @api.get("/chat/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ("chat.js", "chat.css", "widget.js"):
            raise HTTPException(404)
        types = {"js": "text/javascript", "css": "text/css"}
        return FileResponse(_ASSETS / name, media_type=types[name.rsplit(".", 1)[1]])

    @api.post("/chat/api/messages")
    async def send_message(request: Request) -> Response:
        chat_id = chat_id_of(request)
        if chat_id is None:
            return refused(request)
        if chat.engine is None:
            raise HTTPException(503, "the chat bot is not running in this process")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send JSON: {\"text\": \"…\"}")
        if chat.limits:
            chat.limits.hit("message", _address(request))
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError) as e:  # also 5,000-digit numbers and deep nesting
            raise HTTPException(400, "the body is not valid JSON") from e
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise HTTPException(400, "the body needs a \"text\" string")
        text, kind = body["text"], body.get("kind", "text")
        client_id = body.get("id")
        if kind not in _KINDS:
            raise HTTPException(400, f"kind must be one of {', '.join(_KINDS)}")
        if len(text) > MAX_TEXT:
            raise HTTPException(413, f"a message may have at most {MAX_TEXT} characters")
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 64):
            raise HTTPException(400, "id must be a string of at most 64 characters")
        if not _is_unicode(text) or not _is_unicode(client_id or ""):
            raise HTTPException(400, "the text is not valid Unicode (it has lone surrogates)")
        await asyncio.to_thread(chat.post, chat_id, text, kind, client_id and f"{chat_id}:{client_id}",
                                _address(request))
        chat.wake(chat_id)
        return JSONResponse({"ok": True}, status_code=202)

    @api.get("/chat/api/messages")
    async def messages(request: Request, after: int = 0, wait: float = 0.0) -> Any:
        chat_id = chat_id_of(request)
        if chat_id is None:
            return refused(request)
        return {"messages": await chat.wait(chat_id, after, max(0.0, min(wait, STREAM_SECONDS)))}

    @api.get("/chat/api/stream")
    async def stream(request: Request, after: int = 0) -> Response:
        chat_id = chat_id_of(request)
        if chat_id is None:
            return refused(request)
        last = request.headers.get("last-event-id", "")
        start = int(last) if last.isascii() and last.isdigit() and len(last) < 19 else after

        async def events() -> AsyncIterator[str]:
            seen = start
            deadline = time.monotonic() + STREAM_SECONDS
            yield "retry: 1000\n\n"
            while (left := deadline - time.monotonic()) > 0 and not await request.is_disconnected():
                for message in await chat.wait(chat_id, seen, min(left, KEEP_ALIVE_SECONDS)):
                    seen = message["id"]
                    yield f"id: {seen}\ndata: {json.dumps(message, ensure_ascii=False)}\n\n"
                yield ": keep-alive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return api
