"""What every chat channel speaks: platform-neutral messages in and out, and the Channel seam."""

from __future__ import annotations

from typing import Protocol

from webcare.core.messages import Button, IncomingMessage, OutgoingMessage

__all__ = ["Button", "Channel", "IncomingMessage", "OutgoingMessage", "button_from_number", "buttons_as_text"]


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
