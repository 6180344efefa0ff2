"""The conversation benchmark's channel paths: each customer turn goes in through a real channel's code
and the bot's replies are read back as the customer receives them.

- whatsapp: signed webhook POSTs into the console app's WhatsApp route; replies sent by the real pywa
  client to the Graph API emulator (emulators/graph_api.py), read from the emulator;
- email: mails into the channel's aiosmtpd endpoint; replies dispatched from the outbox through an
  aiosmtpd relay, read from the relay;
- webchat: the chat HTTP API (POST/GET /chat/api/messages) with the server-issued session;
- telegram: updates from the Bot API emulator (emulators/telegram_api.py), polled by the real
  python-telegram-bot application; replies read from the emulator's sendMessage calls.

The template a reply was rendered from is not visible to a customer: the engine's replies are recorded
by outbox row (`Recorder`), and each received message is matched to its row through the id the
platform gave it (stored with the row). Buttons shown as numbered lines are turned back into buttons.
"""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import socket
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from emulators.graph_api import APP_SECRET, PHONE_NUMBER_ID, TOKEN, VERIFY_TOKEN, GraphAPIEmulator
from webcare.bot.channels.base import Button, IncomingMessage, OutgoingMessage
from webcare.bot.engine import DialogueEngine
from webcare.store import Store

Send = Callable[[str], list[OutgoingMessage]]
SHOP = "service@huisraad.test"
NUMBERED = re.compile(r"\n\n((?:\d+\. [^\n]*(?:\n|$))+)\s*$")


class Recorder:
    """The engine with its replies remembered by outbox row: where the templates come from."""

    def __init__(self, engine: DialogueEngine) -> None:
        self.engine = engine
        self.replies: dict[int, OutgoingMessage] = {}
        self.turns = 0  # turns the engine finished

    def handle(self, incoming: IncomingMessage) -> list[OutgoingMessage]:
        replies = self.engine.handle(incoming)
        self.replies.update({r.message_id: r for r in replies if r.message_id is not None})
        self.turns += 1
        return replies

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


@dataclass
class Received(OutgoingMessage):
    """A reply as the customer got it, with what the engine said (None: no outbox row matched it)."""

    said: OutgoingMessage | None = None

    @property
    def altered(self) -> str | None:
        """How the reply changed on its way to the customer, if it did."""
        if self.said is None:
            return "no outbox row"
        if self.text != self.said.text.strip():
            return "text"
        if [b.title for b in self.buttons] != [b.title for b in self.said.buttons]:
            return "buttons"
        return None


def received(recorder: Recorder, row: dict[str, Any] | None, text: str, buttons: list[Button],
             channel: str, chat_id: str) -> Received:
    """A message as the customer got it, with the template of the outbox row it came from."""
    text = text.replace("\r\n", "\n")  # mail bodies travel with CRLF line ends
    match = NUMBERED.search(text)
    if match and not buttons:  # buttons degraded to numbered lines (Channel.buttons_as_text); payload: the number
        buttons = [Button(line.split(". ", 1)[1], line.split(". ", 1)[0])
                   for line in match.group(1).strip().splitlines()]
        text = text[: match.start()]
    original = recorder.replies.get(row["id"]) if row else None
    return Received(channel=channel, chat_id=chat_id, text=text.strip(), buttons=buttons,
                    message_id=row["id"] if row else None, author=row["author"] if row else "bot",
                    template=original.template if original else None, said=original)


def _rows_by_platform_id(store: Store) -> dict[str, dict[str, Any]]:
    return {m["platform_message_id"]: m for c in store.conversations(limit=1000) for m in store.messages(c["id"])
            if m["direction"] == "out" and m["platform_message_id"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- WhatsApp -------------------------------------------------------------------------------------

def _whatsapp_shown(sent: dict[str, Any]) -> tuple[str, list[Button]]:
    if sent["type"] == "text":
        return sent["text"]["body"], []
    if sent["type"] == "interactive":
        interactive = sent["interactive"]
        action = interactive["action"]
        if interactive["type"] == "button":
            buttons = [Button(b["reply"]["title"], b["reply"]["id"]) for b in action["buttons"]]
        else:
            buttons = [Button(r["title"], r["id"]) for s in action["sections"] for r in s["rows"]]
        return interactive["body"]["text"], buttons
    return sent["template"]["components"][0]["parameters"][0]["text"], []


@contextmanager
def whatsapp(store: Store, engine: DialogueEngine, user: str) -> Iterator[Send]:
    """Signed webhook updates into the console app; replies from the Graph API emulator."""
    from webcare.config import Settings
    from webcare.console.app import create_app

    number = str(31_600_000_000 + zlib.crc32(user.encode()) % 10**8)  # a Dutch mobile number per dialogue
    recorder = Recorder(engine)
    with GraphAPIEmulator() as wa, asyncio.Runner() as loop:
        settings = Settings.model_validate({"console": {"secret_key": "bench"}, "channels": {"whatsapp": {
            "phone_number_id": PHONE_NUMBER_ID, "token": TOKEN, "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN, "base_url": wa.url}}})
        app = create_app(store, settings, engine=recorder)
        channel = app.state.channels["whatsapp"]
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console")

        async def say(text: str) -> list[OutgoingMessage]:
            before = len(wa.sent)
            body, headers = wa.text_update(number, text, name=user)
            response = await http.post(channel.config.webhook_path, content=body, headers=headers)
            response.raise_for_status()
            await channel.idle()
            rows = _rows_by_platform_id(store)
            return [received(recorder, rows.get(sent["id"]), *_whatsapp_shown(sent), "whatsapp", number)
                    for sent in wa.sent[before:] if sent.get("to") == number]

        try:
            loop.run(channel.start())
            yield lambda text: loop.run(say(text))
        finally:
            loop.run(http.aclose())
            loop.run(channel.stop())


# -- e-mail ---------------------------------------------------------------------------------------

class _Relay:
    """The outbound relay: keeps every mail it is given."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's name
        self.mails.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 OK"


@contextmanager
def email(store: Store, engine: DialogueEngine, user: str) -> Iterator[Send]:
    """Mails into the channel's SMTP endpoint; replies through the outbox and a relay, read there."""
    from webcare.bot.channels.email import EmailChannel
    from webcare.bot.config import EmailConfig
    from webcare.bot.outbox import OutboxDispatcher

    address = f"{re.sub(r'[^a-z0-9.-]', '-', user.lower())}@example.test"
    recorder = Recorder(engine)
    relay = _Relay()
    relay_port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    with tempfile.TemporaryDirectory() as folder, asyncio.Runner() as loop:
        config = EmailConfig(address=SHOP, smtp_host="127.0.0.1", smtp_port=relay_port, starttls=False,
                             inbound_port=free_port(), storage_dir=folder)
        channel = EmailChannel(config, recorder, store, "Huisraad")  # type: ignore[arg-type]
        outbox = OutboxDispatcher(store, {"email": channel})

        def write(text: str) -> list[OutgoingMessage]:
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = f"Customer <{address}>", SHOP, "Vraag / question"
            mail["Message-ID"] = make_msgid(domain="example.test")
            mail.set_content(text)
            before = len(relay.mails)
            with smtplib.SMTP("127.0.0.1", config.inbound_port, timeout=30) as smtp:
                smtp.send_message(mail)
            while loop.run(outbox.dispatch_once()):
                pass
            rows = _rows_by_platform_id(store)
            return [received(recorder, rows.get(str(m["Message-ID"])), m.get_content(), [], "email", address)
                    for m in relay.mails[before:] if m["To"] == address]

        try:
            loop.run(channel.start())
            yield write
        finally:
            loop.run(channel.stop())
            controller.stop()


# -- web chat -------------------------------------------------------------------------------------

@contextmanager
def webchat(store: Store, engine: DialogueEngine, user: str) -> Iterator[Send]:
    """The chat page's HTTP API with its server-issued session cookie; replies from GET messages."""
    from fastapi.testclient import TestClient

    from webcare.config import Settings
    from webcare.console.app import create_app

    recorder = Recorder(engine)
    app = create_app(store, Settings.model_validate({"console": {"secret_key": "bench"}}), engine=recorder)
    with TestClient(app) as client:
        client.get("/chat").raise_for_status()  # the session cookie
        seen = 0

        def chat(text: str) -> list[OutgoingMessage]:
            nonlocal seen
            client.post("/chat/api/messages", json={"text": text}).raise_for_status()
            messages = client.get(f"/chat/api/messages?after={seen}").json()["messages"]
            seen = max([seen] + [m["id"] for m in messages])
            replies = []
            for m in messages:
                if m["from"] == "customer":
                    continue
                row = store.message(m["id"])
                buttons = [Button(b["title"], b["payload"]) for b in m.get("buttons") or []]
                replies.append(received(recorder, row, m["text"], buttons, "webchat", "web"))
            return replies

        yield chat


# -- Telegram -------------------------------------------------------------------------------------

TURN_SECONDS = 30.0  # the longest a Telegram turn may take before the benchmark gives up


@contextmanager
def telegram(store: Store, engine: DialogueEngine, user: str) -> Iterator[Send]:
    """Updates polled by python-telegram-bot from the Bot API emulator; replies from its sendMessage calls."""
    from emulators.telegram_api import TelegramEmulator
    from emulators.telegram_harness import telegram_config, until
    from webcare.bot.channels.telegram import TelegramChannel

    chat = 10_000 + zlib.crc32(user.encode()) % 10**9
    recorder = Recorder(engine)
    with TelegramEmulator() as tg, asyncio.Runner() as loop:
        channel = TelegramChannel(telegram_config(tg), recorder, store, None)  # type: ignore[arg-type]

        def answered(turns: int) -> bool:  # the engine's turn is over and its replies went out
            return recorder.turns >= turns and not any(r["chat_id"] == str(chat)
                                                       for r in store.pending_outbox("telegram"))

        async def say(text: str) -> list[OutgoingMessage]:
            before, turns = len(tg.sent("sendMessage", chat)), recorder.turns + 1
            tg.message(chat, text, first_name=user)
            await until(lambda: answered(turns), TURN_SECONDS, f"the reply to {text!r}")
            rows = _rows_by_platform_id(store)
            return [received(recorder, rows.get(str(sent["_result"]["message_id"])), sent["text"],
                             _telegram_buttons(sent), "telegram", str(chat))
                    for sent in tg.sent("sendMessage", chat)[before:]]

        loop.run(channel.start())
        try:
            yield lambda text: loop.run(say(text))
        finally:
            loop.run(channel.stop())


def _telegram_buttons(sent: dict[str, Any]) -> list[Button]:
    markup = sent.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [Button(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row]


PATHS: dict[str, Callable[[Store, DialogueEngine, str], Any]] = {
    "whatsapp": whatsapp, "email": email, "webchat": webchat, "telegram": telegram,
}
