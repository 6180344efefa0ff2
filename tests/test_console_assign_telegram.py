"""An assignment made in the console is told to the staff Telegram group, once."""

from __future__ import annotations

import asyncio

from emulators.telegram_api import TelegramEmulator
from emulators.telegram_harness import STAFF_CHAT, texts, until

pytest_plugins = ["emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot


async def test_the_staff_group_hears_who_was_assigned(tg: TelegramEmulator, bot, engine):
    store = engine.store
    store.add_user("bea", "x", "agent", "Bea")
    tg.message(4401, "Ik wil een medewerker spreken")
    await texts(tg, 4401, 1)
    await until(lambda: [p for p in tg.sent("sendMessage", STAFF_CHAT) if p.get("reply_markup")])
    ticket = store.tickets(kind="escalation")[0]
    store.assign(ticket["conversation_id"], "bea", actor="alice")
    def told() -> list[str]:
        return [t for t in tg.texts(STAFF_CHAT) if "assigned to bea" in t]
    await until(lambda: told(), what="the assignment in the staff group")
    assert told() == [f"#{ticket['id']} assigned to bea by alice"]
    await asyncio.sleep(0.3)  # later rounds do not tell it again
    assert len(told()) == 1
