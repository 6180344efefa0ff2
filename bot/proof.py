"""Proof of a typed order number: the postcode the order goes to (the demo shop's rule).

A typed order number is a claim (see docs/architecture.md, "Trust"): it gets the order's status
and expected date, nothing personal. What is in the order and where it goes is shown only once
the customer proves the claim by giving the order's postcode; three wrong postcodes in one
conversation and the bot stops asking and offers a person instead.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webcare.bot.engine import _Turn

COMMAND = "/order_details"
PENDING = "__order_details__"  # the conversation's pending_intent while the bot waits for the postcode
MAX_FAILED_PROOFS = 3
MAX_ORDER_DIGITS = 20
_POSTCODE = re.compile(r"\b([1-9][0-9]{3})\s?([A-Za-z]{2})\b")


def postcode_in(text: str) -> str | None:
    """A Dutch postcode in the text, normalised ('1234AB'), or None."""
    match = _POSTCODE.search(text)
    return (match.group(1) + match.group(2)).upper() if match else None


def items_text(order: dict[str, Any]) -> str:
    return ", ".join(f"{item.get('qty', 1)}× {item['product']}" for item in order.get("items") or [])


def step(turn: _Turn, text: str) -> bool:
    """Handle `/order_details [number]` and the postcode that answers it; False: not for us."""
    conversation = turn.conversation
    if text.startswith(COMMAND):
        typed = text.removeprefix(COMMAND).strip()
        known = typed.isdigit() and len(typed) <= MAX_ORDER_DIGITS
        return _asked(turn, typed if known else conversation["slots"].get("order_number"))
    if conversation["pending_intent"] != PENDING:
        return False
    turn.update(pending_intent=None)
    postcode = postcode_in(text)
    number = conversation["slots"].get("order_number")
    order = turn.engine.responses.orders.get(number or "")
    if postcode is None or order is None:
        return False  # something else: answered as usual
    if postcode_in(str(order.get("postcode", ""))) != postcode:
        turn.store.log_event("claim_proof_failed", conversation_id=conversation["id"], data={"kind": "order_number"})
        turn.say("postcode_mismatch", order_number=number)
        return True
    turn.store.verify_claim(conversation["id"], "order_number", number, "postcode")
    _details(turn, number, order)
    return True


def _asked(turn: _Turn, number: str | None) -> bool:
    if not number:
        turn.update(pending_intent="order_status")
        turn.say("ask_order_number")
        return True
    order = turn.engine.responses.orders.get(number)
    if order is None:
        turn.say("order_not_found", order_number=number)
        return True
    conversation = turn.conversation
    claim = turn.store.add_claim(conversation["id"], "order_number", number)
    turn.update(slots={**conversation["slots"], "order_number": number})
    if claim["verified_at"] is not None:
        _details(turn, number, order)
    elif turn.store.count_events("claim_proof_failed", conversation["id"]) >= MAX_FAILED_PROOFS:
        turn.say("proof_exhausted")
    else:
        turn.update(pending_intent=PENDING)
        turn.say("ask_postcode", order_number=number)
    return True


def _details(turn: _Turn, number: str, order: dict[str, Any]) -> None:
    turn.say("order_details", order_number=number, items=items_text(order), postcode=order.get("postcode", ""))
