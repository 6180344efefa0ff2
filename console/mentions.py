"""The social team's mention review: confirm, dismiss, correct, reply, convert to a ticket.

Every judgement is also a label for retraining NLU: `mention_flag` (relevant / not_relevant),
`sentiment` (negative / neutral / positive) and `complaint` (complaint / not_complaint).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from console.pages import N_, CheckedForm, flash, fragment, render, role, say
from store import Store

router = APIRouter()
Social = role("social")
SENTIMENTS = ("negative", "neutral", "positive")
MAX_REPLY = 1000
QUEUE_LIMIT = 50  # the most urgent first; the rest follow as these are reviewed
REVIEWED = {"confirm": N_("Mention #%(id)s: confirmed."), "dismiss": N_("Mention #%(id)s: dismissed."),
            "correct": N_("Mention #%(id)s: corrected.")}


def _queue(store: Store, status: str) -> list[dict[str, Any]]:
    if status == "new":
        return store.mentions(flagged=True, review_status="new", limit=QUEUE_LIMIT)
    return [m for m in store.mentions(flagged=None, limit=4 * QUEUE_LIMIT) if m["review_status"] != "new"]


@router.get("/mentions")
def mentions_page(request: Request, user: Social, status: str = "new", label: str = "") -> Response:
    status = status if status in ("new", "reviewed") else "new"
    return render(request, "mentions.html", user, status=status, sentiments=SENTIMENTS, label=label,
                  **_with_labels(request.app.state.store, _queue(request.app.state.store, status), label))


@router.get("/mentions/rows")
def mentions_rows(request: Request, user: Social, status: str = "new", label: str = "") -> Response:
    status = status if status in ("new", "reviewed") else "new"
    return fragment(request, "mention_rows.html", status=status, sentiments=SENTIMENTS,
                    **_with_labels(request.app.state.store, _queue(request.app.state.store, status), label))


def _with_labels(store: Store, mentions: list[dict[str, Any]], label: str = "") -> dict[str, Any]:
    """Mentions with their labels (only those with `label` when one is given), and the labels one may add."""
    tags = store.mention_tags([m["id"] for m in mentions])
    if label:
        mentions = [m for m in mentions if any(t["name"] == label for t in tags[m["id"]])]
    return {"mentions": mentions, "mention_tags": tags, "all_tags": store.tags()}


def _label(store: Store, mention: dict[str, Any], task: str, label: str, user: dict[str, Any]) -> None:
    store.add_label(task, mention["text"], label, language=mention["language"], source="mention",
                    source_id=mention["id"], author=user["username"])


@router.post("/mentions/{mention_id}/review")
def review(request: Request, user: Social, mention_id: int,
           form: CheckedForm) -> Response:
    """confirm / dismiss (relevant or not), and corrections of sentiment and complaint."""
    store: Store = request.app.state.store
    mention = store.mention(mention_id)
    action = form.get("action")
    with store.transaction():
        if action in ("confirm", "dismiss"):
            relevant = action == "confirm"
            store.update_mention(mention_id, review_status="confirmed" if relevant else "dismissed")
            _label(store, mention, "mention_flag", "relevant" if relevant else "not_relevant", user)
        elif action == "correct":
            sentiment = form.get("sentiment")
            complaint = form.get("complaint")
            if sentiment in SENTIMENTS and sentiment != mention["sentiment"]:
                store.update_mention(mention_id, sentiment=sentiment)
                _label(store, mention, "sentiment", str(sentiment), user)
            if complaint in ("yes", "no") and (complaint == "yes") != bool(mention["complaint"]):
                store.update_mention(mention_id, complaint=int(complaint == "yes"))
                _label(store, mention, "complaint", "complaint" if complaint == "yes" else "not_complaint", user)
        else:
            flash(request, say(request, "Unknown review action."), "error")
            return _back(form)
        store.log_event("mention_reviewed", mention_id=mention_id, actor=user["username"],
                        data={"action": action})
    flash(request, say(request, REVIEWED[action], id=mention_id))
    return _back(form)


@router.post("/mentions/{mention_id}/reply")
def reply(request: Request, user: Social, mention_id: int,
          form: CheckedForm) -> Response:
    """Queue a public reply on the mention's network (the outbox delivers it where a channel exists)."""
    store: Store = request.app.state.store
    mention = store.mention(mention_id)
    text = str(form.get("text", "")).strip()
    if not text or len(text) > MAX_REPLY:
        flash(request, say(request, "A reply needs 1–%(n)s characters.", n=MAX_REPLY), "error")
        return _back(form)
    with store.transaction():
        customer = store.identify(mention["source"], mention["author_id"] or mention["author"] or mention["external_id"],
                                  mention["author_name"] or mention["author"])
        conversation = store.open_conversation(customer["id"], mention["source"], mention["external_id"])
        store.queue_outgoing(conversation["id"], text, author=f"agent:{user['username']}")
        store.update_mention(mention_id, review_status="replied", customer_id=mention["customer_id"] or customer["id"])
        store.log_event("mention_replied", mention_id=mention_id, actor=user["username"],
                        conversation_id=conversation["id"], customer_id=customer["id"])
    flash(request, say(request, "Reply to mention #%(id)s queued on %(network)s.", id=mention_id,
                       network=mention["source"]))
    return _back(form)


@router.post("/mentions/{mention_id}/ticket")
def to_ticket(request: Request, user: Social, mention_id: int,
              form: CheckedForm) -> Response:
    store: Store = request.app.state.store
    mention = store.mention(mention_id)
    ticket = store.ticket_for_mention(mention_id)
    if ticket is None:
        priority = "high" if mention["complaint"] and mention["sentiment"] == "negative" else "normal"
        ticket, _ = store.open_ticket("mention", f"mention:{mention['source']}:{mention['external_id']}",
                                      mention_id=mention_id, customer_id=mention["customer_id"], reason="mention",
                                      priority=priority, summary=mention["text"][:300])
    store.update_ticket(ticket["id"], assignee=user["username"], status="assigned")
    store.update_mention(mention_id, review_status="ticket")
    flash(request, say(request, "Mention #%(id)s is ticket #%(ticket)s.", id=mention_id, ticket=ticket["id"]))
    return _back(form)


def _back(form: FormData) -> Response:
    return RedirectResponse("/mentions?status=reviewed" if form.get("status") == "reviewed" else "/mentions",
                            status_code=303)
