"""The dialogue policy end to end through the Telegram channel (python-telegram-bot against the Bot API emulator)."""

from __future__ import annotations

from emulators.telegram_harness import texts

pytest_plugins = ["emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot


async def test_telegram_answers_first_offers_a_person_and_the_customer_can_leave_the_queue(tg, bot, engine):
    chat = 1301
    tg.message(chat, "Waar blijft mijn bestelling? Ik heb al 2 weken gewacht")
    asked = await texts(tg, chat, 2)  # empathy, then the question for the order number
    assert "bestelnummer" in asked[1] and engine.store.tickets() == []
    tg.message(chat, "het is 12345678")
    assert "PostNL" in (await texts(tg, chat, 3))[2]
    status = tg.sent("sendMessage", chat)[2]
    [[details], [person]] = status["reply_markup"]["inline_keyboard"]
    assert details["callback_data"].startswith("/order_details")
    assert person["callback_data"] == "/request_human"
    tg.press(chat, tg.as_message(status), person["callback_data"])
    await texts(tg, chat, 4)
    conversation = engine.store.conversations()[0]
    assert conversation["state"] == "waiting"
    tg.message(chat, "/escalate_ack")  # a typed command is never a template name
    assert "Ik help je met" in (await texts(tg, chat, 5))[4]
    tg.message(chat, "laat maar")
    await texts(tg, chat, 6)
    assert engine.store.conversation(conversation["id"])["state"] == "bot"
    assert engine.store.ticket_for_conversation(conversation["id"])["status"] == "closed"
