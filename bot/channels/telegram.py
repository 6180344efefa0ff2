"""The Telegram channel: python-telegram-bot 22 in front of the dialogue engine, polling or webhook.

Thin on purpose: an update becomes an `IncomingMessage`, the engine decides and queues the replies
in the store's outbox, and the outbox delivers them through `send` — at once for this chat, or later
by any outbox dispatcher (staff replies from the console, retries after a failure or a restart).
Sends are plain text (no parse mode, so formatting never fails a send), split at 4,096 UTF-16 units,
paced per chat and overall, and retried on 429 (`retry_after`), 5xx and timeouts. Updates of
different chats are handled side by side, each chat's in order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
)
from telegram.ext import filters as tg_filters
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from webcare.bot.channels.base import Channel, ChannelContext, IncomingMessage, OutgoingMessage
from webcare.bot.config import StaffTelegramConfig, TelegramConfig
from webcare.bot.engine import DialogueEngine
from webcare.bot.handoff import shown_text
from webcare.bot.outbox import OutboxDispatcher, worker_name
from webcare.core.errors import ConfigError, DeliveryFailed, StoreError
from webcare.core.ratelimit import retry_after
from webcare.core.redact import redact
from webcare.core.retry import equal_jitter
from webcare.store import Store

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units
MAX_CALLBACK_DATA = 64  # bytes
ATTACHMENT_KINDS = ("photo", "sticker", "voice", "video", "video_note", "audio", "animation", "document",
                    "location", "venue", "contact", "poll", "dice", "story")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
CONCURRENT_UPDATES = 8  # turns in progress at once (engine work runs in asyncio's small thread pool)
STORE_ATTEMPTS = 8  # turns tried while the store is unavailable (about 90 s in all) before giving up
STORE_WAIT = equal_jitter(base=1.0, cap=30.0)  # between turns tried while the store is unavailable
SEND_WAIT = equal_jitter(base=0.4, cap=5.0)  # between sends tried on 5xx, timeouts and lost connections
STOP_GRACE = 5.0  # seconds deliveries in progress may take to finish when the channel stops
COMMANDS = {
    "en": [("start", "Start a conversation"), ("help", "What I can do"), ("human", "Talk to a person"),
           ("language", "Switch language: /language nl or /language en")],
    "nl": [("start", "Begin een gesprek"), ("help", "Wat ik kan"), ("human", "Spreek een medewerker"),
           ("language", "Wissel van taal: /language nl of /language en")],
}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a text into parts of at most `limit` UTF-16 units, at a paragraph, line or space when one is near."""
    parts: list[str] = []
    while utf16_len(text) > limit:
        cut, size = 0, 0
        for ch in text:  # the longest prefix that fits (never halves a character)
            size += 2 if ord(ch) > 0xFFFF else 1
            if size > limit:
                break
            cut += 1
        window = text[:cut]
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= cut // 2:
                parts.append(window[:at])
                text = text[at + len(separator):]
                break
        else:
            parts.append(window)
            text = text[cut:]
    parts.append(text)
    return [p for p in parts if p.strip()] or [text]


def callback_data(message: OutgoingMessage, index: int) -> str:
    """A button's payload, or a reference to it in the outbox when the payload is over 64 bytes."""
    payload = message.buttons[index].payload
    if len(payload.encode()) <= MAX_CALLBACK_DATA:
        return payload
    return f"#{message.message_id}:{index}"


def keyboard(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    """One button per row: clarify choices, "talk to a person", CSAT scores."""
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title[:64], callback_data=callback_data(message, i))]
         for i, b in enumerate(message.buttons)]
    )


def attachment_kind(message: Message) -> str | None:
    return next((kind for kind in ATTACHMENT_KINDS if getattr(message, kind, None)), None)


class RobustBot(ExtBot):
    """An ExtBot whose getUpdates survives a malformed update instead of re-fetching it forever.

    PTB parses a whole getUpdates batch at once; one update without a required field fails the batch,
    the offset never advances and polling is stuck. Here the batch is re-read raw and parsed one
    update at a time; a malformed one is logged and replaced by an empty update with its id.
    """

    async def get_updates(self, offset: int | None = None, limit: int | None = None, timeout: Any = None,
                          allowed_updates: Any = None, **kwargs: Any) -> tuple[Update, ...]:
        try:
            return await super().get_updates(offset, limit, timeout, allowed_updates, **kwargs)
        except TelegramError:
            raise
        except Exception:  # noqa: BLE001 - a parse error: the raw batch is read again below
            with warnings.catch_warnings():  # PTB prefers get_updates, which is what just failed
                warnings.simplefilter("ignore", PTBUserWarning)
                raw = await self.do_api_request("getUpdates", api_kwargs={"offset": offset, "limit": limit})
        updates = []
        for data in raw if isinstance(raw, list) else []:
            try:
                updates.append(Update.de_json(data, self))
            except Exception:  # noqa: BLE001 - the update is dropped, polling goes on
                log.warning("dropped a malformed Telegram update: %.300r", data)
                if isinstance(data, dict) and isinstance(data.get("update_id"), int):
                    updates.append(Update(update_id=data["update_id"]))
        return tuple(updates)


class RateLimiter(AIORateLimiter):
    """PTB's rate limiter (overall budget, 429 waits), able to tell when the budget is spent.

    PTB keeps its bucket private, so this counts through its public seam, `process_request`:
    the requests waiting for the bucket and those that went out within the last period.
    """

    def __init__(self, overall_max_rate: float = 30, overall_time_period: float = 1, **kwargs: Any) -> None:
        super().__init__(overall_max_rate=overall_max_rate, overall_time_period=overall_time_period, **kwargs)
        self._rate, self._period = overall_max_rate, overall_time_period
        self._sent: deque[float] = deque()
        self._queued = 0

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        async def counted(*a: Any, **kw: Any) -> Any:
            self._queued -= 1
            self._sent.append(time.monotonic())
            try:
                return await callback(*a, **kw)
            finally:
                self._queued += 1  # a retry after a 429 queues again

        self._queued += 1
        try:
            return await super().process_request(counted, args, kwargs, endpoint, data, rate_limit_args)
        finally:
            self._queued -= 1

    def saturated(self) -> bool:
        """True when a request would have to queue now (others wait, or the period's budget is spent)."""
        if not self._rate:
            return False  # unlimited
        while self._sent and self._sent[0] <= time.monotonic() - self._period:
            self._sent.popleft()
        return self._queued > 0 or len(self._sent) >= self._rate


class PerChatUpdates(BaseUpdateProcessor):
    """Updates of different chats are handled side by side, those of one chat strictly in order.

    PTB's default handles one update at a time, so one slow turn (a cold model, a long message)
    holds up every other customer; its plain concurrent mode would let a chat's messages overtake
    each other. Updates reach `do_process_update` in arrival order (PTB starts their tasks in order
    and its semaphore is fair), so chaining each on its chat's previous update keeps that order.
    """

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._tails: dict[int | None, asyncio.Future[None]] = {}

    async def do_process_update(self, update: object, coroutine: Coroutine[Any, Any, Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        key = chat.id if chat is not None else None
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done
        try:
            if previous is not None:
                try:
                    await asyncio.shield(previous)
                except asyncio.CancelledError:
                    coroutine.close()  # stopped before its turn came
                    raise
            await coroutine
        finally:
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class TelegramChannel(Channel):
    """Customers chatting with the bot on Telegram (and, when configured, the staff group bridge)."""

    name = "telegram"
    supports_buttons = True

    def __init__(
        self,
        config: TelegramConfig,
        engine: DialogueEngine,
        store: Store,
        staff: StaffTelegramConfig | None = None,
    ) -> None:
        token = config.token.get_secret_value() if config.token else os.environ.get("TELEGRAM_BOT_TOKEN")
        if not token:
            raise ConfigError("channels.telegram.token is not set: export TELEGRAM_BOT_TOKEN (from @BotFather)")
        if config.mode == "webhook" and not config.webhook_url:
            raise ConfigError("channels.telegram.webhook_url is required in webhook mode")
        self.config = config
        self.engine = engine
        self.store = store
        self.outbox = OutboxDispatcher(store, {self.name: self}, worker=worker_name(self.name))
        self._chat_limits: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._parts_sent: dict[int, int] = {}  # outbox id -> parts of a split reply already sent
        self._delivering: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()
        self._claimed: dict[str, list[tuple[list[dict[str, Any]], float]]] = {}
        self.application = self._build(token)
        self.staff = None
        if staff is not None and staff.chat_id is not None:
            from webcare.bot.channels.staff_telegram import StaffBridge

            self.staff = StaffBridge(staff, engine, store, self.application.bot, self.kick)
        self._add_handlers()

    @classmethod
    def from_config(cls, section: TelegramConfig, context: ChannelContext) -> TelegramChannel:
        """The bot, with the staff group bridge when `channels.staff_telegram` names a group."""
        assert context.engine is not None
        return cls(section, context.engine, context.store, context.settings.channels.staff_telegram)

    def describe(self) -> str:
        return f"telegram ({self.config.mode})" + (" and the staff group" if self.staff is not None else "")

    def _build(self, token: str) -> Application:
        config = self.config
        self._limiter = RateLimiter(overall_max_rate=config.overall_rate, overall_time_period=1,
                                    max_retries=config.retries_429)
        bot = RobustBot(
            token,
            base_url=config.base_url,
            base_file_url=config.base_file_url,
            request=HTTPXRequest(connection_pool_size=64, read_timeout=10, write_timeout=10, connect_timeout=5),
            get_updates_request=HTTPXRequest(read_timeout=5, connect_timeout=5),
            rate_limiter=self._limiter,
        )
        return Application.builder().bot(bot).concurrent_updates(PerChatUpdates()).build()

    def _add_handlers(self) -> None:
        app = self.application
        updates = tg_filters.UpdateType.MESSAGE | tg_filters.UpdateType.EDITED_MESSAGE
        if self.staff is not None:
            staff_chat = tg_filters.Chat(self.staff.chat_id)
            app.add_handler(MessageHandler(staff_chat & tg_filters.UpdateType.MESSAGE, self.staff.on_message))
            updates = updates & ~staff_chat
        app.add_handler(MessageHandler(updates, self.on_message))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self._on_error)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), register the commands, start polling or the webhook, deliver what waits."""
        app = self.application
        try:
            await app.initialize()
            for language, commands in COMMANDS.items():
                await app.bot.set_my_commands([BotCommand(c, d) for c, d in commands],
                                              language_code=None if language == "en" else language)
            await app.start()
            if self.config.mode == "webhook":
                secret = self.config.secret_token.get_secret_value() if self.config.secret_token else None
                await app.updater.start_webhook(
                    listen=self.config.webhook_listen, port=self.config.webhook_port,
                    url_path=self.config.webhook_path, webhook_url=self.config.webhook_url,
                    secret_token=secret or secrets.token_urlsafe(32), allowed_updates=ALLOWED_UPDATES,
                )
            else:
                await app.updater.start_polling(poll_interval=0.0, timeout=self.config.poll_timeout,
                                                allowed_updates=ALLOWED_UPDATES)
        except TelegramError as e:
            await self._shutdown()
            reason = redact(str(e), self.application.bot.token)  # InvalidToken quotes the token in full
            raise ConfigError(f"Telegram did not accept the bot at {self.config.base_url}: {reason}") from e
        if self.staff is not None:
            await self.staff.start()
        for chat_id in {row["chat_id"] for row in await asyncio.to_thread(self.store.pending_outbox, self.name)}:
            self.kick(chat_id)  # replies left from before a restart

    async def stop(self) -> None:
        """Take no more updates, let turns in progress finish, give deliveries a moment, shut down.

        A delivery still waiting after `STOP_GRACE` seconds (a long 429) is cancelled; its replies
        stay in the outbox for the next start (see `OutboxDispatcher`).
        """
        if self.staff is not None:
            await self.staff.stop()
        await self._stop_updates()
        deliveries = list(self._delivering.values())
        if deliveries:
            _, late = await asyncio.wait(deliveries, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.application.shutdown()

    async def _stop_updates(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()  # waits for the updates being handled

    async def _shutdown(self) -> None:
        await self._stop_updates()
        await self.application.shutdown()

    # -- incoming ------------------------------------------------------------------------------------

    def to_incoming(self, update: Update) -> IncomingMessage | None:
        """A customer's message as the engine sees it; None for what is not for the bot."""
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or user.is_bot:
            return None
        text = message.text or message.caption or ""
        if chat.type != chat.PRIVATE:
            text = self._addressed(message, text)
            if text is None:
                return None  # in a group the bot answers only when addressed
        text = self._strip_bot_name(text)
        kind = "text" if text.strip() else attachment_kind(message)
        if kind is None:
            return None  # a service message (member joined, pinned, …)
        platform_id = f"{chat.id}:{message.message_id}"
        if update.edited_message is not None and message.edit_date is not None:
            platform_id += f":edit:{int(message.edit_date.timestamp())}"  # a correction is a new turn
        return IncomingMessage(
            channel=self.name,
            external_user_id=str(user.id),
            chat_id=str(chat.id),
            text=text,
            kind=kind,
            display_name=user.full_name,
            platform_message_id=platform_id,
        )

    def _addressed(self, message: Message, text: str) -> str | None:
        """The text when a group message is for the bot (a command, @mention or reply to it), else None."""
        bot = self.application.bot
        mention = f"@{bot.username}"
        replied = message.reply_to_message is not None and message.reply_to_message.from_user is not None \
            and message.reply_to_message.from_user.id == bot.id
        if replied or mention.lower() in text.lower() or text.startswith("/"):
            return text
        return None

    def _strip_bot_name(self, text: str) -> str:
        username = self.application.bot.username
        if text.startswith("/"):
            command, space, rest = text.partition(" ")
            return command.split("@")[0] + space + rest
        return text.replace(f"@{username}", "").strip() if username else text

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = self.to_incoming(update)
        if incoming is not None:
            await self.handle(incoming)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        if self.staff is not None and query.message is not None and query.message.chat.id == self.staff.chat_id:
            await self.staff.on_button(update, context)
            return
        await self._quietly(query.answer())
        payload = await asyncio.to_thread(self.payload_of, query.data or "")
        if payload is None or query.message is None:
            return
        shown = shown_text(payload, "button")
        if shown != payload:  # a rating: the question shows the stars chosen, not a command
            await self._quietly(query.edit_message_text(f"{query.message.text or ''}\n\n{shown}"))
        else:
            await self._quietly(query.edit_message_reply_markup(None))  # a choice is made once
        await self.handle(IncomingMessage(
            channel=self.name,
            external_user_id=str(query.from_user.id),
            chat_id=str(query.message.chat.id),
            text=payload,
            kind="button",
            display_name=query.from_user.full_name,
            platform_message_id=f"callback:{query.id}",
        ))

    def payload_of(self, data: str) -> str | None:
        """The payload behind a button's callback data (see `callback_data`)."""
        if not data.startswith("#"):
            return data or None
        message_id, _, index = data[1:].partition(":")
        try:
            buttons = self.store.message(int(message_id))["buttons"] or []
            return buttons[int(index)]["payload"]
        except (ValueError, IndexError, KeyError, LookupError):
            return None

    async def handle(self, incoming: IncomingMessage) -> None:
        """Let the engine answer (showing 'typing…' meanwhile), then deliver this chat's replies.

        'typing…' is cosmetic: it is left out while the overall budget is spent (a backlog), so
        that the requests per second go to replies.
        """
        typing = None
        if self.config.typing and not self._limiter.saturated():
            typing = asyncio.create_task(self._quietly(
                self.application.bot.send_chat_action(int(incoming.chat_id), "typing")))
        try:
            claimed_at = time.monotonic()
            rows = await self._answer_when_the_store_can(incoming)
        finally:
            if typing is not None:
                await typing
        self.kick(incoming.chat_id, rows, claimed_at)

    async def _answer_when_the_store_can(self, incoming: IncomingMessage) -> list[dict[str, Any]]:
        """The turn, tried again while the store is unavailable (a turn is atomic: nothing is doubled).

        Telegram has already handed the update over, so giving up would lose the customer's message.
        """
        async for attempt in AsyncRetrying(retry=retry_if_exception_type(StoreError), wait=STORE_WAIT,
                                           stop=stop_after_attempt(STORE_ATTEMPTS), reraise=True,
                                           before_sleep=self._store_unavailable(incoming.chat_id)):
            with attempt:
                return await asyncio.to_thread(self._answer, incoming)
        raise AssertionError("unreachable: AsyncRetrying returns or re-raises")

    @staticmethod
    def _store_unavailable(chat_id: str) -> Callable[[RetryCallState], None]:
        def warn(state: RetryCallState) -> None:
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning("store unavailable for chat %s (%s); trying again in %.1f s",
                        chat_id, state.outcome.exception() if state.outcome else None, wait)
        return warn

    def _answer(self, incoming: IncomingMessage) -> list[dict[str, Any]]:
        """The engine's turn and the claim of the chat's replies, in one trip to a worker thread."""
        self.engine.handle(incoming)
        return self.outbox.claim(self.name, incoming.chat_id)

    # -- outgoing ------------------------------------------------------------------------------------

    def kick(self, chat_id: str, claimed: list[dict[str, Any]] | None = None, claimed_at: float = 0.0) -> None:
        """Deliver a chat's pending replies (and any already `claimed`) now, in the background.

        One delivery runs per chat at a time, so a chat's replies keep their order.
        """
        if claimed:
            self._claimed.setdefault(chat_id, []).append((claimed, claimed_at))
        self._again.add(chat_id)
        if chat_id not in self._delivering:
            self._delivering[chat_id] = asyncio.create_task(self._deliver(chat_id))

    async def _deliver(self, chat_id: str) -> None:
        try:
            while chat_id in self._again:
                self._again.discard(chat_id)
                batches = self._claimed.pop(chat_id, [])
                for rows, claimed_at in batches:
                    await self.outbox.deliver(self.name, rows, claimed_at)
                if not batches:  # nothing claimed for us: look in the outbox
                    await self.outbox.dispatch_chat(self.name, chat_id)
        except Exception:
            log.exception("delivery to Telegram chat %s failed", chat_id)
        finally:
            self._delivering.pop(chat_id, None)

    async def send(self, message: OutgoingMessage) -> str:
        """Send one outbox reply (split when long, buttons on the last part); return Telegram's message id."""
        chat_id = int(message.chat_id)
        parts = split_text(message.text)
        markup = keyboard(message)
        key = message.message_id if message.message_id is not None else -1
        sent: Message | None = None
        for index in range(self._parts_sent.get(key, 0), len(parts)):
            last = index == len(parts) - 1
            async with self._chat_limit(chat_id):
                sent = await self._send_part(chat_id, parts[index], markup if last else None)
            self._parts_sent[key] = index + 1  # a retry resends only the parts that did not go out
        self._parts_sent.pop(key, None)
        return str(sent.message_id) if sent else ""

    def _chat_limit(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chat_limits.pop(chat_id, None) or AsyncLimiter(
            self.config.chat_burst, self.config.chat_burst / self.config.chat_rate)
        self._chat_limits[chat_id] = limiter
        if len(self._chat_limits) > 10_000:
            self._chat_limits.popitem(last=False)
        return limiter

    async def _send_part(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> Message:
        attempts = self.config.send_attempts
        try:
            async for attempt in AsyncRetrying(retry=retry_if_exception_type(NetworkError), wait=SEND_WAIT,
                                               stop=stop_after_attempt(attempts), reraise=True):
                with attempt:
                    return await self._send_once(chat_id, text, markup)
        except NetworkError as e:  # 5xx, timeouts, connection errors, `attempts` times
            raise DeliveryFailed(f"Telegram unreachable after {attempts} tries: {e}") from e
        raise AssertionError("unreachable: AsyncRetrying returns or re-raises")

    async def _send_once(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> Message:
        """One send; a NetworkError passes through (tried again), every other failure is a DeliveryFailed."""
        try:
            return await self.application.bot.send_message(chat_id, text, reply_markup=markup)
        except RetryAfter as e:  # still limited after the rate limiter's own waits
            with warnings.catch_warnings():  # its type changes from int to timedelta in PTB 23
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                seconds = retry_after(e.retry_after, time.time())
            raise DeliveryFailed(f"Telegram asks to wait {seconds:.0f}s", retry_after=seconds) from e
        except (Forbidden, BadRequest, ChatMigrated) as e:
            raise DeliveryFailed(f"Telegram refused the message: {e}", permanent=True) from e
        except NetworkError:
            raise
        except TelegramError as e:
            raise DeliveryFailed(f"Telegram error: {e}") from e

    # -- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    async def _quietly(call: Any) -> None:
        """Await a cosmetic call (typing, answering a button); its failure must not stop the reply."""
        try:
            await call
        except TelegramError as e:
            log.info("Telegram call failed (ignored): %s", e)

    @staticmethod
    async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("handling a Telegram update failed: %s", context.error, exc_info=context.error)

