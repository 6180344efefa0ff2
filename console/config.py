"""The `console:` section of config.yml: the staff web console and the customer web chat."""

from limits import parse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_CANNED = {
    "nl": {
        "Even kijken": "Dank voor je geduld, ik zoek het direct voor je uit.",
        "Bestelnummer?": "Wil je je bestelnummer met me delen? Dan kijk ik meteen mee.",
        "Opgelost": "Fijn dat het is opgelost! Kan ik verder nog iets voor je doen?",
    },
    "en": {
        "Looking into it": "Thanks for your patience, I'm looking into this for you right now.",
        "Order number?": "Could you share your order number? Then I can check right away.",
        "Solved": "Glad that's sorted! Is there anything else I can do for you?",
    },
}


class ConsoleConfig(BaseModel):
    """Where the web console listens, how it signs its cookies and protects its login."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    secret_key: SecretStr | None = Field(
        None, description="signs session cookies; set it (WEBCARE_SECRET_KEY) so sessions survive restarts"
    )
    secure_cookies: bool = Field(False, description="send cookies over HTTPS only (behind a TLS proxy)")
    session_hours: float = Field(12.0, gt=0, description="a staff login lasts this long")
    login_attempts: int = Field(5, ge=1, description="failed sign-ins per user and address before a wait")
    login_window_seconds: float = Field(300.0, gt=0, description="failed sign-ins are forgotten after this long")
    login_max_delay_seconds: float = Field(
        60.0, gt=0, description="the wait doubles with each further failure, up to this (no lasting lockout)"
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="addresses or networks of trusted reverse proxies; only their X-Forwarded-For is believed",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger request bodies are refused (413)")
    chat_session_limit: str = Field("60/hour", description="new web chat sessions per client address")
    chat_message_limit: str = Field("30/minute", description="web chat messages per client address")
    chat_escalation_limit: str = Field("10/hour", description="new web chat escalations per client address")
    metrics_token: SecretStr | None = Field(
        None, description="/metrics answers only with `Authorization: Bearer <token>`; unset = /metrics is off"
    )
    metrics_cache_seconds: float = Field(5.0, ge=0, description="/metrics is computed at most this often")
    refresh_seconds: float = Field(3.0, gt=0, description="how often open pages refresh their live parts")
    storm_banner_hours: float = Field(6.0, gt=0, description="a storm alert shows as a banner this long")
    language: str = Field("nl", pattern="^(nl|en)$",
                          description="the console's language when neither the user nor the browser chooses")
    canned_replies: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {lang: dict(r) for lang, r in DEFAULT_CANNED.items()},
        description="per language: button title -> reply text",
    )

    @field_validator("chat_session_limit", "chat_message_limit", "chat_escalation_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        """A rate such as `30/minute` or `10 per hour` (the `limits` notation)."""
        try:
            parse(value)
        except ValueError as e:
            raise ValueError(f"{value!r} is not a rate such as '30/minute'") from e
        return value
