"""The dialogue engine: one customer message in, the bot's replies out. Knows no platform.

Every turn: identify the customer, store the message (once per platform message id), analyse it,
decide one action — answer, ask for a missing slot, clarify, answer from the knowledge base,
escalate, or stay silent because a person owns the case — and queue the replies in the outbox.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Protocol

from bot import proof
from bot.channels.base import Button, IncomingMessage, OutgoingMessage
from bot.config import DialogueConfig, EscalationConfig
from bot.handoff import build_story, estimate_wait, priority_for
from bot.responses import Responses
from nlu.types import Analysis
from store import CLAIM_KINDS, Store

SLOT_ENTITIES = ("order_number", "email", "phone", "product", "date")
CSAT_PENDING = "__csat__"
CSAT_WORDS = {"👍": 5, "👎": 1}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


class TextAnalyzer(Protocol):
    """What the engine needs from NLU (`nlu.Analyzer` provides it)."""

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis: ...


def clean_text(text: str) -> str:
    """Drop control characters and binary junk; normalise Unicode; trim."""
    text = unicodedata.normalize("NFC", text or "")
    return _CONTROL.sub("", text).strip()


def is_emoji_only(text: str) -> bool:
    return bool(text) and not any(ch.isalnum() for ch in text)


class DialogueEngine:
    """Decides the bot's replies; every message in and out is stored with its analysis."""

    def __init__(
        self,
        store: Store,
        analyzer: TextAnalyzer,
        responses: Responses,
        dialogue: DialogueConfig | None = None,
        escalation: EscalationConfig | None = None,
        languages: list[str] | None = None,
        default_language: str = "nl",
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.responses = responses
        self.dialogue = dialogue or DialogueConfig()
        self.escalation = escalation or EscalationConfig()
        self.languages = languages or ["nl", "en"]
        self.default_language = default_language
        self._rules = [re.compile(p, re.IGNORECASE) for p in self.escalation.keywords]

    # -- entry point ------------------------------------------------------------------------

    def handle(self, incoming: IncomingMessage) -> list[OutgoingMessage]:
        """Handle one customer message; return the replies queued for delivery (maybe none).

        The turn is one transaction: when the store fails midway (a locked SQLite file, a lost
        PostgreSQL connection) nothing of it is kept, so the channel can simply try again.
        """
        with self.store.transaction():
            return self._handle(incoming)

    def _handle(self, incoming: IncomingMessage) -> list[OutgoingMessage]:
        customer = self.store.identify(incoming.channel, incoming.external_user_id, incoming.display_name)
        conversation = self.store.open_conversation(customer["id"], incoming.channel, incoming.chat_id)
        text = clean_text(incoming.text)
        too_long = len(text) > self.dialogue.max_message_chars
        text = text[: self.dialogue.max_message_chars]
        message_id = self.store.record_incoming(
            conversation["id"], text, incoming.kind, incoming.platform_message_id
        )
        if message_id is None:
            return []  # the platform delivered this message before: it was handled then
        turn = _Turn(self, conversation, message_id, incoming.language_hint)
        recent = self.store.incoming_since(conversation["id"], self.dialogue.flood_seconds)
        if recent > self.dialogue.flood_messages:
            # Flooding: the message is stored but not answered; one notice when the limit is crossed.
            if recent == self.dialogue.flood_messages + 1 and conversation["state"] != "human":
                turn.say("flood_warning")
            return turn.replies
        turn.run(text, incoming.kind, too_long)
        return turn.replies

    # -- actions used by channels and staff tools -------------------------------------------

    def hand_back(self, conversation_id: int, actor: str | None = None) -> list[OutgoingMessage]:
        """Staff is done: the bot takes over again and asks how it went."""
        ticket = self.store.hand_back(conversation_id, actor)
        conversation = self.store.conversation(conversation_id)
        language = conversation["language"] or self.default_language
        turn = _Turn(self, conversation, None, None)
        turn.say("handed_back")
        if ticket and self.dialogue.ask_csat:
            turn.ask_csat(language)
        return turn.replies

    def outgoing(self, message_id: int) -> OutgoingMessage:
        """An outbox row as an OutgoingMessage."""
        row = self.store.message(message_id)
        return to_outgoing(row)


def to_outgoing(row: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(
        channel=row["channel"],
        chat_id=row["chat_id"],
        text=row["text"],
        buttons=[Button(**b) for b in row["buttons"] or []],
        message_id=row["id"],
        author=row["author"],
    )


class _Turn:
    """One turn of a conversation: the decision and the replies it queues."""

    def __init__(self, engine: DialogueEngine, conversation: dict, message_id: int | None, hint: str | None) -> None:
        self.engine = engine
        self.store = engine.store
        self.conversation = conversation
        self.message_id = message_id
        self.language = hint or conversation["language"] or engine.default_language
        self.replies: list[OutgoingMessage] = []

    # -- output -------------------------------------------------------------------------------

    def say(self, template: str, buttons: list[Button] | None = None, **values: Any) -> None:
        text = self.engine.responses.render(template, self.language, **values)
        self.say_text(text, buttons, template)

    def say_text(self, text: str, buttons: list[Button] | None = None, template: str | None = None) -> None:
        as_dicts = [{"title": b.title, "payload": b.payload} for b in buttons or []]
        message_id = self.store.queue_outgoing(self.conversation["id"], text, "bot", as_dicts)
        self.replies.append(
            OutgoingMessage(
                channel=self.conversation["channel"],
                chat_id=self.conversation["chat_id"],
                text=text,
                buttons=list(buttons or []),
                message_id=message_id,
                template=template,
            )
        )

    def update(self, **fields: Any) -> None:
        self.store.update_conversation(self.conversation["id"], **fields)
        self.conversation.update(fields)

    # -- the decision ----------------------------------------------------------------------

    def run(self, text: str, kind: str, too_long: bool) -> None:
        state = self.conversation["state"]
        if state == "human":
            return  # a person owns the case: the bot stays silent
        if kind not in ("text", "button"):
            if state == "bot":
                self.say("non_text")
            return
        if not text:
            self.say("empty_message")
            return
        if self.conversation["pending_intent"] == CSAT_PENDING and self.record_csat(text):
            return
        if proof.step(self, text):  # order details, for a proven order number only
            return
        if text.startswith("/language"):
            return self.switch_language(text.removeprefix("/language").strip())
        if kind == "button" or text.startswith("/"):
            analysis = self.from_payload(text)
        else:
            analysis = self.engine.analyzer.analyze(
                text, {"language": self.conversation["language"], "expecting": self.expecting()}
            )
        self.adopt_language(analysis)
        if self.message_id is not None:
            self.store.set_analysis(self.message_id, analysis.to_dict())
        self.remember_entities(analysis)
        if too_long:
            self.say("message_too_long", limit=self.engine.dialogue.max_message_chars)
        if state == "waiting":
            self.say("already_escalated")
            return
        if is_emoji_only(text) and analysis.sentiment != "negative" and not analysis.intent:
            self.say("emoji_only")
            return
        self.decide(text, analysis)

    def decide(self, text: str, analysis: Analysis) -> None:
        dialogue = self.engine.dialogue
        rule = next((r for r in self.engine._rules if r.search(text)), None)
        confident = analysis.intent is not None and not analysis.out_of_scope and analysis.confidence >= dialogue.answer_threshold
        if rule is not None:
            return self.escalate("rule", analysis)
        if confident and analysis.intent == "request_human":
            return self.escalate("requested", analysis)
        if (analysis.complaint and analysis.sentiment == "negative") or (confident and analysis.intent == "complain"):
            self.say("complaint_empathy")
            return self.escalate("complaint", analysis, acknowledge=True)
        if analysis.urgency == "high" and analysis.sentiment == "negative":
            return self.escalate("urgent", analysis)
        pending = self.conversation["pending_intent"]
        if pending and self.missing_slots(pending) == []:
            self.update(pending_intent=None, fallbacks=0)
            return self.answer(pending)
        if confident:
            self.update(fallbacks=0)
            return self.answer(analysis.intent)  # type: ignore[arg-type]
        if analysis.knowledge:  # NLU returns only hits above its own threshold
            hit = analysis.knowledge[0]
            self.update(fallbacks=0)
            return self.say("knowledge_answer", answer=hit.answer, title=hit.title)
        if analysis.confidence >= dialogue.clarify_threshold and analysis.ranking and not analysis.out_of_scope:
            return self.clarify(analysis)
        self.fallback(analysis)

    def answer(self, intent: str) -> None:
        rule = self.engine.responses.intents.get(intent)
        if rule is None:  # a command such as /start or /help, answered by its template
            return self.say(intent if self.engine.responses.has(intent, self.language) else "fallback")
        if rule.action == "escalate":
            return self.escalate("requested" if intent == "request_human" else intent, None)
        if rule.action == "fill_slot":
            return self.say("help")
        missing = self.missing_slots(intent)
        if missing:
            self.update(pending_intent=intent)
            return self.say(f"ask_{missing[0]}")
        slots = self.conversation["slots"]
        if intent == "order_status":
            return self.order_status(slots["order_number"])
        product = slots.get("product")
        if intent == "product_availability" and product in self.engine.responses.in_stock:
            stock = "product_in_stock" if self.engine.responses.in_stock[product] else "product_out_of_stock"
            return self.say(stock, product=product)
        self.say(rule.response or intent, **slots)

    def order_status(self, order_number: str) -> None:
        order = self.engine.responses.orders.get(order_number)
        if order is None:
            return self.say("order_not_found", order_number=order_number)
        code = order.get("status", "")
        status = self.engine.responses.order_status_label(code, self.language)
        template = f"order_status_{code}" if self.engine.responses.has(f"order_status_{code}", self.language) else "order_status"
        details = Button(self.engine.responses.render("button_order_details", self.language),
                         f"{proof.COMMAND} {order_number}")
        self.say(template, [details], order_number=order_number, status=status,
                 carrier=order.get("carrier", ""), eta=order.get("eta", ""))

    def clarify(self, analysis: Analysis) -> None:
        choices = [name for name, _ in analysis.ranking[:3] if name in self.engine.responses.intents]
        if not choices:
            return self.fallback(analysis)
        buttons = [Button(self.engine.responses.intent_title(n, self.language), f"/{n}") for n in choices]
        buttons.append(Button(self.engine.responses.render("button_human", self.language), "/request_human"))
        self.say("clarify", buttons)

    def fallback(self, analysis: Analysis) -> None:
        fallbacks = self.conversation["fallbacks"] + 1
        self.update(fallbacks=fallbacks)
        if fallbacks >= self.engine.dialogue.max_fallbacks:
            self.say("fallback_again")
            return self.escalate("fallbacks", analysis, acknowledge=True)
        if analysis.knowledge == [] and analysis.out_of_scope and analysis.intent is None:
            return self.say("knowledge_unknown")
        self.say("fallback")

    def escalate(self, reason: str, analysis: Analysis | None, acknowledge: bool = False) -> None:
        engine = self.engine
        summary, story = build_story(self.store, self.conversation["id"], reason)
        priority = priority_for(reason, analysis.to_dict() if analysis else None)
        now = self.store.clock()
        sla_due = now + engine.escalation.sla_minutes.get(priority, 8 * 60) * 60
        queue = self.store.queue_length()
        ticket, new = self.store.escalate(self.conversation["id"], reason, priority, summary, story, sla_due)
        self.update(pending_intent=None)
        self.conversation["state"] = self.store.conversation(self.conversation["id"])["state"]
        if not new:
            return self.say("already_escalated")
        wait = estimate_wait(engine.escalation, queue, now)
        if wait.open_now:
            self.say("escalate_ack", wait=wait.describe(self.language), ticket=ticket["id"])
        else:
            self.say("escalate_ack_closed", opens=wait.describe(self.language), ticket=ticket["id"])

    # -- state helpers ---------------------------------------------------------------------

    def expecting(self) -> str | None:
        pending = self.conversation["pending_intent"]
        if not pending or pending == CSAT_PENDING:
            return None
        missing = self.missing_slots(pending)
        return missing[0] if missing else None

    def missing_slots(self, intent: str) -> list[str]:
        rule = self.engine.responses.intents.get(intent)
        slots = self.conversation["slots"]
        return [s for s in (rule.requires if rule else ()) if s not in slots]

    def adopt_language(self, analysis: Analysis) -> None:
        language = analysis.language if analysis.language in self.engine.languages else None
        language = language or self.conversation["language"] or self.engine.default_language
        if language != self.conversation["language"]:
            self.update(language=language)
        self.language = language

    def remember_entities(self, analysis: Analysis) -> None:
        slots = dict(self.conversation["slots"])
        for entity in analysis.entities:
            if entity.type in SLOT_ENTITIES and entity.type not in slots:
                slots[entity.type] = entity.value
            if entity.type in CLAIM_KINDS:  # typed, so unproven: a claim on this conversation, never a link
                self.store.add_claim(self.conversation["id"], entity.type, entity.value.lower())
        if slots != self.conversation["slots"]:
            self.update(slots=slots)

    def from_payload(self, payload: str) -> Analysis:
        """A pressed button or a typed /command, as a certain analysis."""
        name = payload.lstrip("/").partition(" ")[0]
        name = {"human": "request_human", "start": "start", "help": "help"}.get(name, name)
        return Analysis(text=payload, language=self.language, intent=name, confidence=1.0,
                        ranking=[(name, 1.0)], sentiment="neutral")

    def switch_language(self, language: str) -> None:
        if language in self.engine.languages:
            self.update(language=language)
            self.language = language
            return self.say("language_switched")
        self.say_text("/language " + " | ".join(self.engine.languages))

    def ask_csat(self, language: str) -> None:
        self.language = language
        buttons = [Button(str(n), f"/csat {n}") for n in range(1, 6)]
        self.update(pending_intent=CSAT_PENDING)
        self.say("csat_ask", buttons)

    def record_csat(self, text: str) -> bool:
        """Take a 1–5 (or 👍/👎) answer to the CSAT question; False when the text is something else."""
        value = text.removeprefix("/csat").strip()
        score = CSAT_WORDS.get(value) or (int(value) if value.isdigit() and 1 <= int(value) <= 5 else None)
        self.update(pending_intent=None)
        if score is None:
            return False
        ticket = self.store.ticket_for_conversation(self.conversation["id"])
        if ticket:
            self.store.record_csat(ticket["id"], score)
        self.say("csat_thanks")
        return True
