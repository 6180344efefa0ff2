"""Trust: typed identities are claims, server-issued web chat sessions, revocable staff sessions, authorisation.

Through the real console app (FastAPI's TestClient), the real dialogue engine and shipped content,
over a SQLite file store; only the NLU is a keyword stand-in.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emulators.console_kit import (
    add_user,
    csrf_of,
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    login,
    settings,
)
from emulators.listen_kit import KeywordAnalyzer as MentionAnalyzer
from emulators.listen_kit import config as listeners_config
from emulators.listen_kit import mention
from tests.helpers import matches
from webcare.bot import proof
from webcare.bot.channels.base import IncomingMessage
from webcare.bot.engine import DialogueEngine
from webcare.console import create_app
from webcare.console.auth import hash_password
from webcare.listeners.triage import Triage
from webcare.nlu.types import Analysis, Entity
from webcare.store import Store

ORDER = "40218833"  # the demo order: Barista Pro espressomachine, postcode 3511 LX
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")


class ShopAnalyzer:
    """Keywords decide the intent; order numbers and e-mail addresses are entities, as the real NLU gives them."""

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        lower = text.lower()
        analysis = Analysis(text=text, language="en", out_of_scope=True)
        for intent, pattern in (("request_human", r"\b(human|person)\b"), ("order_status", r"\bwhere is my order\b")):
            if re.search(pattern, lower):
                analysis.intent, analysis.confidence, analysis.out_of_scope = intent, 0.95, False
                break
        for kind, pattern in (("order_number", re.compile(r"\b\d{8}\b")), ("email", EMAIL)):
            for m in pattern.finditer(text):
                analysis.entities.append(Entity(kind, m.group(), m.group(), m.start(), m.end()))
        return analysis


@pytest.fixture
def file_store(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    yield store
    store.close()


@pytest.fixture
def engine(file_store, responses):
    return DialogueEngine(file_store, ShopAnalyzer(), responses, default_language="en")


@pytest.fixture
def app(file_store, engine):
    app = create_app(file_store, settings(), engine)
    for name, role in (("alice", "agent"), ("bob", "agent"), ("sam", "social"), ("root", "admin")):
        add_user(file_store, name, role)
    return app


def staff(app, username: str) -> TestClient:
    client = TestClient(app)
    assert login(client, username).status_code == 303
    return client


def web_customer(app) -> TestClient:
    client = TestClient(app)
    client.get("/chat")
    return client


def say(client: TestClient, text: str) -> list[dict[str, Any]]:
    """Post a message; return what the bot answered to it."""
    seen = client.get("/chat/api/messages").json()["messages"]
    assert client.post("/chat/api/messages", json={"text": text}).status_code == 202
    after = seen[-1]["id"] if seen else 0
    return [m for m in client.get(f"/chat/api/messages?after={after}").json()["messages"] if m["from"] != "customer"]


def conversation_of(store: Store, text: str) -> dict[str, Any]:
    """The conversation in which the customer wrote `text`."""
    [row] = store.backend.query("SELECT conversation_id FROM messages WHERE text = ?", [text])
    return store.conversation(row["conversation_id"])


# -- typed identities are claims -----------------------------------------------------------------


def test_a_stranger_who_types_anothers_order_number_stays_a_stranger(app, file_store):
    anna = web_customer(app)
    say(anna, f"where is my order {ORDER}? mail me at anna@example.nl")
    say(anna, "I want a human")
    stranger = web_customer(app)
    say(stranger, f"where is my order {ORDER}")
    say(stranger, "I want a person")
    mine = conversation_of(file_store, f"where is my order {ORDER}? mail me at anna@example.nl")
    theirs = conversation_of(file_store, f"where is my order {ORDER}")
    assert mine["customer_id"] != theirs["customer_id"]
    assert file_store.events("customers_merged") == []
    assert [(c["kind"], c["value"], c["verified_at"]) for c in file_store.claims(theirs["id"])] == [
        ("order_number", ORDER, None)]

    story = file_store.ticket_for_conversation(theirs["id"])["story"]
    assert "anna@example.nl" not in json.dumps(story) and story["channels"] == ["webchat"]
    assert story["claims"] == [{"kind": "order_number", "value": ORDER, "verified": False}]

    page = staff(app, "alice").get(f"/conversations/{theirs['id']}").text
    assert "anna@example.nl" not in page and "mail me at" not in page
    assert "unverified" in page and f"also claimed order number {ORDER}" in page  # a suggestion, for staff only
    assert f'href="/conversations/{mine["id"]}"' in page and mine["chat_id"] not in page
    assert "anna@example.nl" in staff(app, "alice").get(f"/conversations/{mine['id']}").text

    assert "anna@example.nl" not in json.dumps(file_store.export_customer(theirs["customer_id"]), default=str)
    before = json.dumps(file_store.export_customer(mine["customer_id"]), default=str)
    file_store.erase_customer(theirs["customer_id"], actor="dpo")
    after = file_store.export_customer(mine["customer_id"])
    assert json.dumps(after, default=str) == before and after["customer"]["erased_at"] is None


def test_staff_still_link_customers_by_hand_and_the_claims_follow(app, file_store):
    anna, stranger = web_customer(app), web_customer(app)
    say(anna, f"where is my order {ORDER}?")
    say(stranger, f"where is my order {ORDER}")
    mine = conversation_of(file_store, f"where is my order {ORDER}?")
    other = next(c for c in file_store.conversations() if c["id"] != mine["id"])
    agent = staff(app, "alice")
    token = csrf_of(agent.get(f"/conversations/{mine['id']}").text)
    agent.post(f"/customers/{mine['customer_id']}/merge", data={"csrf": token, "other": str(other["customer_id"])})
    assert len(file_store.claims(customer_id=mine["customer_id"])) == 2
    assert file_store.events("customers_merged")[0]["actor"] == "alice"


def test_order_status_is_given_to_anyone_and_details_only_with_the_postcode(engine, responses):
    def chat(user: str):
        def send(text: str, kind: str = "text") -> list:
            return engine.handle(IncomingMessage("telegram", user, user, text, kind=kind))
        return send

    anna = chat("anna")
    [status] = anna(f"where is my order {ORDER}")
    assert matches(responses, status.text, "order_status_processing", "en")
    assert "Barista" not in status.text and "3511" not in status.text  # nothing personal yet
    assert [b.payload for b in status.buttons] == [f"{proof.COMMAND} {ORDER}", "/request_human"]
    [ask] = anna(status.buttons[0].payload, "button")
    assert matches(responses, ask.text, "ask_postcode", "en")
    [wrong] = anna("1234 AB")
    assert matches(responses, wrong.text, "postcode_mismatch", "en") and "Barista" not in wrong.text
    anna(f"{proof.COMMAND} {ORDER}", "button")
    [details] = anna("it is 3511lx")
    assert matches(responses, details.text, "order_details", "en") and "Barista Pro espressomachine" in details.text
    [again] = anna(f"{proof.COMMAND} {ORDER}", "button")  # proven once in this conversation: no second question
    assert "Barista Pro espressomachine" in again.text
    conversation = engine.store.conversations(customer_id=engine.store.customer_by_identity("telegram", "anna")["id"])
    assert engine.store.claims(conversation[0]["id"])[0]["verified_by"] == "postcode"

    guesser = chat("guesser")
    for guess in ("1011 AA", "1011 AB", "1011 AC"):
        guesser(f"{proof.COMMAND} {ORDER}", "button")
        assert matches(responses, guesser(guess)[0].text, "postcode_mismatch", "en")
    [stop] = guesser(f"{proof.COMMAND} {ORDER}", "button")
    assert matches(responses, stop.text, "proof_exhausted", "en")
    [after] = guesser("3511 LX")  # the right postcode, too late: an ordinary message now
    assert "Barista" not in after.text


def test_a_postcode_question_left_unanswered_does_not_trap_the_conversation(engine, responses):
    engine.handle(IncomingMessage("telegram", "kim", "kim", f"{proof.COMMAND} {ORDER}", kind="button"))
    [reply] = engine.handle(IncomingMessage("telegram", "kim", "kim", "where is my order"))
    assert matches(responses, reply.text, "order_status_processing", "en")


def test_a_mention_is_linked_to_a_customer_only_by_its_channel_identity(file_store):
    anna = file_store.identify("telegram", "42", "Anna")
    conversation = file_store.open_conversation(anna["id"], "telegram", "42")
    file_store.add_claim(conversation["id"], "email", "anna@example.nl")
    file_store.add_claim(conversation["id"], "order_number", ORDER)
    triage = Triage(file_store, MentionAnalyzer(), listeners_config(), clock=lambda: 1_000_000.0)
    triage.process([mention("1", f"@acme waardeloos, order {ORDER} van anna@example.nl is kapot", author="u9")])
    [row] = file_store.mentions(limit=5)
    assert row["customer_id"] not in (None, anna["id"])
    assert "waardeloos" not in json.dumps(file_store.export_customer(anna["id"]), default=str)


# -- web chat sessions --------------------------------------------------------------------------------


def test_staff_see_a_short_reference_never_the_chat_cookie(app, file_store):
    customer = web_customer(app)
    say(customer, "I want a human")
    cookie = customer.cookies["webcare_chat"]
    [conversation] = file_store.conversations()
    page = staff(app, "alice").get(f"/conversations/{conversation['id']}").text
    assert re.search(r"webchat: web-[0-9a-f]{4} ", page)
    assert cookie not in page and cookie.partition(".")[0] not in page and conversation["chat_id"] not in page


# -- staff sessions ----------------------------------------------------------------------------------


def saved_cookie(client: TestClient) -> str:
    return client.cookies["webcare_session"]


def with_cookie(app, cookie: str) -> TestClient:
    client = TestClient(app)
    client.cookies.set("webcare_session", cookie)
    return client


def signed_in(client: TestClient) -> bool:
    return client.get("/inbox", follow_redirects=False).status_code == 200


def test_logout_ends_the_session_for_every_copy_of_its_cookie(app):
    alice = staff(app, "alice")
    copy = saved_cookie(alice)
    other_device = staff(app, "alice")
    alice.post("/logout", data={"csrf": csrf_of(alice.get("/inbox").text)})
    assert not signed_in(with_cookie(app, copy))
    assert signed_in(other_device)  # signing out on one device leaves the others


def test_a_new_password_or_disabling_ends_every_session(app, file_store):
    alice = staff(app, "alice")
    file_store.update_user("alice", password_hash=hash_password("a brand new password"))  # `webcare users passwd`
    assert not signed_in(alice)
    assert login(TestClient(app), "alice", "a brand new password").status_code == 303
    bob = staff(app, "bob")
    file_store.update_user("bob", disabled=1)
    file_store.update_user("bob", disabled=0)
    assert not signed_in(bob)


def test_a_removed_and_recreated_user_inherits_no_session(app, file_store):
    copy = saved_cookie(staff(app, "alice"))
    file_store.remove_user("alice")
    add_user(file_store, "alice", "admin")
    assert not signed_in(with_cookie(app, copy))


def test_a_session_cookie_without_a_stored_session_signs_no_one_in(app, file_store):
    alice = staff(app, "alice")
    file_store.backend.execute("DELETE FROM staff_sessions")
    assert not signed_in(alice)


# -- authorisation -----------------------------------------------------------------------------------


def taken_by_alice(app, file_store) -> tuple[TestClient, int]:
    customer = web_customer(app)
    say(customer, "I want a human")
    [conversation] = file_store.conversations()
    alice = staff(app, "alice")
    alice.post(f"/conversations/{conversation['id']}/take", data={"csrf": csrf_of(alice.get("/inbox").text)})
    assert file_store.conversation(conversation["id"])["owner"] == "alice"
    return customer, conversation["id"]


@pytest.mark.parametrize("action", ["close", "handback"])
def test_an_agent_cannot_finish_a_colleagues_conversation(app, file_store, responses, action):
    customer, conversation_id = taken_by_alice(app, file_store)
    bob = staff(app, "bob")
    response = bob.post(f"/conversations/{conversation_id}/{action}", data={"csrf": csrf_of(bob.get("/inbox").text)})
    assert response.status_code == 403 and "only its owner or an admin" in response.text
    texts = [m["text"] for m in customer.get("/chat/api/messages").json()["messages"]]
    assert not any(matches(responses, t, "handed_back", "en") or matches(responses, t, "conversation_closed", "en")
                   for t in texts)
    conversation = file_store.conversation(conversation_id)
    assert (conversation["state"], conversation["owner"]) == ("human", "alice")
    assert file_store.ticket_for_conversation(conversation_id)["status"] == "assigned"
    root = staff(app, "root")
    response = root.post(f"/conversations/{conversation_id}/{action}", data={"csrf": csrf_of(root.get("/inbox").text)},
                         follow_redirects=False)
    after = {"close": "closed", "handback": "bot"}[action]
    assert response.status_code == 303 and file_store.conversation(conversation_id)["state"] == after


def test_handing_back_twice_tells_the_customer_once(app, file_store, responses):
    customer, conversation_id = taken_by_alice(app, file_store)
    alice = staff(app, "alice")
    token = csrf_of(alice.get("/inbox").text)
    for _ in range(3):
        response = alice.post(f"/conversations/{conversation_id}/handback", data={"csrf": token}, follow_redirects=False)
        assert response.status_code == 303
    texts = [m["text"] for m in customer.get("/chat/api/messages").json()["messages"]]
    assert sum(matches(responses, t, "handed_back", "en") for t in texts) == 1
    assert sum(matches(responses, t, "csat_ask", "en") for t in texts) == 1
    assert len(file_store.events("handed_back")) == 1


def test_storm_samples_in_the_dashboard_export_are_for_social_staff(app, file_store):
    file_store.log_event("storm", actor="listeners", data={
        "topic": "delivery", "source": "x", "count": 9, "baseline": 1.0, "sample": ["secret sample mention"],
        "examples": [{"text": "secret sample mention", "url": "https://x.example/1"}]})
    agent_export = staff(app, "alice").get("/dashboard/export.json?period=24h").json()
    assert agent_export["storms"][0]["topic"] == "delivery" and "secret sample" not in json.dumps(agent_export)
    for who in ("sam", "root"):
        assert "secret sample mention" in json.dumps(staff(app, who).get("/dashboard/export.json?period=24h").json())
