"""Loading and validating config.yml.

Each package owns the pydantic model of its own section (`store.config`, `nlu.config`,
`bot.config`, `listeners.config`, `console.config`); this module composes them, expands
`${ENV_VAR}` / `${ENV_VAR:-default}` references (registering what came from the environment,
and every `SecretStr`, with `webcare.core.redact`, so no error or log line shows it), and turns validation errors into one
`ConfigError` line that names the key and the line of the file.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from webcare.bot.config import ChannelsConfig, DialogueConfig, EscalationConfig
from webcare.console.config import ConsoleConfig
from webcare.core import redact
from webcare.core.errors import ConfigError
from webcare.listeners.config import ListenersConfig
from webcare.nlu.config import NLUConfig
from webcare.store.config import StoreConfig

DEFAULT_PATH = Path("config.yml")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

DEFAULT_DATA_DIR = "responses"


def shipped_content() -> Path:
    """The demo content that ships inside the package (`webcare.responses`), installed or in a checkout."""
    return Path(str(resources.files("webcare.responses")))


class Settings(BaseModel):
    """The whole of config.yml."""

    model_config = ConfigDict(extra="forbid")

    store: StoreConfig = Field(default_factory=StoreConfig)
    nlu: NLUConfig = Field(default_factory=NLUConfig)
    dialogue: DialogueConfig = Field(default_factory=DialogueConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    listeners: ListenersConfig = Field(default_factory=ListenersConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)


def expand_env(value: Any) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree.

    A value that is nothing but one reference, and expands to nothing, becomes null (unset).
    Values read from the environment count as secrets (see `_from_env`).
    """
    if isinstance(value, str):
        expanded = _ENV_REF.sub(_from_env, value)
        return None if expanded == "" and _ENV_REF.fullmatch(value) else expanded
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


def _from_env(match: re.Match[str]) -> str:
    """The value of one `${VAR:-default}`; a value set in the environment is registered as a secret.

    A URL is not registered whole (the store URL would vanish from every message): `redact`
    masks the password inside any URL.
    """
    value = os.environ.get(match.group(1))
    if value is None:
        return match.group(2) or ""
    if "://" not in value:
        redact.register(value)
    return value


def register_secrets(model: BaseModel) -> None:
    """Register the value of every `SecretStr` in a settings tree with `webcare.core.redact`."""
    for name in type(model).model_fields:
        _register_value(getattr(model, name))


def _register_value(value: Any) -> None:
    if isinstance(value, SecretStr):
        redact.register(value.get_secret_value())
    elif isinstance(value, BaseModel):
        register_secrets(value)
    elif isinstance(value, dict):
        for item in value.values():
            _register_value(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _register_value(item)


def _key_lines(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each key path of a YAML document to its 1-based line number."""
    lines: dict[tuple[Any, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = path + (key_node.value,)
            lines[key_path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, key_path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            lines.update(_key_lines(item, path + (index,)))
    return lines


def _line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest existing prefix of a pydantic error location."""
    for end in range(len(loc), 0, -1):
        key = tuple(loc[:end])
        if key in lines:
            return lines[key]
    return None


def parse_settings(text: str, source: str = "config.yml") -> Settings:
    """Validate the YAML text of a config file; raise ConfigError naming key and line."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{source}{where}: not valid YAML ({problem})") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    lines = _key_lines(node) if node is not None else {}
    try:
        settings = Settings.model_validate(expand_env(data))
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(lines, loc)
        where = f" line {line}" if line else ""
        more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{source}{where}: {key}: {err['msg']}{more}") from e
    register_secrets(settings)
    return settings


def load_settings(path: str | Path | None = None) -> Settings:
    """Load config.yml (or `path`); built-in defaults when the default file is absent.

    Relative paths inside the file (store, models, content) are relative to the working directory;
    a content folder that is not there falls back to the demo content shipped with webcare.
    """
    explicit = path is not None
    file = Path(path) if explicit else DEFAULT_PATH
    if not file.exists():
        if explicit:
            raise ConfigError(f"{file}: no such config file (create one with `webcare init`)")
        return _with_content(Settings())
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: cannot be read ({e})") from e
    return _with_content(parse_settings(text, str(file)))


def _with_content(settings: Settings) -> Settings:
    """Point the default `nlu.data_dir` at the shipped demo content when there is no such folder here."""
    if settings.nlu.data_dir == DEFAULT_DATA_DIR and not Path(DEFAULT_DATA_DIR).is_dir():
        settings.nlu.data_dir = str(shipped_content())
    return settings
