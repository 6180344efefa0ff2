"""Pytest fixtures of the Telegram tests (a test module names this module in `pytest_plugins`)."""

from __future__ import annotations

import pytest

from emulators.telegram_api import TelegramEmulator
from emulators.telegram_harness import ALWAYS_OPEN, started
from webcare.bot.engine import DialogueEngine
from webcare.store import Store


@pytest.fixture
def tg():
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'webcare.db'}"


@pytest.fixture
def engine(db_url, analyzer, responses):
    store = Store.open(db_url)
    yield DialogueEngine(store, analyzer, responses, escalation=ALWAYS_OPEN)
    store.close()


@pytest.fixture
async def bot(tg, engine):
    channel = await started(tg, engine)
    yield channel
    await channel.stop()
