"""What every console page shares: templates, the signed-in user, role checks, CSRF-checked forms."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.datastructures import FormData

from webcare.bot.channels.webchat import reference
from webcare.console import i18n
from webcare.console.auth import new_token, same_token, token_hash

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.newstyle_gettext = True  # type: ignore[attr-defined]  # {% trans %} formats with named values


def N_(message: str) -> str:
    return message


NAV = (("inbox", N_("Inbox"), ("agent", "admin")), ("conversations", N_("Conversations"), ("agent", "admin")),
       ("tickets", N_("Tickets"), ("agent", "admin")), ("customers", N_("Customers"), ("agent", "admin")),
       ("mentions", N_("Mentions"), ("social", "admin")),
       ("storms", N_("Storms"), ("social", "admin")), ("ambassadors", N_("Ambassadors"), ("social", "admin")),
       ("dashboard", N_("Dashboard"), ("agent", "social", "admin")), ("labels", N_("Labels"), ("admin",)))


class LoginRequired(Exception):
    """No signed-in staff user: the browser is sent to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class Forbidden(Exception):
    """A signed-in user without the role a page needs, or a form without a valid CSRF token."""


@pass_context
def when(context: Any, ts: float | None) -> str:
    """A timestamp as the page's locale writes a short date and time."""
    return i18n.when(ts, context.get("locale", i18n.DEFAULT))


@pass_context
def number(context: Any, value: float | None) -> str:
    return i18n.number(value, context.get("locale", i18n.DEFAULT))


templates.env.filters["when"] = when
templates.env.filters["number"] = number
templates.env.globals["quote"] = quote


def identity_label(channel: str, external_id: str) -> str:
    """How staff see an identity: a web chat by its short reference, never its stored id."""
    return reference(external_id) if channel == "webchat" else external_id


templates.env.globals["identity_label"] = identity_label


def channel_note(request: Request, conversation: dict[str, Any]) -> str | None:
    """The conversation's channel state for staff (the WhatsApp window, the e-mail thread), if it has one."""
    from webcare.bot.channels import CHANNELS

    spec = CHANNELS.get(conversation["channel"])
    if spec is None or spec.within is not None:
        return None
    section = getattr(request.app.state.settings.channels, conversation["channel"])
    return spec.load().note(section, request.app.state.store, conversation)


templates.env.globals["channel_note"] = channel_note


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_token()
    return token


def current_user(request: Request) -> dict[str, Any] | None:
    """The signed-in staff user of a live session in the store.

    Signing out, a new password, disabling or removing the user end the session in the store,
    so a saved cookie of it signs no one in any more.
    """
    token = request.session.get("sid")
    if not isinstance(token, str):
        return None
    max_age = request.app.state.settings.console.session_hours * 3600
    user = request.app.state.store.session_user(token_hash(token), max_age)
    if user is None or user["disabled"]:
        request.session.pop("sid", None)
        return None
    return user


def require(*roles: str):
    """A dependency: the signed-in user, who must have one of `roles` (admin may do everything)."""

    def dependency(request: Request) -> dict[str, Any]:
        user = current_user(request)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        if user["role"] != "admin" and user["role"] not in roles:
            raise Forbidden(f"this page is for {' or '.join(roles)} staff")
        return user

    return dependency


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the session's (or the X-CSRF-Token header)."""
    form = await request.form()
    given = form.get("csrf") or request.headers.get("x-csrf-token")
    if not same_token(request.session.get("csrf"), given if isinstance(given, str) else None):
        raise Forbidden("the form has expired or did not come from this console; reload the page and try again")
    return form


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append([kind, message])


def locale_of(request: Request, user: dict[str, Any] | None) -> str:
    """The console language for this request: the user's choice, the browser's, or the configured default."""
    default = request.app.state.settings.console.language
    return i18n.choose((user or {}).get("language"), request.headers.get("accept-language"), default)


def say(request: Request, message: str, **variables: Any) -> str:
    """A message in the request's language (for flashes and errors written in Python)."""
    return i18n.text(locale_of(request, current_user(request)), message, **variables)


def render(request: Request, name: str, user: dict[str, Any] | None, **context: Any):
    """A page with the shared context: user, navigation, CSRF token, flashes and storm banner."""
    app = request.app
    config = app.state.settings.console
    storms = []
    if user is not None:
        since = app.state.store.clock() - config.storm_banner_hours * 3600
        storms = app.state.store.events("storm", since=since)[-3:]
    nav = [(key, title) for key, title, roles in NAV if user and (user["role"] == "admin" or user["role"] in roles)]
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "nav": nav,
            "csrf": csrf_token(request),
            "flashes": request.session.pop("flash", []),
            "storms": storms,
            "refresh_ms": int(config.refresh_seconds * 1000),
            "now": app.state.store.clock(),
            "notifications": app.state.store.notifications(user["username"]) if user else [],
            **i18n.template_context(locale_of(request, user)),
            **context,
        },
    )


def fragment(request: Request, name: str, **context: Any):
    """A part of a page for live updates (no layout)."""
    locale = locale_of(request, current_user(request))
    return templates.TemplateResponse(
        request, name, {"csrf": csrf_token(request), "now": request.app.state.store.clock(),
                        **i18n.template_context(locale), **context}
    )


CheckedForm = Annotated[FormData, Depends(checked_form)]


def role(*roles: str) -> Any:
    """A parameter type: the signed-in user with one of `roles` (see `require`)."""
    return Annotated[dict, Depends(require(*roles))]
