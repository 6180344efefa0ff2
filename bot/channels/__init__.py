"""The channel registry: a channel is one module plus its config section (`channels.<name>` in config.yml).

As Rasa's `BUILTIN_CHANNELS`, `CHANNELS` maps a name to the channel class (imported lazily, so an
unused channel's library is never loaded) and the runner role whose process holds it. The runner
and the console build every enabled channel of their role from here; a new channel is a module,
a config section in `bot.config.ChannelsConfig` and a line below, and touches no wiring code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webcare.core import extras

if TYPE_CHECKING:
    from webcare.bot.channels.base import Channel, ChannelContext


@dataclass(frozen=True)
class ChannelSpec:
    """Where a channel's class lives and which `webcare run` role holds it.

    `role` None: a command builds it itself (the terminal, for `webcare chat`). `within`: the
    channel is part of another one, which reads this section too (the staff group is a bridge
    inside the Telegram bot and shares its connection).
    """

    path: str  # "module:Class"
    role: str | None
    within: str | None = None
    extra: str | None = None  # the pip extra that brings the channel's libraries, when they are not in the core

    def load(self) -> type[Channel]:
        module, _, name = self.path.partition(":")
        if self.extra:
            return getattr(extras.load(module, self.extra, f"the {self.extra} channel"), name)
        return getattr(importlib.import_module(module), name)


CHANNELS: dict[str, ChannelSpec] = {
    "terminal": ChannelSpec("webcare.bot.channels.terminal:TerminalChannel", None),
    "telegram": ChannelSpec("webcare.bot.channels.telegram:TelegramChannel", "bot"),
    "staff_telegram": ChannelSpec("webcare.bot.channels.staff_telegram:StaffBridge", "bot", within="telegram"),
    "webchat": ChannelSpec("webcare.bot.channels.webchat:WebChat", "console"),
    "email": ChannelSpec("webcare.bot.channels.email:EmailChannel", "bot", extra="email"),
    "whatsapp": ChannelSpec("webcare.bot.channels.whatsapp:WhatsAppChannel", "console",  # its webhook is in the console
                            extra="whatsapp"),
}


def enabled_channels(channels: Any, role: str) -> list[str]:
    """Names of the channels a role holds that their config sections switch on (without importing them)."""
    return [name for name, spec in CHANNELS.items()
            if spec.role == role and spec.within is None and getattr(channels, name).enabled]


def build_channels(context: ChannelContext, role: str) -> dict[str, Channel]:
    """Every enabled channel of a role, built from its config section."""
    sections = context.settings.channels
    return {name: CHANNELS[name].load().from_config(getattr(sections, name), context)
            for name in enabled_channels(sections, role)}
