"""Wiring: builds the store, NLU, responses and dialogue engine from the settings."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from webcare.config import Settings, load_settings
from webcare.store import Store

if TYPE_CHECKING:  # the engine and the content are imported when used: commands that only read the store start fast
    from webcare.bot.engine import DialogueEngine
    from webcare.bot.responses import Responses


class App:
    """The parts of webcare for one process, built lazily from one config file."""

    def __init__(self, config_path: str | Path | None = None, settings: Settings | None = None) -> None:
        self.config_path = config_path
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or load_settings(self.config_path)

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings.store.url, busy_timeout_ms=self.settings.store.busy_timeout_ms)

    def analyzer(self, progress: Callable[[str], None] | None = None):  # -> nlu.Analyzer
        """The trained NLU, training it first when the content changed or no model exists."""
        if "_analyzer" not in self.__dict__:
            from webcare.nlu import Analyzer

            self.__dict__["_analyzer"] = Analyzer.load_or_train(self.settings.nlu, progress=progress)
        return self.__dict__["_analyzer"]

    @cached_property
    def responses(self) -> Responses:
        from webcare.bot.responses import Responses

        return Responses.load(self.settings.nlu.data_dir)

    def engine(self, progress: Callable[[str], None] | None = None, store: Store | None = None) -> DialogueEngine:
        """The dialogue engine on the configured store, or on `store` (the conversation benchmark's fresh one)."""
        from webcare.bot.engine import DialogueEngine

        nlu = self.settings.nlu
        return DialogueEngine(
            store or self.store,
            self.analyzer(progress),
            self.responses,
            dialogue=self.settings.dialogue,
            escalation=self.settings.escalation,
            languages=nlu.languages,
            default_language=nlu.default_language,
        )

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
