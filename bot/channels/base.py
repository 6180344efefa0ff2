"""What every chat channel speaks: platform-neutral messages in and out, and the Channel seam."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from webcare.text import storable


@dataclass(frozen=True)
class Button:
    """A choice the customer can press; channels without buttons show it as numbered text."""

    title: str
    payload: str


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a customer, as every channel adapter normalises it.

    `kind` is "text" for text, "button" for a pressed button (payload in `text`), or the
    platform's name for what was sent instead of text ("photo", "sticker", "voice", …).
    """

    channel: str
    external_user_id: str
    chat_id: str
    text: str
    kind: str = "text"
    display_name: str | None = None
    platform_message_id: str | None = None
    attachments: tuple[str, ...] = ()
    language_hint: str | None = None

    def __post_init__(self) -> None:
        for name, value in vars(self).items():  # a lone surrogate (JSON allows one) would fail the insert
            object.__setattr__(self, name, storable(value))


@dataclass
class OutgoingMessage:
    """One reply to deliver on a channel; `message_id` is its row in the store's outbox.

    `template` names the response template the bot rendered it from (None for staff replies and
    literal text): what the conversation benchmark scores, independent of wording.
    """

    channel: str
    chat_id: str
    text: str
    buttons: list[Button] = field(default_factory=list)
    message_id: int | None = None
    author: str = "bot"
    template: str | None = None


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


class Channel(Protocol):
    """A chat channel: built from its config section by name, started and stopped by the runner."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: OutgoingMessage) -> str | None:
        """Deliver one message; return the platform's message id. Raise ChannelError on failure."""
        ...
