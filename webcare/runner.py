"""`webcare run`: the roles of webcare as asyncio tasks in one process, or some of them.

Roles: `bot` (Telegram and the staff group, e-mail), `console` (staff console, customer web chat,
webhook channels such as WhatsApp),
`listeners` (social networks), `outbox` (delivers queued replies). One process runs them all on
the embedded default; `--only` splits them over processes and machines that share PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from webcare.core import extras
from webcare.roles import ROLES, configured

if TYPE_CHECKING:
    from webcare.app import App

__all__ = ["ROLES", "serve"]
log = logging.getLogger(__name__)


async def _serve_console(app: App, stop: asyncio.Event) -> tuple[Callable[[], Coroutine], dict[str, Any]]:
    """The console's server, and the channels its app holds (the web chat, webhook channels)."""
    import uvicorn

    from webcare.console.app import create_app

    settings = app.settings.console
    web = create_app(app.store, app.settings, engine=app.engine())
    # The app itself believes X-Forwarded-For from console.forwarded_allow_ips only (uvicorn would trust
    # 127.0.0.1 by default); uvicorn's log lines go through the root logger and its redacting filter.
    server = uvicorn.Server(uvicorn.Config(web, host=settings.host, port=settings.port, log_level="warning",
                                           proxy_headers=False, log_config=None))

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await task

    return serve, web.state.channels


def _staff_notifier(telegram: Any, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
    """Storm alerts from the listeners' worker thread → the staff Telegram group (or the log)."""

    def notify(text: str) -> None:
        log.warning("%s", text)
        if telegram is not None and telegram.staff is not None:
            asyncio.run_coroutine_threadsafe(telegram.staff.post(text), loop)

    return notify


async def serve(app: App, roles: set[str], announce: Callable[[str], None] = print) -> None:
    """Run the chosen roles until SIGINT/SIGTERM.

    Channels come from the registry (`bot.channels.CHANNELS`), each in its role's process, which
    delivers their outbox: Telegram and e-mail in `bot`, the web chat and WhatsApp in `console`, replies to X/Bluesky/Mastodon posts in `outbox`. The store hands each reply to one
    process only, so any number of each role may run against one PostgreSQL database.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = app.settings
    channels: dict[str, Any] = {}
    jobs: list[Coroutine] = []
    started: list[Any] = []

    async def hold(built: dict[str, Any], say: bool = True) -> None:
        """Start channels; this process delivers their outbox."""
        for channel in built.values():
            await channel.start()
            started.append(channel)
            if say:
                announce(channel.describe())
        channels.update(built)

    if "console" in roles and configured(settings, "console"):
        serve_console, web_channels = await _serve_console(app, stop)
        jobs.append(serve_console())
        await hold(web_channels, say=False)
        announce(f"console on http://{settings.console.host}:{settings.console.port} with "
                 + ", ".join(c.describe() for c in web_channels.values()))
    if "bot" in roles and configured(settings, "bot"):
        from webcare.bot.channels import build_channels
        from webcare.bot.channels.base import ChannelContext

        await hold(build_channels(ChannelContext(app.store, app.engine(), settings), "bot"))
    telegram = channels.get("telegram")
    if "listeners" in roles and configured(settings, "listeners"):
        from webcare.listeners.runner import run_listeners

        jobs.append(run_listeners(settings, app.store, app.analyzer(), stop, notify=_staff_notifier(telegram, loop)))
        announce("listeners")
    if "outbox" in roles and any(getattr(settings.listeners, n).enabled for n in ("x", "bluesky", "mastodon")):
        replies = extras.load("webcare.listeners.replies", "listeners", "replies on X, Bluesky and Mastodon")
        networks = replies.reply_channels(settings.listeners)
        await hold(networks, say=False)
        if networks:
            announce("replies on " + ", ".join(sorted(networks)))
    if channels:
        from webcare.bot.outbox import OutboxDispatcher

        jobs.append(OutboxDispatcher(app.store, channels).run(stop))
    if not jobs:
        announce("nothing to run: enable the console, set TELEGRAM_BOT_TOKEN or enable listeners")
        return
    try:
        await asyncio.gather(*jobs)
    finally:
        for channel in reversed(started):
            await channel.stop()
