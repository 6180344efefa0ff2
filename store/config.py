"""The `store:` section of config.yml."""

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer


def redact_url(url: str) -> str:
    """A store URL without its password, for messages, logs and reprs."""
    url = re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


class StoreConfig(BaseModel):
    """Where the shared store lives: `sqlite:///path.db` (default) or `postgresql://…`.

    A password in the URL (better: `${ENV_VAR}` in config.yml, or libpq's PGPASSWORD) is shown
    as `***` in reprs and JSON dumps.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = "sqlite:///webcare.db"
    busy_timeout_ms: int = 5000
    retention_days: int | None = Field(
        None, ge=1, description="`webcare store prune` forgets personal data older than this; None keeps all"
    )

    @field_serializer("url", when_used="json")
    def _hide_password(self, url: str) -> str:
        return redact_url(url)

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, redact_url(value) if key == "url" else value
