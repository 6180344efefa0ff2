"""E-mail against real SMTP servers the tests start: the channel's aiosmtpd endpoint for inbound mail,
and an aiosmtpd relay that requires STARTTLS (a self-signed certificate the channel is told to trust)
for the replies. Threading, reply stripping (Dutch too), HTML, attachments, loops and flooding."""

from __future__ import annotations

import datetime
import smtplib
import socket
import ssl
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from emulators.console_kit import KeywordAnalyzer, write_content
from webcare.bot.channels.email import EmailChannel, automatic, reply_text, thread_subject
from webcare.bot.config import DialogueConfig, EmailConfig
from webcare.bot.engine import DialogueEngine
from webcare.bot.outbox import OutboxDispatcher
from webcare.bot.responses import Responses
from webcare.core.errors import StoreError
from webcare.store import Store

SHOP = "service@huisraad.test"
ANNA = "anna@example.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the relay's), written to `folder`."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Relay:
    """The outbound relay: keeps what it is given; `refuse` maps a recipient to an SMTP reply."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def relay(tmp_path) -> Iterator[tuple[Relay, int, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    yield handler, port, cert
    controller.stop()


class Rig:
    def __init__(self, channel: EmailChannel, relay: Relay, store: Store) -> None:
        self.channel, self.relay, self.store = channel, relay, store
        self.outbox = OutboxDispatcher(store, {"email": channel})

    def mail(self, text: str, subject: str = "Hello there", sender: str = ANNA, **headers: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = f"Anna de Vries <{sender}>"
        mail["To"] = SHOP
        mail["Subject"] = subject
        mail["Message-ID"] = make_msgid(domain="example.test")
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(text)
        return mail

    def deliver(self, mail: EmailMessage, envelope_sender: str | None = None) -> None:
        """Through the channel's SMTP endpoint, as the customer's provider would."""
        with smtplib.SMTP("127.0.0.1", self.channel.config.inbound_port, timeout=10) as smtp:
            smtp.send_message(mail, from_addr=envelope_sender if envelope_sender is not None else ANNA)

    async def replies(self) -> list[EmailMessage]:
        await self.outbox.dispatch_once()
        return self.relay.mails


@pytest.fixture
async def rig(tmp_path, relay) -> Any:
    handler, port, cert = relay
    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    engine = DialogueEngine(store, KeywordAnalyzer(), Responses.load(write_content(tmp_path / "content")),
                            DialogueConfig(flood_messages=3, flood_seconds=60))
    config = EmailConfig(address=SHOP, smtp_host="127.0.0.1", smtp_port=port, tls_ca_file=str(cert),
                         inbound_port=free_port(), storage_dir=str(tmp_path / "mail"))
    channel = EmailChannel(config, engine, store, "Huisraad")
    await channel.start()
    yield Rig(channel, handler, store)
    await channel.stop()
    store.close()


async def test_a_mail_is_answered_in_its_thread_over_starttls_and_the_reply_lands_in_the_same_conversation(rig):
    first = rig.mail("hello, I have a question")
    rig.deliver(first)
    [reply] = await rig.replies()
    conversation = rig.store.conversations()[0]
    assert reply["To"] == ANNA and reply["In-Reply-To"] == first["Message-ID"]
    assert reply["References"] == first["Message-ID"]
    assert reply["Subject"] == f"Re: Hello there [#{conversation['id']}]"
    assert reply["Auto-Submitted"] == "auto-replied"  # the bot's: autoresponders leave it alone
    assert "Hello! How can I help?" in reply.get_content()

    answer = rig.mail("I want a person please\n\nMet vriendelijke groet,\nAnna\n\n"
                      f"Op di 8 dec. 2026 om 10:12 schreef Huisraad <{SHOP}>:\n> Hello! How can I help?\n",
                      subject=reply["Subject"], In_Reply_To=reply["Message-ID"], References=reply["References"]
                      + " " + reply["Message-ID"])
    rig.deliver(answer)
    second = (await rig.replies())[-1]
    assert [c["id"] for c in rig.store.conversations()] == [conversation["id"]]  # same conversation
    texts = [m["text"] for m in rig.store.messages(conversation["id"]) if m["direction"] == "in"]
    assert texts == ["hello, I have a question", "I want a person please"]  # quote and signature gone
    assert second["Subject"] == f"Re: Hello there [#{conversation['id']}]"  # not "Re: Re: … [#1] [#1]"
    assert second["References"].split() == [first["Message-ID"], reply["Message-ID"], answer["Message-ID"]]
    assert rig.store.tickets()  # the person was asked for: escalated
    note = EmailChannel.note(rig.channel.config, rig.store, conversation)
    assert note == f"thread “Re: Hello there [#{conversation['id']}]”, replies answer {answer['Message-ID']}"


async def test_a_staff_reply_is_a_plain_mail_without_auto_submitted(rig):
    rig.deliver(rig.mail("hello"))
    await rig.replies()
    conversation = rig.store.conversations()[0]
    rig.store.queue_outgoing(conversation["id"], "Your lamp ships today.", author="agent:alice")
    staff = (await rig.replies())[-1]
    assert staff["Auto-Submitted"] is None and staff.get_content().strip() == "Your lamp ships today."


@pytest.mark.parametrize("headers, envelope_sender", [
    ({"Auto_Submitted": "auto-replied"}, None),
    ({"Precedence": "bulk"}, None),
    ({"Precedence": "auto_reply"}, None),
    ({"X_Autoreply": "yes"}, None),
    ({"List_Id": "<news.example.test>"}, None),
    ({}, ""),  # a bounce: MAIL FROM:<>
])
async def test_auto_replies_bounces_and_list_mail_are_never_answered(rig, headers, envelope_sender):
    rig.deliver(rig.mail("I am out of office until Monday.", **headers), envelope_sender)
    assert await rig.replies() == [] and rig.store.conversations() == []


async def test_a_delivery_status_notification_is_never_answered(rig):
    dsn = EmailMessage()
    dsn["From"] = "Mail Delivery System <mailer@example.test>"
    dsn["To"] = SHOP
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn.set_content("Your message could not be delivered.")
    dsn.make_mixed()
    dsn.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    assert automatic(BytesParser(policy=policy.default).parsebytes(dsn.as_bytes())) == "a delivery or read report"


async def test_html_mail_is_read_as_text_and_attachments_are_stored_by_reference(rig, tmp_path):
    mail = rig.mail("fallback")
    mail.set_content("<html><body><p>hello <b>there</b></p><blockquote>old</blockquote></body></html>",
                     subtype="html")
    mail.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="bon 12.pdf")
    rig.deliver(mail)
    [message] = [m for m in rig.store.messages(rig.store.conversations()[0]["id"]) if m["direction"] == "in"]
    assert message["text"].startswith("hello there")
    stored = sorted(p.relative_to(tmp_path / "mail").as_posix() for p in (tmp_path / "mail").rglob("*.*"))
    assert len(stored) == 2 and stored[1].endswith("/1-bon_12.pdf")
    assert (tmp_path / "mail" / stored[1]).read_bytes() == b"%PDF-1.4 receipt"


async def test_choices_are_numbered_lines_and_a_typed_number_is_the_choice(rig):
    rig.deliver(rig.mail("hello"))
    await rig.replies()
    conversation = rig.store.conversations()[0]
    rig.store.queue_outgoing(conversation["id"], "Did you mean:", buttons=[
        {"title": "Where is my order?", "payload": "/greet"}, {"title": "A person", "payload": "/request_human"}])
    choice = (await rig.replies())[-1]
    assert "1. Where is my order?\n2. A person" in choice.get_content().replace("\r\n", "\n")
    rig.deliver(rig.mail(f"2\n\nOn Tue, 8 Dec 2026 at 10:12 Huisraad <{SHOP}> wrote:\n> Did you mean:"))
    last = rig.store.last_message("email", ANNA, "in")
    assert (last["kind"], last["text"]) == ("button", "/request_human")


async def test_a_flooding_address_is_slowed_down_like_on_chat(rig):
    for n in range(6):
        rig.deliver(rig.mail(f"hello {n}"))
    replies = await rig.replies()
    assert len(replies) == 4  # three answers, then one notice, then silence
    assert "Slow down please." in replies[-1].get_content()


async def test_the_endpoint_takes_mail_for_the_shop_only_and_defers_when_the_store_is_down(rig, monkeypatch):
    with smtplib.SMTP("127.0.0.1", rig.channel.config.inbound_port, timeout=10) as smtp, \
            pytest.raises(smtplib.SMTPRecipientsRefused):
        smtp.sendmail(ANNA, ["someone@elsewhere.test"], b"Subject: relay me\r\n\r\nhi")

    def down(*args: Any) -> str:
        raise StoreError("database is locked")

    monkeypatch.setattr(rig.channel, "receive", down)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        rig.deliver(rig.mail("hello"))
    assert refused.value.smtp_code == 451  # the sender's server keeps the mail and tries again


async def test_the_relays_refusals_are_kept_for_staff_and_temporary_ones_retried(rig):
    rig.deliver(rig.mail("hello"))
    await rig.replies()
    conversation = rig.store.conversations()[0]
    rig.relay.refuse[ANNA] = "550 5.1.1 no such user"
    refused = rig.store.queue_outgoing(conversation["id"], "Hello?", author="agent:alice")
    await rig.replies()
    row = rig.store.message(refused)
    assert row["delivery"] == "failed" and "550" in row["error"]  # for good, with the reason
    rig.relay.refuse[ANNA] = "451 4.7.1 greylisted, try again"
    later = rig.store.queue_outgoing(conversation["id"], "Later", author="agent:alice")
    await rig.replies()
    row = rig.store.message(later)
    assert row["delivery"] == "pending" and "greylisted" in row["error"]  # kept, tried again later


def test_reply_text_strips_quotes_and_signatures_in_dutch_and_english():
    gmail_nl = ("Nee, het is bestelling 12345678.\n\nMet vriendelijke groet,\nAnna\n\n"
                "Op di 8 dec. 2026 om 10:12 schreef Huisraad <service@huisraad.nl>:\n> Wat is je bestelnummer?\n")
    apple_nl = ("Klopt.\n\nOp 8 dec. 2026, om 10:12 heeft Huisraad <service@huisraad.nl> het volgende geschreven:\n"
                "\n> Wat is je bestelnummer?\n")
    english = ("Where is my order?\n\n--\nAnna de Vries\n\nOn Tue, Dec 8, 2026 at 10:12 AM Huisraad "
               "<s@h.nl> wrote:\n> Hi")
    outlook = "Graag.\n\nVan: Huisraad <s@h.nl>\nVerzonden: dinsdag 8 december 2026 10:12\nAan: Anna\n" \
              "Onderwerp: Re: bestelling\n\nWat is je bestelnummer?"
    assert reply_text(gmail_nl) == "Nee, het is bestelling 12345678."
    assert reply_text(apple_nl) == "Klopt."
    assert reply_text(english) == "Where is my order?"
    assert reply_text(outlook) == "Graag."


def test_the_thread_subject_keeps_one_reference():
    assert thread_subject("Re: AW: Bestelling [#7]", 7, "Huisraad") == "Re: Bestelling [#7]"
    assert thread_subject("", 3, "Huisraad") == "Re: Huisraad [#3]"


# -- IMAP, against a private Dovecot ---------------------------------------------------------------


@pytest.fixture
def dovecot():
    from tests.dovecot_server import start_dovecot

    try:
        server = start_dovecot()
    except RuntimeError as e:
        pytest.skip(f"no private Dovecot IMAP server: {e}")
    yield server
    server.stop()


def imap_config(rig: Rig, dovecot: Any) -> EmailConfig:
    from tests.dovecot_server import PASSWORD, USER

    return rig.channel.config.model_copy(update={
        "inbound_port": None, "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
        "imap_username": USER, "imap_password": SecretStr(PASSWORD), "poll_seconds": 0.3})


def append(dovecot: Any, mail: EmailMessage) -> Any:
    from imapclient import IMAPClient

    from tests.dovecot_server import PASSWORD, USER

    client = IMAPClient("127.0.0.1", dovecot.port, ssl=False)
    client.login(USER, PASSWORD)
    client.append("INBOX", mail.as_bytes())
    return client


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.imap
@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
async def test_mail_in_the_imap_mailbox_is_answered_and_marked_seen(rig, dovecot, monkeypatch, idle):
    from imapclient import IMAPClient

    if not idle:  # a server without IDLE: the watcher polls
        has = IMAPClient.has_capability
        monkeypatch.setattr(IMAPClient, "has_capability", lambda self, c: c != "IDLE" and has(self, c))
    channel = EmailChannel(imap_config(rig, dovecot), rig.channel.engine, rig.store, "Huisraad")
    await channel.start()
    try:
        client = append(dovecot, rig.mail("hello from my mailbox"))
        await wait_for(lambda: rig.store.conversations())
        [reply] = await rig.replies()
        assert "Hello! How can I help?" in reply.get_content()
        client.select_folder("INBOX")
        assert client.search(["UNSEEN"]) == []  # taken: flagged \Seen
    finally:
        await channel.stop()


@pytest.mark.imap
async def test_imap_mail_the_store_cannot_take_stays_unseen_for_the_next_look(rig, dovecot):
    from webcare.bot.channels.imap import MailboxWatcher

    def down(raw: bytes) -> str:
        raise StoreError("database is locked")

    client = append(dovecot, rig.mail("hello"))
    watcher = MailboxWatcher(imap_config(rig, dovecot), down)
    imap = watcher.connect()
    assert watcher.fetch_new(imap) == 0
    client.select_folder("INBOX")
    assert len(client.search(["UNSEEN"])) == 1
    watcher.receive = rig.channel.receive
    assert watcher.fetch_new(imap) == 1
    imap.logout()


@pytest.mark.imap
async def test_an_imap_mail_that_cannot_be_read_is_flagged_and_does_not_block_the_next(rig, dovecot):
    from webcare.bot.channels.imap import MailboxWatcher

    client = append(dovecot, rig.mail("first"))
    client.append("INBOX", rig.mail("second").as_bytes())
    taken: list[bytes] = []

    def picky(raw: bytes) -> str:
        if b"first" in raw:
            raise ValueError("a mail this version cannot parse")
        taken.append(raw)
        return "answered"

    watcher = MailboxWatcher(imap_config(rig, dovecot), picky)
    imap = watcher.connect()
    assert watcher.fetch_new(imap) == 1 and len(taken) == 1
    client.select_folder("INBOX")
    assert client.search(["UNSEEN"]) == [] and len(client.search(["FLAGGED"])) == 1
    imap.logout()


def test_an_address_that_wrote_is_an_identity_one_typed_elsewhere_stays_a_claim(tmp_path):
    from click.testing import CliRunner

    from webcare.cli import cli

    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    writer = store.identify("email", ANNA, "Anna de Vries")
    typist = store.identify("telegram", "tg-77", "Someone")
    conversation = store.open_conversation(typist["id"], "telegram", "tg-77")
    store.add_claim(conversation["id"], "email", ANNA)
    store.close()
    config = tmp_path / "config.yml"
    config.write_text(f"store:\n  url: sqlite:///{tmp_path / 'webcare.db'}\n")
    found = CliRunner().invoke(cli, ["-c", str(config), "customers", "find", "email", ANNA.upper()]).output
    assert found.splitlines() == [f"{writer['id']}\tAnna de Vries\temail:{ANNA}\tidentity",
                                  f"{typist['id']}\tSomeone\ttelegram:tg-77\tclaimed"]  # two customers still
