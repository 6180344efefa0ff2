"""WhatsApp through the real pywa client against the Graph API emulator, the webhook in the console's app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from emulators.console_kit import fast_argon2, make_engine, write_content  # noqa: F401 - autouse
from emulators.graph_api import APP_SECRET, PHONE_NUMBER_ID, TOKEN, VERIFY_TOKEN, GraphAPIEmulator, sign
from tests.helpers import Clock
from webcare.bot.channels.base import Button, OutgoingMessage
from webcare.bot.channels.whatsapp import WhatsAppChannel
from webcare.bot.outbox import OutboxDispatcher
from webcare.config import Settings
from webcare.console.app import create_app
from webcare.store import Store

CUSTOMER = "31612345678"
HOOK = "/whatsapp/webhook"


def whatsapp_settings(url: str, **whatsapp: Any) -> Settings:
    return Settings.model_validate({
        "console": {"secret_key": "test-secret"},
        "channels": {"whatsapp": {"phone_number_id": PHONE_NUMBER_ID, "token": TOKEN, "app_secret": APP_SECRET,
                                  "verify_token": VERIFY_TOKEN, "base_url": url, **whatsapp}},
    })


class Rig:
    """The console's app with the WhatsApp channel, its store (with a clock) and the emulator."""

    def __init__(self, store: Store, clock: Clock, wa: GraphAPIEmulator, http: httpx.AsyncClient, channel: Any):
        self.store, self.clock, self.wa, self.http, self.channel = store, clock, wa, http, channel

    async def post(self, update: tuple[bytes, dict]) -> httpx.Response:
        body, headers = update
        response = await self.http.post(HOOK, content=body, headers=headers)
        await self.channel.idle()
        return response

    async def say(self, text: str) -> httpx.Response:
        return await self.post(self.wa.text_update(CUSTOMER, text))

    def conversation(self) -> dict[str, Any]:
        return self.store.conversations()[0]


@pytest.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    clock = Clock(1_800_000_000.0)
    store = Store.memory(clock=clock)
    engine = make_engine(store, write_content(tmp_path))
    with GraphAPIEmulator() as wa:
        settings = whatsapp_settings(wa.url, templates={"en": {"name": "staff_reply", "language": "en_US"}})
        app = create_app(store, settings, engine=engine)
        channel = app.state.channels["whatsapp"]
        await channel.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console") as http:
            yield Rig(store, clock, wa, http, channel)
        await channel.stop()
    store.close()


async def test_the_webhook_handshake_answers_the_challenge_only_for_the_verify_token(rig: Rig):
    ok = await rig.http.get(HOOK, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                          "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await rig.http.get(HOOK, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                             "hub.challenge": "1158201444"})
    assert wrong.status_code == 403 and "1158201444" not in wrong.text
    unsubscribed = await rig.http.get(HOOK, params={"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                                                    "hub.challenge": "x"})
    assert unsubscribed.status_code == 403


async def test_an_update_without_the_app_secrets_signature_is_refused_and_not_handled(rig: Rig):
    body, _ = rig.wa.text_update(CUSTOMER, "hello")
    forged = sign(body, "someone-elses-secret")
    assert (await rig.post((body, forged))).status_code == 401
    assert (await rig.post((body, {"Content-Type": "application/json"}))).status_code == 401
    tampered = body.replace(b"hello", b"HELLO")
    assert (await rig.post((tampered, sign(body)))).status_code == 401
    assert rig.store.conversations() == [] and rig.wa.sent == []


async def test_a_text_is_answered_marked_read_and_delivered_read_statuses_reach_the_outbox(rig: Rig):
    response = await rig.say("hello")
    assert response.status_code == 200
    assert rig.wa.texts(CUSTOMER) == ["Hello! How can I help?"]
    assert rig.wa.read == ["wamid.in1"]
    conversation = rig.conversation()
    customer = rig.store.customer(conversation["customer_id"])
    assert customer["display_name"] == "Anna"
    reply = next(m for m in rig.store.messages(conversation["id"]) if m["direction"] == "out")
    assert reply["delivery"] == "sent" and reply["platform_message_id"] == rig.wa.sent[0]["id"]
    for status in ("delivered", "read", "delivered"):  # a late "delivered" does not undo "read"
        await rig.post(rig.wa.status_update(reply["platform_message_id"], status, CUSTOMER))
    assert rig.store.message(reply["id"])["receipt"] == "read"


async def test_the_same_update_twice_is_one_turn(rig: Rig):
    update = rig.wa.text_update(CUSTOMER, "hello")
    await rig.post(update)
    await rig.post(update)  # Meta redelivers when our 200 was lost
    assert len(rig.wa.texts(CUSTOMER)) == 1
    assert len(rig.store.messages(rig.conversation()["id"])) == 2


async def test_three_buttons_are_reply_buttons_more_are_a_list_and_a_press_is_the_payload(rig: Rig):
    await rig.say("hello")
    conversation = rig.conversation()
    three = [{"title": f"Choice {n}", "payload": f"/choice{n}"} for n in range(3)]
    rig.store.queue_outgoing(conversation["id"], "Pick one", buttons=three)
    rig.store.queue_outgoing(conversation["id"], "Pick from the list",
                             buttons=three + [{"title": "A much longer fourth choice title", "payload": "/human"}])
    assert await OutboxDispatcher(rig.store, {"whatsapp": rig.channel}).dispatch_once() == 2
    buttons, listing = rig.wa.sent[-2:]
    assert buttons["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in buttons["interactive"]["action"]["buttons"]] == ["/choice0", "/choice1",
                                                                                       "/choice2"]
    assert listing["interactive"]["type"] == "list"
    rows = listing["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows][-1] == "/human" and all(len(r["title"]) <= 24 for r in rows)
    press = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "/human",
                                                                                        "title": "A much"}}}
    await rig.post(rig.wa.message_update(CUSTOMER, press))
    last_in = rig.store.last_message("whatsapp", CUSTOMER, "in")
    assert (last_in["kind"], last_in["text"]) == ("button", "/human")
    assert rig.store.tickets() and rig.store.conversation(conversation["id"])["state"] != "bot"


async def test_media_is_stored_as_a_reference_and_answered_politely_reactions_get_no_reply(rig: Rig):
    photo = {"type": "image", "image": {"id": "MEDIA-77", "mime_type": "image/jpeg", "caption": "my broken lamp"}}
    await rig.post(rig.wa.message_update(CUSTOMER, photo))
    stored = rig.store.last_message("whatsapp", CUSTOMER, "in")
    assert stored["kind"] == "image" and "whatsapp-media:MEDIA-77" in stored["text"]
    assert rig.wa.texts(CUSTOMER) == ["I can only read text."]
    place = {"type": "location", "location": {"latitude": 52.37, "longitude": 4.89, "name": "Dam"}}
    await rig.post(rig.wa.message_update(CUSTOMER, place))
    assert rig.store.last_message("whatsapp", CUSTOMER, "in")["text"] == "[location 52.37,4.89 Dam]"
    sent = len(rig.wa.sent)
    reaction = {"type": "reaction", "reaction": {"message_id": rig.wa.sent[0]["id"], "emoji": "👍"}}
    assert (await rig.post(rig.wa.message_update(CUSTOMER, reaction))).status_code == 200
    assert len(rig.wa.sent) == sent
    assert any(e["kind"] == "whatsapp_reaction" for e in rig.store.events())


async def test_after_24_hours_a_staff_reply_goes_out_as_the_template_or_is_held_with_the_reason(rig: Rig):
    await rig.say("hello")
    conversation = rig.conversation()
    rig.clock.now += 25 * 3600
    rig.wa.offset += 25 * 3600
    dispatcher = OutboxDispatcher(rig.store, {"whatsapp": rig.channel})
    rig.store.queue_outgoing(conversation["id"], "Your lamp ships today.\nRegards", author="agent:alice")
    assert await dispatcher.dispatch_once() == 1
    template = rig.wa.sent[-1]
    assert template["type"] == "template" and template["template"]["name"] == "staff_reply"
    assert template["template"]["language"]["code"] == "en_US"
    assert rig.wa.texts(CUSTOMER)[-1] == "Your lamp ships today. Regards"  # no newlines in a parameter

    rig.store.update_conversation(conversation["id"], language="nl")  # no Dutch template configured: held, with the reason
    held = rig.store.queue_outgoing(conversation["id"], "Je lamp komt vandaag.", author="agent:alice")
    assert await dispatcher.dispatch_once() == 0
    row = rig.store.message(held)
    assert row["delivery"] == "failed" and row["error"].startswith("held:") and "templates.nl" in row["error"]
    rig.wa.offset = 0
    await rig.say("hallo")  # the customer writes again: the window opens and the held reply goes out
    assert rig.store.message(held)["delivery"] == "sent"
    assert "Je lamp komt vandaag." in rig.wa.texts(CUSTOMER)


async def test_when_whatsapp_says_the_window_closed_the_template_goes_instead(rig: Rig):
    await rig.say("hello")
    rig.wa.offset += 25 * 3600  # WhatsApp's clock is ahead of ours: it refuses free-form with 131047
    rig.store.queue_outgoing(rig.conversation()["id"], "Still there?", author="agent:alice")
    assert await OutboxDispatcher(rig.store, {"whatsapp": rig.channel}).dispatch_once() == 1
    assert rig.wa.sent[-1]["type"] == "template"


async def test_a_429_keeps_the_reply_for_later_and_a_5xx_is_retried_nothing_lost_or_doubled(rig: Rig):
    await rig.say("hello")
    conversation = rig.conversation()
    dispatcher = OutboxDispatcher(rig.store, {"whatsapp": rig.channel})
    rig.wa.fail(429, 130429)
    first = rig.store.queue_outgoing(conversation["id"], "One", author="agent:alice")
    rig.store.queue_outgoing(conversation["id"], "Two", author="agent:alice")
    assert await dispatcher.dispatch_once() == 0
    row = rig.store.message(first)
    assert row["delivery"] == "pending" and "rate limit (130429)" in row["error"]  # visible to staff
    rig.clock.now += 60
    rig.wa.fail(503, 1, times=2)  # two 5xx, then through on the third try
    assert await dispatcher.dispatch_once() == 2
    assert rig.wa.texts(CUSTOMER)[-2:] == ["One", "Two"]
    assert rig.store.message(first)["error"] is None


async def test_a_permanent_refusal_and_a_failed_status_are_shown_to_staff(rig: Rig):
    await rig.say("hello")
    conversation = rig.conversation()
    rig.wa.fail(400, 131026)  # message undeliverable
    refused = rig.store.queue_outgoing(conversation["id"], "Hello?", author="agent:alice")
    await OutboxDispatcher(rig.store, {"whatsapp": rig.channel}).dispatch_once()
    assert rig.store.message(refused)["delivery"] == "failed"
    assert "(131026)" in rig.store.message(refused)["error"]
    sent = next(m for m in rig.store.messages(conversation["id"]) if m["delivery"] == "sent")
    errors = [{"code": 131047, "title": "Re-engagement message"}]
    await rig.post(rig.wa.status_update(sent["platform_message_id"], "failed", CUSTOMER, errors))
    row = rig.store.message(sent["id"])
    assert row["delivery"] == "failed" and "24-hour window" in row["error"]


async def test_bad_bodies_are_4xx(rig: Rig):
    not_json = b"{nope"
    assert (await rig.post((not_json, sign(not_json)))).status_code == 400
    odd = json.dumps({"entry": [{"changes": [{"field": "messages", "value": {"messages": [{"type": "text"}]}}]}]})
    assert (await rig.post((odd.encode(), sign(odd.encode())))).status_code == 200  # no sender: ignored
    assert rig.store.conversations() == []


def test_the_channel_is_switched_on_by_its_section_and_needs_the_webhook_secrets():
    from webcare.bot.channels import enabled_channels
    from webcare.core.errors import ConfigError

    settings = whatsapp_settings("http://127.0.0.1:9")
    assert "whatsapp" in enabled_channels(settings.channels, "console")
    section = settings.channels.whatsapp.model_copy(update={"app_secret": None})
    with pytest.raises(ConfigError, match="app_secret"):
        WhatsAppChannel(section, None, Store.memory())


async def test_a_long_staff_reply_is_refused_with_the_reason(rig: Rig):
    with pytest.raises(Exception, match="4096"):
        await rig.channel.send(OutgoingMessage("whatsapp", CUSTOMER, "x" * 5000, [Button("a", "b")]))


async def test_the_console_shows_the_window_and_why_a_reply_was_held(rig: Rig):
    from emulators.console_kit import PASSWORD, add_user, csrf_of

    await rig.say("hello")
    conversation = rig.conversation()
    add_user(rig.store, "alice", "agent")

    async def page() -> str:
        rig.http.cookies.clear()  # signed in afresh: the staff session would have ended a day later
        token = csrf_of((await rig.http.get("/login")).text)
        await rig.http.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token, "next": "/"})
        return (await rig.http.get(f"/conversations/{conversation['id']}")).text

    assert "24-hour window open until" in await page()
    rig.clock.now += 25 * 3600
    rig.store.update_conversation(conversation["id"], language="nl")
    held = rig.store.queue_outgoing(conversation["id"], "Je lamp komt vandaag.", author="agent:alice")
    await OutboxDispatcher(rig.store, {"whatsapp": rig.channel}).dispatch_once()
    shown = await page()
    assert "staff replies are held (no template for language &#39;nl&#39;)" in shown
    assert rig.store.message(held)["error"].replace("'", "&#39;") in shown  # the reason, next to the reply
