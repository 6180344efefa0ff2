"""Shared pieces of the Telegram tests: a running bot against the Bot API emulator, and waiting helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from emulators.telegram_api import TelegramEmulator
from webcare.bot.channels.telegram import TelegramChannel
from webcare.bot.config import EscalationConfig, StaffTelegramConfig, TelegramConfig
from webcare.bot.engine import DialogueEngine

STAFF_CHAT = -100500
ALWAYS_OPEN = EscalationConfig(business_hours={d: "00:00-23:59" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})


def telegram_config(tg: TelegramEmulator, **overrides: Any) -> TelegramConfig:
    values: dict[str, Any] = {"token": tg.token, "base_url": tg.base_url, "base_file_url": tg.base_file_url,
                              "poll_timeout": 1, "chat_rate": 100, "chat_burst": 20}
    return TelegramConfig(**(values | overrides))


def staff_config(**overrides: Any) -> StaffTelegramConfig:
    return StaffTelegramConfig(**({"chat_id": STAFF_CHAT, "poll_interval": 0.05} | overrides))


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Wait (without blocking the event loop) until `condition()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def texts(tg: TelegramEmulator, chat_id: int, count: int, timeout: float = 10.0) -> list[str]:
    """The first `count` texts the bot sent to a chat, once that many arrived."""
    await until(lambda: len(tg.texts(chat_id)) >= count, timeout, f"{count} messages to {chat_id}")
    return tg.texts(chat_id)


async def started(tg: TelegramEmulator, engine: DialogueEngine, staff: bool = True, **overrides: Any) -> TelegramChannel:
    channel = TelegramChannel(telegram_config(tg, **overrides), engine, engine.store,
                              staff_config() if staff else None)
    await channel.start()
    return channel
