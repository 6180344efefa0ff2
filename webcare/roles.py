"""The roles of `webcare run` and what each needs: which have work with given settings, which need the NLU."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webcare.config import Settings

ROLES = ("bot", "console", "listeners", "outbox")
NLU_ROLES = frozenset({"bot", "console", "listeners"})  # the roles that analyse what customers write


def configured(settings: Settings, role: str) -> bool:
    """Whether the settings give a role work: a channel without its token or switched off has none."""
    if role == "console":
        return settings.console.enabled
    if role == "bot":
        from webcare.bot.channels import enabled_channels

        return bool(enabled_channels(settings.channels, "bot"))
    if role == "listeners":
        return settings.listeners.enabled
    return role == "outbox"  # it delivers whatever reply channels the process holds


def needs_nlu(settings: Settings, roles: set[str]) -> bool:
    """Whether any of the roles will analyse text: only then is the NLU loaded (or trained)."""
    return any(configured(settings, role) for role in roles & NLU_ROLES)
