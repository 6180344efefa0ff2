"""What every chat channel speaks: platform-neutral messages in and out, and the Channel base class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from webcare.core.messages import Button, IncomingMessage, OutgoingMessage

if TYPE_CHECKING:
    from fastapi import APIRouter

    from webcare.bot.engine import DialogueEngine
    from webcare.store import Store

__all__ = ["Button", "Channel", "ChannelContext", "IncomingMessage", "OutgoingMessage", "button_from_number",
           "buttons_as_text"]  # the message types live in the leaf (webcare.core.messages); channels import them here


def buttons_as_text(text: str, buttons: list[Button]) -> str:
    """Degrade buttons to numbered lines for channels that cannot show them."""
    if not buttons:
        return text
    lines = [text, ""] + [f"{i}. {b.title}" for i, b in enumerate(buttons, 1)]
    return "\n".join(lines)


def button_from_number(reply: str, buttons: list[Button]) -> str | None:
    """The payload of the numbered choice a customer typed, if the reply is such a number."""
    reply = reply.strip().rstrip(".")
    if reply.isdigit() and 1 <= int(reply) <= len(buttons):
        return buttons[int(reply) - 1].payload
    return None


@dataclass
class ChannelContext:
    """What a channel may build itself from, besides its own config section.

    `settings` is the whole config (a channel may read a neighbouring section, as Telegram reads
    `staff_telegram`); `options` holds what one command adds (the terminal's user and stream).
    """

    store: Store
    engine: DialogueEngine | None
    settings: Any = None
    options: dict[str, Any] = field(default_factory=dict)


class Channel:
    """A chat channel: one module plus its config section, found by name in `bot.channels.CHANNELS`.

    The defaults make a plain-text channel: a subclass sets `name`, builds itself in `from_config`
    and implements `send_text`; buttons reach the customer as numbered lines (`buttons_as_text`),
    and `incoming_text` maps a typed number back to the button's payload, so no channel drops
    choices silently. A channel with real buttons sets `supports_buttons` and overrides `send`.
    """

    name: ClassVar[str]
    supports_buttons: ClassVar[bool] = False

    @classmethod
    def from_config(cls, section: Any, context: ChannelContext) -> Channel:
        """The channel built from its config section (whose `enabled` says whether it is switched on)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from config")

    def describe(self) -> str:
        """How `webcare run` announces the channel."""
        return self.name

    async def start(self) -> None:
        """Connect; nothing by default."""

    async def stop(self) -> None:
        """Disconnect; nothing by default."""

    async def send(self, message: OutgoingMessage) -> str | None:
        """Deliver one message; return the platform's message id. Raise ChannelError on failure."""
        text = message.text if self.supports_buttons else buttons_as_text(message.text, message.buttons)
        return await self.send_text(message, text)

    async def send_text(self, message: OutgoingMessage, text: str) -> str | None:
        """Deliver `text` (the message with its buttons as numbered lines) to the message's chat."""
        raise NotImplementedError(f"{type(self).__name__} must implement send_text or send")

    def router(self) -> APIRouter | None:
        """Web routes the channel adds to the console's app (a webhook, a chat page); none by default."""
        return None

    @classmethod
    def note(cls, section: Any, store: Store, conversation: dict[str, Any]) -> str | None:
        """A line for staff about the conversation's channel state (blocking); none by default."""
        return None

    @staticmethod
    def incoming_text(store: Store, channel: str, chat_id: str, text: str) -> tuple[str, str]:
        """(text, kind) of a typed message: a number picks a button of the chat's last reply (blocking)."""
        last = store.last_message(channel, chat_id, "out")
        buttons = [Button(**b) for b in (last or {}).get("buttons") or []]
        payload = button_from_number(text, buttons)
        return (payload, "button") if payload else (text, "text")
