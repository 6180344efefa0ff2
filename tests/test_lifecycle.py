"""The conversation's lifecycle, honest time and visible people, on fixed clocks.

A conversation ends (closed by staff, restarted, or idle with the bot) and the next message starts a
new one that continues it; a waiting customer hears one consistent wait; SLAs count business hours
only, in the inbox too; the customer hears who takes over, and a rating reads as stars.
"""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from emulators.console_kit import (
    KeywordAnalyzer,
    add_user,
    csrf_of,
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    login,
    settings,
    write_content,
)
from emulators.telegram_api import TelegramEmulator
from emulators.telegram_harness import STAFF_CHAT, texts, until
from tests.helpers import Clock, matches
from tests.test_store_contract import together, url_of
from webcare.bot.channels.base import IncomingMessage
from webcare.bot.channels.terminal import TerminalChannel
from webcare.bot.config import DialogueConfig, EscalationConfig
from webcare.bot.engine import DialogueEngine
from webcare.bot.handoff import business_seconds, estimate_wait, rating_label, sla_clock, sla_due
from webcare.bot.responses import Responses
from webcare.cli import cli
from webcare.console import create_app
from webcare.core.errors import StoreError
from webcare.store import Store

pytest_plugins = ["emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot

TZ = ZoneInfo("Europe/Amsterdam")
DEFAULT_HOURS = EscalationConfig()  # Mon–Fri 09:00–17:30, Sat 10:00–16:00; high = 2 h, normal = 8 h


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=TZ).timestamp()


def local(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, TZ)


MONDAY_NIGHT = ts(2026, 11, 23, 21, 30)
TUESDAY_NINE = ts(2026, 11, 24, 9, 0)


@pytest.fixture
def clock(any_store) -> Clock:
    clock = Clock(MONDAY_NIGHT)
    any_store.clock = clock
    return clock


# -- business-hours SLAs ------------------------------------------------------------------------------


def test_an_sla_counts_business_hours_only():
    assert local(sla_due(DEFAULT_HOURS, "high", MONDAY_NIGHT)) == datetime(2026, 11, 24, 11, 0, tzinfo=TZ)
    friday_five = ts(2026, 11, 27, 17, 0)  # half an hour left on Friday, the rest on Saturday from 10:00
    assert local(sla_due(DEFAULT_HOURS, "high", friday_five)) == datetime(2026, 11, 28, 11, 30, tzinfo=TZ)
    saturday_three = ts(2026, 11, 28, 15, 0)  # 1 h on Saturday, none on Sunday, 7 h on Monday
    assert local(sla_due(DEFAULT_HOURS, "normal", saturday_three)) == datetime(2026, 11, 30, 16, 0, tzinfo=TZ)
    monday_ten = ts(2026, 11, 23, 10, 0)  # in hours the clock simply runs
    assert sla_due(DEFAULT_HOURS, "urgent", monday_ten) == monday_ten + 30 * 60


def test_an_sla_across_the_summer_time_change_keeps_to_the_wall_clock():
    saturday = ts(2026, 3, 28, 15, 0)  # the clocks go forward on Sunday 29 March
    assert local(sla_due(DEFAULT_HOURS, "normal", saturday)) == datetime(2026, 3, 30, 16, 0, tzinfo=TZ)


def test_without_business_hours_the_sla_clock_always_runs():
    always = EscalationConfig(business_hours={})
    assert sla_due(always, "high", MONDAY_NIGHT) == MONDAY_NIGHT + 7200
    assert sla_clock(always, MONDAY_NIGHT + 7200, MONDAY_NIGHT).running


def test_the_sla_clock_stands_still_at_night_and_says_when_it_starts():
    due = sla_due(DEFAULT_HOURS, "high", MONDAY_NIGHT)
    night = sla_clock(DEFAULT_HOURS, due, MONDAY_NIGHT + 3600)
    assert night.left == 7200 and not night.running and night.resumes == local(TUESDAY_NINE)
    assert night.describe() == "paused · starts Tue 09:00 · 2h 0m left"
    morning = sla_clock(DEFAULT_HOURS, due, TUESDAY_NINE + 60)
    assert morning.running and morning.describe() == "1h 59m left"
    late = sla_clock(DEFAULT_HOURS, due, TUESDAY_NINE + 2 * 3600 + 330)
    assert late.left == -330 and late.describe() == "overdue 5m 30s"
    assert business_seconds(DEFAULT_HOURS, MONDAY_NIGHT, TUESDAY_NINE + 60) == 60


def test_the_wait_names_days_from_its_own_clock():
    wait = estimate_wait(DEFAULT_HOURS, 0, MONDAY_NIGHT)
    assert not wait.open_now
    assert wait.describe("nl") == "morgen om 09:00" and wait.describe("en") == "tomorrow at 09:00"


def test_a_rating_reads_as_stars():
    assert rating_label(4) == "★★★★☆ (4)" and rating_label(1) == "★☆☆☆☆ (1)"


# -- the store: idle conversations, closing, the chain of conversations -----------------------------


def open_in(store: Store, idle: float | None = 3600) -> dict:
    customer = store.identify("webchat", "chat-1", "Anna")
    return store.open_conversation(customer["id"], "webchat", "chat-1", idle)


def test_an_idle_conversation_ends_and_the_next_continues_it(any_store, clock):
    first = open_in(any_store)
    any_store.update_conversation(first["id"], language="en")
    last_activity = clock()
    clock.advance(3599)
    assert open_in(any_store)["id"] == first["id"]
    clock.advance(3601)
    second = open_in(any_store)
    ended = any_store.conversation(first["id"])
    assert second["id"] != first["id"] and second["previous_id"] == first["id"] and second["state"] == "bot"
    assert second["language"] == "en"  # it starts in the language the customer spoke
    assert ended["state"] == "closed" and ended["closed_reason"] == "idle" and ended["closed_at"] == last_activity
    assert open_in(any_store, idle=None)["id"] == second["id"]
    assert [c["id"] for c in any_store.earlier_conversations(second["id"])] == [first["id"]]


def test_idle_conversations_are_closed_ahead_of_time(any_store, clock):
    idle = open_in(any_store)
    waiting = any_store.open_conversation(any_store.identify("telegram", "7")["id"], "telegram", "7")
    any_store.escalate(waiting["id"], "requested")
    active = any_store.open_conversation(any_store.identify("telegram", "8")["id"], "telegram", "8")
    clock.advance(3600)
    any_store.update_conversation(active["id"], language="nl")
    assert any_store.close_idle_conversations(3600) == 1
    assert [any_store.conversation(c["id"])["state"] for c in (idle, waiting, active)] == ["closed", "waiting", "bot"]
    assert any_store.conversation(idle["id"])["closed_reason"] == "idle"
    assert any_store.close_idle_conversations(3600) == 0


def test_processes_finding_the_same_idle_conversation_open_one_next(any_store, clock):
    idle = open_in(any_store)
    clock.advance(7200)
    url = url_of(any_store)
    stores = [Store.open(url, clock=clock) for _ in range(4)] if url else [any_store] * 4
    try:
        opened = together(stores, lambda store, i: open_in(store)["id"])
    finally:
        for store in stores:
            if store is not any_store:
                store.close()
    assert len(set(opened)) == 1 and opened[0] != idle["id"], opened
    assert any_store.conversation(opened[0])["previous_id"] == idle["id"]


def test_a_conversation_with_staff_never_idles_out(any_store, clock):
    waiting = open_in(any_store)
    any_store.escalate(waiting["id"], "requested")
    clock.advance(7 * 86400)
    assert open_in(any_store)["id"] == waiting["id"]
    any_store.take(waiting["id"], "alice")
    clock.advance(7 * 86400)
    assert open_in(any_store)["id"] == waiting["id"]


def test_closing_keeps_the_first_reason_and_closes_the_ticket(any_store, clock):
    conversation = open_in(any_store)
    ticket, _ = any_store.escalate(conversation["id"], "requested")
    assert any_store.close_conversation(conversation["id"], "alice", reason="restart") is True
    assert any_store.close_conversation(conversation["id"], "bob") is False
    closed = any_store.conversation(conversation["id"])
    assert closed["closed_reason"] == "restart" and closed["owner"] is None
    assert any_store.ticket(ticket["id"])["status"] == "closed" and any_store.inbox() == []
    assert any_store.events("conversation_closed")[-1]["data"] == {"reason": "restart"}
    following = open_in(any_store)
    assert following["previous_id"] == conversation["id"]


# -- the engine: waiting, idle, restart, take, close, ratings --------------------------------------------


@pytest.fixture
def night_store():
    store = Store.memory(clock=Clock(MONDAY_NIGHT))
    yield store
    store.close()


@pytest.fixture
def kit(night_store, tmp_path):
    """An engine on the console kit's content and keyword NLU, at Monday 21:30, shop 'Testwinkel'."""
    return DialogueEngine(night_store, KeywordAnalyzer(), Responses.load(write_content(tmp_path / "content")),
                          dialogue=DialogueConfig(idle_close_minutes=60, shop_name="Testwinkel"),
                          escalation=DEFAULT_HOURS)


def say(engine: DialogueEngine, text: str, kind: str = "text", user: str = "w1") -> list[str]:
    return [r.text for r in engine.handle(IncomingMessage("webchat", user, user, text, kind=kind))]


def current(engine: DialogueEngine, user: str = "w1") -> dict:
    customer = engine.store.customer_by_identity("webchat", user)
    return engine.store.latest_conversation(customer["id"], "webchat", user)


def test_at_night_every_wait_message_names_the_morning(kit):
    replies = say(kit, "I want a human")
    ticket = kit.store.tickets()[0]
    assert replies == [f"A colleague will help you tomorrow at 09:00, ticket {ticket['id']}."]
    assert ticket["priority"] == "normal"  # 8 business hours: all of Tuesday's 09:00–17:00
    assert local(ticket["sla_due_at"]) == datetime(2026, 11, 24, 17, 0, tzinfo=TZ)
    assert say(kit, "hello??") == [f"You're in the queue (ticket {ticket['id']}); staff are back tomorrow at 09:00."]
    kit.store.clock.now = TUESDAY_NINE + 3600  # the next morning, staff are in
    assert say(kit, "hello??") == [f"You're in the queue (ticket {ticket['id']}, about 5 minutes)."]


def test_an_idle_conversation_with_the_bot_starts_afresh(kit):
    say(kit, "I want a human")
    first = current(kit)
    kit.hand_back(first["id"], "alice")
    kit.store.clock.advance(61 * 60)
    assert say(kit, "hello") == ["Hello! How can I help?"]  # not the queue, not the rating question
    second = current(kit)
    assert second["id"] != first["id"] and second["previous_id"] == first["id"]
    assert kit.store.conversation(first["id"])["closed_reason"] == "idle"


def test_the_engine_closes_idle_conversations_at_most_once_per_interval(kit):
    say(kit, "hello", user="a")
    kit.store.clock.advance(61 * 60)
    say(kit, "hello", user="b")
    assert kit.close_idle() == 1 and current(kit, "a")["closed_reason"] == "idle"
    kit.store.clock.advance(61 * 60)
    assert kit.close_idle(every=2 * 3600) == 0 and current(kit, "b")["state"] == "bot"  # checked an hour ago
    assert kit.close_idle(every=60) == 1 and current(kit, "b")["closed_reason"] == "idle"


def test_restart_leaves_the_queue_and_starts_afresh(kit):
    say(kit, "I want a human")
    waiting = current(kit)
    assert kit.restart("webchat", "w1", "w1") is True and kit.restart("webchat", "w1", "w1") is False
    assert kit.restart("webchat", "nobody", "nobody") is False
    assert kit.store.inbox() == [] and kit.store.conversation(waiting["id"])["closed_reason"] == "restart"
    assert say(kit, "hello") == ["Hello! How can I help?"]
    assert current(kit)["previous_id"] == waiting["id"]


def test_the_customer_hears_who_takes_over(kit):
    say(kit, "I want a human")
    conversation = current(kit)
    assert [r.text for r in kit.take(conversation["id"], "alice", "Alice")] == ["Alice from Testwinkel is taking over."]
    assert kit.take(conversation["id"], "alice", "Alice") == []  # already hers: nothing new to tell
    with pytest.raises(StoreError, match="already owned"):
        kit.take(conversation["id"], "bob", "Bob")
    assert [r.text for r in kit.take(conversation["id"], "bob", None, force=True)] == [
        "bob from Testwinkel is taking over."]  # no display name: the user name


def test_a_staff_reply_takes_the_case_first_all_or_nothing(kit, monkeypatch):
    say(kit, "I want a human")
    conversation = current(kit)
    store = kit.store
    sent_before = len(store.messages(conversation["id"]))

    def broken(*args, **kwargs):
        raise StoreError("disk full")

    monkeypatch.setattr(store, "agent_reply", broken)
    with pytest.raises(StoreError, match="disk full"):
        kit.staff_reply(conversation["id"], "alice", "Hi!", "Alice")
    assert current(kit)["state"] == "waiting" and len(store.messages(conversation["id"])) == sent_before
    monkeypatch.undo()
    kit.staff_reply(conversation["id"], "alice", "Hi!", "Alice")
    kit.staff_reply(conversation["id"], "alice", "Your parcel is on its way.", "Alice")
    said = [m["text"] for m in store.messages(conversation["id"])[sent_before:]]
    assert said == ["Alice from Testwinkel is taking over.", "Hi!", "Your parcel is on its way."]
    assert len(store.events("taken")) == 1  # replying to your own case takes nothing


def test_hand_back_and_close_read_differently(kit):
    say(kit, "I want a human")
    conversation = current(kit)
    back = [r.text for r in kit.hand_back(conversation["id"], "alice")]
    assert back == ["I'm back: the bot again.", "How did we do? 1 to 5."]
    closed = [r.text for r in kit.close(conversation["id"], "alice")]
    assert closed == ["Closed; thanks from Testwinkel."]  # asked for a rating at the hand back already
    with pytest.raises(StoreError, match="closed already"):
        kit.close(conversation["id"], "alice")


def test_a_rating_after_closing_reaches_the_closed_conversation_as_stars(kit):
    say(kit, "I want a human")
    conversation = current(kit)
    kit.take(conversation["id"], "alice", "Alice")
    assert [r.text for r in kit.close(conversation["id"], "alice")] == [
        "Closed; thanks from Testwinkel.", "How did we do? 1 to 5."]
    assert say(kit, "/csat 4", kind="button") == ["Thanks for your rating!"]
    assert current(kit)["id"] == conversation["id"]  # no new conversation for the rating
    ticket = kit.store.ticket_for_conversation(conversation["id"])
    assert ticket["csat"] == 4 and ticket["status"] == "closed"
    said = [m["text"] for m in kit.store.messages(conversation["id"]) if m["direction"] == "in"]
    assert said[-1] == "★★★★☆ (4)" and "/csat 4" not in said
    assert say(kit, "hello") == ["Hello! How can I help?"]
    assert current(kit)["previous_id"] == conversation["id"]


def test_an_old_rating_button_still_counts_for_the_conversation_that_asked(kit):
    say(kit, "I want a human")
    asked = current(kit)
    kit.close(asked["id"], "alice")
    say(kit, "hello")  # the customer moved on: a new conversation
    later = current(kit)
    assert say(kit, "/csat 2", kind="button") == ["Thanks for your rating!"]
    assert kit.store.ticket_for_conversation(asked["id"])["csat"] == 2
    assert current(kit)["id"] == later["id"] and later["id"] != asked["id"]
    assert say(kit, "/csat 5", kind="button") != ["Thanks for your rating!"]  # asked once, rated once
    assert kit.store.ticket_for_conversation(asked["id"])["csat"] == 2


def test_a_typed_score_long_after_closing_is_a_new_message(kit):
    say(kit, "I want a human")
    conversation = current(kit)
    kit.close(conversation["id"], "alice")
    kit.store.clock.advance(2 * 3600)
    say(kit, "4")
    assert current(kit)["previous_id"] == conversation["id"]
    assert kit.store.ticket_for_conversation(conversation["id"])["csat"] is None


def test_webcare_chat_new_starts_afresh(kit):
    terminal = TerminalChannel(kit, "anna", io.StringIO(), interactive=False)
    terminal.handle_line("I want a human")
    terminal.restart()
    assert [m.text for m in terminal.handle_line("hello")] == ["Hello! How can I help?"]


def test_the_terminal_shows_a_rating_chosen_by_number_as_stars(kit):
    terminal = TerminalChannel(kit, "anna", io.StringIO(), interactive=False)
    terminal.handle_line("I want a human")
    conversation = kit.store.latest_conversation(kit.store.customer_by_identity("terminal", "anna")["id"],
                                                 "terminal", "anna")
    kit.hand_back(conversation["id"], "alice")
    terminal.deliver()
    chosen = terminal.incoming("4")
    assert chosen.kind == "button" and terminal.choice(chosen.text) == "★★★★☆ (4)"
    assert [m.text for m in terminal.handle_line("4")] == ["Thanks for your rating!"]
    assert kit.store.messages(conversation["id"])[-2]["text"] == "★★★★☆ (4)"


def test_the_cli_chat_new_flag_closes_the_current_conversation(tmp_path, monkeypatch, nlu_config):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'webcare.db'}"
    (tmp_path / "config.yml").write_text(
        f"store:\n  url: {url}\nnlu:\n  data_dir: {nlu_config.data_dir}\n  model_dir: {nlu_config.model_dir}\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["chat", "--user", "anna"], input="Ik wil een medewerker spreken\n").exit_code == 0
    result = runner.invoke(cli, ["chat", "--user", "anna", "--new"], input="Hallo\n")
    assert result.exit_code == 0, result.output
    store = Store.open(url)
    first, second = sorted(store.conversations(states=["bot", "waiting", "human", "closed"]), key=lambda c: c["id"])
    assert first["closed_reason"] == "restart" and second["previous_id"] == first["id"] and second["state"] == "bot"
    store.close()


# -- through the web chat's HTTP API and the console -----------------------------------------------------


@pytest.fixture
def site(kit, night_store):
    app = create_app(night_store, settings(), kit)
    add_user(night_store, "alice", "agent")  # display name "Alice"
    agent = TestClient(app)
    login(agent, "alice")
    customer = TestClient(app)
    customer.get("/chat")
    return agent, customer, night_store


def chat(customer: TestClient, text: str, kind: str = "text") -> list[dict]:
    assert customer.post("/chat/api/messages", json={"text": text, "kind": kind}).status_code == 202
    return customer.get("/chat/api/messages").json()["messages"]


def test_the_inbox_at_night_shows_a_paused_clock_and_the_morning_a_running_one(site):
    agent, customer, store = site
    chat(customer, "I want a human")
    store.clock.advance(1800)
    row = agent.get("/inbox/rows").text
    assert "paused · starts Tue 09:00 · 8h 0m left" in row and 'data-paused="1"' in row
    conversation_id = store.inbox()[0]["conversation_id"]
    assert "paused · starts Tue 09:00" in agent.get(f"/conversations/{conversation_id}").text
    store.clock.now = TUESDAY_NINE + 60
    row = agent.get("/inbox/rows").text
    assert "7h 59m left" in row and 'data-left="28740"' in row and "data-paused" not in row


def test_take_close_and_rate_through_the_console_and_the_web_chat(site):
    agent, customer, store = site
    chat(customer, "I want a human")
    conversation_id = store.inbox()[0]["conversation_id"]
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token})
    assert chat(customer, "hi?")[-2]["text"] == "Alice from Testwinkel is taking over."
    agent.post(f"/conversations/{conversation_id}/reply", data={"csrf": token, "text": "Sorted!"})
    flash = agent.post(f"/conversations/{conversation_id}/close", data={"csrf": token}).text
    assert "thanked and asked how it went" in flash
    seen = customer.get("/chat/api/messages").json()["messages"]
    assert [m["text"] for m in seen[-2:]] == ["Closed; thanks from Testwinkel.", "How did we do? 1 to 5."]
    rating = seen[-1]["buttons"][3]["payload"]
    after = chat(customer, rating, kind="button")
    assert [(m["from"], m["text"]) for m in after[-2:]] == [("customer", "★★★★☆ (4)"), ("bot", "Thanks for your rating!")]
    assert store.ticket_for_conversation(conversation_id)["csat"] == 4
    chat(customer, "I want a human")  # later: a new conversation, which staff see continues the old one
    new_id = store.inbox()[0]["conversation_id"]
    assert new_id != conversation_id
    page = agent.get(f"/conversations/{new_id}").text
    assert f'href="/conversations/{conversation_id}">#{conversation_id}</a> (staff' in page
    assert f"continues conversation #{conversation_id} (staff)" in store.ticket_for_conversation(new_id)["summary"]
    assert "★★★★☆ (4)" in agent.get(f"/conversations/{conversation_id}/transcript").text


def test_answering_a_waiting_customer_from_the_console_says_who_answers_first(site):
    agent, customer, store = site
    chat(customer, "I want a human")
    conversation_id = store.inbox()[0]["conversation_id"]
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/reply", data={"csrf": token, "text": "Hi, Alice here."})
    seen = customer.get("/chat/api/messages").json()["messages"]
    assert [(m["from"], m["text"]) for m in seen[-2:]] == [
        ("bot", "Alice from Testwinkel is taking over."), ("agent", "Hi, Alice here.")]


def test_hand_back_through_the_console_reads_as_the_bot_returning(site):
    agent, customer, store = site
    chat(customer, "I want a human")
    conversation_id = store.inbox()[0]["conversation_id"]
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token})
    flash = agent.post(f"/conversations/{conversation_id}/handback", data={"csrf": token}).text
    assert "customer was asked how it went" in flash
    seen = customer.get("/chat/api/messages").json()["messages"]
    assert [m["text"] for m in seen[-2:]] == ["I'm back: the bot again.", "How did we do? 1 to 5."]
    assert store.conversation(conversation_id)["state"] == "bot"


# -- through the staff Telegram group --------------------------------------------------------------------


def staff(tg: TelegramEmulator, user: int, text: str, name: str) -> None:
    tg.message(user, text, chat_id=STAFF_CHAT, chat_type="supergroup", first_name=name)


async def test_staff_group_take_and_close_are_told_to_the_customer(tg, bot, engine, responses):
    tg.message(4001, "Ik wil een medewerker spreken")
    await texts(tg, 4001, 1)
    card = await until(lambda: [p for p in tg.sent("sendMessage", STAFF_CHAT) if p.get("reply_markup")])
    ticket = engine.store.tickets(kind="escalation")[0]
    tg.press(7001, tg.as_message(card[0]), f"take:{ticket['id']}", first_name="Anna")
    assert (await texts(tg, 4001, 2))[1] == "Anna van Huisraad neemt het gesprek over."
    staff(tg, 7001, f"/close {ticket['id']}", "Anna")
    sent = await texts(tg, 4001, 4)
    assert matches(responses, sent[2], "conversation_closed", "nl") and matches(responses, sent[3], "csat_ask", "nl")
    await until(lambda: any("is closed" in t for t in tg.texts(STAFF_CHAT)), what="the staff note")
    conversation = engine.store.conversation(ticket["conversation_id"])
    assert conversation["state"] == "closed" and conversation["closed_reason"] == "staff"
    question = tg.sent("sendMessage", 4001)[3]
    tg.press(4001, tg.as_message(question), question["reply_markup"]["inline_keyboard"][2][0]["callback_data"])
    assert matches(responses, (await texts(tg, 4001, 5))[4], "csat_thanks", "nl")
    assert engine.store.ticket(ticket["id"])["csat"] == 3
    edited = await until(lambda: tg.sent("editMessageText", 4001), what="the question showing the rating")
    assert edited[0]["text"].endswith("★★★☆☆ (3)")
    staff(tg, 7001, f"/close {ticket['id']}", "Anna")
    await until(lambda: any("closed already" in t for t in tg.texts(STAFF_CHAT)), what="the second /close")
