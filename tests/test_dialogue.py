"""Dialogue flows in Dutch and English through the real NLU, content and store."""

from __future__ import annotations

import pytest

from tests.helpers import matches
from webcare.bot.channels.base import IncomingMessage
from webcare.bot.engine import DialogueEngine
from webcare.store import Store


@pytest.fixture
def engine(analyzer, responses, tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    yield DialogueEngine(store, analyzer, responses)
    store.close()


class Chat:
    """One customer on one channel."""

    def __init__(self, engine: DialogueEngine, channel: str = "terminal", user: str = "anna") -> None:
        self.engine, self.channel, self.user = engine, channel, user
        self.count = 0

    def say(self, text: str, kind: str = "text", message_id: str | None = None) -> list:
        self.count += 1
        return self.engine.handle(
            IncomingMessage(self.channel, self.user, self.user, text, kind=kind,
                            platform_message_id=message_id, display_name=self.user.title())
        )

    @property
    def conversation(self) -> dict:
        store = self.engine.store
        customer = store.customer_by_identity(self.channel, self.user)
        return store.conversations(customer_id=customer["id"])[0]


def test_dutch_order_question_asks_the_number_once_then_escalates(engine, responses):
    chat = Chat(engine)
    first = chat.say("Waar is mijn bestelling?")
    assert len(first) == 1 and matches(responses, first[0].text, "ask_order_number", "nl")
    second = chat.say("12345678")
    assert len(second) == 1 and "12345678" in second[0].text
    assert matches(responses, second[0].text, "order_status_shipped", "nl")
    third = chat.say("Ik wil een medewerker spreken")
    assert matches(responses, third[-1].text, "escalate_ack", "nl") or matches(
        responses, third[-1].text, "escalate_ack_closed", "nl")
    tickets = engine.store.tickets()
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["reason"] == "requested" and ticket["status"] == "open"
    assert "12345678" in ticket["summary"]
    assert [m["text"] for m in ticket["story"]["transcript"] if m["author"] == "customer"] == [
        "Waar is mijn bestelling?", "12345678", "Ik wil een medewerker spreken"]
    assert chat.conversation["state"] == "waiting"


def test_known_order_number_is_never_asked_again(engine, responses):
    chat = Chat(engine, user="ben")
    chat.say("Where is my order 40218833?")
    replies = chat.say("I want to cancel my order")
    assert not any(matches(responses, r.text, "ask_order_number", "en") for r in replies)
    assert chat.conversation["slots"]["order_number"] == "40218833"


def test_english_in_english_out(engine, responses):
    chat = Chat(engine, user="carl")
    replies = chat.say("What are your opening hours?")
    assert matches(responses, replies[0].text, "opening_hours", "en")
    assert chat.conversation["language"] == "en"


def test_dutch_in_dutch_out(engine, responses):
    chat = Chat(engine, user="dirk")
    replies = chat.say("Wat zijn jullie openingstijden?")
    assert matches(responses, replies[0].text, "opening_hours", "nl")


def test_angry_customer_waiting_for_a_parcel_gets_empathy_and_is_asked_the_order_number(engine, responses):
    chat = Chat(engine, user="eva")
    replies = chat.say("Dit is echt belachelijk, voor de derde keer is mijn pakket niet bezorgd en niemand helpt me!")
    assert [r.template for r in replies] == ["empathy", "ask_order_number"]
    assert engine.store.tickets() == [] and chat.conversation["state"] == "bot"


def test_angry_complaint_without_an_answer_gets_empathy_then_a_person(engine, responses):
    chat = Chat(engine, user="eve")
    replies = chat.say("Ik ben woedend, wat een waardeloze klantenservice hebben jullie, echt schandalig")
    assert matches(responses, replies[0].text, "complaint_empathy", "nl")
    assert len(engine.store.tickets()) == 1
    assert chat.conversation["state"] == "waiting"


def test_two_fallbacks_in_a_row_escalate(engine, responses):
    chat = Chat(engine, user="fay")
    chat.say("xqzv wlorp brrrmf")
    assert engine.store.tickets() == []
    chat.say("plonk zibber quaxx")
    assert len(engine.store.tickets()) == 1
    assert engine.store.tickets()[0]["reason"] == "fallbacks"


def test_bot_is_silent_while_a_person_owns_the_case_and_asks_csat_after(engine, responses):
    chat = Chat(engine, user="gert")
    chat.say("Ik wil een medewerker spreken")
    conversation = chat.conversation
    engine.store.take(conversation["id"], "piet")
    assert chat.say("Hallo? Is daar iemand?") == []
    engine.store.agent_reply(conversation["id"], "piet", "Hoi Gert, ik help je verder.")
    back = engine.hand_back(conversation["id"], "piet")
    assert matches(responses, back[0].text, "handed_back", "nl")
    assert matches(responses, back[-1].text, "csat_ask", "nl") and len(back[-1].buttons) == 5
    thanks = chat.say("/csat 4", kind="button")
    assert matches(responses, thanks[0].text, "csat_thanks", "nl")
    ticket = engine.store.ticket_for_conversation(conversation["id"])
    assert ticket["csat"] == 4 and ticket["status"] == "resolved"


def test_waiting_customer_is_told_a_colleague_comes_and_no_second_ticket(engine, responses):
    chat = Chat(engine, user="hans")
    chat.say("I want to talk to a human")
    assert chat.say("ok") == []  # the hand-over message just said so: no repeat within the interval
    replies = chat.say("hello??")  # a question about the wait gets the wait
    assert any(matches(responses, replies[0].text, t, "en") for t in ("waiting_open", "waiting_closed"))
    later = engine.store.clock() + engine.dialogue.queue_notice_minutes * 60 + 1
    engine.store.clock = lambda: later
    replies = chat.say("ok")
    assert any(matches(responses, replies[0].text, t, "en") for t in ("waiting_open", "waiting_closed"))
    assert len(engine.store.tickets()) == 1


@pytest.mark.parametrize(
    "text,kind,template",
    [
        ("", "text", "empty_message"),
        ("   ", "text", "empty_message"),
        ("", "photo", "non_text"),
        ("", "sticker", "non_text"),
        ("🙂🙂", "text", "emoji_only"),
    ],
)
def test_bad_input_gets_a_clear_answer(engine, responses, text, kind, template):
    replies = Chat(engine, user=f"u{kind}{len(text)}").say(text, kind=kind)
    assert len(replies) == 1
    assert any(matches(responses, replies[0].text, template, lang) for lang in ("nl", "en"))


def test_huge_message_is_cut_with_a_notice_and_still_answered(engine, responses):
    replies = Chat(engine, user="ivo").say("Wat zijn jullie openingstijden? " + "bla " * 2500)
    assert any(matches(responses, r.text, "message_too_long", "nl") for r in replies)
    stored = engine.store.messages(Chat(engine, user="ivo").conversation["id"])[0]
    assert len(stored["text"]) == engine.dialogue.max_message_chars


def test_binary_junk_crashes_nothing(engine):
    replies = Chat(engine, user="jan").say("\x00\x01\x02\xff\ufffd\x7f garbage \x1b[31m")
    assert len(replies) >= 1
    assert "\x00" not in engine.store.messages(Chat(engine, user="jan").conversation["id"])[0]["text"]


def test_a_platform_message_is_handled_once(engine):
    chat = Chat(engine, user="kim")
    assert chat.say("Hoi", message_id="777")
    assert chat.say("Hoi", message_id="777") == []


def test_the_same_typed_email_on_two_channels_is_two_claims_not_one_customer(engine):
    Chat(engine, channel="telegram", user="555").say("mijn e-mailadres is lisa@example.nl")
    Chat(engine, channel="terminal", user="lisa").say("my email is lisa@example.nl")
    store = engine.store
    telegram, terminal = (store.customer_by_identity(c, u)["id"] for c, u in (("telegram", "555"), ("terminal", "lisa")))
    assert telegram != terminal  # anyone can type an address: staff link them by hand
    assert [c["value"] for c in store.claims(customer_id=telegram)] == ["lisa@example.nl"]
    assert [c["id"] for c in store.customers_claiming("email", "lisa@example.nl")] == [telegram, terminal]


def test_clarify_buttons_degrade_and_can_be_pressed(engine, responses):
    chat = Chat(engine, user="mo")
    replies = chat.say("/order_status", kind="button")
    assert matches(responses, replies[0].text, "ask_order_number", "nl")


def test_a_flooding_customer_is_slowed_down_and_nothing_is_lost(analyzer, responses, tmp_path):
    from webcare.bot.config import DialogueConfig

    store = Store.open(f"sqlite:///{tmp_path / 'flood.db'}")
    engine = DialogueEngine(store, analyzer, responses, dialogue=DialogueConfig(flood_messages=3, flood_seconds=60))
    chat = Chat(engine, user="spam")
    answered = [chat.say(f"Wat zijn jullie openingstijden? {i}") for i in range(6)]
    assert all(answered[:3])
    assert len(answered[3]) == 1 and matches(responses, answered[3][0].text, "flood_warning", "nl")
    assert answered[4] == [] and answered[5] == []
    incoming = [m for m in store.messages(chat.conversation["id"]) if m["direction"] == "in"]
    assert len(incoming) == 6
    store.close()


@pytest.mark.parametrize(("question", "template", "product"), [
    ("Is de barista 500 op voorraad?", "product_in_stock", "Vonk Barista 500 volautomatische espressomachine"),
    ("Is the Vonk Capsa capsule machine in stock?", "product_out_of_stock", "Vonk Capsa capsulemachine"),
])
def test_stock_questions_are_answered_from_the_catalogue(engine, responses, question, template, product):
    reply = Chat(engine).say(question)
    language = "nl" if question.startswith("Is de") else "en"
    assert len(reply) == 1 and product in reply[0].text
    assert matches(responses, reply[0].text, template, language)


def test_demo_order_dates_are_moved_to_today(responses):
    from datetime import date

    etas = [o["eta"] for o in responses.orders.values() if o.get("eta")]
    assert etas and max(etas) >= date.today().isoformat()  # the demo never promises a date long past
