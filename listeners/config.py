"""The `listeners:` section of config.yml: one sub-section per social network."""

from pydantic import BaseModel, ConfigDict


class ListenersConfig(BaseModel):
    """Which networks to watch and for what; each network's settings are added by its listener."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
