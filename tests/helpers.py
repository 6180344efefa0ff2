"""Small assertions shared by the tests."""

from __future__ import annotations

import re

from webcare.bot.responses import Responses


def matches(responses: Responses, text: str, template: str, language: str) -> bool:
    """Whether `text` is one of the template's variations in that language, placeholders filled."""
    for variation in responses.templates[language][template]:
        pattern = re.sub(r"\\\{[a-z_]+\\\}", ".+?", re.escape(variation))
        if re.fullmatch(pattern, text, flags=re.DOTALL):
            return True
    return False


class Clock:
    """A clock the test moves by hand (a store's `clock`)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
