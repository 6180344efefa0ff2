"""E-mail as a channel: inbound by an SMTP endpoint (aiosmtpd) and/or IMAP, replies by SMTP with STARTTLS.

One customer address is one chat. A mail's reply text is what the NLU reads: HTML turned into text
(html2text), then the quoted history and the signature cut off (mail-parser-reply, English and
Dutch, plus the "Op … schreef <naam>:" and "On … <name> wrote:" lines it misses). The raw mail and
its attachments are kept under `storage_dir`, referenced from the message (`mail:<key>.eml`).

Replies thread: `In-Reply-To` and `References` point at the customer's last mail and the subject
is "Re: <their subject> [#<conversation>]". The bot's own replies carry `Auto-Submitted:
auto-replied` (RFC 3834), so well-behaved autoresponders do not answer them; inbound
auto-replies, bounces and list mail (`Auto-Submitted`, `Precedence: bulk/junk/list/auto_reply`,
`multipart/report` DSNs, `X-Autoreply`, `List-Id`, an empty envelope sender, mailer-daemon) are
never answered. Per-address flood limits are the engine's `dialogue.flood_*`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import html2text
from mailparser_reply import EmailReplyParser

from webcare.bot.channels.base import Channel, ChannelContext, IncomingMessage, OutgoingMessage
from webcare.bot.config import EmailConfig
from webcare.bot.engine import DialogueEngine
from webcare.core.errors import ConfigError, DeliveryFailed, StoreError
from webcare.store import Store

log = logging.getLogger(__name__)

BULK = ("bulk", "junk", "list", "auto_reply")
ROBOTS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)
WROTE = re.compile(  # a quote header the reply parser misses: the name follows the verb, or Apple's Dutch
    r"^[ \t>]*(?:Op|On)\s.{4,300}?(?:schreef|wrote|het volgende geschreven)\b[^\n]*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|antw|aw|wg|doorst)\s*:\s*|\[#\d+\]\s*)+", re.IGNORECASE)
TICKET = re.compile(r"\s*\[#\d+\]")
_REPLIES = EmailReplyParser(languages=["nl", "en"])


def automatic(mail: EmailMessage, envelope_sender: str | None = None) -> str | None:
    """Why a mail was sent by a machine (never to be answered), or None for a person's mail."""
    auto = str(mail.get("Auto-Submitted", "no")).split(";")[0].strip().lower()
    if auto != "no":
        return f"Auto-Submitted: {auto}"
    if str(mail.get("Precedence", "")).strip().lower() in BULK:
        return f"Precedence: {mail['Precedence']}"
    if mail.get_content_type() == "multipart/report":
        return "a delivery or read report"
    for header in ("X-Autoreply", "X-Autorespond", "List-Id"):
        if mail.get(header) is not None:
            return f"{header} is set"
    if envelope_sender in ("", "<>") or str(mail.get("Return-Path", "")).strip() == "<>":
        return "a bounce (empty sender)"
    if ROBOTS.match(parseaddr(str(mail.get("From", "")))[1]):
        return "from a mail system address"
    return None


def body_text(mail: EmailMessage) -> str:
    """The mail's text: the plain part, else the HTML part as text."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = str(part.get_content())
    if part.get_content_type() == "text/html":
        converter = html2text.HTML2Text(bodywidth=0)
        converter.ignore_images = converter.ignore_emphasis = True
        content = converter.handle(content)
    return content.replace("\r\n", "\n")


def reply_text(text: str) -> str:
    """What the customer wrote this time: without the quoted history and the signature."""
    cut = WROTE.search(text)
    if cut:
        text = text[: cut.start()]
    parsed = _REPLIES.read(text)
    latest = parsed.replies[0].body if parsed.replies else text
    return latest.strip() or text.strip()


def thread_subject(subject: str | None, conversation_id: int | None, fallback: str) -> str:
    """'Re: <subject> [#12]': the customer's subject once, with the conversation's reference."""
    base = TICKET.sub("", SUBJECT_PREFIX.sub("", subject or "")).strip() or fallback
    return f"Re: {base}" + (f" [#{conversation_id}]" if conversation_id is not None else "")


class MailFiles:
    """Raw mails and their attachments on disk, each known by a reference stored with the message."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def key(message_id: str) -> str:
        return hashlib.sha256(message_id.encode()).hexdigest()[:32]

    def keep(self, message_id: str, raw: bytes, mail: EmailMessage) -> tuple[str, ...]:
        """Store the mail and its attachments; return their references (the mail's first)."""
        key = self.key(message_id)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / f"{key}.eml").write_bytes(raw)
        refs = [f"mail:{key}.eml"]
        for number, part in enumerate(mail.iter_attachments(), 1):
            name = re.sub(r"[^\w.-]", "_", part.get_filename() or "attachment")[:80]
            folder = self.root / key
            folder.mkdir(exist_ok=True)
            (folder / f"{number}-{name}").write_bytes(part.get_payload(decode=True) or b"")
            refs.append(f"mail:{key}/{number}-{name}")
        return tuple(refs)

    def load(self, message_id: str) -> EmailMessage | None:
        path = self.root / f"{self.key(message_id)}.eml"
        return _parse(path.read_bytes()) if path.exists() else None


def _parse(raw: bytes) -> EmailMessage:
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(mail, EmailMessage)
    return mail


class EmailChannel(Channel):
    """Customers writing to the shop's address; buttons reach them as numbered lines."""

    name = "email"

    def __init__(self, config: EmailConfig, engine: DialogueEngine | None, store: Store, shop_name: str) -> None:
        if not config.address or not config.smtp_host:
            raise ConfigError("channels.email needs address and smtp_host")
        self.config = config
        self.address = config.address.lower()
        self.engine = engine
        self.store = store
        self.shop_name = shop_name
        self.files = MailFiles(Path(config.storage_dir))
        self._controller: Any = None
        self._imap: Any = None

    @classmethod
    def from_config(cls, section: EmailConfig, context: ChannelContext) -> EmailChannel:
        return cls(section, context.engine, context.store, context.settings.dialogue.shop_name)

    def describe(self) -> str:
        ways = [f"SMTP endpoint {self.config.inbound_host}:{self.config.inbound_port}"] if self.config.inbound_port \
            else []
        ways += [f"IMAP {self.config.imap_host}"] if self.config.imap_host else []
        return f"e-mail {self.address} ({', '.join(ways) or 'replies only'})"

    @classmethod
    def note(cls, section: EmailConfig, store: Store, conversation: dict[str, Any]) -> str | None:
        """The thread: the subject replies carry and the mail they answer."""
        last = store.last_message(cls.name, conversation["chat_id"], "in")
        original = MailFiles(Path(section.storage_dir)).load(last["platform_message_id"]) \
            if last and last["platform_message_id"] else None
        if original is None:
            return None
        subject = thread_subject(str(original.get("Subject", "")), conversation["id"], "")
        return f"thread “{subject}”, replies answer {original.get('Message-ID')}"

    async def start(self) -> None:
        """Open the inbound SMTP endpoint and/or start watching the IMAP mailbox."""
        if self.config.inbound_port:
            from aiosmtpd.controller import Controller

            logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every address at INFO
            self._controller = Controller(Inbound(self), hostname=self.config.inbound_host,
                                          port=self.config.inbound_port)
            self._controller.start()
        if self.config.imap_host:
            from webcare.bot.channels.imap import MailboxWatcher

            self._imap = MailboxWatcher(self.config, self.receive)
            self._imap.start()

    async def stop(self) -> None:
        if self._controller is not None:
            await asyncio.to_thread(self._controller.stop)
        if self._imap is not None:
            await asyncio.to_thread(self._imap.stop)

    # -- inbound -----------------------------------------------------------------------------------

    def receive(self, raw: bytes, envelope_sender: str | None = None) -> str:
        """Hand one mail to the engine (blocking); return what became of it, for the log and the tests.

        Raises StoreError when the store cannot take it: the sending server or the IMAP poll tries again.
        """
        mail = _parse(raw)
        why = automatic(mail, envelope_sender)
        if why:
            log.info("e-mail not answered: %s", why)
            return f"ignored: {why}"
        name, sender = parseaddr(str(mail.get("From", "")))
        sender = sender.lower()
        if "@" not in sender or sender == self.address:
            return "ignored: no sender, or our own address"
        message_id = str(mail.get("Message-ID") or "").strip() or f"<{hashlib.sha256(raw).hexdigest()}@webcare>"
        refs = self.files.keep(message_id, raw, mail)
        text, kind = self.incoming_text(self.store, self.name, sender, reply_text(body_text(mail)))
        if not text.strip():
            text, kind = (f"[attachment {' '.join(refs[1:])}]", "document") if refs[1:] else \
                (str(mail.get("Subject", "")), "text")
        assert self.engine is not None, "inbound e-mail needs the dialogue engine"
        self.engine.handle(IncomingMessage(channel=self.name, external_user_id=sender, chat_id=sender, text=text,
                                           kind=kind, display_name=name or None, platform_message_id=message_id))
        return "answered"

    # -- outbound ----------------------------------------------------------------------------------

    async def send_text(self, message: OutgoingMessage, text: str) -> str:
        mail = await asyncio.to_thread(self.compose, message, text)
        await asyncio.to_thread(self.submit, mail)
        return str(mail["Message-ID"])

    def compose(self, message: OutgoingMessage, text: str) -> EmailMessage:
        """The reply as a mail in the customer's thread (blocking: reads the store and their last mail)."""
        last = self.store.last_message(self.name, message.chat_id, "in")
        original = self.files.load(last["platform_message_id"]) if last and last["platform_message_id"] else None
        conversation_id = self.store.message(message.message_id)["conversation_id"] if message.message_id else None
        mail = EmailMessage()
        mail["From"] = formataddr((self.shop_name, self.address))
        mail["To"] = message.chat_id
        mail["Subject"] = thread_subject(original and str(original.get("Subject", "")), conversation_id,
                                         self.shop_name)
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(f"webcare.{message.message_id}", domain=self.address.partition("@")[2])
        if original is not None and original.get("Message-ID"):
            mail["In-Reply-To"] = str(original["Message-ID"])
            mail["References"] = " ".join(filter(None, [str(original.get("References", "")).strip(),
                                                        str(original["Message-ID"])]))
        if message.author == "bot":
            mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: autoresponders leave it alone
        mail.set_content(text)
        return mail

    def submit(self, mail: EmailMessage) -> None:
        """Send through the relay (STARTTLS unless switched off); SMTP errors as DeliveryFailed reasons."""
        config = self.config
        assert config.smtp_host is not None
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=15) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=config.tls_ca_file))
                if config.smtp_username and config.smtp_password:
                    smtp.login(config.smtp_username, config.smtp_password.get_secret_value())
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as e:
            code, reason = next(iter(e.recipients.values()))
            raise DeliveryFailed(f"the mail server refused {mail['To']}: {code} {reason!r}",
                                 permanent=code >= 500) from e
        except smtplib.SMTPResponseException as e:  # 4xx: try again later; 5xx: refused for good
            raise DeliveryFailed(f"the mail server said {e.smtp_code} {e.smtp_error!r}",
                                 permanent=e.smtp_code >= 500 and not isinstance(e, smtplib.SMTPAuthenticationError)) \
                from e
        except (smtplib.SMTPException, OSError) as e:  # unreachable, TLS refused, disconnected
            raise DeliveryFailed(f"the mail server is unreachable: {e!r}") from e


class Inbound:
    """The aiosmtpd handler: mail for the shop's address only (no relaying), handed to the channel."""

    def __init__(self, channel: EmailChannel) -> None:
        self.channel = channel

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # aiosmtpd's names
                          rcpt_options: list[str]) -> str:
        if address.lower() != self.channel.address:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        try:
            await asyncio.to_thread(self.channel.receive, raw, envelope.mail_from)
        except StoreError as e:  # the sending server keeps the mail and tries again
            log.warning("inbound e-mail deferred, the store is unavailable: %s", e)
            return "451 4.3.0 try again later"
        except Exception:  # a bug must not lose the mail: the sender keeps it and tries again
            log.exception("inbound e-mail failed")
            return "451 4.3.0 try again later"
        return "250 OK"
