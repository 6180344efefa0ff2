"""The platform-neutral messages a chat channel and the dialogue engine exchange.

They live in the leaf so that the engine (bot/engine.py) and the channels (bot/channels/) both
import them from here: the engine never imports a channel, a channel may import the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webcare.core.text import storable


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
