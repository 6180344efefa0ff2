"""Optional parts of webcare and the pip extra that brings each: a missing one is a one-line error."""

from __future__ import annotations

import importlib
from types import ModuleType

from webcare.core.errors import ConfigError


def load(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module`, or say which extra `feature` needs when its libraries are not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise ConfigError(f"{feature} needs the [{extra}] extra: pip install 'webcare[{extra}]' (missing {e.name})") from e
