"""The dialogue policy (docs/dialogue.md): answer first, hand over when it helps, slots and context, the queue.

Through the real NLU, content and store; end to end through the terminal channel and the web chat API.
"""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from emulators.console_kit import fast_argon2, settings  # noqa: F401 - autouse: cheap argon2 here
from webcare.bot.channels.base import IncomingMessage
from webcare.bot.channels.terminal import TerminalChannel
from webcare.bot.config import EscalationConfig
from webcare.bot.engine import DialogueEngine
from webcare.console import create_app
from webcare.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    yield s
    s.close()


@pytest.fixture
def engine(store, analyzer, responses):
    return DialogueEngine(store, analyzer, responses)


class Chat:
    """One customer; `say` returns the templates of the replies and keeps their text."""

    def __init__(self, engine: DialogueEngine, user: str = "anna", kind: str = "text") -> None:
        self.engine, self.user = engine, user
        self.replies: list = []

    def say(self, text: str, kind: str = "text") -> list[str]:
        self.replies = self.engine.handle(IncomingMessage("terminal", self.user, self.user, text, kind=kind))
        return [r.template for r in self.replies]

    @property
    def text(self) -> str:
        return " ".join(r.text for r in self.replies)

    @property
    def conversation(self) -> dict:
        customer = self.engine.store.customer_by_identity("terminal", self.user)
        return self.engine.store.conversations(customer_id=customer["id"])[0]

    @property
    def ticket(self) -> dict | None:
        return self.engine.store.ticket_for_conversation(self.conversation["id"])


def offers_a_person(chat: Chat) -> bool:
    return any(b.payload == "/request_human" for r in chat.replies for b in r.buttons)


# -- answer first ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("question,fact", [
    ("hoe kan ik iets retourneren, ik wil mijn stofzuiger terugsturen", "30 dagen"),
    ("Hoelang duurt het voordat ik mijn geld terug krijg na een retour??", "5 werkdagen"),
    ("how long until I get my refund after returning stuff", "5 working days"),
])
def test_a_plain_question_is_answered_with_a_person_on_offer_not_escalated(engine, question, fact):
    chat = Chat(engine)
    chat.say(question)
    assert fact in chat.text and offers_a_person(chat)
    assert chat.ticket is None and chat.conversation["state"] == "bot"


def test_an_upset_customer_gets_empathy_and_the_question_for_the_order_number(engine):
    chat = Chat(engine)
    assert chat.say("Waar blijft mijn bestelling? Ik heb al 2 weken gewacht") == ["empathy", "ask_order_number"]
    assert chat.ticket is None
    templates = chat.say("12345678")
    assert templates == ["order_status_shipped"] and "PostNL" in chat.text


@pytest.mark.parametrize("message,category", [
    ("als dit niet opgelost wordt stap ik naar mijn advocaat", "legal"),
    ("I'm going to sue you if I don't get my money back", "legal"),
    ("mijn waterkoker begon te roken en er kwamen vonken uit", "safety"),
    ("my toaster caught fire!!", "safety"),
    ("er is met mijn account een bestelling geplaatst die ik niet heb gedaan", "fraud"),
    ("you sent my details to someone else, this is a data leak", "fraud"),
    ("mijn moeder is overleden en ik wil haar account opzeggen", "vulnerable"),
])
def test_risk_categories_hand_over_at_once_with_high_priority(engine, message, category):
    chat = Chat(engine)
    chat.say(message)
    assert chat.conversation["state"] == "waiting"
    assert chat.ticket["reason"] == f"risk:{category}" and chat.ticket["priority"] in ("high", "urgent")


def test_risk_categories_come_from_config(analyzer, responses, store):
    engine = DialogueEngine(store, analyzer, responses,
                            escalation=EscalationConfig(risk_categories={"legal": [r"\bnotaris\b"]}))
    Chat(engine, "a").say("ik schakel mijn advocaat in, hoe lang is de garantie?")
    assert store.tickets() == []
    chat = Chat(engine, "b")
    chat.say("ik ga naar de notaris hiermee")
    assert chat.ticket["reason"] == "risk:legal"


@pytest.mark.parametrize("question,reaction", [
    ("wat zijn de openingstijden van de winkel in amsterdam", "dat helpt niet"),
    ("how long is the warranty on coffee machines", "that doesn't help"),
    ("kan ik mijn adres nog wijzigen", "nee"),
    # no configured pattern: a short "no" or a negative tone right after an answer (the NLU's deny/complain)
    ("wat kost verzending naar duitsland", "nee, zo bedoel ik het helemaal niet"),
    ("hoe lang duurt een reparatie", "pfff je begrijpt me gewoon niet"),
    ("how long is the warranty on a kettle", "nope, still doesn't help"),
    ("can I return an opened product", "No. I meant something different."),
    ("hoe lang duurt levering naar belgie", "ja dat wist ik zelf ook wel"),
    ("hoe lang duurt levering naar belgie", "pff wat een slecht antwoord zeg"),
])
def test_a_negative_reaction_to_an_answer_hands_over(engine, question, reaction):
    chat = Chat(engine)
    chat.say(question)
    assert chat.ticket is None
    chat.say(reaction)
    assert chat.ticket["reason"] == "not_helped" and chat.conversation["state"] == "waiting"


@pytest.mark.parametrize("reply", ["nee hoor, bedankt", "no need, thanks"])
def test_a_polite_no_after_an_answer_is_not_a_reason_to_hand_over(engine, reply):
    chat = Chat(engine)
    chat.say("hoe lang is de garantie op een airfryer")
    chat.say(reply)
    assert chat.ticket is None


def test_a_new_question_after_an_answer_is_answered_not_taken_for_a_reaction(engine):
    chat = Chat(engine)
    chat.say("hoe lang duurt een reparatie")
    chat.say("en hoeveel kost verzending naar belgie?")
    assert "6,95" in chat.text and chat.ticket is None
    chat.say("nee, wat kost verzending naar duitsland dan?")
    assert "9,95" in chat.text and chat.ticket is None


@pytest.mark.parametrize("question,products", [
    ("welke airfryers verkopen jullie eigenlijk?", ["Krokant XL", "Krokant Duo"]),
    ("what kind of blenders can I get from you?", ["Mixo Power", "Mixo Go"]),
])
def test_a_question_about_the_range_of_a_category_lists_it(engine, question, products):
    chat = Chat(engine)
    assert chat.say(question)[0] == "catalogue_category"
    assert all(p in chat.text for p in products)


def test_when_an_order_the_customer_placed_arrives_is_its_status(engine):
    chat = Chat(engine)
    assert chat.say("I ordered a kettle on Monday, will it be delivered before the weekend?")[-1] == "ask_order_number"
    chat.say("12345678")
    assert "PostNL" in chat.text


def test_a_follow_up_on_the_article_just_given_gets_the_part_it_asks_about_not_the_whole_again(engine):
    chat = Chat(engine)
    chat.say("tot hoe laat is de winkel in utrecht open op zaterdag")
    assert "09:30" in chat.text
    assert chat.say("en op zondag?") == ["knowledge_answer"]
    assert "gesloten" in chat.text and "09:30" not in chat.text


def test_an_action_that_would_only_say_its_template_yields_to_the_article_on_what_is_asked(engine):
    chat = Chat(engine)
    chat.say("kan ik mijn pakketje naar een afhaalpunt laten sturen in plaats van naar huis?")
    assert "7 dagen" in chat.text
    chat = Chat(engine, "bert")
    assert chat.say("ik wil het bezorgadres van mijn bestelling aanpassen") == ["change_address"]


def test_the_article_the_intent_points_to_wins_over_a_closer_wording(engine):
    """A confident intent lifts its own articles, even one just below the knowledge threshold."""
    chat = Chat(engine)
    chat.say("Ik heb drie weken geleden mijn airfryer teruggestuurd en ik heb nog steeds geen cent teruggezien, "
             "hoe lang gaat dat nog duren? Ik ben het echt zat")
    assert "5 werkdagen" in chat.text and chat.ticket is None and offers_a_person(chat)


def test_no_after_small_talk_is_not_a_reason_to_hand_over(engine):
    chat = Chat(engine)
    chat.say("hoi")
    chat.say("nee")
    assert chat.ticket is None


def test_a_complaint_the_bot_cannot_resolve_goes_to_a_person_with_raised_priority(engine):
    chat = Chat(engine)
    templates = chat.say("Ik ben woedend, wat een waardeloze klantenservice hebben jullie, echt schandalig")
    assert templates[0] == "complaint_empathy" and chat.conversation["state"] == "waiting"
    assert chat.ticket["reason"] == "complaint" and chat.ticket["priority"] in ("high", "urgent")


# -- the order number ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("first,second,language", [
    ("waar is mijn pakket", "het is 40218833", "nl"),
    ("Where is my order?", "It's 40218833", "en"),
    ("/order_status", "40218833", "nl"),
])
def test_the_order_number_is_asked_once_and_the_status_given(engine, first, second, language):
    chat = Chat(engine)
    assert chat.say(first, kind="button" if first.startswith("/") else "text") == ["ask_order_number"]
    assert chat.say(second) == ["order_status_processing"] and "40218833" in chat.text
    assert chat.conversation["language"] == language and chat.ticket is None


def test_the_order_number_is_asked_once_and_a_customer_without_it_is_helped_on(engine):
    chat = Chat(engine)
    assert chat.say("waar blijft mijn pakket") == ["ask_order_number"]
    assert chat.say("weet ik niet meer") == ["unknown_order_number"] and offers_a_person(chat)
    assert chat.conversation["pending_intent"] is None and chat.ticket is None


def test_a_corrected_order_number_replaces_the_old_one_and_is_answered(engine):
    chat = Chat(engine)
    chat.say("waar blijft bestelling 66012345?")
    assert "66012345" in chat.text
    chat.say("sorry, het is 12345678")
    assert "12345678" in chat.text and chat.conversation["slots"]["order_number"] == "12345678"


# -- information: catalogue, knowledge, declines ---------------------------------------------------------------

@pytest.mark.parametrize("question,template,fact", [
    ("wat kost de Barista 500?", "product_price", "549"),
    ("How much does the Robbie Max cost?", "product_price", "799"),
    ("verkopen jullie airfryers?", "catalogue_category", "Krokant Duo"),
    ("bezorgen jullie ook op zondag?", "knowledge_answer", "4,95"),
    ("kan ik mijn oude koffiezetapparaat inruilen?", "knowledge_answer", "150"),
    ("tot welk bedrag kan ik met klarna betalen?", "knowledge_answer", "1.500"),
])
def test_specific_information_comes_from_the_catalogue_and_the_articles(engine, question, template, fact):
    chat = Chat(engine)
    assert template in chat.say(question)
    assert fact in chat.text


@pytest.mark.parametrize("question,template", [
    ("verkopen jullie ook fietsen?", "decline_not_sold"),
    ("do you sell bicycles?", "decline_not_sold"),
    ("hebben jullie iPhones?", "decline_not_sold"),
    ("hoe laat gaat de albert heijn naast jullie winkel in utrecht open?", "decline_out_of_scope"),
    ("wat wordt het weer morgen?", "decline_out_of_scope"),
    ("can you put solar panels on my roof?", "decline_out_of_scope"),
    ("kunnen jullie ook mijn cv-ketel repareren?", "decline_out_of_scope"),
])
def test_what_the_shop_does_not_sell_or_do_is_declined(engine, question, template):
    chat = Chat(engine)
    assert chat.say(question) == [template]
    assert chat.ticket is None


@pytest.mark.parametrize("question", [
    "Can you repair my coffee machine?",
    "wat kost verzending naar belgie",
    "hebben jullie een winkel in antwerpen",
    "Mijn vrouw vraagt: hoe lang bewaren jullie de facturen?",
])
def test_questions_about_what_the_shop_does_are_not_declined(engine, question):
    chat = Chat(engine)
    templates = chat.say(question)
    assert not any(t.startswith("decline") for t in templates) and chat.ticket is None


# -- context and language ------------------------------------------------------------------------------------

def test_an_elliptical_follow_up_keeps_the_topic(engine):
    chat = Chat(engine)
    chat.say("hoeveel kost de krokant xl")
    assert "119,99" in chat.text
    chat.say("en de krokant duo?")
    assert "169" in chat.text
    chat.say("Wat zijn de openingstijden van de klantenservice?")
    chat.say("en op zaterdag?")
    assert "10:00" in chat.text


def test_the_reply_is_in_the_language_of_the_current_message(engine, responses):
    chat = Chat(engine)
    chat.say("wat kost verzending")
    chat.say("How long do I have to return something?")
    assert "30 days" in chat.text and chat.conversation["language"] == "en"
    chat.say("ok")  # short and ambiguous: the conversation's language stays
    assert chat.conversation["language"] == "en"


def test_asking_for_english_switches_and_a_bare_word_keeps_the_language(engine):
    chat = Chat(engine)
    chat.say("Hallo")
    assert chat.say("Do you speak English?") == ["language_switched"] and chat.conversation["language"] == "en"
    chat.say("waar is mijn bestelling")
    assert chat.conversation["language"] == "nl"
    chat.say("sorry 12345678")  # "sorry" alone is no reason to switch to English
    assert "12345678" in chat.text and chat.conversation["language"] == "nl"


def test_restart_clears_slots_and_the_pending_question(engine):
    chat = Chat(engine)
    chat.say("waar is mijn bestelling 12345678")
    chat.say("ik wil mijn bestelling annuleren")
    assert chat.say("/restart") == ["start"]
    assert chat.conversation["slots"] == {} and chat.conversation["pending_intent"] is None


@pytest.mark.parametrize("command", ["/escalate_ack", "/complaint_empathy", "/fallback_again", "/waiting_open"])
def test_a_typed_command_never_sends_an_internal_template(engine, command):
    chat = Chat(engine)
    for kind in ("text", "button"):
        templates = chat.say(command, kind=kind)
        assert command[1:] not in templates and templates == ["help"]
    assert chat.ticket is None


# -- while waiting for staff -----------------------------------------------------------------------------------

def test_while_waiting_the_bot_answers_notes_new_facts_and_repeats_the_notice_rarely(engine, store):
    chat = Chat(engine)
    chat.say("ik wil een medewerker spreken")
    assert chat.conversation["state"] == "waiting"
    chat.say("wat zijn jullie openingstijden")
    assert "17:30" in chat.text and not offers_a_person(chat)
    assert chat.say("mijn bestelnummer is 40218833") == ["noted_for_staff"]
    assert chat.ticket["story"]["slots"]["order_number"] == "40218833"
    assert "40218833" in chat.ticket["summary"]
    assert chat.say("ok") == []  # the queue notice was just given
    assert chat.say("hallo? is daar iemand?")[0].startswith("waiting_")  # a question about the wait
    later = store.clock() + engine.dialogue.queue_notice_minutes * 60 + 1
    store.clock = lambda: later
    assert chat.say("ok")[0].startswith("waiting_")
    assert [b.payload for b in chat.replies[0].buttons] == ["/leave_queue"]
    assert chat.say("ok") == []
    assert chat.say("bedankt") == ["thanks"] and chat.say("doei") == ["goodbye"]
    assert len(store.tickets()) == 1 and chat.conversation["state"] == "waiting"


@pytest.mark.parametrize("leave,kind", [("laat maar", "text"), ("never mind, cancel", "text"),
                                        ("/leave_queue", "button")])
def test_the_customer_can_leave_the_queue(engine, leave, kind):
    chat = Chat(engine)
    chat.say("I want to talk to a human")
    assert chat.say(leave, kind=kind) == ["left_queue"]
    assert chat.conversation["state"] == "bot" and chat.ticket["status"] == "closed"
    chat.say("what are your opening hours?")
    assert "17:30" in chat.text


# -- end to end: terminal and web chat -------------------------------------------------------------------------

def test_terminal_answers_first_and_a_typed_number_asks_for_a_person(engine, store):
    out = io.StringIO()
    terminal = TerminalChannel(engine, "tess", out, interactive=False)
    terminal.run(["hoe kan ik iets retourneren, ik wil mijn stofzuiger terugsturen\n", "1\n"])
    shown = out.getvalue()
    assert "30 dagen" in shown and "1. Medewerker spreken" in shown
    conversation = store.conversations()[0]
    assert conversation["state"] == "waiting" and store.ticket_for_conversation(conversation["id"])["reason"] == "requested"


def test_web_chat_asks_for_the_order_number_and_lets_the_customer_leave_the_queue(store, engine):
    client = TestClient(create_app(store, settings(), engine))
    client.get("/chat")

    def say(text: str, kind: str = "text") -> list[dict]:
        before = client.get("/chat/api/messages").json()["messages"]
        assert client.post("/chat/api/messages", json={"text": text, "kind": kind}).status_code == 202
        return [m for m in client.get("/chat/api/messages").json()["messages"][len(before):] if m["from"] == "bot"]

    assert "bestelnummer" in say("Waar blijft mijn bestelling? Ik heb al 2 weken gewacht")[-1]["text"]
    status = say("het is 12345678")[-1]
    assert "12345678" in status["text"] and [b["payload"] for b in status["buttons"]] == [
        "/order_details 12345678", "/request_human"]
    say(status["buttons"][-1]["payload"], kind="button")
    assert store.conversations()[0]["state"] == "waiting"
    assert say("/leave_queue", kind="button") and store.conversations()[0]["state"] == "bot"
    assert say("/escalate_ack")[-1]["text"] == engine.responses.render("help", "nl")
