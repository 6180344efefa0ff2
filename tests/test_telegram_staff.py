"""The staff Telegram group bridge, and one customer across channels, through the real python-telegram-bot."""

from __future__ import annotations

import asyncio

from emulators.telegram_api import TelegramEmulator
from emulators.telegram_harness import STAFF_CHAT, texts, until
from tests.helpers import matches
from webcare.bot.channels.base import IncomingMessage
from webcare.bot.engine import DialogueEngine

pytest_plugins = ["emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot


def staff(tg: TelegramEmulator, user: int, text: str | None, name: str, reply_to: dict | None = None, **payload) -> None:
    tg.message(user, text, chat_id=STAFF_CHAT, chat_type="supergroup", first_name=name, reply_to=reply_to, **payload)


def staff_posts(tg: TelegramEmulator) -> list[str]:
    return tg.texts(STAFF_CHAT)


async def escalated(tg: TelegramEmulator, engine: DialogueEngine, user: int) -> tuple[dict, dict]:
    """A Telegram customer who asked for a person; returns (ticket, the staff post)."""
    tg.message(user, "Ik wil een medewerker spreken")
    await texts(tg, user, 1)
    card = await until(lambda: [p for p in tg.sent("sendMessage", STAFF_CHAT) if p.get("reply_markup")])
    return engine.store.tickets(kind="escalation")[0], card[-1]


async def test_reply_command_take_conflicts_and_what_is_not_relayed(tg, bot, engine):
    ticket, card = await escalated(tg, engine, 3001)
    staff(tg, 7001, f"/reply {ticket['id']} Ik kijk het voor u na", "Sam")
    assert (await texts(tg, 3001, 3))[1:] == ["Sam van Huisraad neemt het gesprek over.", "Ik kijk het voor u na"]
    conversation = engine.store.conversation(ticket["conversation_id"])
    assert conversation["state"] == "human" and conversation["owner"] == "Sam#7001"

    staff(tg, 7002, f"/take {ticket['id']}", "Kim")  # owned by Sam: Kim is told, nothing changes
    await until(lambda: any("already owned" in t for t in staff_posts(tg)), what="the refusal")
    staff(tg, 7002, None, "Kim", reply_to=tg.as_message(card), caption="Hier is een foto",
          photo=[{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}])
    await until(lambda: any("Only text" in t for t in staff_posts(tg)), what="the photo refusal")
    staff(tg, 7002, "/reply 999 hallo", "Kim")
    await until(lambda: any("999" in t for t in staff_posts(tg)), what="the unknown ticket")
    staff(tg, 7001, "even overleggen met Kim", "Sam")  # staff talking among themselves: not relayed
    await asyncio.sleep(0.3)
    assert tg.texts(3001)[2:] == ["Ik kijk het voor u na"]
    assert engine.store.conversation(ticket["conversation_id"])["owner"] == "Sam#7001"


async def test_take_and_done_by_command_and_only_from_the_staff_group(tg, bot, engine, responses):
    ticket, _ = await escalated(tg, engine, 3101)
    tg.message(3102, f"/take {ticket['id']}")  # someone outside the staff group
    await texts(tg, 3102, 1)
    assert engine.store.conversation(ticket["conversation_id"])["state"] == "waiting"
    staff(tg, 7001, f"/take@webcare_test_bot {ticket['id']}", "Sam")
    await until(lambda: engine.store.conversation(ticket["conversation_id"])["state"] == "human", what="take")
    staff(tg, 7001, f"/done {ticket['id']}", "Sam")
    sent = await texts(tg, 3101, 4)
    assert sent[1] == "Sam van Huisraad neemt het gesprek over."
    assert matches(responses, sent[2], "handed_back", "nl") and matches(responses, sent[3], "csat_ask", "nl")
    assert engine.store.ticket(ticket["id"])["status"] == "resolved"
    tg.message(3101, "👍")
    assert matches(responses, (await texts(tg, 3101, 5))[4], "csat_thanks", "nl")
    assert engine.store.ticket(ticket["id"])["csat"] == 5
    staff(tg, 7001, f"/done {ticket['id']}", "Sam")
    await until(lambda: any("already back" in t for t in staff_posts(tg)), what="the second /done")


async def test_each_escalation_is_posted_once_and_again_when_reopened(tg, bot, engine):
    ticket, _ = await escalated(tg, engine, 3201)
    tg.message(3201, "Ik wil een medewerker spreken")  # asked again while waiting: no second post
    await texts(tg, 3201, 2)
    await asyncio.sleep(0.3)
    def cards():
        return [p for p in tg.sent("sendMessage", STAFF_CHAT) if p.get("reply_markup")]
    assert len(cards()) == 1
    staff(tg, 7001, f"/done {ticket['id']}", "Sam")
    await texts(tg, 3201, 4)
    tg.message(3201, "Ik wil toch weer een medewerker spreken")
    await until(lambda: len(cards()) == 2, what="the reopened ticket's post")
    assert f"#{ticket['id']}" in cards()[1]["text"]


async def test_a_typed_email_never_joins_a_telegram_user_to_the_terminal_customer(tg, bot, engine):
    engine.handle(IncomingMessage("terminal", "anna", "anna", "Mijn e-mailadres is anna@example.com",
                                  display_name="Anna"))
    tg.message(3301, "Mijn e-mailadres is anna@example.com")
    await texts(tg, 3301, 1)
    tg.message(3301, "Ik wil een medewerker spreken")
    card = await until(lambda: [p for p in tg.sent("sendMessage", STAFF_CHAT) if p.get("reply_markup")])
    customers = {engine.store.customer_by_identity(c, u)["id"] for c, u in (("terminal", "anna"), ("telegram", "3301"))}
    assert len(customers) == 2  # an e-mail address anyone can type is a claim, not a proof
    assert "via telegram" in card[0]["text"] and "terminal" not in card[0]["text"]


async def test_escalations_from_other_channels_reach_the_group_and_replies_go_back_there(tg, bot, engine):
    engine.handle(IncomingMessage("webchat", "w1", "w1", "Ik wil een medewerker spreken", display_name="Wim"))
    card = await until(lambda: [p for p in tg.sent("sendMessage", STAFF_CHAT) if p.get("reply_markup")])
    assert "webchat" in card[0]["text"]
    staff(tg, 7001, "Goedemiddag Wim", "Sam", reply_to=tg.as_message(card[0]))
    reply = await until(lambda: [m for m in engine.store.pending_outbox("webchat") if m["author"] == "agent:Sam#7001"])
    assert reply[0]["text"] == "Goedemiddag Wim"  # the web chat's outbox delivers it
