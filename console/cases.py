"""A working day's pages: find anything, all conversations and tickets, customer profiles, notes, labels, assignment.

Lists are paginated (`page`, 25 a page); filters come from the query string and can be saved as views per user.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from webcare.console.i18n import LOCALES
from webcare.console.pages import N_, CheckedForm, flash, render, role, say
from webcare.core.errors import StoreError
from webcare.store.search import STATUSES, Filters
from webcare.store.store import PRIORITIES

router = APIRouter()
Agent = role("agent")
Admin = role("admin")
PAGE = 25
MAX_QUERY = 200
FILTER_KEYS = ("q", "status", "channel", "language", "assignee", "label", "priority", "since", "until")
STATUS_TITLES = {"open": N_("Open"), "waiting": N_("Waiting"), "mine": N_("Mine"), "closed": N_("Closed"),
                 "all": N_("All")}
TICKET_STATUSES = ("open", "mine", "assigned", "resolved", "closed")


def _day(value: str, end: bool = False) -> float | None:
    """A yyyy-mm-dd date from a filter as epoch seconds (its start; the next day's start for `end`)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    stamp = datetime.combine(day, time()).timestamp()
    return stamp + 86400 if end else stamp


def _filters(request: Request, user: dict[str, Any]) -> tuple[dict[str, str], Filters]:
    """The query string's filters (unknown values are ignored, not an error) and the store's Filters."""
    raw = {k: request.query_params.get(k, "").strip()[:MAX_QUERY] for k in FILTER_KEYS}
    if raw["status"] not in STATUSES:
        raw["status"] = "open"
    if raw["priority"] not in PRIORITIES:
        raw["priority"] = ""
    store = request.app.state.store
    me = store.user(user["username"]) or {}
    filters = Filters(
        status=raw["status"], channel=raw["channel"] or None, language=raw["language"] or None,
        assignee=raw["assignee"] or None, label=raw["label"] or None, priority=raw["priority"] or None,
        since=_day(raw["since"]), until=_day(raw["until"], end=True), user=user["username"],
        teams=[me["team"]] if me.get("team") else [],
    )
    return raw, filters


def _page(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) < 6 and int(value) > 0 else 1


def _choices(request: Request) -> dict[str, Any]:
    """What the filter selectors offer."""
    store = request.app.state.store
    return {
        "channels": store.channels(),
        "languages": LOCALES,
        "priorities": PRIORITIES,
        "statuses": STATUS_TITLES,
        "tags": store.tags(),
        "people": [u for u in store.users() if not u["disabled"] and u["role"] in ("agent", "admin")],
        "teams": store.teams(),
    }


@router.get("/conversations")
def conversations_page(request: Request, user: Agent) -> Response:
    raw, filters = _filters(request, user)
    store = request.app.state.store
    page = _page(request)
    rows = store.list_conversations(filters, limit=PAGE + 1, offset=(page - 1) * PAGE, query=raw["q"])
    hits = store.search_messages(raw["q"], filters, limit=10) if raw["q"] else []
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    kept = {k: v for k, v in raw.items() if v}
    return render(
        request, "conversations.html", user, active="conversations", rows=rows, hits=hits, filters=raw,
        tags_of=store.conversation_tags([r["id"] for r in rows]), page=page, more=more,
        page_link=lambda n: "/conversations?" + urlencode({**kept, "page": n}),
        status_link=lambda s: "/conversations?" + urlencode({**kept, "status": s}),
        customers=store.search_customers(raw["q"], limit=5) if raw["q"] else [],
        tickets=store.search_tickets(raw["q"], limit=5) if raw["q"] else [],
        mentions=store.search_mentions(raw["q"], limit=5) if raw["q"] and user["role"] == "admin" else [],
        views=store.saved_views(user["username"]), **_choices(request),
    )


@router.post("/views")
def save_view(request: Request, user: Agent, form: CheckedForm) -> Response:
    name = " ".join(str(form.get("name", "")).split())[:60]
    query = {k: str(form.get(k, "")).strip()[:MAX_QUERY] for k in FILTER_KEYS if str(form.get(k, "")).strip()}
    if not name:
        flash(request, say(request, "Give the view a name."), "error")
        return RedirectResponse("/conversations?" + urlencode(query), status_code=303)
    request.app.state.store.save_view(user["username"], name, query)
    flash(request, say(request, "View “%(name)s” saved.", name=name))
    return RedirectResponse("/conversations?" + urlencode(query), status_code=303)


@router.post("/views/{view_id}/delete")
def delete_view(request: Request, view_id: int, user: Agent, form: CheckedForm) -> Response:
    request.app.state.store.delete_view(user["username"], view_id)
    return RedirectResponse("/conversations", status_code=303)


@router.get("/tickets")
def tickets_page(request: Request, user: Agent, status: str = "open", priority: str = "") -> Response:
    status = status if status in (*TICKET_STATUSES, "all") else "open"
    priority = priority if priority in PRIORITIES else ""
    page = _page(request)
    rows = request.app.state.store.list_tickets(None if status == "all" else status, priority or None,
                                                limit=PAGE + 1, offset=(page - 1) * PAGE, user=user["username"])
    return render(request, "tickets.html", user, active="tickets", rows=rows[:PAGE], more=len(rows) > PAGE,
                  page=page, status=status, priority=priority, statuses=("open", "mine", "resolved", "closed", "all"),
                  priorities=PRIORITIES,
                  page_link=lambda n: "/tickets?" + urlencode({"status": status, "priority": priority, "page": n}))


@router.get("/customers")
def customers_page(request: Request, user: Agent, q: str = "") -> Response:
    store = request.app.state.store
    page = _page(request)
    q = q.strip()[:MAX_QUERY]
    rows = store.search_customers(q, limit=PAGE) if q else store.list_customers(PAGE + 1, (page - 1) * PAGE)
    return render(request, "customers.html", user, active="customers", rows=rows[:PAGE], q=q, page=page,
                  more=not q and len(rows) > PAGE, page_link=lambda n: f"/customers?page={n}")


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, user: Agent) -> Response:
    store = request.app.state.store
    customer = store.customer(customer_id)
    conversations = store.conversations(customer_id=customer_id, limit=200)
    tickets = store.tickets(customer_id=customer_id, limit=200)
    csat = [t["csat"] for t in tickets if t["csat"] is not None]
    return render(
        request, "customer.html", user, active="customers", customer=customer,
        identities=store.identities(customer_id), claims=store.claims(customer_id=customer_id),
        conversations=conversations, tags_of=store.conversation_tags([c["id"] for c in conversations]),
        tickets=tickets, mentions=store.customer_mentions(customer_id), notes=store.notes(customer_id=customer_id),
        csat=csat, csat_average=round(sum(csat) / len(csat), 1) if csat else None, languages=LOCALES,
    )


@router.post("/customers/{customer_id}")
def edit_customer(request: Request, customer_id: int, user: Agent, form: CheckedForm) -> Response:
    name = " ".join(str(form.get("display_name", "")).split())
    language = str(form.get("language", ""))
    if len(name) > 200 or language not in ("", *LOCALES):
        flash(request, say(request, "A name has at most 200 characters; the language is nl or en."), "error")
    else:
        request.app.state.store.update_customer(customer_id, name or None, language or None)
        flash(request, say(request, "Customer saved."))
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


# -- on a conversation ---------------------------------------------------------------------


def _back(conversation_id: int) -> Response:
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/notes")
def add_note(request: Request, conversation_id: int, user: Agent, form: CheckedForm) -> Response:
    request.app.state.store.add_note(conversation_id, user["username"], str(form.get("text", "")))
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/labels")
def label_conversation(request: Request, conversation_id: int, user: Agent, form: CheckedForm) -> Response:
    request.app.state.store.tag_conversation(conversation_id, str(form.get("label", "")),
                                             on=form.get("remove") != "1", actor=user["username"])
    return _back(conversation_id)


@router.post("/mentions/{mention_id}/labels")
def label_mention(request: Request, mention_id: int, user: role("social"), form: CheckedForm) -> Response:
    request.app.state.store.tag_mention(mention_id, str(form.get("label", "")), on=form.get("remove") != "1")
    return RedirectResponse("/mentions", status_code=303)


@router.post("/conversations/{conversation_id}/assign")
def assign(request: Request, conversation_id: int, user: Agent, form: CheckedForm) -> Response:
    """Assign to a colleague or a team: they get a console notification; a staff Telegram group, where one
    runs, is told from the `assigned` event ("#12 assigned to bea by alice")."""
    assignee = str(form.get("assignee", "")).strip()
    told = request.app.state.store.assign(conversation_id, assignee, actor=user["username"])
    flash(request, say(request, "Assigned to %(who)s; told: %(told)s.", who=assignee, told=", ".join(told) or "—"))
    return _back(conversation_id)


@router.post("/notifications/read")
def read_notifications(request: Request, user: Agent, form: CheckedForm) -> Response:
    request.app.state.store.read_notifications(user["username"])
    back = str(form.get("back", "/inbox"))
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/inbox", status_code=303)


@router.post("/language")
def choose_language(request: Request, user: role("agent", "social"), form: CheckedForm) -> Response:
    """The signed-in user's console language (nl or en); it stays with the user."""
    language = str(form.get("language", ""))
    if language not in LOCALES:
        raise StoreError("choose nl or en")
    request.app.state.store.update_user(user["username"], keep_sessions=True, language=language)
    back = str(form.get("back", "/"))
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", status_code=303)


# -- labels (admin) ------------------------------------------------------------------------


@router.get("/labels")
def labels_page(request: Request, user: Admin) -> Response:
    store = request.app.state.store
    return render(request, "labels.html", user, active="labels", tags=store.tag_counts())


@router.post("/labels")
def add_label(request: Request, user: Admin, form: CheckedForm) -> Response:
    request.app.state.store.add_tag(str(form.get("name", "")), str(form.get("colour", "")))
    return RedirectResponse("/labels", status_code=303)


@router.post("/labels/{tag_id}/delete")
def delete_label(request: Request, tag_id: int, user: Admin, form: CheckedForm) -> Response:
    request.app.state.store.delete_tag(tag_id)
    return RedirectResponse("/labels", status_code=303)


@router.get("/labels.css")
def labels_css(request: Request, user: role("agent", "social")) -> Response:
    """Each label's colour as a class (the CSP allows no inline styles), with readable text on it."""
    rules = []
    for tag in request.app.state.store.tags():
        red, green, blue = (int(tag["colour"][i:i + 2], 16) for i in (1, 3, 5))
        ink = "#1d2330" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#fff"
        rules.append(f".tag-{int(tag['id'])} {{ background: {tag['colour']}; color: {ink}; }}")
    return Response("\n".join(rules), media_type="text/css", headers={"Cache-Control": "no-store"})
