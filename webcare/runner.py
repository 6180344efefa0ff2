"""`webcare run`: the roles of webcare as asyncio tasks in one process, or some of them.

Roles: `bot` (Telegram and the staff group), `console` (staff console + customer web chat),
`listeners` (social networks), `outbox` (delivers queued replies). One process runs them all on
the embedded default; `--only` splits them over processes and machines that share PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from bot.outbox import OutboxDispatcher
from webcare.app import App

log = logging.getLogger(__name__)
ROLES = ("bot", "console", "listeners", "outbox")


async def _serve_console(app: App, channels: dict[str, Any], stop: asyncio.Event) -> Callable[[], Coroutine]:
    import uvicorn

    from console.app import create_app

    settings = app.settings.console
    web = create_app(app.store, app.settings, engine=app.engine())
    channels["webchat"] = web.state.webchat
    server = uvicorn.Server(uvicorn.Config(web, host=settings.host, port=settings.port, log_level="warning"))

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await task

    return serve


async def serve(app: App, roles: set[str], announce: Callable[[str], None] = print) -> None:
    """Run the chosen roles until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = app.settings
    channels: dict[str, Any] = {}
    jobs: list[Coroutine] = []
    started: list[Any] = []

    if "console" in roles and settings.console.enabled:
        jobs.append((await _serve_console(app, channels, stop))())
        announce(f"console and web chat on http://{settings.console.host}:{settings.console.port}")
    if "bot" in roles and settings.channels.telegram.token is not None:
        from bot.channels.telegram import TelegramChannel

        telegram = TelegramChannel.from_config(settings.channels, app.engine(), app.store)
        await telegram.start()
        started.append(telegram)
        channels["telegram"] = telegram
        announce(f"telegram ({settings.channels.telegram.mode})")
    if "listeners" in roles and settings.listeners.enabled:
        from listeners.runner import run_listeners

        jobs.append(run_listeners(settings, app.store, app.analyzer(), stop))
        announce("listeners")
    if channels:
        jobs.append(OutboxDispatcher(app.store, channels).run(stop))
    if not jobs:
        announce("nothing to run: enable the console, set TELEGRAM_BOT_TOKEN or enable listeners")
        return
    try:
        await asyncio.gather(*jobs)
    finally:
        for channel in reversed(started):
            await channel.stop()
