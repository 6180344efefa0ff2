"""The staff Telegram group: escalations are posted there, and staff answer customers from it.

Each escalated conversation (from any channel) is posted once per (re)opening of its ticket with the
story so far and a "Take" button; later customer messages in it are forwarded. Staff reply to such a
post (or write `/reply <ticket> <text>`) and the reply goes to the customer on the channel they used;
`/take <ticket>` takes the case (the customer is told who: "Sam van Huisraad neemt het gesprek over"),
`/done` hands it back to the bot, which asks for CSAT, and `/close` ends the conversation.
Only messages from the configured group count as staff actions: Telegram delivers them only from
members, so membership of the group is what makes someone staff. Works with privacy mode on, since
commands and replies to the bot's own posts always reach a bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from webcare.bot.channels.telegram import utf16_len
from webcare.bot.config import StaffTelegramConfig
from webcare.bot.engine import DialogueEngine
from webcare.core.errors import StoreError
from webcare.store import Store

log = logging.getLogger(__name__)

TICKET_REF = re.compile(r"#(\d+)")
ASSIGNED_KEY = "staff_telegram:assigned"  # the cursor of the last assignment told to the group
MAX_POST = 4096  # Telegram's limit for a message, in UTF-16 units
SUMMARY_UNITS = 1500  # what the card shows of a long summary, of a transcript line and of a forwarded message
LINE_UNITS = 400
FORWARD_UNITS = 600  # escaped, six times this still fits one post
HELP = ("Reply to a ticket post to answer the customer.\n"
        "/take <ticket> — take the case · /reply <ticket> <text> — answer · /done [ticket] — hand back to the bot"
        " · /close [ticket] — end the conversation")


def agent_name(user: User) -> str:
    """How a staff member is named as owner and author: the @username, else first name and id."""
    return user.username or f"{user.first_name}#{user.id}"


def shown_name(user: User) -> str:
    """How the customer hears a staff member named: their Telegram first name."""
    return user.first_name or agent_name(user)


def cut(text: str, units: int) -> str:
    """`text` cut to at most `units` UTF-16 units (never inside a surrogate pair), with "…" when cut."""
    if utf16_len(text) <= units:
        return text
    if units <= 1:
        return ""
    encoded = text.encode("utf-16-le")[: 2 * (units - 1)]
    return encoded.decode("utf-16-le", errors="ignore") + "…"


CURSOR_PREFIX = "staff_telegram:ticket:"  # + ticket id: what the group has seen of an escalation


def cursor_key(ticket_id: int) -> str:
    return f"{CURSOR_PREFIX}{ticket_id}"


class StaffBridge:
    """Posts escalations to the staff group and turns what staff do there into store actions."""

    def __init__(
        self,
        config: StaffTelegramConfig,
        engine: DialogueEngine,
        store: Store,
        bot: Bot,
        kick: Callable[[str], None],
    ) -> None:
        assert config.chat_id is not None
        self.config = config
        self.chat_id = config.chat_id
        self.engine = engine
        self.store = store
        self.bot = bot
        self.kick = kick  # delivers a Telegram customer chat's replies now
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sync_once()
            except Exception:
                log.exception("posting escalations to the staff group failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.poll_interval)

    # -- posting to the group --------------------------------------------------------------------------

    async def sync_once(self) -> int:
        """Post new escalations and forward new customer messages of escalated chats; return posts made."""
        posts = 0
        await asyncio.to_thread(self.engine.close_idle)
        for row in await asyncio.to_thread(self.store.escalation_activity, CURSOR_PREFIX):
            seen = json.loads(row["cursor"]) if row["cursor"] else None
            fresh = seen is None or seen["reopened"] != row["reopened"]
            if fresh or (row["last_id"] or 0) > seen["last"]:  # only a changed escalation costs more queries
                posts += await self._sync_escalation(row["ticket_id"], row["conversation_id"], seen, fresh)
        return posts + await self._post_assignments()

    async def _sync_escalation(self, ticket_id: int, conversation_id: int, seen: dict[str, Any] | None,
                               fresh: bool) -> int:
        """Post a new (or re-opened) escalation's card, or forward the customer's new messages; move its cursor."""
        ticket = await asyncio.to_thread(self.store.ticket, ticket_id)
        conversation = await asyncio.to_thread(self.store.conversation, conversation_id)
        messages = await asyncio.to_thread(self.store.messages, conversation_id)
        posts = 0
        if fresh:
            posts += await self._post_or_skip(ticket, self.card(ticket, conversation, messages), take=True)
        else:
            for message in messages:
                if message["id"] > seen["last"] and message["direction"] == "in":
                    posts += await self._post_or_skip(ticket, self.forward(ticket, message))
        state = json.dumps({"reopened": ticket["reopened"], "last": messages[-1]["id"] if messages else 0})
        await asyncio.to_thread(self.store.set_cursor, cursor_key(ticket_id), state)
        return posts

    async def _post_assignments(self) -> int:
        """Tell the group, once each, who the console assigned a case to (from this bridge's first start on)."""
        raw = await asyncio.to_thread(self.store.get_cursor, ASSIGNED_KEY)
        seen = json.loads(raw) if raw else {"id": 0, "at": self.store.clock()}
        events = await asyncio.to_thread(self.store.events, "assigned", seen["at"])
        posts = 0
        for event in (e for e in events if e["id"] > seen["id"]):
            ticket = await asyncio.to_thread(self.store.ticket_for_conversation, event["conversation_id"])
            case = f"#{ticket['id']}" if ticket else f"conversation {event['conversation_id']}"
            who = (event["data"] or {}).get("assignee", "?")
            await self.post(f"{case} assigned to {html.escape(who)} by {html.escape(event['actor'] or '?')}")
            seen, posts = {"id": event["id"], "at": event["created_at"]}, posts + 1
        if raw is None or posts:
            await asyncio.to_thread(self.store.set_cursor, ASSIGNED_KEY, json.dumps(seen))
        return posts

    async def _post_or_skip(self, ticket: dict[str, Any], text: str, take: bool = False) -> int:
        """Post; a post Telegram refuses for good (400) is logged as failed with its reason and skipped,
        so one bad post never holds up the escalations after it. Returns the posts made (0 or 1)."""
        try:
            await self.post(text, take_button=ticket["id"] if take else None)
        except BadRequest as e:
            log.warning("the staff group refused the post for ticket #%s: %s", ticket["id"], e)
            await asyncio.to_thread(self.store.log_event, "staff_post_failed", ticket_id=ticket["id"],
                                    conversation_id=ticket["conversation_id"], data={"reason": str(e)})
            return 0
        return 1

    def card(self, ticket: dict[str, Any], conversation: dict[str, Any], messages: list[dict[str, Any]]) -> str:
        """The escalation post: ticket, priority, reason, the story-so-far summary and the last lines.

        Texts are cut before they are escaped (cutting HTML leaves broken tags and entities), in
        UTF-16 units as Telegram counts; the oldest lines go first until the post fits.
        """
        story = ticket["story"] or {}
        transcript = story.get("transcript") or [{"author": m["author"], "text": m["text"]} for m in messages]
        shown = transcript[-self.config.transcript_lines:] if self.config.transcript_lines else []
        lines = [(cut(t["author"] or "", 64), cut(t["text"] or "", LINE_UNITS)) for t in shown]
        summary = cut(ticket["summary"] or "", SUMMARY_UNITS)
        while True:
            text = self._render_card(ticket, conversation, summary, lines)
            if utf16_len(text) <= MAX_POST or not (lines or summary):
                return text
            if lines:
                lines.pop(0)
            else:
                summary = cut(summary, utf16_len(summary) // 2)

    @staticmethod
    def _render_card(ticket: dict[str, Any], conversation: dict[str, Any], summary: str,
                     lines: list[tuple[str, str]]) -> str:
        head = [
            f"🎫 <b>#{ticket['id']}</b> · {html.escape(ticket['priority'])} · "
            + f"{html.escape(cut(ticket['reason'] or '', 64))} · {html.escape(cut(conversation['channel'], 64))}",
            html.escape(summary),
        ]
        if lines:
            head.append("")
            head += [f"<i>{html.escape(author)}</i>: {html.escape(text)}" for author, text in lines]
        return "\n".join([*head, "", f"Reply to this message to answer. /take {ticket['id']} · /done {ticket['id']}"])

    @staticmethod
    def forward(ticket: dict[str, Any], message: dict[str, Any]) -> str:
        text = message["text"] if message["kind"] in ("text", "button") else f"[{message['kind']}]"
        return f"💬 <b>#{ticket['id']}</b> customer: {html.escape(cut(text or '', FORWARD_UNITS))}"

    async def post(self, text: str, take_button: int | None = None, reply_to: int | None = None) -> Message:
        markup = None
        if take_button is not None:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(f"Take #{take_button}",
                                                                 callback_data=f"take:{take_button}")]])
        return await self.bot.send_message(self.chat_id, text, parse_mode="HTML", reply_markup=markup,
                                           reply_to_message_id=reply_to)

    async def say(self, text: str, reply_to: Message | None) -> None:
        """A short plain-text note to staff; its failure is logged, never raised."""
        try:
            await self.post(html.escape(cut(text, FORWARD_UNITS)), reply_to=reply_to.message_id if reply_to else None)
        except TelegramError as e:
            log.warning("could not tell the staff group %r: %s", text, e)

    # -- what staff do ---------------------------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or user.is_bot:
            return
        text = (message.text or message.caption or "").strip()
        command, rest = "", text
        if text.startswith("/"):
            head, _, rest = text.partition(" ")
            command = head.split("@")[0].lower()
        referenced = self._referenced_ticket(message)
        agent = agent_name(user)
        try:
            if command == "/take":
                await self.take(self._ticket_arg(rest, referenced), agent, message, shown_name(user))
            elif command == "/done":
                await self.done(self._ticket_arg(rest, referenced), agent, message)
            elif command == "/close":
                await self.close(self._ticket_arg(rest, referenced), agent, message)
            elif command == "/reply":
                number, _, reply = rest.strip().partition(" ")
                await self.reply(self._ticket_arg(number, None), agent, reply, message, shown_name(user))
            elif command in ("/help", "/start"):
                await self.say(HELP, message)
            elif not command and referenced is not None:
                if not text or message.text is None:
                    await self.say("Only text is passed on to customers.", message)
                else:
                    await self.reply(referenced, agent, text, message, shown_name(user))
        except StoreError as e:
            await self.say(str(e), message)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.from_user.is_bot:
            return
        data = query.data or ""
        if not data.startswith("take:") or not data[5:].isdigit():
            await query.answer()
            return
        try:
            conversation = await self.take(int(data[5:]), agent_name(query.from_user), None, shown_name(query.from_user))
        except StoreError as e:
            await query.answer(str(e)[:200], show_alert=True)
            return
        await query.answer(f"You own #{data[5:]} now" if conversation else "")

    def _referenced_ticket(self, message: Message) -> int | None:
        """The ticket of the bot's post this message replies to."""
        original = message.reply_to_message
        if original is None or original.from_user is None or original.from_user.id != self.bot.id:
            return None
        found = TICKET_REF.search(original.text or original.caption or "")
        return int(found.group(1)) if found else None

    @staticmethod
    def _ticket_arg(text: str, referenced: int | None) -> int:
        text = text.strip().lstrip("#")
        if text.isdigit():
            return int(text)
        if referenced is not None:
            return referenced
        raise StoreError("which ticket? Give its number (e.g. /take 12) or reply to its post")

    async def _conversation_of(self, ticket_id: int) -> dict[str, Any]:
        ticket = await asyncio.to_thread(self.store.ticket, ticket_id)
        if ticket["conversation_id"] is None:
            raise StoreError(f"ticket #{ticket_id} is not a chat with a customer")
        return await asyncio.to_thread(self.store.conversation, ticket["conversation_id"])

    async def take(self, ticket_id: int, agent: str, message: Message | None, name: str) -> dict[str, Any]:
        """`agent` owns the case now; the customer is told that `name` took over."""
        conversation = await self._conversation_of(ticket_id)
        if conversation["state"] == "human" and conversation["owner"] == agent:
            return conversation
        await asyncio.to_thread(self.engine.take, conversation["id"], agent, name)
        self._deliver(conversation)
        await self.say(f"{agent} took #{ticket_id}.", message)
        return await asyncio.to_thread(self.store.conversation, conversation["id"])

    async def reply(self, ticket_id: int, agent: str, text: str, message: Message, name: str) -> None:
        if not text.strip():
            raise StoreError("an empty reply is not sent")
        conversation = await self._conversation_of(ticket_id)
        if conversation["state"] in ("bot", "closed"):
            raise StoreError(f"#{ticket_id} is back with the bot; /take {ticket_id} first to answer")
        # answering a waiting case takes it: the customer hears who first
        await asyncio.to_thread(self.engine.staff_reply, conversation["id"], agent, text, name)
        self._deliver(conversation)

    async def done(self, ticket_id: int, agent: str, message: Message) -> None:
        conversation = await self._conversation_of(ticket_id)
        if conversation["state"] in ("bot", "closed"):
            raise StoreError(f"#{ticket_id} is already back with the bot")
        await asyncio.to_thread(self.engine.hand_back, conversation["id"], agent)
        self._deliver(conversation)
        await self.say(f"#{ticket_id} is back with the bot (handed back by {agent}); the customer is asked for a rating.",
                       message)

    async def close(self, ticket_id: int, agent: str, message: Message) -> None:
        """End the conversation: the customer is thanked (and asked for a rating if not asked yet)."""
        conversation = await self._conversation_of(ticket_id)
        if conversation["state"] == "closed":
            raise StoreError(f"#{ticket_id} is closed already")
        await asyncio.to_thread(self.engine.close, conversation["id"], agent)
        self._deliver(conversation)
        await self.say(f"#{ticket_id} is closed (by {agent}); the customer's next message starts a new conversation.",
                       message)

    def _deliver(self, conversation: dict[str, Any]) -> None:
        """Telegram customers get the reply now; other channels' outbox dispatchers pick it up."""
        if conversation["channel"] == "telegram":
            self.kick(conversation["chat_id"])
