"""The agent inbox and the conversation page: take, reply, canned replies, hand back, close, merge, split.

Taking, handing back and closing go through the dialogue engine when this process has one, so the
customer is told (who took over, that the bot is back, that the conversation is closed).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from webcare.bot.handoff import sla_clock
from webcare.console.pages import (
    CheckedForm,
    Forbidden,
    current_user,
    flash,
    fragment,
    locale_of,
    render,
    role,
    say,
)
from webcare.console.readable import intent_title, mood, sla_text
from webcare.core.errors import StoreError

router = APIRouter()
Agent = role("agent")
MAX_REPLY = 4000


def _sla(request: Request, due: float | None, locale: str) -> dict[str, Any] | None:
    """An SLA deadline for the page: business time left, and 'paused · starts Tue 09:00' out of hours."""
    if due is None:
        return None
    clock = sla_clock(request.app.state.settings.escalation, due, request.app.state.store.clock())
    return {"due": due, "left": round(clock.left), "running": clock.running, "text": sla_text(clock, locale)}


def _inbox_rows(request: Request, user: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    if request.app.state.engine is not None:  # cheap here (once a minute): keeps conversation states true
        request.app.state.engine.close_idle()
    rows = request.app.state.store.inbox()
    locale = locale_of(request, user)
    for row in rows:
        row["sla"] = _sla(request, row["sla_due_at"], locale)
    return {
        "waiting": [r for r in rows if r["state"] == "waiting"],
        "mine": [r for r in rows if r["state"] == "human" and r["owner"] == user["username"]],
        "others": [r for r in rows if r["state"] == "human" and r["owner"] != user["username"]],
    }


@router.get("/inbox")
def inbox_page(request: Request, user: Agent) -> Response:
    return render(request, "inbox.html", user, groups=_inbox_rows(request, user))


@router.get("/inbox/rows")
def inbox_rows(request: Request, user: Agent) -> Response:
    return fragment(request, "inbox_rows.html", groups=_inbox_rows(request, user), user=user)


@router.get("/api/inbox")
def inbox_json(request: Request, user: Agent) -> dict[str, Any]:
    return _inbox_rows(request, user)


def _entries(request: Request, conversation_id: int) -> list[dict[str, Any]]:
    """The transcript: messages with readable analyses, and staff notes in time order."""
    store = request.app.state.store
    locale = locale_of(request, current_user(request))
    entries = store.messages(conversation_id)
    for message in entries:
        analysis = message["analysis"] or {}
        message["mood"] = mood(analysis) if message["direction"] == "in" else None
        message["intent_title"] = intent_title(request.app.state.engine, analysis.get("intent"), locale)
    notes = [{**n, "note": True} for n in store.notes(conversation_id)]
    return sorted(entries + notes, key=lambda e: (e["created_at"], e.get("note", False), e["id"]))


def _conversation_context(request: Request, conversation_id: int) -> dict[str, Any]:
    store = request.app.state.store
    conversation = store.conversation(conversation_id)
    ticket = store.ticket_for_conversation(conversation_id)
    customer = store.customer(conversation["customer_id"])
    earlier = [c for c in store.conversations(customer_id=customer["id"], limit=20) if c["id"] != conversation_id]
    language = conversation["language"] or request.app.state.settings.nlu.default_language
    canned = request.app.state.settings.console.canned_replies
    entries = _entries(request, conversation_id)
    locale = locale_of(request, current_user(request))
    story = (ticket or {}).get("story") or {}  # built at escalation, kept fresh by the store
    return {
        "conversation": conversation,
        "ticket": ticket,
        "sla": _sla(request, ticket["sla_due_at"], locale) if ticket else None,
        "story": story,
        "customer": customer,
        "identities": store.identities(customer["id"]),
        "claims": store.claims(conversation_id),
        "claim_matches": store.claim_matches(conversation_id),  # link suggestions, for staff only
        "earlier": earlier,
        "entries": entries,
        "moods": [e["mood"] for e in entries if e.get("mood")],  # the same mood as each message's chip
        "intent_titles": [intent_title(request.app.state.engine, i, locale) for i in story.get("intents", [])],
        "canned": canned.get(language) or next(iter(canned.values()), {}),
        "language": language,
        "tags": store.conversation_tags([conversation_id])[conversation_id],
        "all_tags": store.tags(),
        "people": [u for u in store.users() if not u["disabled"] and u["role"] in ("agent", "admin")],
        "teams": store.teams(),
    }


@router.get("/conversations/{conversation_id}")
def conversation_page(request: Request, conversation_id: int, user: Agent) -> Response:
    return render(request, "conversation.html", user, **_conversation_context(request, conversation_id))


@router.get("/conversations/{conversation_id}/transcript")
def transcript(request: Request, conversation_id: int, user: Agent) -> Response:
    store = request.app.state.store
    return fragment(request, "transcript.html", entries=_entries(request, conversation_id),
                    conversation=store.conversation(conversation_id))


def _back(conversation_id: int) -> Response:
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


def _take(request: Request, conversation_id: int, user: dict, force: bool = False) -> None:
    """Make `user` the owner; the customer is told who took over ('Anna van Huisraad …')."""
    engine = request.app.state.engine
    if engine is None:
        request.app.state.store.take(conversation_id, user["username"], force=force)
        return
    engine.take(conversation_id, user["username"], user["display_name"] or user["username"], force=force)
    request.app.state.webchat.wake(request.app.state.store.conversation(conversation_id)["chat_id"])


@router.post("/conversations/{conversation_id}/take")
def take(request: Request, conversation_id: int, user: Agent,
         form: CheckedForm) -> Response:
    _take(request, conversation_id, user, force=form.get("force") == "1")
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/reply")
def reply(request: Request, conversation_id: int, user: Agent,
          form: CheckedForm) -> Response:
    text = str(form.get("text", "")).strip()
    if not text:
        flash(request, say(request, "Write a reply first."), "error")
    elif len(text) > MAX_REPLY:
        flash(request, say(request, "A reply may have at most %(n)s characters.", n=MAX_REPLY), "error")
    else:
        store, engine = request.app.state.store, request.app.state.engine
        conversation = store.conversation(conversation_id)
        if conversation["state"] == "closed":
            raise StoreError(f"conversation {conversation_id} is closed")
        if conversation["state"] == "human" and conversation["owner"] != user["username"]:
            raise StoreError(f"conversation {conversation_id} is owned by {conversation['owner']}; take it over first")
        if engine is None:
            store.agent_reply(conversation_id, user["username"], text)
        else:  # the customer hears who took over, then the reply: one transaction
            engine.staff_reply(conversation_id, user["username"], text, user["display_name"] or user["username"])
        request.app.state.webchat.wake(conversation["chat_id"])
    return _back(conversation_id)


def _finish(request: Request, conversation_id: int, user: dict, close: bool) -> bool:
    """Hand the conversation back to the bot, or close it; True when the customer was asked for CSAT.

    Only its owner or an admin may; a conversation that is back with the bot already is not handed
    back again (the customer is told once).
    """
    store = request.app.state.store
    engine = request.app.state.engine
    with store.transaction():  # two clicks at once: the second waits, then sees it handed back
        conversation = store.lock_conversation(conversation_id)
        if conversation["state"] == "closed":
            raise StoreError(f"conversation {conversation_id} is closed already")
        mine = conversation["state"] == "human" and conversation["owner"] == user["username"]
        if not mine and user["role"] != "admin" and not (conversation["state"] == "bot" and not close):
            holder = f"owned by {conversation['owner']}" if conversation["owner"] else "not taken"
            raise Forbidden(f"conversation {conversation_id} is {holder}: only its owner or an admin may finish it")
        if conversation["state"] == "bot" and not close:
            return False  # handed back already: the customer is not told twice
        if engine is None:
            (store.close_conversation if close else store.hand_back)(conversation_id, user["username"])
            return False
        replies = (engine.close if close else engine.hand_back)(conversation_id, user["username"])
    request.app.state.webchat.wake(conversation["chat_id"])
    return any(reply.template == "csat_ask" for reply in replies)


@router.post("/conversations/{conversation_id}/handback")
def hand_back(request: Request, conversation_id: int, user: Agent,
              form: CheckedForm) -> Response:
    asked = _finish(request, conversation_id, user, close=False)
    flash(request, say(request, "Handed back to the bot; the customer was asked how it went.") if asked
          else say(request, "Handed back to the bot."))
    return RedirectResponse("/inbox", status_code=303)


@router.post("/conversations/{conversation_id}/close")
def close(request: Request, conversation_id: int, user: Agent,
          form: CheckedForm) -> Response:
    asked = _finish(request, conversation_id, user, close=True)
    flash(request, say(request, "Closed; the customer was thanked and asked how it went. "
                                "Their next message starts a new conversation.") if asked
          else say(request, "Closed; the customer was thanked. Their next message starts a new conversation."))
    return RedirectResponse("/inbox", status_code=303)


@router.post("/customers/{customer_id}/merge")
def merge(request: Request, customer_id: int, user: Agent,
          form: CheckedForm) -> Response:
    other = str(form.get("other", "")).strip().lstrip("#")
    if not (other.isascii() and other.isdigit() and len(other) <= 18):  # "²" is a digit to str.isdigit
        flash(request, say(request, "Give the number of the customer to merge into this one."), "error")
    elif int(other) == customer_id:
        flash(request, say(request, "That is this customer."), "error")
    else:
        request.app.state.store.merge_customers(customer_id, int(other), actor=user["username"])
        flash(request, say(request, "Customer #%(other)s merged into #%(id)s.", other=other, id=customer_id))
    return _return(form)


@router.post("/identities/{identity_id}/split")
def split(request: Request, identity_id: int, user: Agent,
          form: CheckedForm) -> Response:
    new_id = request.app.state.store.split_identity(identity_id, actor=user["username"])
    flash(request, say(request, "Identity moved to a new customer #%(id)s.", id=new_id))
    return _return(form)


def _return(form: FormData) -> Response:
    """Back to the conversation page the form was on (never to another site)."""
    back = str(form.get("back", ""))
    return RedirectResponse(back if back.startswith("/conversations/") else "/inbox", status_code=303)
