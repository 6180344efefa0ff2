"""The `nlu:` section of config.yml."""

from pydantic import BaseModel, ConfigDict, Field


class NLUConfig(BaseModel):
    """Which languages, encoders and thresholds NLU uses, and where its content and models live."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: ["nl", "en"])
    default_language: str = "nl"
    data_dir: str = "responses"
    model_dir: str = ".webcare/models"
