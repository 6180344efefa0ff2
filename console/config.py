"""The `console:` section of config.yml: the staff web console and the customer web chat."""

from pydantic import BaseModel, ConfigDict, SecretStr


class ConsoleConfig(BaseModel):
    """Where the web console listens and how it signs its cookies."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: SecretStr | None = None
