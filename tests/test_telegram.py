"""The Telegram channel through the real python-telegram-bot, against the Bot API emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import socket
from datetime import UTC, datetime

import httpx
import pytest
from telegram import Chat, Message, Update
from tenacity import wait_fixed

from emulators.telegram_api import BOT_USERNAME
from emulators.telegram_harness import ALWAYS_OPEN, STAFF_CHAT, started, telegram_config, texts, until
from tests.helpers import matches
from webcare.bot.channels.base import Button, OutgoingMessage
from webcare.bot.channels.telegram import (
    PerChatUpdates,
    RateLimiter,
    TelegramChannel,
    callback_data,
    split_text,
    utf16_len,
)
from webcare.bot.engine import DialogueEngine
from webcare.bot.outbox import OutboxDispatcher
from webcare.core.errors import ConfigError
from webcare.nlu.types import Analysis
from webcare.store import Store

pytest_plugins = ["emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot


def ticket_of(engine: DialogueEngine) -> dict:
    return engine.store.tickets(kind="escalation")[0]


# -- pure helpers -------------------------------------------------------------------------------------


def test_long_texts_are_split_within_telegrams_limit_without_losing_text():
    paragraphs = "\n\n".join(f"Alinea {i}: " + "woord " * 150 for i in range(20))
    parts = split_text(paragraphs)
    assert len(parts) > 1 and all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == paragraphs.replace("\n", "").replace(" ", "")
    emoji = "😀" * 5000  # two UTF-16 units each: 10,000 units
    parts = split_text(emoji)
    assert [utf16_len(p) for p in parts] == [4096, 4096, 1808] and "".join(parts) == emoji
    assert split_text("kort") == ["kort"]


def test_long_button_payloads_travel_as_a_reference_to_the_outbox(engine):
    store = engine.store
    customer = store.identify("telegram", "1", "A")
    conversation = store.open_conversation(customer["id"], "telegram", "1")
    payload = "/" + "x" * 80
    message_id = store.queue_outgoing(conversation["id"], "kies", buttons=[{"title": "X", "payload": payload}])
    message = OutgoingMessage("telegram", "1", "kies", [Button("X", payload)], message_id)
    data = callback_data(message, 0)
    assert data == f"#{message_id}:0" and len(data.encode()) <= 64
    channel = TelegramChannel.__new__(TelegramChannel)
    channel.store = store
    assert channel.payload_of(data) == payload
    assert channel.payload_of(f"#{message_id}:7") is None and channel.payload_of("/start") == "/start"


async def test_updates_of_one_chat_keep_their_order_while_other_chats_go_ahead():
    processor = PerChatUpdates(4)
    done: list[str] = []
    first_may_finish = asyncio.Event()

    def update(update_id: int, chat_id: int) -> Update:
        chat = Chat(chat_id, Chat.PRIVATE)
        return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, text="x"))

    async def turn(name: str, gate: asyncio.Event | None = None) -> None:
        if gate is not None:
            await gate.wait()
        done.append(name)

    tasks = [asyncio.create_task(processor.process_update(update(1, 10), turn("a1", first_may_finish))),
             asyncio.create_task(processor.process_update(update(2, 10), turn("a2"))),
             asyncio.create_task(processor.process_update(update(3, 20), turn("b1")))]
    await until(lambda: done == ["b1"], what="the other chat's turn")  # not held up by chat 10
    first_may_finish.set()
    await asyncio.gather(*tasks)
    assert done == ["b1", "a1", "a2"]


async def test_the_rate_limiter_tells_when_the_overall_budget_is_spent():
    async def request(*args, **kwargs):
        return True

    limiter = RateLimiter(overall_max_rate=2, overall_time_period=60)
    assert not limiter.saturated()
    for _ in range(2):
        await limiter.process_request(request, (), {}, "sendChatAction", {"chat_id": 1}, None)
    assert limiter.saturated()  # the next request would queue: "typing…" is left out then
    assert not RateLimiter(overall_max_rate=0).saturated()  # unlimited


async def test_the_rate_limiter_is_saturated_while_a_request_waits_and_free_after():
    release = asyncio.Event()

    async def slow(*args, **kwargs):
        await release.wait()
        return True

    limiter = RateLimiter(overall_max_rate=5, overall_time_period=0.05)
    waiting = asyncio.create_task(limiter.process_request(slow, (), {}, "sendMessage", {"chat_id": 1}, None))
    await asyncio.sleep(0.01)
    assert not limiter.saturated()  # one request in flight is within the budget
    release.set()
    await waiting
    for _ in range(5):
        await limiter.process_request(slow, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert limiter.saturated()
    await asyncio.sleep(0.06)
    assert not limiter.saturated()  # the period is over: the budget is back


def test_a_missing_token_is_a_clear_config_error(engine, monkeypatch, tg):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        TelegramChannel(telegram_config(tg, token=None), engine, engine.store)


async def test_a_wrong_token_fails_start_with_a_clear_error(tg, engine):
    channel = TelegramChannel(telegram_config(tg, token="1:wrong"), engine, engine.store)
    with pytest.raises(ConfigError, match="did not accept"):
        await channel.start()


# -- conversations ------------------------------------------------------------------------------------


async def test_commands_are_registered_in_both_languages_and_answered(tg, bot, responses):
    assert [c["command"] for c in tg.commands[""]] == ["start", "help", "human", "language"]
    assert tg.commands["nl"][2]["description"] == "Spreek een medewerker"
    tg.message(501, "/start")
    assert matches(responses, (await texts(tg, 501, 1))[0], "start", "nl")
    tg.message(501, "/language en")
    assert matches(responses, (await texts(tg, 501, 2))[1], "language_switched", "en")
    tg.message(501, f"/help@{BOT_USERNAME}")
    assert matches(responses, (await texts(tg, 501, 3))[2], "help", "en")
    assert tg.sent("sendChatAction", 501) and tg.sent("sendChatAction", 501)[0]["action"] == "typing"
    assert all("parse_mode" not in p for p in tg.sent("sendMessage", 501))


async def test_dutch_conversation_escalation_staff_takeover_reply_and_csat(tg, bot, engine, responses):
    anna = 1001
    tg.message(anna, "Waar is mijn bestelling?")
    assert matches(responses, (await texts(tg, anna, 1))[0], "ask_order_number", "nl")
    tg.message(anna, "12345678")
    assert "12345678" in (await texts(tg, anna, 2))[1]  # the order's status (template depends on the order)
    tg.message(anna, "Ik wil een medewerker spreken")
    assert matches(responses, (await texts(tg, anna, 3))[2], "escalate_ack", "nl")

    card = (await until(lambda: tg.sent("sendMessage", STAFF_CHAT), what="the staff post"))[0]
    ticket = ticket_of(engine)
    assert f"#{ticket['id']}" in card["text"] and "12345678" in card["text"] and card["parse_mode"] == "HTML"
    assert "Ik wil een medewerker spreken" in card["text"]
    take = card["reply_markup"]["inline_keyboard"][0][0]
    assert take["callback_data"] == f"take:{ticket['id']}"

    tg.press(7001, tg.as_message(card), take["callback_data"], first_name="Sam")
    await until(lambda: engine.store.conversation(ticket["conversation_id"])["state"] == "human", what="take")
    assert engine.store.conversation(ticket["conversation_id"])["owner"] == "Sam#7001"
    await until(lambda: tg.sent("answerCallbackQuery"), what="the take to be answered")

    tg.message(anna, "Hallo? Is daar iemand?")
    forwarded = await until(lambda: [p for p in tg.sent("sendMessage", STAFF_CHAT) if "Is daar iemand" in p["text"]])
    assert f"#{ticket['id']}" in forwarded[0]["text"]
    assert tg.texts(anna)[3] == "Sam van Huisraad neemt het gesprek over."  # the customer hears who took over
    assert len(tg.texts(anna)) == 4  # the bot stays silent while a person owns the case

    tg.message(7001, "Uw pakket komt morgen <tussen 9 & 12> *echt*", chat_id=STAFF_CHAT, chat_type="supergroup",
               first_name="Sam", reply_to=tg.as_message(card))
    assert (await texts(tg, anna, 5))[4] == "Uw pakket komt morgen <tussen 9 & 12> *echt*"

    tg.message(7001, "/done", chat_id=STAFF_CHAT, chat_type="supergroup", first_name="Sam",
               reply_to=tg.as_message(card))
    sent = await texts(tg, anna, 7)
    assert matches(responses, sent[5], "handed_back", "nl") and matches(responses, sent[6], "csat_ask", "nl")
    csat = tg.sent("sendMessage", anna)[6]
    scores = [row[0] for row in csat["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in scores] == ["1", "2", "3", "4", "5"]

    tg.press(anna, tg.as_message(csat), scores[4]["callback_data"])
    assert matches(responses, (await texts(tg, anna, 8))[7], "csat_thanks", "nl")
    assert engine.store.ticket(ticket["id"])["csat"] == 5
    edited = tg.sent("editMessageText", anna)  # the question shows the rating chosen, and loses its keyboard
    assert edited[0]["text"].endswith("★★★★★ (5)") and "reply_markup" not in edited[0]
    await until(lambda: not engine.store.pending_outbox(), what="every reply marked sent")
    assert len(tg.sent("sendMessage", anna)) == 8  # nothing was sent twice


async def test_clarify_and_talk_to_a_person_buttons_reach_the_engine(tg, bot, engine, responses):
    class Unsure:
        def analyze(self, text, context=None):
            return Analysis(text=text, language="nl", intent=None, confidence=0.4,
                            ranking=[("opening_hours", 0.4), ("order_status", 0.3)])

    engine.analyzer = Unsure()
    tg.message(1201, "hmm")
    await texts(tg, 1201, 1)
    question = tg.sent("sendMessage", 1201)[0]
    assert matches(responses, question["text"], "clarify", "nl")
    buttons = [row[0] for row in question["reply_markup"]["inline_keyboard"]]
    assert [b["callback_data"] for b in buttons] == ["/opening_hours", "/order_status", "/request_human"]
    tg.press(1201, tg.as_message(question), "/opening_hours")
    assert matches(responses, (await texts(tg, 1201, 2))[1], "opening_hours", "nl")
    tg.press(1201, tg.as_message(question), "/request_human")
    assert matches(responses, (await texts(tg, 1201, 3))[2], "escalate_ack", "nl")
    conversation_id = ticket_of(engine)["conversation_id"]
    assert engine.store.conversation(conversation_id)["state"] == "waiting"
    assert len(tg.sent("answerCallbackQuery")) == 2


@pytest.mark.parametrize("payload", [
    {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]},
    {"sticker": {"file_id": "s1", "file_unique_id": "u2", "width": 512, "height": 512, "is_animated": False,
                 "is_video": False, "type": "regular"}},
    {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 2}},
    {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "bon.pdf"}},
    {"location": {"latitude": 52.37, "longitude": 4.89}},
    {"video": {"file_id": "m1", "file_unique_id": "u5", "width": 1, "height": 1, "duration": 1}},
], ids=lambda p: next(iter(p)))
async def test_non_text_messages_get_the_non_text_reply(tg, bot, engine, responses, payload):
    tg.message(1301, **payload)
    assert matches(responses, (await texts(tg, 1301, 1))[0], "non_text", "nl")
    kind = next(iter(payload))
    stored = [m for m in engine.store.messages(1) if m["direction"] == "in"]
    assert [m["kind"] for m in stored] == [kind]


async def test_a_caption_counts_as_text(tg, bot, engine, responses):
    tg.message(1302, caption="Wat zijn jullie openingstijden?",
               photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}])
    assert matches(responses, (await texts(tg, 1302, 1))[0], "opening_hours", "nl")


async def test_in_groups_the_bot_answers_only_when_addressed(tg, bot, responses):
    group = -4001
    tg.message(1401, "Wat zijn jullie openingstijden?", chat_id=group, chat_type="group")
    tg.message(1401, f"@{BOT_USERNAME} wat zijn jullie openingstijden?", chat_id=group, chat_type="group")
    first = await texts(tg, group, 1)
    await asyncio.sleep(0.3)
    assert len(tg.texts(group)) == 1 and matches(responses, first[0], "opening_hours", "nl")
    reply_to = tg.as_message(tg.sent("sendMessage", group)[0])
    tg.message(1402, "openingstijden?", chat_id=group, chat_type="group", reply_to=reply_to)
    tg.message(1402, "photo", chat_id=group, chat_type="group",
               photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 9, "height": 9}])
    await texts(tg, group, 2)
    await asyncio.sleep(0.3)
    assert len(tg.texts(group)) == 2


async def test_edits_are_new_turns_and_redelivered_updates_are_answered_once(tg, bot, engine, responses):
    original = tg.message(1501, "Waar is mijn bestelling?")
    await texts(tg, 1501, 1)
    tg.inject({"message": original})  # Telegram delivering the same message again
    tg.message(1501, "Waar is mijn bestelling 12345678?", edited=True, message_id=original["message_id"])
    sent = await texts(tg, 1501, 2)
    await asyncio.sleep(0.3)
    assert len(tg.texts(1501)) == 2 and "12345678" in sent[1]


async def test_malformed_updates_are_dropped_and_polling_goes_on(tg, bot, responses):
    tg.inject({"message": {"message_id": 1, "chat": {"id": 1601, "type": "private"}}})  # no date
    tg.inject({"message": "junk"})
    tg.inject({"unknown_update_kind": {"x": 1}})
    tg.message(1601, "Wat zijn jullie openingstijden?")
    assert matches(responses, (await texts(tg, 1601, 1))[0], "opening_hours", "nl")
    assert len(tg.texts(1601)) == 1


# -- delivery ---------------------------------------------------------------------------------------


def agent_reply(engine: DialogueEngine, chat: int, text: str) -> int:
    store = engine.store
    customer = store.identify("telegram", str(chat), "C")
    conversation = store.open_conversation(customer["id"], "telegram", str(chat))
    return store.agent_reply(conversation["id"], "sam", text)


async def test_long_replies_are_split_and_special_characters_arrive_verbatim(tg, bot, engine):
    text = "<b>prijs</b> *5* _€_ [link](x) & `code`\n\n" + "lang verhaal. " * 700
    agent_reply(engine, 1701, text)
    bot.kick("1701")
    parts = await texts(tg, 1701, 3)
    assert all(utf16_len(p) <= 4096 for p in parts) and parts[0].startswith("<b>prijs</b> *5* _€_ [link](x) & `code`")
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    await until(lambda: not engine.store.pending_outbox(), what="the reply to be marked sent")


async def test_a_429_is_waited_out_and_the_reply_sent_once(tg, bot, engine):
    tg.fail("sendMessage", 429, retry_after=1)
    loop = asyncio.get_running_loop()
    begun = loop.time()
    agent_reply(engine, 1801, "Even geduld")
    bot.kick("1801")
    assert await texts(tg, 1801, 1) == ["Even geduld"]
    assert loop.time() - begun >= 1.0
    assert len([r for r in tg.hits("/sendMessage") if b"chat_id=1801" in r.body]) == 2
    await asyncio.sleep(0.2)
    assert tg.texts(1801) == ["Even geduld"] and not engine.store.pending_outbox()


async def test_5xx_is_retried_and_a_failed_reply_stays_in_the_outbox_until_it_goes(tg, engine):
    channel = await started(tg, engine, staff=False, send_attempts=2)
    try:
        tg.fail("sendMessage", 500, times=2)
        message_id = agent_reply(engine, 1901, "Eerste")
        channel.kick("1901")
        row = await until(lambda: engine.store.message(message_id)["attempts"] == 1 and engine.store.message(message_id))
        assert row["delivery"] == "pending" and "500" in row["error"] and tg.texts(1901) == []
        tg.fail("sendMessage", 502, times=1)
        agent_reply(engine, 1901, "Tweede")
        engine.store.backend.execute("UPDATE messages SET next_attempt_at = NULL")  # the backoff is over
        dispatcher = OutboxDispatcher(engine.store, {"telegram": channel})
        await dispatcher.dispatch_once()
        assert await texts(tg, 1901, 2) == ["Eerste", "Tweede"]  # in order, each once
        assert not engine.store.pending_outbox()
    finally:
        await channel.stop()


async def test_a_refused_send_is_given_up_not_retried_forever(tg, bot, engine):
    tg.fail("sendMessage", 403)
    message_id = agent_reply(engine, 1951, "Hallo")
    bot.kick("1951")
    row = await until(lambda: engine.store.message(message_id)["delivery"] == "failed" and engine.store.message(message_id))
    assert "refused" in row["error"] and row["next_attempt_at"] is None


async def test_after_a_restart_the_pending_outbox_is_delivered_once(tg, engine, db_url, analyzer, responses):
    agent_reply(engine, 2001, "Terwijl je weg was")
    first = await started(tg, engine, staff=False)
    await texts(tg, 2001, 1)
    await until(lambda: not engine.store.pending_outbox(), what="mark sent")
    await first.stop()
    store = Store.open(db_url)  # a new process on the same database
    try:
        again = DialogueEngine(store, analyzer, responses, escalation=ALWAYS_OPEN)
        agent_reply(again, 2001, "Nog iets")
        second = await started(tg, again, staff=False)
        assert await texts(tg, 2001, 2) == ["Terwijl je weg was", "Nog iets"]
        await asyncio.sleep(0.3)
        await second.stop()
        assert tg.texts(2001) == ["Terwijl je weg was", "Nog iets"]
    finally:
        store.close()


async def test_a_locked_store_delays_the_answer_but_loses_and_doubles_nothing(tg, db_url, analyzer, responses, monkeypatch):
    import sqlite3

    monkeypatch.setattr("webcare.bot.channels.telegram.STORE_WAIT", wait_fixed(0.2))
    store = Store.open(db_url, busy_timeout_ms=100)
    engine = DialogueEngine(store, analyzer, responses, escalation=ALWAYS_OPEN)
    channel = await started(tg, engine, staff=False)
    try:
        other = sqlite3.connect(db_url.removeprefix("sqlite:///"))  # another process holds the write lock
        other.execute("BEGIN EXCLUSIVE")
        tg.message(2101, "Wat zijn jullie openingstijden?")
        await asyncio.sleep(1.0)
        assert tg.texts(2101) == []  # no answer while the file is locked ...
        other.rollback()
        other.close()
        assert len(await texts(tg, 2101, 1)) == 1  # ... then exactly one
        await asyncio.sleep(0.5)
        assert len(tg.texts(2101)) == 1
        stored = [m for c in store.conversations() for m in store.messages(c["id"]) if m["direction"] == "in"]
        assert [m["text"] for m in stored] == ["Wat zijn jullie openingstijden?"]
    finally:
        await channel.stop()
        store.close()


async def test_stopping_mid_delivery_keeps_what_was_not_sent_in_the_outbox(tg, engine, monkeypatch):
    monkeypatch.setattr("webcare.bot.channels.telegram.STOP_GRACE", 0.05)
    channel = await started(tg, engine, staff=False, chat_rate=0.01, chat_burst=1)  # the 2nd waits ~100 s
    ids = [agent_reply(engine, 2051, f"bericht {n}") for n in range(3)]
    channel.kick("2051")
    await texts(tg, 2051, 1)
    await channel.stop()
    first, waiting, later = (engine.store.message(i) for i in ids)
    assert first["delivery"] == "sent" and tg.texts(2051) == ["bericht 0"]
    assert waiting["delivery"] == "pending" and waiting["claimed_by"]  # its lease runs out
    assert later["delivery"] == "pending" and later["claimed_by"] is None  # free at once


async def test_one_chat_is_paced_to_its_rate(tg, engine):
    channel = await started(tg, engine, staff=False, chat_rate=10, chat_burst=1)
    try:
        for n in range(4):
            agent_reply(engine, 2101, f"bericht {n}")
        channel.kick("2101")
        await texts(tg, 2101, 4)
        times = [c.at for c in tg.calls if c.method == "sendMessage"]
        assert all(b - a >= 0.08 for a, b in itertools.pairwise(times))
    finally:
        await channel.stop()


# -- webhook mode -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_accepts_the_secret_and_rejects_others(tg, engine, responses):
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    channel = await started(tg, engine, staff=False, mode="webhook", webhook_url=url, webhook_port=port,
                            secret_token="s3cret")
    try:
        assert tg.webhook == {"url": url, "secret_token": "s3cret"}
        tg.message(2201, "Wat zijn jullie openingstijden?")
        assert matches(responses, (await texts(tg, 2201, 1))[0], "opening_hours", "nl")
        forged = {"update_id": 99, "message": {"message_id": 5, "date": 0, "text": "/start",
                                               "chat": {"id": 2202, "type": "private"},
                                               "from": {"id": 2202, "is_bot": False, "first_name": "Eve"}}}
        async with httpx.AsyncClient() as client:
            wrong = await client.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            missing = await client.post(url, json=forged)
        assert wrong.status_code == 403 and missing.status_code == 403
        await asyncio.sleep(0.3)
        assert tg.texts(2202) == [] and tg.webhook_replies == [200]
    finally:
        await channel.stop()


def test_webhook_mode_needs_a_public_url(tg, engine):
    with pytest.raises(ConfigError, match="webhook_url"):
        TelegramChannel(telegram_config(tg, mode="webhook"), engine, engine.store)
