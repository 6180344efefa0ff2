"""The `dialogue:`, `escalation:` and `channels:` sections of config.yml."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_HOURS = re.compile(r"^\d{2}:\d{2}-\d{2}:\d{2}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Defaults in Dutch (incl. Flemish) and English; matched case-insensitively anywhere in the message.
RISK_CATEGORIES: dict[str, tuple[str, ...]] = {
    "legal": (
        (r"\b(advocaat|advocate|jurist|rechtbank|rechter|rechtszaak|juridische stappen|aangifte|dagvaard\w*|"
        r"incassobureau|deurwaarder|consumentenbond|acm)\b"),
        r"\b(lawyer|attorney|solicitor|legal action|sue|suing|lawsuit|court|small claims|trading standards)\b",
    ),
    "safety": (
        (r"\b(in brand|vlam(men)?|rook|rookt|rookte|smeul\w*|vonken|vonkte|kortsluiting|ontplof\w*|explodeer\w*|"
        r"gesmolten|smolt|stroomschok|schok gekregen|geëlektrocuteerd|brandwond\w*|brandlucht|brandgevaar|"
        r"oververhit\w*|gevaarlijk)\b"),
        (r"\b(fire|flames?|smoke|smoking|sparks?|sparking|short circuit|explod\w*|melt(ed|ing)?|electric shock|"
        r"electrocuted|burn(ed|t|s)|overheat\w*|dangerous|hazard)\b"),
    ),
    "fraud": (
        (r"\b(fraude|opgelicht|oplichting|oplichter\w*|phishing|gehackt|datalek|gelekt|identiteitsfraude|"
        r"niet door mij (besteld|gedaan|geplaatst)|(die|dat) ik niet (heb )?(gedaan|besteld|geplaatst)|"
        r"niet (zelf )?(besteld|geplaatst)|onbekende (afschrijving|bestelling)|"
        r"gegevens van (iemand anders|een ander)|(gegevens|adres|naam|bestelgegevens|bestelling) van een andere? klant|"
        r"iemand (anders )?heeft (mijn|met mijn) (creditcard|pas|rekening|account|gegevens)|"
        r"mijn (creditcard|pas|account) (is )?(misbruikt|gebruikt door iemand))\b"),
        (r"\b(fraud\w*|scam\w*|phishing|hacked|data (breach|leak)|leaked|identity theft|stolen card|"
        r"(did ?n[o']t|never) (place|make|order|buy|bought)\w*|unauthori[sz]ed|"
        r"someone else'?s (data|order|address|details)|another customer'?s (data|order|address|details|name)|"
        r"someone (used|is using|has used) my (credit card|card|account|details))\b"),
    ),
    "vulnerable": (
        (r"\b(zelfmoord|suïcid\w*|suicid\w*|niet meer leven|mezelf (iets )?aan(doen)?|depressief|dementie|"
        r"slechtziend|rolstoel|ziekenhuis|terminaal|overleden|huiselijk geweld)\b"),
        (r"\b(suicid\w*|kill myself|end my life|self[- ]harm|depressed|dementia|visually impaired|wheelchair|"
        r"hospital|terminally ill|passed away|domestic (violence|abuse))\b"),
    ),
}
NEGATIVE_REACTIONS = (
    r"^\W*(nee+|neen|nope|no+|nah)\W*$",
    r"\b(helpt|hielp) (me |mij |je |ons )?(niet|niks|niets|geen zier|totaal niet)\b",
    r"\b(daar|hier) (heb|ben) ik (niks|niets) (aan|mee)\b",
    r"\b(niet|geen) (wat ik (vroeg|bedoel\w*|zocht)|antwoord op mijn vraag)\b",
    r"\bklopt (niet|niks|van geen kant)\b",
    r"\b(nutteloos|waardeloos antwoord|slaat nergens op)\b",
    r"\b(does ?n[o']t|did ?n[o']t|doesnt|didnt) help\b",
    r"\b(not|n[o']t) (helpful|what i (asked|meant|need\w*|was looking for))\b",
    r"\b(useless|wrong answer|that'?s wrong|makes no sense|you'?re not helping)\b",
    r"\b(thanks|thank you) for nothing\b|\bbedankt voor (niks|niets)\b",
    r"\b(dat |dit )?wist ik (al|allang|zelf ook wel)\b|\bi (already|allready) know (that|this)\b|\bi knew that( already)?\b",
    r"\b(does ?n[o']t|did ?n[o']t) answer (my|the) question\b|\b(beantwoordt|beantwoord) (mijn vraag )?niet\b",
    r"\b(i )?can'?t even\b|\b(dat|het) (lukt|werkt) (me |mij )?(niet|ook niet)\b|\b(that|it) (does ?n[o']t|did ?n[o']t) work\b",
)
LEAVE_QUEUE = (
    (r"^\W*((oh|ach|ok|oké|sorry|eigenlijk|toch|ah|hmm)\W+)*(laat (maar|ook maar|het maar)( zitten)?|hoeft (al )?niet meer|niet meer nodig|ik wacht niet langer|"
    r"annuleer( maar)?|stop( maar)?|al opgelost|(ik ben|is) al geholpen)\W*$"),
    (r"^\W*((oh|ok|sorry|actually|ah|well|hmm)\W+)*(never ?mind|nvm|cancel( that| it)?|forget (it|about it)|no need( anymore)?|i'?ll stop waiting|"
    r"(it'?s )?(already )?(sorted|solved|fixed)( now)?)\W*$"),
    r"\b(laat maar|never ?mind)\b.*\b(annuleer|cancel|wacht\w* niet|stop)\w*\b",
)


class DialogueConfig(BaseModel):
    """How the bot converses."""

    model_config = ConfigDict(extra="forbid")

    max_fallbacks: int = Field(2, ge=1, description="fallbacks in a row before a human takes over")
    answer_threshold: float = Field(0.55, ge=0, le=1, description="intent confidence to answer directly")
    clarify_threshold: float = Field(0.25, ge=0, le=1, description="below answer: offer choices; below this: fallback")
    max_message_chars: int = Field(4000, ge=100, description="longer messages are cut, with a notice")
    ask_csat: bool = True
    flood_messages: int = Field(
        20, ge=1, description="a customer sending more than this many messages per flood_seconds is slowed down"
    )
    flood_seconds: float = Field(60.0, gt=0)
    idle_close_minutes: float = Field(
        24 * 60, gt=0, description="a conversation left with the bot ends after this long without a message"
    )
    shop_name: str = Field("Huisraad", min_length=1, description="named when staff take over: 'Anna van Huisraad'")
    queue_notice_minutes: float = Field(
        10.0, ge=0, description="while waiting for staff, the queue notice is repeated at most this often"
    )
    offer_human: bool = Field(True, description="answers carry a 'talk to a person' button")
    upset_complaint_score: float = Field(0.75, ge=0, le=1, description="complaint score that counts as upset")
    upset_sentiment_score: float = Field(-0.5, ge=-1, le=1, description="and the sentiment score at most this")
    decline_below: float = Field(
        0.55, ge=0, le=1, description="out of scope per NLU: declined unless an article scores at least this"
    )
    decline_confidence: float = Field(
        0.25, ge=0, le=1, description="… and only when no intent reaches this confidence (else: clarify)"
    )
    article_over_template: float = Field(
        0.8, ge=0, le=1, description="an article linked to the intent scoring this much beats the intent's template"
    )
    near_margin: float = Field(
        0.04, ge=0, le=1, description="an article just below the knowledge threshold answers when it leads by this"
    )
    intent_article_bonus: float = Field(
        0.15, ge=0, le=1, description="an article linked to the recognised intent ranks this much higher (x confidence)"
    )
    specific_word_weight: float = Field(
        0.1, ge=0, le=1, description="an article ranks this much higher times the share of the question's specific words it covers"
    )
    negative_reactions: list[str] = Field(
        default_factory=lambda: list(NEGATIVE_REACTIONS),
        description="regular expressions: a reply like this right after an answer hands over",
    )
    leave_queue: list[str] = Field(
        default_factory=lambda: list(LEAVE_QUEUE), description="regular expressions: the customer leaves the queue"
    )

    @field_validator("negative_reactions", "leave_queue")
    @classmethod
    def _check_patterns(cls, value: list[str]) -> list[str]:
        return _valid_patterns(value)


class EscalationConfig(BaseModel):
    """When to hand a conversation to staff and what to promise the customer."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "Europe/Amsterdam"
    business_hours: dict[str, str] = Field(
        default_factory=lambda: {d: "09:00-17:30" for d in DAYS[:5]} | {"sat": "10:00-16:00"}
    )
    agents_on_duty: int = Field(2, ge=1)
    minutes_per_case: float = Field(8.0, gt=0)
    sla_minutes: dict[str, int] = Field(
        default_factory=lambda: {"low": 24 * 60, "normal": 8 * 60, "high": 2 * 60, "urgent": 30}
    )
    keywords: list[str] = Field(
        default_factory=list, description="regular expressions that always escalate (e.g. 'advocaat|lawyer')"
    )
    risk_categories: dict[str, list[str]] = Field(
        default_factory=lambda: {name: list(patterns) for name, patterns in RISK_CATEGORIES.items()},
        description="category -> regular expressions; a match hands over at once with at least high priority",
    )

    @field_validator("business_hours")
    @classmethod
    def _check_hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(DAYS)}")
            if not _HOURS.match(span):
                raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM")
        return value

    @field_validator("keywords")
    @classmethod
    def _check_patterns(cls, value: list[str]) -> list[str]:
        return _valid_patterns(value)

    @field_validator("risk_categories")
    @classmethod
    def _check_risks(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            _valid_patterns(patterns)
        return value


def _valid_patterns(value: list[str]) -> list[str]:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {e}") from e
    return value


class TerminalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class TelegramConfig(BaseModel):
    """A Telegram bot; enabled when a token is set."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = Field(None, description="from BotFather; set TELEGRAM_BOT_TOKEN")
    base_url: str = Field("https://api.telegram.org/bot", description="any Bot API server, e.g. a local one")
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = Field("polling", pattern="^(polling|webhook)$")
    poll_timeout: int = Field(10, ge=0, le=50, description="long-polling seconds per getUpdates")
    webhook_url: str | None = Field(None, description="public HTTPS URL Telegram posts updates to")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    webhook_path: str = "telegram"
    secret_token: SecretStr | None = Field(None, description="checked on every webhook request; random when unset")
    overall_rate: float = Field(30.0, gt=0, description="messages per second over all chats")
    chat_rate: float = Field(1.0, gt=0, description="messages per second in one chat (after a burst)")
    chat_burst: int = Field(3, ge=1, description="messages one chat may get at once before chat_rate applies")
    retries_429: int = Field(3, ge=0, description="waits on 429 retry_after before a reply goes back to the outbox")
    send_attempts: int = Field(3, ge=1, description="tries on 5xx and timeouts before a reply goes back to the outbox")
    typing: bool = Field(True, description="show 'typing…' while the bot works")

    @property
    def enabled(self) -> bool:
        """A Telegram bot runs when its token is set."""
        return self.token is not None


class StaffTelegramConfig(BaseModel):
    """A staff Telegram group where escalations are posted and answered."""

    model_config = ConfigDict(extra="forbid")

    chat_id: int | None = Field(None, description="the staff group's id (negative); the bot must be a member")
    poll_interval: float = Field(1.0, gt=0, description="seconds between looks for new escalations")
    transcript_lines: int = Field(12, ge=0, description="last lines of the conversation in each escalation post")

    @property
    def enabled(self) -> bool:
        """The bridge runs inside the Telegram bot when a group is set."""
        return self.chat_id is not None


class WebchatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class WhatsAppTemplate(BaseModel):
    """An approved message template whose body has one parameter: the staff reply's text."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the template's name in WhatsApp Manager")
    language: str = Field(min_length=2, description="its language code there, e.g. nl or en_US")


class WhatsAppConfig(BaseModel):
    """A WhatsApp Business number on the Cloud API; enabled when the phone number id and token are set."""

    model_config = ConfigDict(extra="forbid")

    phone_number_id: str | None = Field(None, description="from the app's WhatsApp > API Setup page")
    token: SecretStr | None = Field(None, description="a permanent system-user token; set WHATSAPP_TOKEN")
    app_secret: SecretStr | None = Field(None, description="the Meta app's secret: checks X-Hub-Signature-256")
    verify_token: SecretStr | None = Field(None, description="any string; typed into the webhook setup too")
    webhook_path: str = Field("/whatsapp/webhook", pattern="^/[A-Za-z0-9_/-]*$")
    base_url: str = Field("https://graph.facebook.com", description="the Graph API (or an emulator)")
    api_version: str = Field("23.0", pattern=r"^\d+\.\d+$")
    templates: dict[str, WhatsAppTemplate] = Field(
        default_factory=dict,
        description="per conversation language: what staff replies go out as after the 24-hour window",
    )
    read_receipts: bool = Field(True, description="mark customers' messages as read when the bot has them")
    send_attempts: int = Field(3, ge=1, description="tries on 5xx and timeouts before a reply goes back to the outbox")

    @property
    def enabled(self) -> bool:
        return self.phone_number_id is not None and self.token is not None


class EmailConfig(BaseModel):
    """A shop mailbox: inbound by an SMTP endpoint and/or IMAP, replies by SMTP; enabled with `address`."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$", description="the address customers write to")
    smtp_host: str | None = Field(None, description="the relay replies go through")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(None, description="set EMAIL_SMTP_PASSWORD")
    starttls: bool = Field(True, description="upgrade the SMTP connection with STARTTLS (required by default)")
    tls_ca_file: str | None = Field(None, description="trust this CA for SMTP/IMAP (a private relay)")
    inbound_host: str = "127.0.0.1"
    inbound_port: int | None = Field(None, ge=1, le=65535, description="SMTP endpoint for inbound mail; off when unset")
    imap_host: str | None = Field(None, description="read the mailbox over IMAP (IDLE when offered)")
    imap_port: int = Field(993, ge=1, le=65535)
    imap_security: str = Field("ssl", pattern="^(ssl|starttls|none)$",
                               description="ssl (port 993), starttls (143), or none (a local server only)")
    imap_username: str | None = None
    imap_password: SecretStr | None = Field(None, description="set EMAIL_IMAP_PASSWORD")
    imap_folder: str = "INBOX"
    poll_seconds: float = Field(30.0, gt=0, description="seconds between IMAP looks (the longest IDLE wait)")
    storage_dir: str = Field(".webcare/mail", description="raw mails and attachments, referenced from messages")

    @property
    def enabled(self) -> bool:
        return self.address is not None and self.smtp_host is not None


class ChannelsConfig(BaseModel):
    """One sub-section per chat channel, named as in `bot.channels.CHANNELS`; each has `enabled`."""

    model_config = ConfigDict(extra="forbid")

    terminal: TerminalConfig = Field(default_factory=TerminalConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    staff_telegram: StaffTelegramConfig = Field(default_factory=StaffTelegramConfig)
    webchat: WebchatConfig = Field(default_factory=WebchatConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
