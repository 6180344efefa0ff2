"""WhatsApp Business (the Cloud API) as a channel: the webhook in the console's app, replies through pywa.

Incoming: Meta POSTs updates to `channels.whatsapp.webhook_path` of the console's FastAPI app (no
second server). Every POST must carry `X-Hub-Signature-256`, the HMAC-SHA256 of the raw body with
the app secret (checked by pywa's validator); the GET handshake answers `hub.challenge` only for
`hub.mode=subscribe` and the configured verify token. The payload is read here rather than by
pywa's handler dispatch, so that a turn the store cannot take fails the request (503) and Meta
delivers it again; turns are deduplicated by the message's `wamid`, so nothing is handled twice.

Outgoing (pywa's async client, whose Graph API host `base_url` may replace): text, up to three
reply buttons, or a list message for more. The 24-hour customer-service window is kept: a reply
goes out free-form only within 24 hours of the customer's last message; after that it goes out as
the approved template configured for the conversation's language, or is held (failed, with the
reason on the outbox row, which the console shows) until the customer writes again. Rate limits (130429, 131056, HTTP 429) put the
reply back in the outbox for later, 5xx and network errors are retried, and delivery and read
statuses from the webhook update the outbox row.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pywa.errors import WhatsAppError
from pywa.types import Button as WaButton
from pywa.types import Section, SectionList, SectionRow
from pywa.types.templates import TemplateLanguage
from pywa.utils import HUB_SIG
from pywa_async import WhatsApp

from webcare.bot.channels.base import (
    Channel,
    ChannelContext,
    IncomingMessage,
    OutgoingMessage,
    buttons_as_text,
)
from webcare.bot.config import WhatsAppConfig
from webcare.bot.engine import DialogueEngine
from webcare.bot.outbox import OutboxDispatcher, backoff, worker_name
from webcare.core.errors import ConfigError, DeliveryFailed, StoreError
from webcare.store import Store

log = logging.getLogger(__name__)

GRAPH_API = "https://graph.facebook.com"
WINDOW_SECONDS = 24 * 3600  # the customer-service window after a customer's last message
MAX_TEXT = 4096
MAX_BODY = 1024  # the body of an interactive message
MAX_BUTTONS = 3  # reply buttons; more become a list message
MAX_ROWS = 10  # rows of a list message
MEDIA = ("image", "audio", "video", "document", "sticker")
OUTSIDE_WINDOW = 131047  # "re-engagement message": more than 24 hours since the customer wrote
RATE_LIMITED = {4, 80007, 130429, 131056}  # app, account, throughput and per-customer pair rate limits


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


class _OutsideWindow(Exception):
    """WhatsApp refused a free-form message: the customer-service window is closed."""


def _session(base_url: str) -> httpx.AsyncClient:
    """An httpx client for pywa; requests to the Graph API go to `base_url` when that is another host.

    pywa fixes its base URL to graph.facebook.com; an httpx request hook (public API) rewrites
    the scheme, host and port, so a proxy or the tests' emulator can stand in for it.
    """
    target = httpx.URL(base_url)

    async def redirect(request: httpx.Request) -> None:
        request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
        request.headers["Host"] = request.url.netloc.decode()

    hooks = {"request": [redirect]} if base_url.rstrip("/") != GRAPH_API else {}
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), event_hooks=hooks)


def to_incoming(message: dict[str, Any], names: dict[str, str]) -> IncomingMessage | None:
    """One message of a webhook update as the engine sees it; None for one without sender or id.

    Media are stored as a reference (`whatsapp-media:<id>`, fetchable with the token) and answered
    politely by the engine; a location is kept as its coordinates; reactions have kind "reaction".
    """
    sender, wamid, kind = message.get("from"), message.get("id"), str(message.get("type") or "unknown")
    if not isinstance(sender, str) or not isinstance(wamid, str):
        return None
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    text = ""
    if kind == "text":
        text = str(body.get("body", ""))
    elif kind == "interactive":  # a reply button or list row pressed: its id is the payload
        reply = body.get("button_reply") or body.get("list_reply") or {}
        kind, text = "button", str(reply.get("id", ""))
    elif kind == "button":  # a quick-reply button of a template
        text = str(body.get("payload", ""))
    elif kind in MEDIA:
        media = f"whatsapp-media:{body.get('id', '')}"  # a reference: the file stays with WhatsApp until fetched
        text = " ".join(filter(None, [f"[{kind} {media}]", body.get("caption")]))
    elif kind == "location":
        place = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        text = f"[location {body.get('latitude')},{body.get('longitude')}{' ' + place if place else ''}]"
    elif kind == "reaction":
        text = str(body.get("emoji", ""))
    else:
        text = f"[{kind}]"
    return IncomingMessage(channel=WhatsAppChannel.name, external_user_id=sender, chat_id=sender, text=text,
                           kind=kind, display_name=names.get(sender), platform_message_id=wamid)


def _changes(payload: Any) -> list[dict[str, Any]]:
    """The `value` of each `messages` change in a webhook update."""
    if not isinstance(payload, dict):
        return []
    return [change["value"] for entry in payload.get("entry") or [] if isinstance(entry, dict)
            for change in entry.get("changes") or []
            if isinstance(change, dict) and change.get("field") == "messages" and isinstance(change.get("value"), dict)]


class WhatsAppChannel(Channel):
    """Customers on WhatsApp: a Business number through the Cloud API."""

    name = "whatsapp"
    supports_buttons = True

    def __init__(self, config: WhatsAppConfig, engine: DialogueEngine | None, store: Store) -> None:
        if not (config.phone_number_id and config.token):
            raise ConfigError("channels.whatsapp needs phone_number_id and token (set WHATSAPP_TOKEN)")
        if config.app_secret is None or config.verify_token is None:
            raise ConfigError("channels.whatsapp needs app_secret and verify_token to accept the webhook")
        self.config = config
        self.engine = engine
        self.store = store
        self.session = _session(config.base_url)
        self.client = WhatsApp(
            phone_id=config.phone_number_id, token=config.token.get_secret_value(), session=self.session,
            verify_token=config.verify_token.get_secret_value(), app_secret=config.app_secret.get_secret_value(),
            api_version=config.api_version,
        )
        self.outbox = OutboxDispatcher(store, {self.name: self}, worker=worker_name(self.name))
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    def from_config(cls, section: WhatsAppConfig, context: ChannelContext) -> WhatsAppChannel:
        return cls(section, context.engine, context.store)

    def describe(self) -> str:
        return f"whatsapp (webhook {self.config.webhook_path})"

    @classmethod
    def note(cls, section: WhatsAppConfig, store: Store, conversation: dict[str, Any]) -> str | None:
        """The customer-service window: open until when, or what happens to staff replies now."""
        last = store.last_message(cls.name, conversation["chat_id"], "in")
        if last is None:
            return None
        until = last["created_at"] + WINDOW_SECONDS
        if store.clock() < until:
            return f"24-hour window open until {_when(until)}: replies go out as written"
        language = conversation.get("language") or "nl"
        template = section.templates.get(language)
        then = (f"staff replies go out as template '{template.name}'" if template else
                f"staff replies are held (no template for language '{language}')")
        return f"24-hour window closed at {_when(until)}: {then}"

    async def stop(self) -> None:
        """Let deliveries in progress finish, then close the connection pool."""
        await self.idle()
        await self.session.aclose()

    async def idle(self) -> None:
        """Wait until the deliveries and read receipts started by the webhook are done."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the webhook ----------------------------------------------------------------------------

    def router(self) -> APIRouter:
        api = APIRouter()
        path = self.config.webhook_path
        assert self.config.verify_token is not None
        verify_token = self.config.verify_token.get_secret_value().encode()

        @api.get(path, include_in_schema=False)
        def handshake(request: Request) -> Response:
            """Meta's verification: echo `hub.challenge` for the right verify token."""
            query = request.query_params
            given = query.get("hub.verify_token", "").encode()
            if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(given, verify_token):
                return PlainTextResponse("wrong verify token", status_code=403)
            return PlainTextResponse(query.get("hub.challenge", ""))

        @api.post(path, include_in_schema=False)
        async def update(request: Request) -> Response:
            body = await request.body()
            refused = await self.client.webhook_update_validator(body, request.headers.get(HUB_SIG))
            if refused is not None:
                return PlainTextResponse("bad signature", status_code=401)
            try:
                payload = json.loads(body)
            except (ValueError, RecursionError):
                return PlainTextResponse("the body is not JSON", status_code=400)
            try:
                await self.receive(payload)
            except StoreError as e:  # Meta delivers the update again; turns are deduplicated by wamid
                log.warning("WhatsApp update not taken, the store is unavailable: %s", e)
                return PlainTextResponse("busy", status_code=503)
            return PlainTextResponse("ok")

        return api

    async def receive(self, payload: Any) -> None:
        """Handle one webhook update: statuses update the outbox, messages go to the engine."""
        for value in _changes(payload):
            for status in value.get("statuses") or []:
                if isinstance(status, dict):
                    await asyncio.to_thread(self.record_status, status)
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name")
                     for c in value.get("contacts") or [] if isinstance(c, dict)}
            for message in value.get("messages") or []:
                incoming = to_incoming(message, names) if isinstance(message, dict) else None
                if incoming is not None:
                    await self.take(incoming)

    async def take(self, incoming: IncomingMessage) -> None:
        """A customer's message: a reaction is noted for staff; anything else is a turn, then delivered."""
        if incoming.kind == "reaction":
            await asyncio.to_thread(self._note_reaction, incoming)
            return
        await asyncio.to_thread(self._turn, incoming)
        if self.config.read_receipts and incoming.platform_message_id:
            self._background(self._quietly(self.client.mark_message_as_read(incoming.platform_message_id)))
        self._background(self.outbox.dispatch_chat(self.name, incoming.chat_id))

    def _turn(self, incoming: IncomingMessage) -> None:
        """The engine's turn; the window is open again, so replies held for this chat go out too."""
        assert self.engine is not None, "the WhatsApp webhook needs the dialogue engine"
        with self.store.transaction():
            self.engine.handle(incoming)
            self.store.release_held(self.name, incoming.chat_id)

    def _note_reaction(self, incoming: IncomingMessage) -> None:
        """A reaction gets no reply (answering a 👍 would be noise); staff see it in the audit log."""
        customer = self.store.identify(self.name, incoming.external_user_id, incoming.display_name)
        self.store.log_event("whatsapp_reaction", customer_id=customer["id"], data={"emoji": incoming.text})

    def record_status(self, status: dict[str, Any]) -> None:
        """A sent / delivered / read / failed status of one of our messages, onto its outbox row."""
        state, wamid = status.get("status"), status.get("id")
        if not isinstance(wamid, str):
            return
        if state in ("delivered", "read"):
            self.store.record_receipt(self.name, wamid, state)
        elif state == "failed":
            error = (status.get("errors") or [{}])[0]
            reason = f"WhatsApp could not deliver it ({error.get('code')}): {error.get('title') or error.get('message')}"
            if error.get("code") == OUTSIDE_WINDOW:
                reason += "; the customer's 24-hour window had closed"
            self.store.record_receipt(self.name, wamid, "failed", reason)

    def _background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(call: Awaitable[Any]) -> None:
        """A cosmetic call (a read receipt); its failure must not stop anything."""
        try:
            await call
        except (WhatsAppError, httpx.HTTPError) as e:
            log.info("WhatsApp call failed (ignored): %s", e)

    # -- sending ---------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> str:
        """Free-form within the customer-service window, else the language's approved template."""
        if len(message.text) > MAX_TEXT:
            raise DeliveryFailed(f"longer than WhatsApp's {MAX_TEXT} characters: send it in parts", permanent=True)
        if await asyncio.to_thread(self.window_open, message.chat_id):
            try:
                return await self._attempt(lambda: self._send_free(message))
            except _OutsideWindow:
                pass  # WhatsApp's clock says the window closed: as below
        return await self._attempt(lambda: self._send_template(message))

    def window_open(self, chat_id: str) -> bool:
        """Whether the customer wrote within the last 24 hours (blocking)."""
        last = self.store.last_message(self.name, chat_id, "in")
        return last is not None and self.store.clock() - last["created_at"] < WINDOW_SECONDS

    async def _send_free(self, message: OutgoingMessage) -> Any:
        buttons = message.buttons
        if not buttons:
            return await self.client.send_message(message.chat_id, message.text)
        body = message.text if len(message.text) <= MAX_BODY else message.text[: MAX_BODY - 1] + "…"
        if len(buttons) <= MAX_BUTTONS:
            choices: Any = [WaButton(b.title[:20], b.payload) for b in buttons]
        else:
            rows = [SectionRow(b.title[:24], b.payload) for b in buttons[:MAX_ROWS]]
            choices = SectionList("Menu", [Section("Menu", rows)])
        return await self.client.send_message(message.chat_id, body, buttons=choices)

    async def _send_template(self, message: OutgoingMessage) -> Any:
        """The approved template of the conversation's language, the reply as its one body parameter."""
        language = await asyncio.to_thread(self._language_of, message)
        template = self.config.templates.get(language)
        if template is None:
            raise DeliveryFailed(
                "held: the customer's 24-hour WhatsApp window has closed and no approved template is set for "
                f"language {language!r} (channels.whatsapp.templates.{language}); it goes out when the customer "
                "writes again", permanent=True)
        text = " ".join(buttons_as_text(message.text, message.buttons).split())  # no newlines in parameters
        body = [{"type": "body", "parameters": [{"type": "text", "text": text[:MAX_BODY]}]}]
        return await self.client.send_template(message.chat_id, template.name, TemplateLanguage(template.language),
                                               body)

    def _language_of(self, message: OutgoingMessage) -> str:
        if message.message_id is None:
            return "nl"
        conversation = self.store.conversation(self.store.message(message.message_id)["conversation_id"])
        return str(conversation.get("language") or "nl")

    async def _attempt(self, send: Callable[[], Awaitable[Any]]) -> str:
        """One send, retried on 5xx and network errors; Graph API errors as DeliveryFailed reasons."""
        attempts = self.config.send_attempts
        for attempt in range(1, attempts + 1):
            try:
                return str((await send()).id)
            except WhatsAppError as e:
                if e.code == OUTSIDE_WINDOW:
                    raise _OutsideWindow from e
                if e.code in RATE_LIMITED or e.status_code == 429:
                    raise DeliveryFailed(f"WhatsApp rate limit ({e.code}): {e.message}") from e
                if (e.status_code or 0) < 500 or attempt == attempts:
                    permanent = (e.status_code or 0) < 500
                    raise DeliveryFailed(f"WhatsApp refused the message ({e.code}): {e.message}",
                                         permanent=permanent) from e
            except httpx.TransportError as e:
                if attempt == attempts:
                    raise DeliveryFailed(f"WhatsApp unreachable after {attempts} tries: {e!r}") from e
            await asyncio.sleep(backoff(attempt, base=0.2, cap=5.0))
        raise AssertionError("unreachable")
