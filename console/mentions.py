"""The social team's mention review: confirm, dismiss, correct, reply, convert to a ticket.

Every judgement is also a label for retraining NLU: `mention_flag` (relevant / not_relevant),
`sentiment` (negative / neutral / positive) and `complaint` (complaint / not_complaint).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from webcare.console.pages import N_, CheckedForm, flash, fragment, render, role, say
from webcare.nlu.types import SENTIMENTS
from webcare.store import REVIEW_ACTIONS, Store

router = APIRouter()
Social = role("social")
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


@router.post("/mentions/{mention_id}/review")
def review(request: Request, user: Social, mention_id: int,
           form: CheckedForm) -> Response:
    """confirm / dismiss (relevant or not), and corrections of sentiment and complaint."""
    action = str(form.get("action", ""))
    if action not in REVIEW_ACTIONS:
        flash(request, say(request, "Unknown review action."), "error")
        return _back(form)
    sentiment, complaint = form.get("sentiment"), form.get("complaint")
    request.app.state.store.review_mention(
        mention_id, action, user["username"], sentiment=sentiment if sentiment in SENTIMENTS else None,
        complaint=(complaint == "yes") if complaint in ("yes", "no") else None,
    )
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
    store.reply_to_mention(mention_id, text, user["username"])
    flash(request, say(request, "Reply to mention #%(id)s queued on %(network)s.", id=mention_id,
                       network=mention["source"]))
    return _back(form)


@router.post("/mentions/{mention_id}/ticket")
def to_ticket(request: Request, user: Social, mention_id: int,
              form: CheckedForm) -> Response:
    ticket = request.app.state.store.mention_to_ticket(mention_id, user["username"])
    flash(request, say(request, "Mention #%(id)s is ticket #%(ticket)s.", id=mention_id, ticket=ticket["id"]))
    return _back(form)


def _back(form: FormData) -> Response:
    return RedirectResponse("/mentions?status=reviewed" if form.get("status") == "reviewed" else "/mentions",
                            status_code=303)
