"""The dialogue engine: one customer message in, the bot's replies out. Knows no platform.

Every turn: identify the customer, store the message (once per platform message id), analyse it,
decide one action — answer, ask for a missing slot, clarify, answer from the knowledge base,
escalate, or stay silent because a person owns the case — and queue the replies in the outbox.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from webcare.bot import proof
from webcare.bot.config import DialogueConfig, EscalationConfig
from webcare.bot.handoff import csat_score, estimate_wait, priority_for, shown_text, sla_due
from webcare.bot.policy import (
    ARRIVAL_QUESTION,
    LANGUAGE_ASKED,
    NEIGHBOUR,
    ORDER_TOPIC,
    ORDER_WAIT,
    OTHER_MODEL,
    OWN_ORDER,
    PRICE,
    SAYS_NO,
    SLOT_UNKNOWN,
    STATUS_QUESTION,
    STOCK,
    THANKS,
    WAITING_QUESTION,
    Rules,
    asked_object,
    function_word_language,
    is_follow_up,
    range_object,
    refers_back,
    service_object,
)
from webcare.bot.responses import COMMON_WORDS, CatalogueItem, Responses, format_price, stem, words_of
from webcare.core.errors import StoreError
from webcare.core.messages import Button, IncomingMessage, OutgoingMessage
from webcare.core.text import clean_text
from webcare.nlu.types import Analysis, KnowledgeHit, TextAnalyzer
from webcare.store import CLAIM_KINDS, Store

SLOT_ENTITIES = ("order_number", "email", "phone", "product", "date")
CSAT_PENDING = "__csat__"
CONTEXT = "_context"  # the policy's memory in the conversation's slots (hidden from staff's story)
ORDER_ACTIONS = ("order_status", "cancel_order", "change_address")
SMALL_TALK = ("greet", "goodbye", "thanks", "affirm", "deny", "help", "bot_challenge", "inform")
# Typed or pressed /commands the bot honours; any other /text is an ordinary message (never a template name).
COMMANDS = {"start": "start", "help": "help", "human": "request_human", "restart": "restart",
            "leave_queue": "leave_queue"}
NEAR_COVERAGE = 0.5  # share of the specific words an article below the threshold must cover to compete
NEW_QUESTION_WORDS = 3  # an "and …" message with this many content words and its own confident intent is a new question
REACTION_INTENTS = ("deny", "complain", "help")  # intents a reaction to an answer may get
REACTION_WORDS = 8  # a message up to this long right after an answer can be a reaction to it
SHORT_WORDS = 2  # a message of at most this many words keeps the conversation's language
SURELY_OUT_OF_SCOPE = 0.05  # no intent gets even this: only a clearly matching article keeps it in scope
SURE_ARTICLE = 0.62
NO_DECLINE = ("request_human", "complain", "delivery_time", "delivery_cost")  # places matter there
SLASH_COMMAND = re.compile(r"^/\w+(\s|$)")
PRIORITY_ORDER = ("low", "normal", "high", "urgent")


def is_emoji_only(text: str) -> bool:
    return bool(text) and not any(ch.isalnum() for ch in text)


class _ChatLock:
    """A chat's turn lock and how many turns hold or wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


_PREPARED: ContextVar[dict[tuple[str, str | None, str | None], Analysis] | None] = ContextVar(
    "prepared_analyses", default=None)


class PreparedAnalyzer:
    """The engine's analyzer: hands a turn the analysis made before its transaction began.

    `DialogueEngine.handle` analyses a message outside the store's write lock with a snapshot of
    the conversation's context (language, expected slot). Inside the transaction the turn asks
    again with the context as it is then; the same question gets the prepared answer, a changed
    context (another turn of this conversation committed meanwhile) a fresh analysis.
    """

    def __init__(self, analyzer: TextAnalyzer) -> None:
        self.inner = analyzer

    def analyze(self, text: str, context: dict[str, Any] | None = None) -> Analysis:
        key = _key(text, context)
        prepared = _PREPARED.get()
        if prepared is not None and key in prepared:
            return prepared.pop(key)
        return self.inner.analyze(text, context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _key(text: str, context: dict[str, Any] | None) -> tuple[str, str | None, str | None]:
    context = context or {}
    return text, context.get("language"), context.get("expecting")


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
        self.analyzer = analyzer  # wrapped: see the property
        self.responses = responses
        self.dialogue = dialogue or DialogueConfig()
        self.escalation = escalation or EscalationConfig()
        self.languages = languages or ["nl", "en"]
        self.default_language = default_language
        self._rules = [re.compile(p, re.IGNORECASE) for p in self.escalation.keywords]
        self.rules = Rules.compile(self.escalation.risk_categories, self.dialogue.negative_reactions,
                                   self.dialogue.leave_queue)

        self._chat_locks: dict[tuple[str, str], _ChatLock] = {}
        self._chat_locks_guard = threading.Lock()

    @property
    def analyzer(self) -> PreparedAnalyzer:
        return self._analyzer

    @analyzer.setter
    def analyzer(self, analyzer: TextAnalyzer) -> None:
        self._analyzer = analyzer if isinstance(analyzer, PreparedAnalyzer) else PreparedAnalyzer(analyzer)

    # -- entry point ------------------------------------------------------------------------

    def handle(self, incoming: IncomingMessage) -> list[OutgoingMessage]:
        """Handle one customer message; return the replies queued for delivery (maybe none).

        The NLU analysis runs first, outside the store's write lock; the turn itself is then one
        transaction that re-reads the conversation and only decides and records. When the store
        fails midway (a locked SQLite file, a lost PostgreSQL connection) nothing of the turn is
        kept, so the channel can simply try again. One chat's turns run one at a time, in order.
        """
        with self._chat_lock(incoming), self._prepared(incoming), self.store.transaction():
            return self._handle(incoming)

    @contextmanager
    def _chat_lock(self, incoming: IncomingMessage) -> Iterator[None]:
        """One chat's turns one at a time (in arrival order); a lock exists while a turn of the chat runs."""
        key = (incoming.channel, incoming.chat_id)
        with self._chat_locks_guard:
            entry = self._chat_locks.setdefault(key, _ChatLock())
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._chat_locks_guard:
                entry.users -= 1
                if not entry.users:
                    del self._chat_locks[key]

    @contextmanager
    def _prepared(self, incoming: IncomingMessage) -> Iterator[None]:
        """Analyse the message before the transaction, for the turn inside it to use."""
        prepared = {}
        context = self._analysis_context(incoming)
        if context is not None:
            text = clean_text(incoming.text)[: self.dialogue.max_message_chars]
            prepared[_key(text, context)] = self._analyzer.inner.analyze(text, context)
        token = _PREPARED.set(prepared)
        try:
            yield
        finally:
            _PREPARED.reset(token)

    def _analysis_context(self, incoming: IncomingMessage) -> dict[str, Any] | None:
        """The context a turn would analyse this message in (a read-only snapshot); None when no
        analysis is likely (a person owns the case, no text, a command, a rating)."""
        text = clean_text(incoming.text)
        if incoming.kind != "text" or not text or text.startswith("/") or csat_score(text) is not None:
            return None
        customer = self.store.customer_by_identity(incoming.channel, incoming.external_user_id)
        latest = self.store.latest_conversation(customer["id"], incoming.channel, incoming.chat_id) if customer else None
        if latest is None:
            return {"language": None, "expecting": None}
        idle = self.dialogue.idle_close_minutes * 60
        if latest["state"] == "closed" or (latest["state"] == "bot" and latest["updated_at"] <= self.store.clock() - idle):
            return {"language": latest["language"], "expecting": None}  # a new conversation, in its language
        if latest["state"] == "human":
            return None
        return {"language": latest["language"], "expecting": _Turn(self, latest, None).expecting()}

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
        """Staff is done: the bot takes over again and asks how it went (one transaction)."""
        with self.store.transaction():
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

    def staff_reply(self, conversation_id: int, agent: str, text: str, display_name: str | None = None) -> int:
        """A staff member's reply; one who does not own the case yet takes it first, and the customer
        hears who took over before the reply. One transaction; returns the reply's outbox id."""
        with self.store.transaction():
            conversation = self.store.lock_conversation(conversation_id)
            if conversation["state"] != "human" or conversation["owner"] != agent:
                self.take(conversation_id, agent, display_name)
            return self.store.agent_reply(conversation_id, agent, text)

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
        self.empathy = False  # an empathetic opening is due before the next answer

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
        if self.handled_before_analysis(text, kind):
            return
        command = self.command(text) if kind == "button" or text.startswith("/") else None
        if command == "restart":
            return self.restart()
        if command is None and SLASH_COMMAND.match(text):
            return self.say("help")  # an unknown /command: never a template by that name
        if command is not None:
            analysis = self.from_payload(command)
        else:
            analysis = self.engine.analyzer.analyze(
                text, {"language": self.conversation["language"], "expecting": self.expecting()}
            )
        self.adopt_language(analysis)
        if self.message_id is not None:
            self.store.set_analysis(self.message_id, analysis.to_dict())
        learned = self.remember_entities(analysis)
        if too_long:
            self.say("message_too_long", limit=self.engine.dialogue.max_message_chars)
        if state == "waiting":
            return self.while_waiting(text, analysis, command, learned)
        if command == "leave_queue":
            return self.say("help")
        if command is None and LANGUAGE_ASKED.search(text):
            return self.say("language_switched")  # "do you speak English?": yes, from now on
        if is_emoji_only(text) and analysis.sentiment != "negative" and not analysis.intent:
            self.say("emoji_only")
            return
        self.decide(text, analysis)

    def handled_before_analysis(self, text: str, kind: str) -> bool:
        """Turns that need no NLU: a person owns the case, no text, a rating, a proof step, /language."""
        state = self.conversation["state"]
        if state == "human":
            return True  # a person owns the case: the bot stays silent
        if kind not in ("text", "button"):
            if state == "bot":
                self.say("non_text")
            return True
        if not text:
            self.say("empty_message")
            return True
        late_rating = kind == "button" and text.startswith("/csat") and self.rating_open()  # a late click counts once
        if (self.conversation["pending_intent"] == CSAT_PENDING or late_rating) and self.record_csat(text):
            return True
        if proof.step(self, text):  # order details, for a proven order number only
            return True
        if text.startswith("/language"):
            self.switch_language(text.removeprefix("/language").strip())
            return True
        return False

    def command(self, text: str) -> str | None:
        """The whitelisted command or intent a /text or button payload names; None for anything else."""
        name = text.lstrip("/").partition(" ")[0].lower()
        if name in COMMANDS:
            return COMMANDS[name]
        if name in self.engine.responses.intents:
            return name
        return None

    def decide(self, text: str, analysis: Analysis) -> None:
        """Hand over when that helps; otherwise answer what can be answered; otherwise clarify or fall back."""
        reason = self.handover_reason(text, analysis)
        upset = self.upset(analysis)
        if reason is not None:
            if upset and reason != "requested":
                self.say("complaint_empathy")
            return self.escalate(reason, analysis)
        if self.resolve(text, analysis, upset):
            self.update(fallbacks=0)
            return
        if upset:
            self.say("complaint_empathy")
            return self.escalate("complaint", analysis)
        dialogue = self.engine.dialogue
        words = self.engine.responses.is_language(text)
        if analysis.confidence >= dialogue.clarify_threshold and analysis.ranking and not analysis.out_of_scope and words:
            return self.clarify(analysis)
        self.fallback(analysis)

    def handover_reason(self, text: str, analysis: Analysis) -> str | None:
        """Why this message goes to a person at once: a rule, a risk, a request, or "that didn't help"."""
        if any(r.search(text) for r in self.engine._rules):
            return "rule"
        risk = self.engine.rules.risk(text)
        if risk is not None:
            return f"risk:{risk}"
        if analysis.intent == "request_human" and self.confident(analysis):
            return "requested"
        if self.context.get("last") == "answer" and self.reacts_negatively(text, analysis):
            return "not_helped"
        return None

    def reacts_negatively(self, text: str, analysis: Analysis) -> bool:
        """Right after an answer, "that doesn't help": a configured reaction, or a short message that says no
        (the deny intent, or opening with "no": "No. I asked something else.") or is negative (the complain
        intent, or a negative tone: "wat een onzin"), thanks no one, and asks nothing the bot can answer (no article, no order
        number, no confident intent other than deny, complain or help)."""
        if self.engine.rules.negative_reaction(text):
            return True
        if len(words_of(text)) > REACTION_WORDS or analysis.knowledge or any(
                e.type in SLOT_ENTITIES for e in analysis.entities):
            return False
        if THANKS.search(text) or (self.confident(analysis) and analysis.intent not in REACTION_INTENTS):
            return False  # "nee hoor, bedankt"; "nee, en wat kost verzending naar België?" asks something new
        said_no = (analysis.intent in ("deny", "complain") and self.confident(analysis)) or bool(SAYS_NO.match(text))
        unplaced = not self.confident(analysis) or analysis.intent in REACTION_INTENTS
        return said_no or (unplaced and analysis.sentiment == "negative")

    def upset(self, analysis: Analysis) -> bool:
        """A complaint in a clearly negative tone, or the complain intent: empathy first, and a person if needed."""
        dialogue = self.engine.dialogue
        return (analysis.complaint and analysis.complaint_score >= dialogue.upset_complaint_score
                and analysis.sentiment_score <= dialogue.upset_sentiment_score) or (
            analysis.intent == "complain" and self.confident(analysis))

    def confident(self, analysis: Analysis) -> bool:
        return (analysis.intent is not None and not analysis.out_of_scope
                and analysis.confidence >= self.engine.dialogue.answer_threshold)

    # -- answering ---------------------------------------------------------------------------

    def resolve(self, text: str, analysis: Analysis, upset: bool = False) -> bool:
        """Answer, ask for a missing slot or decline; False when the bot has nothing to say to this."""
        if is_follow_up(text) and self.context.get("topic") and not self.new_question(text, analysis):
            analysis = self.with_topic(text, analysis)
        self.empathy = upset
        for step in (self.slot_answer, self.catalogue_answer, self.decline, self.action_answer,
                     self.knowledge_answer, self.intent_answer, self.near_answer):
            if step(text, analysis):
                return True
        return False

    def new_question(self, text: str, analysis: Analysis) -> bool:
        """A message opened by "and" that names its own subject ("en hoeveel kost verzending naar België?"): a
        confident intent of another topic, no pronoun that refers back, and content words of its own besides
        a product name (unlike "en op een blender?", "and to Germany?")."""
        named = {w for e in analysis.entities if e.type == "product" for w in words_of(text[e.start:e.end])}
        content = [w for w in words_of(text) if w not in COMMON_WORDS and w not in named]
        return (self.confident(analysis) and analysis.intent not in SMALL_TALK
                and analysis.intent != self.context.get("intent") and len(content) >= NEW_QUESTION_WORDS
                and not refers_back(text))

    def with_topic(self, text: str, analysis: Analysis) -> Analysis:
        """An elliptical follow-up read together with the question it follows; the language stays this message's."""
        combined = self.engine.analyzer.analyze(f"{self.context['topic']} {text}",
                                                {"language": self.language, "expecting": self.expecting()})
        combined.language = self.language
        combined.entities = analysis.entities + [e for e in combined.entities if e.type == "product"]
        return combined

    def slot_answer(self, text: str, analysis: Analysis) -> bool:
        """A pending request whose slot just came, or a new/corrected order number for the topic at hand."""
        pending = self.conversation["pending_intent"]
        if pending and pending != CSAT_PENDING and not self.missing_slots(pending):
            self.update(pending_intent=None)
            return self.action(pending, text)
        unknown = f"unknown_{self.expecting()}"
        if self.context.get("last") == "ask" and SLOT_UNKNOWN.search(text) and self.engine.responses.has(
                unknown, self.language):
            self.update(pending_intent=None)  # asked once; the customer does not have it: where to find it, or a person
            self.remember(last="answer")
            self.say(unknown, self.person_button())
            return True
        fresh = analysis.entity("order_number")
        if fresh is None:
            return False
        intent = analysis.intent if self.confident(analysis) else None
        topic = self.context.get("intent")
        if STATUS_QUESTION.search(text) or topic not in ORDER_ACTIONS:
            topic = "order_status"
        if intent in (None, "inform", "deny", "complain", "order_status", "refund_status", topic):
            return self.action(intent if intent in ORDER_ACTIONS else topic, text)
        return False

    def action_answer(self, text: str, analysis: Analysis) -> bool:
        if self.confident(analysis) and analysis.intent in ORDER_ACTIONS:
            if analysis.intent != "order_status" and not self.missing_slots(analysis.intent) and \
                    self.specific_article(text, analysis) is not None:
                return False  # only its template to say: an article on what is asked answers instead (a pickup point)
            return self.action(analysis.intent, text)  # type: ignore[arg-type]
        if self.confident(analysis) and analysis.intent == "delivery_time" and OWN_ORDER.search(text):
            return self.action("order_status", text)  # "I ordered a blender, will it come in time?": that order
        about_delivery = not self.confident(analysis) or analysis.intent in ("delivery_time", "complain")
        waiting = ORDER_WAIT.search(text) and (self.upset(analysis) or (OWN_ORDER.search(text) and about_delivery))
        if ORDER_TOPIC.search(text) and (ARRIVAL_QUESTION.search(text) or (
                waiting and self.specific_article(text, analysis) is None)):
            return self.action("order_status", text)  # "still not here, ridiculous": the status is the help
        return False

    def action(self, intent: str, text: str) -> bool:
        """Order status, cancelling, an address change: ask for the order number first when it is needed."""
        missing = self.missing_slots(intent)
        if missing:
            self.update(pending_intent=intent)
            self.remember(last="ask", intent=intent, topic=text)
            self.opening()
            self.say(f"ask_{missing[0]}")
            return True
        slots = self.conversation["slots"]
        self.opening()
        if intent == "order_status":
            self.order_status(slots["order_number"])
        else:
            rule = self.engine.responses.intents.get(intent)
            self.say(rule.response if rule and rule.response else intent, self.person_button(), **self.values())
        self.remember(last="answer", intent=intent, topic=text)
        return True

    def catalogue_answer(self, text: str, analysis: Analysis) -> bool:
        """Prices, stock and ranges from the catalogue; a thing the shop does not sell is said to be not sold."""
        catalogue = self.engine.responses.catalogue
        if not catalogue.items:
            return False
        item = self.product(analysis)
        if item is not None and OTHER_MODEL.search(text) and is_follow_up(text):
            return self.category_answer(item.category, text)
        if item is None:
            asked_range = range_object(text)
            if asked_range and catalogue.category_of(asked_range):
                return self.category_answer(catalogue.category_of(asked_range), text)  # type: ignore[arg-type]
            obj = asked_object(text)
            if obj is None:
                return False
            category = catalogue.category_of(obj)
            if category and catalogue.knows(obj):
                return self.category_answer(category, text)
            if category:
                return self.declined()  # "a recipe for the air fryer": about our products, not something we do
            if not catalogue.knows(obj) and not self.service_words(obj) and self.product_question(analysis):
                self.remember(last="decline", topic=None)
                self.say("decline_not_sold", thing=obj)
                return True
            return False
        if PRICE.search(text):
            template = "product_price"
        elif STOCK.search(text) or analysis.intent == "product_availability":
            template = "product_in_stock" if item.in_stock else "product_out_of_stock"
        elif (self.sells_question(analysis) or not self.confident(analysis)) and not (
                analysis.complaint or self.upset(analysis)):
            template = "product_details"
        else:
            return False  # a product named in a complaint ("my toaster arrived scratched"): not a product question
        self.opening()
        self.say(template, self.person_button(), product=item.name, price=format_price(item.price, self.language),
                 category=self.engine.responses.catalogue.category_name(item.category, self.language),
                 stock=self.engine.responses.render("stock_yes" if item.in_stock else "stock_no", self.language))
        self.remember(last="answer", intent="product_info", topic=text, product=item.name)
        return True

    def category_answer(self, category: str, text: str) -> bool:
        catalogue = self.engine.responses.catalogue
        lines = []
        for item in catalogue.in_category(category):
            stock = "" if item.in_stock else " — " + self.engine.responses.render("stock_no", self.language)
            lines.append(f"{item.name} ({format_price(item.price, self.language)}{stock})")
        self.say("catalogue_category", self.person_button(),
                 category=catalogue.category_name(category, self.language), products="; ".join(lines))
        self.remember(last="answer", intent="product_info", topic=text)
        return True

    def product(self, analysis: Analysis) -> CatalogueItem | None:
        """The catalogue product this message (or, in a follow-up, the conversation) is about."""
        items = self.engine.responses.catalogue.items
        for entity in analysis.entities:
            if entity.type == "product" and entity.value in items:
                return items[entity.value]
        return None

    def sells_question(self, analysis: Analysis) -> bool:
        return analysis.intent in ("product_availability", "product_info")

    def product_question(self, analysis: Analysis) -> bool:
        """Whether the NLU read this as (or could not place) a product question, not a question about a service."""
        return not self.confident(analysis) or analysis.intent in ("product_availability", "product_info",
                                                                   "delivery_cost")

    def service_words(self, phrase: str) -> bool:
        """Whether a phrase names something the shop's content talks about (shipping, gift cards, …)."""
        vocabulary = self.engine.responses.vocabulary
        words = [w for w in words_of(phrase) if len(w) > 3 and w not in COMMON_WORDS]
        return any(w in vocabulary or w.rstrip("s") in vocabulary for w in words)

    def decline(self, text: str, analysis: Analysis) -> bool:
        """Out of scope: a neighbouring business; what the NLU cannot place and no article clearly answers;
        or a question whose specific words are all foreign to the shop's content ("sollicitatiebrief")."""
        if analysis.entity("order_number") or self.product(analysis):
            return False
        responses, dialogue = self.engine.responses, self.engine.dialogue
        if NEIGHBOUR.search(text):
            return self.declined()
        service = service_object(text)
        if service and not (responses.catalogue.knows(service) or responses.catalogue.category_of(service)
                            or set(words_of(service)) & responses.template_words):
            return self.declined()  # a service for something the shop does not sell (a boiler, a dishwasher)
        intent = analysis.intent if self.confident(analysis) else None
        if intent in ORDER_ACTIONS + SMALL_TALK + NO_DECLINE:
            return False
        specific = responses.specific_words(text, intent or "")
        foreign = {stem(w) for w in responses.foreign_words(text)}
        if specific and specific <= foreign:
            return self.declined()
        if not analysis.out_of_scope or analysis.intent is not None or not responses.is_language(text):
            return False
        if analysis.entity("product"):
            return False  # "how big an air fryer for a family?": about what the shop sells
        top = analysis.ranking[0][1] if analysis.ranking else 0.0
        best = analysis.knowledge[0].score if analysis.knowledge else 0.0
        if top < dialogue.decline_confidence and best < dialogue.decline_below:
            return self.declined()
        if top < SURELY_OUT_OF_SCOPE and best < SURE_ARTICLE:
            return self.declined()  # "the weather in Amsterdam": a city name alone does not make it ours
        return False

    def declined(self) -> bool:
        self.remember(last="decline", topic=None)
        self.say("decline_out_of_scope")
        return True

    def knowledge_answer(self, text: str, analysis: Analysis) -> bool:
        hit = self.best_article(text, analysis)
        if hit is None:
            return False
        article = self.engine.responses.articles.get((self.language, hit.article_id))
        answer, title = (article.answer, article.title) if article else (hit.answer, hit.title)
        if self.context.get("article") == hit.article_id:
            answer = self.excerpt(answer, text)  # asked again about the article just given: only what is new
            if not answer:
                return False
        self.opening()
        self.say("knowledge_answer", self.person_button(), answer=answer, title=title)
        self.remember(last="answer", intent=analysis.intent if self.confident(analysis) else None, topic=text,
                      article=hit.article_id)
        return True

    def excerpt(self, answer: str, text: str) -> str:
        """The sentences of an answer that contain a content word of the message ("en op zondag?" -> "Op zondag
        zijn we gesloten."); empty when none does, so the same article is not repeated whole."""
        asked = {stem(w) for w in words_of(text) if w not in COMMON_WORDS and len(w) > 3}
        sentences = re.split(r"(?<=[.!?])\s+", answer.strip())
        return " ".join(s for s in sentences if asked & {stem(w) for w in words_of(s)})

    def best_article(self, text: str, analysis: Analysis) -> KnowledgeHit | None:
        """The article that answers the question asked, or None when the intent's own template fits better.

        One ranking: the retrieval score, plus `intent_article_bonus` (times the intent's confidence) for an
        article linked to the recognised intent, plus `specific_word_weight` times the share of the question's
        specific words the article covers (words the intent's examples never use: "Sunday", "limit",
        "Germany"; the product the customer names is not specific: it names the thing, not the question).
        Articles just below the knowledge threshold compete when the intent points to them or they cover at
        least `NEAR_COVERAGE` of the specific words. An article on the
        intent's own topic must score `article_over_template` to beat the intent's template unless it covers
        a specific word.
        """
        intent = analysis.intent if self.confident(analysis) else None
        if intent in SMALL_TALK or intent == "request_human":
            return None
        responses, dialogue = self.engine.responses, self.engine.dialogue
        named = {stem(w) for e in analysis.entities if e.type == "product" for w in words_of(analysis.text[e.start:e.end])}
        specific = responses.specific_words(text, intent) - named if intent else set()

        def linked(hit: KnowledgeHit) -> bool:
            article = responses.articles.get((hit.language, hit.article_id))
            return intent is not None and article is not None and intent in article.intents

        def covered(hit: KnowledgeHit) -> float:
            article = responses.articles.get((hit.language, hit.article_id))
            if article is None or not specific:
                return 0.0
            return len(specific & responses.article_words(article)) / len(specific)

        def rank(hit: KnowledgeHit) -> float:
            return (hit.score + dialogue.intent_article_bonus * analysis.confidence * linked(hit)
                    + dialogue.specific_word_weight * covered(hit))

        near = [h for h in analysis.near_knowledge if linked(h) or covered(h) >= NEAR_COVERAGE]
        if not analysis.knowledge + near:
            return None
        best = max(analysis.knowledge + near, key=rank)
        if covered(best) or intent is None or not responses.has(intent, self.language):
            return best
        return best if best.score >= dialogue.article_over_template else None

    def near_answer(self, text: str, analysis: Analysis) -> bool:
        """No confident intent and no article above the threshold: an article just below it answers when it
        clearly leads the others (`dialogue.near_margin`); "that doesn't help" still reaches a person."""
        near = analysis.near_knowledge
        if not near or self.confident(analysis) or not self.engine.responses.is_language(text):
            return False
        if len(near) > 1 and near[0].score - near[1].score < self.engine.dialogue.near_margin:
            return False
        return self.knowledge_answer(text, Analysis(text=text, language=analysis.language, knowledge=near[:1]))

    def specific_article(self, text: str, analysis: Analysis) -> KnowledgeHit | None:
        """The best article that covers a specific word of the question, if any."""
        hit = self.best_article(text, analysis)
        if hit is None:
            return None
        intent = analysis.intent if self.confident(analysis) else None
        responses = self.engine.responses
        article = responses.articles.get((hit.language, hit.article_id))
        specific = responses.specific_words(text, intent or "")
        return hit if article is not None and specific & responses.article_words(article) else None

    def intent_answer(self, text: str, analysis: Analysis) -> bool:
        if not self.confident(analysis):
            return False
        intent = analysis.intent
        assert intent is not None
        rule = self.engine.responses.intents.get(intent)
        if rule is None:  # a command such as /start or /help, answered by its template
            self.say(intent if self.engine.responses.has(intent, self.language) else "fallback")
            return True
        if rule.action == "escalate":
            return False
        if rule.action == "fill_slot":
            self.say("help")
            return True
        missing = self.missing_slots(intent)
        if missing:
            self.update(pending_intent=intent)
            self.remember(last="ask", intent=intent, topic=text)
            self.say(f"ask_{missing[0]}")
            return True
        if intent == "product_availability" and self.conversation["slots"].get("product") in self.engine.responses.in_stock:
            product = self.conversation["slots"]["product"]
            stock = "product_in_stock" if self.engine.responses.in_stock[product] else "product_out_of_stock"
            self.say(stock, self.person_button(), product=product)
            self.remember(last="answer", intent=intent, topic=text)
            return True
        small = intent in SMALL_TALK or intent == "bot_challenge"
        if not small:
            self.opening()
        self.say(rule.response or intent, None if small else self.person_button(), **self.values())
        self.remember(last="small_talk" if small else "answer", intent=None if small else intent,
                      topic=None if small else text)
        return True

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.conversation["slots"].items() if not k.startswith("_")}

    def opening(self) -> None:
        """An empathetic first line before the answer, once, when the customer is upset."""
        if self.empathy:
            self.empathy = False
            self.say("empathy")

    def person_button(self) -> list[Button]:
        """'Talk to a person' under an answer (not while already waiting for one)."""
        if not self.engine.dialogue.offer_human or self.conversation["state"] != "bot":
            return []
        if not self.engine.responses.has("button_human", self.language):
            return []
        return [Button(self.engine.responses.render("button_human", self.language), "/request_human")]

    def order_status(self, order_number: str) -> None:
        order = self.engine.responses.orders.get(order_number)
        if order is None:
            return self.say("order_not_found", order_number=order_number)
        code = order.get("status", "")
        status = self.engine.responses.order_status_label(code, self.language)
        template = f"order_status_{code}" if self.engine.responses.has(f"order_status_{code}", self.language) else "order_status"
        details = Button(self.engine.responses.render("button_order_details", self.language),
                         f"{proof.COMMAND} {order_number}")
        self.say(template, [details, *self.person_button()], order_number=order_number, status=status,
                 carrier=order.get("carrier", ""), eta=order.get("eta", ""))

    def clarify(self, analysis: Analysis) -> None:
        choices = [name for name, _ in analysis.ranking[:3] if name in self.engine.responses.intents]
        if not choices:
            return self.fallback(analysis)
        buttons = [Button(self.engine.responses.intent_title(n, self.language), f"/{n}") for n in choices]
        buttons.append(Button(self.engine.responses.render("button_human", self.language), "/request_human"))
        self.remember(last="clarify")
        self.say("clarify", buttons)

    def fallback(self, analysis: Analysis) -> None:
        fallbacks = self.conversation["fallbacks"] + 1
        self.update(fallbacks=fallbacks)
        if fallbacks >= self.engine.dialogue.max_fallbacks:
            self.say("fallback_again")
            return self.escalate("fallbacks", analysis)
        self.remember(last="fallback")
        if analysis.knowledge == [] and analysis.out_of_scope and analysis.intent is None:
            return self.say("knowledge_unknown")
        self.say("fallback")

    def escalate(self, reason: str, analysis: Analysis | None) -> None:
        engine = self.engine
        priority = self.priority(reason, analysis)
        now = self.store.clock()
        sla_due_at = sla_due(engine.escalation, priority, now)
        queue = self.store.queue_length()
        ticket, new = self.store.escalate(self.conversation["id"], reason, priority, sla_due_at=sla_due_at)
        self.update(pending_intent=None)
        self.remember(last="escalated", notice_at=now)
        self.conversation["state"] = self.store.conversation(self.conversation["id"])["state"]
        if not new:
            template, values = engine.wait_notice(self.conversation["id"], self.language)
            return self.say(template, **values)
        wait = estimate_wait(engine.escalation, queue, now)
        if wait.open_now:
            self.say("escalate_ack", wait=wait.describe(self.language), ticket=ticket["id"])
        else:
            self.say("escalate_ack_closed", opens=wait.describe(self.language), ticket=ticket["id"])

    def priority(self, reason: str, analysis: Analysis | None) -> str:
        """From complaint, sentiment and urgency (bot.handoff.priority_for); a risk is at least high."""
        priority = priority_for(reason, analysis.to_dict() if analysis else None)
        if reason.startswith("risk:") and PRIORITY_ORDER.index(priority) < PRIORITY_ORDER.index("high"):
            return "high"
        return priority

    # -- while waiting for staff -------------------------------------------------------------

    def while_waiting(self, text: str, analysis: Analysis, command: str | None, learned: bool) -> None:
        """Waiting for a person: leave the queue on request, answer what the bot can, keep the ticket's story
        current, and repeat the queue notice at most once per `dialogue.queue_notice_minutes`."""
        if command == "leave_queue" or (command is None and self.engine.rules.leaves_queue(text)):
            return self.leave_queue()
        risk = self.engine.rules.risk(text)
        if risk is not None:
            return self.escalate(f"risk:{risk}", analysis)
        if learned and analysis.intent in (None, "inform"):
            return self.say("noted_for_staff")
        chat = analysis.intent in SMALL_TALK and analysis.intent not in ("thanks", "goodbye")
        if not chat and (self.resolve(text, analysis) if command is None else self.intent_answer(text, analysis)):
            return
        if analysis.intent in ("greet", "help", "bot_challenge", "request_human") or WAITING_QUESTION.search(text):
            return self.queue_wait()  # "hello? anyone there?", "a person please": answered with the wait
        if self.store.clock() - float(self.context.get("notice_at") or 0) >= self.engine.dialogue.queue_notice_minutes * 60:
            leave = Button(self.engine.responses.render("button_leave_queue", self.language), "/leave_queue")
            self.queue_wait([leave])

    def queue_wait(self, buttons: list[Button] | None = None) -> None:
        """Where the customer stands: the expected wait now, or when staff are back (`DialogueEngine.wait_notice`,
        the same clock and words as the hand-over message, so the two never contradict each other)."""
        self.remember(notice_at=self.store.clock())
        template, values = self.engine.wait_notice(self.conversation["id"], self.language)
        self.say(template, buttons, **values)

    def leave_queue(self) -> None:
        self.store.withdraw_escalation(self.conversation["id"])
        self.conversation["state"] = "bot"
        self.remember(last=None, notice_at=None)
        self.say("left_queue")

    def restart(self) -> None:
        """/restart: slots, pending question and the policy's memory are cleared; the conversation starts over."""
        self.update(slots={}, pending_intent=None, fallbacks=0)
        self.say("start")

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
        """Reply in the language of this message; a short or unclear one keeps the conversation's language."""
        names = [e for e in analysis.entities if e.type == "product"]
        text = analysis.text
        for entity in sorted(names, key=lambda e: -e.start):  # product names are Dutch in any language
            text = text[: entity.start] + text[entity.end :]
        voted = function_word_language(text, lenient=bool(names))
        asked = LANGUAGE_ASKED.search(text)
        if asked:
            voted = "en" if asked.group(1).lower() in ("english", "engels") else "nl"
        if voted in self.engine.languages:
            if voted != analysis.language and analysis.language_confidence < 0.9:
                analysis.language = voted
        elif self.conversation["language"] and len(re.findall(r"[^\W\d_]{2,}", text)) <= SHORT_WORDS:
            analysis.language = self.conversation["language"]  # "sorry 12345678", "thanks": too short to switch
        language = analysis.language if analysis.language in self.engine.languages else None
        language = language or self.conversation["language"] or self.engine.default_language
        if language != self.conversation["language"]:
            self.update(language=language)
        self.language = language

    @property
    def context(self) -> dict[str, Any]:
        """What the policy remembers between turns: the last action, the topic, the last queue notice."""
        return dict(self.conversation["slots"].get(CONTEXT) or {})

    def remember(self, **fields: Any) -> None:
        context = self.context | fields
        self.update(slots={**self.conversation["slots"], CONTEXT: {k: v for k, v in context.items() if v is not None}})

    def remember_entities(self, analysis: Analysis) -> bool:
        """Keep the newest value of each slot entity (a correction replaces the old one); True when one changed."""
        slots = dict(self.conversation["slots"])
        for entity in analysis.entities:
            if entity.type in SLOT_ENTITIES and (entity.type != "product" or entity.value in self.engine.responses.in_stock
                                                 or "product" not in slots):
                slots[entity.type] = entity.value
            if entity.type in CLAIM_KINDS:  # typed, so unproven: a claim on this conversation, never a link
                self.store.add_claim(self.conversation["id"], entity.type, entity.value.lower())
        if slots == self.conversation["slots"]:
            return False
        self.update(slots=slots)
        return True

    def from_payload(self, name: str) -> Analysis:
        """A whitelisted command or intent button, as a certain analysis."""
        payload = f"/{name}"
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

    def rating_open(self) -> bool:
        """Whether this conversation has a ticket that has not been rated yet."""
        ticket = self.store.ticket_for_conversation(self.conversation["id"])
        return ticket is not None and ticket["csat"] is None

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
