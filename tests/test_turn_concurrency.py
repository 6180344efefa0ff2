"""A turn analyses outside the store's write lock, uses that analysis once, and keeps one chat's order."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from webcare.bot.engine import DialogueEngine
from webcare.core.messages import IncomingMessage
from webcare.nlu.types import Analysis
from webcare.store import Store

WAIT = 10.0


class Counting:
    """A plain analyzer that counts its calls and can be held inside `analyze` until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any] | None]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        self.calls.append((text, context))
        self.entered.set()
        self.release.wait(WAIT)
        return Analysis(text=text, language="en", intent="opening_hours", confidence=0.99,
                        ranking=[("opening_hours", 0.99)], sentiment="neutral")


@pytest.fixture
def engine(responses, tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    yield DialogueEngine(store, Counting(), responses)
    store.close()


def message(user: str, text: str) -> IncomingMessage:
    return IncomingMessage("webchat", user, user, text, display_name=user.title())


def test_other_writes_go_on_while_a_turn_is_being_analysed(engine):
    analyzer = engine.analyzer.inner
    analyzer.release.clear()
    turn = threading.Thread(target=engine.handle, args=(message("anna", "When are you open?"),))
    turn.start()
    assert analyzer.entered.wait(WAIT)
    written = threading.Event()

    def write() -> None:
        with engine.store.transaction():
            engine.store.identify("webchat", "bob", "Bob")
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert written.wait(3.0), "a store write waited for another turn's NLU analysis"
    finally:
        analyzer.release.set()
        turn.join(WAIT)
        writer.join(WAIT)
    assert not turn.is_alive()
    assert [m["author"] for m in engine.store.messages(_conversation(engine, "anna"))] == ["customer", "bot"]


def test_the_prepared_analysis_is_used_once_per_turn(engine):
    analyzer = engine.analyzer.inner
    for text in ("Hello", "When are you open?", "Thanks"):
        engine.handle(message("anna", text))
    assert [text for text, _ in analyzer.calls] == ["Hello", "When are you open?", "Thanks"]


def test_a_changed_context_is_analysed_again_inside_the_turn(engine, monkeypatch):
    analyzer = engine.analyzer.inner
    engine.handle(message("anna", "Hello"))
    conversation = _conversation(engine, "anna")
    before = engine._analysis_context

    def stale(incoming: IncomingMessage) -> dict[str, Any] | None:
        context = before(incoming)
        engine.store.update_conversation(conversation, language="nl")  # another turn committed meanwhile
        return context

    monkeypatch.setattr(engine, "_analysis_context", stale)
    engine.handle(message("anna", "When are you open?"))
    contexts = [context for text, context in analyzer.calls if text == "When are you open?"]
    assert [c["language"] for c in contexts] == ["en", "nl"]  # the snapshot's, then the committed state's


def test_one_chats_turns_are_recorded_in_the_order_they_arrive(engine):
    analyzer = engine.analyzer.inner
    analyzer.release.clear()
    first = threading.Thread(target=engine.handle, args=(message("anna", "first"),))
    first.start()
    assert analyzer.entered.wait(WAIT)
    second = threading.Thread(target=engine.handle, args=(message("anna", "second"),))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waits for the chat's first turn, analysis included
    analyzer.release.set()
    first.join(WAIT)
    second.join(WAIT)
    texts = [m["text"] for m in engine.store.messages(_conversation(engine, "anna")) if m["author"] == "customer"]
    assert texts == ["first", "second"]
    assert engine._chat_locks == {}  # a chat's lock lives only while its turns run


def _conversation(engine: DialogueEngine, user: str) -> int:
    customer = engine.store.customer_by_identity("webchat", user)
    return engine.store.conversations(customer_id=customer["id"])[0]["id"]
