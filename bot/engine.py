"""The dialogue engine: one customer message in, the bot's replies out. Knows no platform.

Every turn: identify the customer, store the message (once per platform message id), analyse it,
decide one action — answer, ask for a missing slot, clarify, answer from the knowledge base,
escalate, or stay silent because a person owns the case — and queue the replies in the outbox.
"""

from __future__ import annotations

import re
from typing import Any

from bot import proof
from bot.config import DialogueConfig, EscalationConfig
from bot.handoff import build_story, csat_score, estimate_wait, priority_for, shown_text, sla_due
from bot.responses import Responses
from nlu.types import Analysis, TextAnalyzer
from store import CLAIM_KINDS, Store
from webcare.core.errors import StoreError
from webcare.core.messages import Button, IncomingMessage, OutgoingMessage
from webcare.core.text import clean_text

SLOT_ENTITIES = ("order_number", "email", "phone", "product", "date")
CSAT_PENDING = "__csat__"


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
        conversation = self.conversation_for(customer["id"], incoming)
        text = clean_text(incoming.text)
        too_long = len(text) > self.dialogue.max_message_chars
        text = text[: self.dialogue.max_message_chars]
        message_id = self.store.record_incoming(
            conversation["id"], shown_text(text, incoming.kind), incoming.kind, incoming.platform_message_id
        )
        if message_id is None:
            return []  # the platform delivered this message before: it was handled then
        turn = _Turn(self, conversation, message_id)
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
        turn = _Turn(self, conversation, None)
        turn.say("handed_back")
        if ticket and self.dialogue.ask_csat:
            turn.ask_csat(language)
        return turn.replies

    # -- the conversation's lifecycle and the people in it ------------------------------------

    def conversation_for(self, customer_id: int, incoming: IncomingMessage) -> dict[str, Any]:
        """The conversation a customer's message belongs to.

        A rating answers the conversation that asked for it, even one that has ended since: a
        pressed rating button always, a typed score while that conversation is the latest and
        recent. Otherwise it is the current conversation, or a new one after the last was closed
        or stayed idle with the bot for `dialogue.idle_close_minutes`.
        """
        idle = self.dialogue.idle_close_minutes * 60
        channel, chat_id = incoming.channel, incoming.chat_id
        if csat_score(clean_text(incoming.text)) is not None:
            asking = self.store.latest_conversation(customer_id, channel, chat_id, pending_intent=CSAT_PENDING)
            if asking and incoming.kind == "button":
                return asking
            latest = self.store.latest_conversation(customer_id, channel, chat_id)
            if asking and latest and asking["id"] == latest["id"] and asking["updated_at"] > self.store.clock() - idle:
                return asking
        return self.store.open_conversation(customer_id, channel, chat_id, idle)

    def restart(self, channel: str, external_user_id: str, chat_id: str, actor: str | None = None) -> bool:
        """End the customer's current conversation in a chat, so their next message starts afresh.

        False when there was nothing open to end.
        """
        customer = self.store.customer_by_identity(channel, external_user_id)
        latest = self.store.latest_conversation(customer["id"], channel, chat_id) if customer else None
        if latest is None:
            return False
        return self.store.close_conversation(latest["id"], actor, reason="restart")

    def take(
        self, conversation_id: int, owner: str, display_name: str | None = None, force: bool = False
    ) -> list[OutgoingMessage]:
        """A staff member takes the conversation; the customer is told who ("Anna van Huisraad …").

        Nothing is said when they owned it already.
        """
        with self.store.transaction():
            before = self.store.conversation(conversation_id)
            conversation = self.store.take(conversation_id, owner, force)
            if before["state"] == "human" and before["owner"] == owner:
                return []
            turn = _Turn(self, conversation, None)
            turn.say("taken_over", agent=display_name or owner, shop=self.dialogue.shop_name)
            return turn.replies

    def close(self, conversation_id: int, actor: str | None = None) -> list[OutgoingMessage]:
        """Staff end the conversation: the customer is thanked, and asked for a rating if not yet.

        A ticket handed back has had its rating question already. The customer's next message
        starts a new conversation; a rating for this one still reaches it (`conversation_for`).
        """
        with self.store.transaction():
            conversation = self.store.conversation(conversation_id)
            if conversation["state"] == "closed":
                raise StoreError(f"conversation {conversation_id} is closed already")
            ticket = self.store.ticket_for_conversation(conversation_id)
            turn = _Turn(self, conversation, None)
            turn.say("conversation_closed", shop=self.dialogue.shop_name)
            if ticket and ticket["csat"] is None and ticket["status"] not in ("resolved", "closed") \
                    and self.dialogue.ask_csat:
                turn.ask_csat(turn.language)
            self.store.close_conversation(conversation_id, actor, reason="staff")
            return turn.replies

    _idle_checked_at = float("-inf")

    def close_idle(self, every: float = 60.0) -> int:
        """Close the conversations idle with the bot for `dialogue.idle_close_minutes`; return how many.

        Runs at most once per `every` seconds, so loops that run often (the staff group's, the
        console inbox's refresh) can call it: the check when a message arrives, done ahead of time.
        """
        now = self.store.clock()
        if now < self._idle_checked_at + every:
            return 0
        self._idle_checked_at = now
        return self.store.close_idle_conversations(self.dialogue.idle_close_minutes * 60)

    def wait_notice(self, conversation_id: int, language: str) -> tuple[str, dict[str, Any]]:
        """The queue notice for a waiting customer now, as (template, values).

        While staff are in it gives the expected wait, else when they are back: the same clock
        as the escalation's own message, so the two never contradict each other.
        """
        ticket = self.store.ticket_for_conversation(conversation_id)
        wait = estimate_wait(self.escalation, max(0, self.store.queue_length() - 1), self.store.clock())
        number = ticket["id"] if ticket else ""
        if wait.open_now:
            return "waiting_open", {"wait": wait.describe(language), "ticket": number}
        return "waiting_closed", {"opens": wait.describe(language), "ticket": number}


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

    def __init__(self, engine: DialogueEngine, conversation: dict, message_id: int | None) -> None:
        self.engine = engine
        self.store = engine.store
        self.conversation = conversation
        self.message_id = message_id
        self.language = conversation["language"] or engine.default_language
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
            template, values = self.engine.wait_notice(self.conversation["id"], self.language)
            self.say(template, **values)
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
            return self.escalate("complaint", analysis)
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
            return self.escalate("fallbacks", analysis)
        if analysis.knowledge == [] and analysis.out_of_scope and analysis.intent is None:
            return self.say("knowledge_unknown")
        self.say("fallback")

    def escalate(self, reason: str, analysis: Analysis | None) -> None:
        engine = self.engine
        summary, story = build_story(self.store, self.conversation["id"], reason)
        priority = priority_for(reason, analysis.to_dict() if analysis else None)
        now = self.store.clock()
        sla_due_at = sla_due(engine.escalation, priority, now)
        queue = self.store.queue_length()
        ticket, new = self.store.escalate(self.conversation["id"], reason, priority, summary, story, sla_due_at)
        self.update(pending_intent=None)
        self.conversation["state"] = self.store.conversation(self.conversation["id"])["state"]
        if not new:
            template, values = engine.wait_notice(self.conversation["id"], self.language)
            return self.say(template, **values)
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
        score = csat_score(text)
        self.update(pending_intent=None)
        if score is None:
            return False
        ticket = self.store.ticket_for_conversation(self.conversation["id"])
        if ticket:
            self.store.record_csat(ticket["id"], score)
        self.say("csat_thanks")
        return True
