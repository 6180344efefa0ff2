"""The `webcare` command line."""

from __future__ import annotations

import getpass
import importlib
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from webcare import __version__
from webcare.commands import ID, echo_json, json_option
from webcare.commands.progress import nlu_progress
from webcare.core.errors import WebcareError
from webcare.core.redact import install_logging, redact
from webcare.roles import ROLES, needs_nlu

if TYPE_CHECKING:  # imported when a command runs: `--help` and `--version` need no config or store
    from webcare.app import App

LAZY_COMMANDS = {  # imported when used, so that one command does not pay for the imports of all
    "customers": "webcare.commands.customers:customers",
    "listen": "webcare.commands.mentions:listen",
    "mentions": "webcare.commands.mentions:mentions",
    "nlu": "webcare.commands.nlu:nlu",
    "store": "webcare.commands.store:store",
    "users": "webcare.commands.users:users",
}


class WebcareGroup(click.Group):
    """Shows a WebcareError as one clear line, without a traceback or secrets; imports LAZY_COMMANDS on use."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        """Refuse arguments that are not valid UTF-8 (the shell passed bytes Python could not decode)."""
        given = list(sys.argv[1:] if args is None else args)
        for number, arg in enumerate(given, 1):
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                click.echo(f"Error: argument {number} is not valid UTF-8", err=True)
                sys.exit(2)
        return super().main(given, *rest, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attribute = LAZY_COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WebcareError as e:
            raise click.ClickException(redact(str(e))) from e


@click.group(cls=WebcareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="webcare")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="WEBCARE_CONFIG",
    help="Config file (default: ./config.yml, or built-in defaults when absent).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """webcare: social customer care — chat bot, escalation to humans, social listening."""
    from webcare.app import App

    app = App(config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)


CHATTY = ("httpx", "bm25s", "apscheduler")  # a line per HTTP request or index build is noise


def _quiet_chatty_libraries(record: logging.LogRecord) -> bool:
    """Let through warnings and errors of chatty libraries, and every record of the others."""
    return record.levelno >= logging.WARNING or record.name.split(".")[0] not in CHATTY


def _progress(message: str) -> None:
    click.echo(message, err=True)


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=Path("config.yml"))
def init(path: Path, force: bool) -> None:
    """Write a starter config.yml (with every section and its defaults)."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists already (use --force to overwrite it)")
    from importlib import resources

    path.write_text(resources.files("webcare").joinpath("config.example.yml").read_text(encoding="utf-8"))
    click.echo(f"Wrote {path}. Secrets are read from the environment, e.g. TELEGRAM_BOT_TOKEN.")


@cli.command()
@click.option("--user", default=None, help="Who you are in the chat (default: your login name).")
@click.option("--new", "new", is_flag=True, help="Start a new conversation (ends your current one, and its queue place).")
@click.pass_obj
def chat(app: App, user: str | None, new: bool) -> None:
    """Chat with the bot in this terminal; reads lines from stdin when piped."""
    from webcare.bot.channels.base import ChannelContext
    from webcare.bot.channels.terminal import TerminalChannel

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    with nlu_progress() as progress:
        engine = app.engine(progress=progress)
    options = {"user": user or getpass.getuser(), "out": sys.stdout, "interactive": interactive}
    channel = TerminalChannel.from_config(app.settings.channels.terminal,
                                          ChannelContext(app.store, engine, app.settings, options))
    if new:
        channel.restart()
    if interactive:
        channel.run_interactive()
    else:
        channel.run(sys.stdin)


@cli.command()
@click.option(
    "--only",
    "roles",
    multiple=True,
    type=click.Choice(ROLES),
    help="Run only this role (repeatable); roles share the store, so they can run as separate processes.",
)
@click.pass_obj
def run(app: App, roles: tuple[str, ...]) -> None:
    """Run webcare: console and web chat, Telegram, listeners and the outbox (all roles by default)."""
    import asyncio

    from webcare.runner import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # a filter, since bm25s sets its logger to DEBUG when imported
        handler.addFilter(_quiet_chatty_libraries)
    chosen = set(roles or ROLES)
    install_logging()
    app.store.migrate()
    if "console" in chosen and app.settings.console.enabled and not app.store.users():
        _progress("no staff users yet: add one with `webcare users add NAME --role admin` to log in")
    if needs_nlu(app.settings, chosen):  # loaded (or trained) once, before serving: no customer waits for it
        with nlu_progress() as progress:
            app.analyzer(progress=progress).analyze("warm-up")
    asyncio.run(serve(app, chosen, announce=_progress))


@cli.group()
def tickets() -> None:
    """List and show tickets in the store."""


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


@tickets.command("list")
@click.option("--status", type=click.Choice(["open", "assigned", "resolved", "closed"]), help="Only this status.")
@click.option("--kind", type=click.Choice(["escalation", "mention"]), help="Only this kind.")
@click.option("--limit", default=100, show_default=True)
@json_option
@click.pass_obj
def tickets_list(app: App, status: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """List tickets, newest first."""
    from rich.console import Console
    from rich.table import Table

    rows = app.store.tickets(status=status, kind=kind, limit=limit)
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "kind", "status", "priority", "reason", "created", "summary")
    for t in rows:
        table.add_row(str(t["id"]), t["kind"], t["status"], t["priority"], t["reason"] or "",
                      _when(t["created_at"]), (t["summary"] or "")[:80])
    Console().print(table if rows else "No tickets.")


@tickets.command("show")
@click.argument("ticket_id", type=ID)
@json_option
@click.pass_obj
def tickets_show(app: App, ticket_id: int, as_json: bool) -> None:
    """Show one ticket with its story so far."""
    from rich.console import Console

    ticket = app.store.ticket(ticket_id)
    if as_json:
        echo_json(ticket)
        return
    console = Console()
    console.print(f"[bold]Ticket #{ticket['id']}[/] {ticket['kind']} · {ticket['status']} · "
                  f"priority {ticket['priority']} · opened {_when(ticket['created_at'])}")
    if ticket["sla_due_at"]:
        console.print(f"SLA due {_when(ticket['sla_due_at'])}")
    console.print(ticket["summary"] or "", markup=False)
    story = ticket["story"] or {}
    for line in story.get("transcript", []):
        console.print(f"  {line['author']:>12}: {line['text']}", markup=False)


def main() -> None:
    cli(prog_name="webcare")
