"""The `console:` section of config.yml: the staff web console and the customer web chat."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
    login_attempts: int = Field(5, ge=1, description="failed logins allowed per user and address per window")
    login_window_seconds: float = Field(300.0, gt=0)
    refresh_seconds: float = Field(3.0, gt=0, description="how often open pages refresh their live parts")
    storm_banner_hours: float = Field(6.0, gt=0, description="a storm alert shows as a banner this long")
    canned_replies: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {lang: dict(r) for lang, r in DEFAULT_CANNED.items()},
        description="per language: button title -> reply text",
    )
