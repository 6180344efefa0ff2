"""Helpers for the console, web chat and browser tests: a keyword analyzer, a little content, signed-in clients."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from webcare.bot.engine import DialogueEngine
from webcare.bot.responses import Responses
from webcare.config import Settings
from webcare.nlu.types import Analysis, Entity
from webcare.store import Store

PASSWORD = "correct horse battery"
TEMPLATES = {
    "en": {
        "greet": "Hello! How can I help?", "help": "Ask me about orders.", "fallback": "Sorry, I did not get that.",
        "fallback_again": "I still do not understand; a colleague will help.",
        "complaint_empathy": "I'm sorry to hear that.", "escalate_ack": "A colleague will help you ({wait}), ticket {ticket}.",
        "escalate_ack_closed": "A colleague will help you {opens}, ticket {ticket}.",
        "handed_back": "I'm back: the bot again.",
        "csat_ask": "How did we do? 1 to 5.", "csat_thanks": "Thanks for your rating!",
        "emoji_only": "🙂", "empty_message": "Say something?", "non_text": "I can only read text.",
        "flood_warning": "Slow down please.", "message_too_long": "Too long (max {limit}).",
        "knowledge_answer": "{answer}", "knowledge_unknown": "I don't know that.", "clarify": "Did you mean:",
        "button_human": "A person", "language_switched": "English it is.", "order_status": "Order {order_number}: {status}.",
        "order_not_found": "No order {order_number}.", "ask_order_number": "What is your order number?",
        "waiting_open": "You're in the queue (ticket {ticket}, {wait}).",
        "waiting_closed": "You're in the queue (ticket {ticket}); staff are back {opens}.",
        "taken_over": "{agent} from {shop} is taking over.", "conversation_closed": "Closed; thanks from {shop}.",
        "button_order_details": "What is in it?",
        "decline_out_of_scope": "That is not something I can help with; ask me about orders.",
        "decline_not_sold": "We don't sell {thing}.", "noted_for_staff": "Noted for my colleague.",
        "left_queue": "You left the queue.", "button_leave_queue": "Leave the queue",
    },
}
TEMPLATES["nl"] = {k: v for k, v in TEMPLATES["en"].items()}
TEMPLATES["nl"] |= {"greet": "Hallo! Waarmee kan ik helpen?", "handed_back": "Ik ben er weer: de bot.",
                    "csat_ask": "Hoe hebben we het gedaan? 1 tot 5.", "csat_thanks": "Dank voor je cijfer!",
                    "taken_over": "{agent} van {shop} neemt het gesprek over."}
DOMAIN = "intents:\n  greet: {response: greet}\n  request_human: {action: escalate}\n  complain: {action: escalate}\n"


def write_content(root: Path) -> Path:
    """A minimal content folder (templates in nl and en, a domain) for the dialogue engine."""
    import yaml

    (root / "templates").mkdir(parents=True, exist_ok=True)
    for language, templates in TEMPLATES.items():
        (root / "templates" / f"{language}.yml").write_text(yaml.safe_dump(templates, allow_unicode=True), "utf-8")
    (root / "domain.yml").write_text(DOMAIN, "utf-8")
    return root


class KeywordAnalyzer:
    """A tiny stand-in for nlu.Analyzer: keywords decide intent, sentiment and complaint."""

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        lower = text.lower()
        dutch = any(w in lower.split() for w in ("hallo", "ik", "mijn", "wil", "een", "waar"))
        analysis = Analysis(text=text, language="nl" if dutch else "en", out_of_scope=True)
        if re.search(r"\b(human|person|mens|medewerker)\b", lower):
            analysis.intent, analysis.confidence, analysis.out_of_scope = "request_human", 0.95, False
        elif re.search(r"\b(hello|hi|hallo)\b", lower):
            analysis.intent, analysis.confidence, analysis.out_of_scope = "greet", 0.9, False
        if re.search(r"\b(angry|terrible|broken|boos|slecht)\b", lower):
            analysis.sentiment, analysis.sentiment_score = "negative", -0.8
            analysis.complaint, analysis.complaint_score = True, 0.9
        for match in re.finditer(r"\b\d{8}\b", text):
            analysis.entities.append(Entity("order_number", match.group(), match.group(), match.start(), match.end()))
        return analysis

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        return [self.analyze(t) for t in texts]


def make_engine(store: Store, content: Path, analyzer: Any = None) -> DialogueEngine:
    return DialogueEngine(store, analyzer or KeywordAnalyzer(), Responses.load(content))


def settings(**console: Any) -> Settings:
    return Settings.model_validate({"console": {"secret_key": "test-secret", "language": "en", **console}})


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    """Argon2id at its smallest cost in tests: the same code path, a millisecond instead of ~0.3 s a login.

    Import it into a test module to use it there.
    """
    from argon2 import PasswordHasher

    from webcare.console import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def password_hash() -> str:
    from webcare.console.auth import hash_password

    return hash_password(PASSWORD)


def add_user(store: Store, username: str, role: str) -> None:
    store.add_user(username, password_hash(), role, display_name=username.title())


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Sign a TestClient in through the login form; return the response."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf": token, "next": "/"},
                       follow_redirects=False)


def seed_history(store: Store, days: int = 7, per_day: int = 10) -> None:
    """A week of believable history (conversations, escalations, CSAT, mentions, a storm) for screenshots."""
    now = store.clock()
    rng = random.Random(7)
    moods = ("negative", "neutral", "positive")
    mentions = []
    for day in range(days, 0, -1):
        for n in range(per_day):
            start = now - day * 86400 + n * 2400

            def at(offset: float, start: float = start) -> Store:
                return Store(store.backend, clock=lambda: start + offset)

            channel = ("telegram", "webchat")[n % 2]
            customer = at(0).identify(channel, f"hist-{day}-{n}", f"Klant {day}-{n}")
            conversation = at(0).open_conversation(customer["id"], channel, f"hist-{day}-{n}")["id"]
            mood = rng.choices(moods, (2, 5, 3))[0]
            message = at(0).record_incoming(conversation, "Waar is mijn bestelling?")
            at(0).set_analysis(message, {"intent": "order_status", "sentiment": mood, "complaint": mood == "negative",
                                         "sentiment_score": {"negative": -0.7, "neutral": 0, "positive": 0.6}[mood]})
            if n % 3 == 0:
                at(5).escalate(conversation, "complaint", "high" if n % 2 else "normal", sla_due_at=start + 7200)
                at(60 * (5 + n * 4 + day)).agent_reply(conversation, "alice", "Ik kijk het voor je na.")
                at(60 * (30 + n * 9)).hand_back(conversation, "alice")
                ticket = store.ticket_for_conversation(conversation)
                at(60 * (31 + n * 9)).record_csat(ticket["id"], 3 + (day + n) % 3)
            at(600).close_conversation(conversation)
        for n in range(per_day * (4 if day == 2 else 1)):
            mood = rng.choices(moods, (3, 4, 3) if day != 2 else (8, 2, 1))[0]
            mentions.append({"source": ("x", "bluesky", "mastodon")[n % 3], "external_id": f"hist-{day}-{n}",
                             "author": f"user{n % 7}", "text": "Over de bezorging…", "sentiment": mood,
                             "complaint": int(mood == "negative" or day == 2), "created_at": now - day * 86400 + n * 900})
    store.ingest_mentions(mentions)
    Store(store.backend, clock=lambda: now - 2 * 86400 + 3 * 3600).log_event(
        "storm", data={"topic": "bezorging", "source": "x", "count": 38, "baseline": 4.1,
                       "sample": ["Al een week geen pakket!", "Bezorger belt niet eens aan"]})
