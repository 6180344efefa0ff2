"""The web app: staff console (inbox, mention review, dashboard) and the customer web chat, in one FastAPI app."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from webcare.bot.channels import build_channels
from webcare.bot.channels.base import ChannelContext
from webcare.bot.channels.webchat import WebChat
from webcare.console import cases, inbox, mentions, reports
from webcare.console.auth import MAX_USERNAME, KnownSignIns, LoginLimiter, authenticate, new_token, token_hash
from webcare.console.limits import AddressLimits, NumberGuard, client_address
from webcare.console.metrics import make_registry
from webcare.console.pages import HERE, CheckedForm, Forbidden, LoginRequired, current_user, flash, render
from webcare.core.errors import NotFound, StoreError, TooManyRequests
from webcare.store import Store

log = logging.getLogger(__name__)
SESSION_COOKIE = "webcare_session"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HOME = {"agent": "/inbox", "social": "/mentions", "admin": "/inbox"}


def create_app(store: Store, settings: Any, engine: Any = None) -> FastAPI:  # noqa: C901 - one closure per route; each is small
    """The console and web chat over one store; `engine` (a DialogueEngine) answers the web chat."""
    config = settings.console
    secret = config.secret_key.get_secret_value() if config.secret_key else None
    if not secret:
        log.warning("console.secret_key is not set: sessions end when webcare restarts")
        secret = new_token()
    app = FastAPI(title="webcare console", docs_url=None, redoc_url=None, openapi_url=None,
                  max_body_size=config.max_body_bytes)  # counted while the body is read: 413 at the limit
    app.state.store = store
    app.state.settings = settings
    app.state.engine = engine
    app.state.limits = AddressLimits({"session": config.chat_session_limit, "message": config.chat_message_limit,
                                      "escalation": config.chat_escalation_limit})
    context = ChannelContext(store, engine, settings, {"secret": secret, "limits": app.state.limits})
    app.state.channels = build_channels(context, "console")  # the web chat, webhooks; their outbox is ours
    # Staff pages wake the customer's waiting chat page; a switched-off web chat has no pages to wake.
    app.state.webchat = app.state.channels.get("webchat") or WebChat(store)
    backoff = (config.login_window_seconds, config.login_max_delay_seconds)
    app.state.limiters = {  # per user at one address; looser per user and per address (colleagues behind a NAT)
        "pair": LoginLimiter(config.login_attempts, *backoff),
        "user": LoginLimiter(config.login_attempts * 4, *backoff),
        "addr": LoginLimiter(config.login_attempts * 4, *backoff),
    }
    app.state.known_sign_ins = KnownSignIns()
    registry, latency = make_registry(store)
    app.state.registry = registry
    scrape = _cached(lambda: generate_latest(registry), config.metrics_cache_seconds)
    metrics_token = config.metrics_token.get_secret_value() if config.metrics_token else None

    @app.middleware("http")
    async def headers_and_timing(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        latency.labels(getattr(route, "path", "unmatched"), request.method).observe(time.perf_counter() - start)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
                       max_age=int(config.session_hours * 3600), same_site="strict",
                       https_only=config.secure_cookies)
    app.add_middleware(NumberGuard)
    if config.forwarded_allow_ips:  # the client address is what a trusted proxy forwarded, nobody else's claim
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=config.forwarded_allow_ips)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for channel in app.state.channels.values():
        if (routes := channel.router()) is not None:
            app.include_router(routes)
    app.include_router(cases.router)
    app.include_router(inbox.router)
    app.include_router(mentions.router)
    app.include_router(reports.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.method != "GET" or request.headers.get("x-requested-with") == "fetch":
            return PlainTextResponse("sign in first", status_code=401)
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        response = render(request, "error.html", current_user(request), message=str(exc))
        response.status_code = 403
        return response

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        response = render(request, "error.html", current_user(request), message=str(exc))
        response.status_code = 404
        return response

    @app.exception_handler(TooManyRequests)
    async def _too_many(request: Request, exc: TooManyRequests) -> Response:
        wait = str(int(exc.retry_after) + 1)
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": wait})

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> Response:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        if request.url.path.startswith("/chat/api/"):  # the customer's page retries; nothing was stored
            return JSONResponse({"detail": "busy, please try again"}, status_code=503, headers={"Retry-After": "1"})
        flash(request, str(exc), "error")
        referer = urlsplit(request.headers.get("referer", ""))
        back = referer.path + (f"?{referer.query}" if referer.query else "")
        return RedirectResponse(_safe_next(back), status_code=303)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        user = current_user(request)
        return RedirectResponse(HOME[user["role"]] if user else "/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", None, next=_safe_next(next))

    @app.post("/login")
    def login(request: Request, form: CheckedForm) -> Response:
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        client = client_address(request)
        limiters: dict[str, LoginLimiter] = request.app.state.limiters
        keys = {"pair": f"{username.lower()}\n{client}", "user": username.lower(), "addr": client}
        if (username.lower(), client) in request.app.state.known_sign_ins:
            del keys["user"]  # failures elsewhere do not hold up a user where they signed in before
        wait = max(limiters[kind].retry_after(key) for kind, key in keys.items())
        if wait > 0:
            response = render(request, "login.html", None, next=_safe_next(str(form.get("next", "/"))),
                              error=f"Too many failed sign-ins. Try again in {int(wait) + 1} seconds.")
            response.status_code = 429
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = authenticate(store, username, password) if len(username) <= MAX_USERNAME else None
        if user is None:
            for kind, key in keys.items():
                limiters[kind].failed(key)
            store.log_event("login_failed", actor=username[:100], data={"address": client})
            response = render(request, "login.html", None, next=_safe_next(str(form.get("next", "/"))),
                              error="Wrong username or password.")
            response.status_code = 401
            return response
        limiters["pair"].succeeded(keys["pair"])
        request.app.state.known_sign_ins.add(username.lower(), client)
        request.session.clear()  # a fresh session (and CSRF token) after sign-in: no fixation
        session = new_token()
        store.start_session(user["username"], token_hash(session), config.session_hours * 3600)
        request.session.update(sid=session, csrf=new_token())
        store.log_event("login", actor=user["username"])
        target = _safe_next(str(form.get("next", "/")))
        return RedirectResponse(HOME[user["role"]] if target == "/" else target, status_code=303)

    @app.post("/logout")
    def logout(request: Request, form: CheckedForm) -> Response:
        session = request.session.get("sid")
        if isinstance(session, str):
            store.end_session(token_hash(session))  # a copy of the cookie is worthless from now on
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            version = store.schema_version()
        except Exception as e:  # noqa: BLE001 - any failure means unhealthy
            log.warning("health check: store unavailable: %s", e)  # the reason goes to the log, not the public
            return PlainTextResponse("store unavailable", status_code=503)
        return Response(f'{{"status": "ok", "schema": {version}}}', media_type="application/json")

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode("latin-1")
        if metrics_token is None or not hmac.compare_digest(given, metrics_token.encode()):
            return PlainTextResponse("not found", status_code=404)  # off, or not for this caller
        return Response(scrape(), media_type=CONTENT_TYPE_LATEST)

    return app


def _cached(compute: Callable[[], bytes], seconds: float) -> Callable[[], bytes]:
    """`compute`, run at most once per `seconds`; callers meanwhile (and those waiting) share the result."""
    lock = threading.Lock()
    last: list[Any] = [-float("inf"), b""]

    def cached() -> bytes:
        with lock:
            if time.monotonic() - last[0] >= seconds:
                last[1] = compute()
                last[0] = time.monotonic()
            return last[1]

    return cached


def _safe_next(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"
