"""`webcare listen` runs the social listeners; `webcare mentions` lists and reviews what they found."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from typing import TYPE_CHECKING

import click

from webcare.commands import ID, echo_json, json_option
from webcare.commands.progress import nlu_progress

if TYPE_CHECKING:
    from webcare.app import App


REVIEW_STATUSES = ("new", "reviewed", "replied", "ignored")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


@click.command()
@click.option("--once", is_flag=True, help="Poll every enabled network once, then stop.")
@click.pass_obj
def listen(app: App, once: bool) -> None:
    """Poll the enabled social networks (X, Bluesky, Mastodon, RSS) and triage what they find."""
    from webcare.listeners.runner import ListenerRunner

    def progress(line: str) -> None:
        click.echo(f"\r\033[K{line}", nl=False, err=True)

    with nlu_progress() as loading:
        analyzer = app.analyzer(progress=loading)
    runner = ListenerRunner.from_config(app.settings.listeners, app.store, analyzer, progress=progress)
    if once:
        try:
            results = runner.run_once(force=True)
        finally:
            runner.release()
        for name in (name for name, result in results.items() if result is None and not runner.state[name].last_error):
            click.echo(f"\n{name}: not polled, another process holds its lease (`webcare listen` is running)", err=True)
    else:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: runner.stop())
        click.echo(f"Listening to {', '.join(listener.name for listener in runner.listeners)}; Ctrl-C stops.",
                   err=True)
        runner.run()
    t = runner.totals
    click.echo(f"\n{t.new} new mentions, {t.flagged} flagged, {t.tickets} tickets, {t.duplicates} duplicates, "
               f"{len(t.storms)} storms, {len(t.ambassadors)} new ambassadors.", err=True)
    for name, state in runner.state.items():
        if state.last_error:
            click.echo(f"{name}: {state.last_error}", err=True)


@click.group()
def mentions() -> None:
    """Mentions found by the listeners: list, show, flag, review; storms and ambassadors."""


@mentions.command("list")
@click.option("--flagged", is_flag=True, help="Only mentions that need a human.")
@click.option("--status", type=click.Choice(REVIEW_STATUSES), help="Only this review status.")
@click.option("--limit", default=50, show_default=True)
@json_option
@click.pass_obj
def mentions_list(app: App, flagged: bool, status: str | None, limit: int, as_json: bool) -> None:
    """List mentions, highest priority first."""
    from rich.console import Console
    from rich.table import Table

    rows = app.store.mentions(flagged=True if flagged else None, review_status=status, limit=limit)
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "source", "author", "prio", "flag", "text")
    for m in rows:
        flag = "dup" if m["duplicate_of"] else m["review_status"] if m["flagged"] else ""
        table.add_row(str(m["id"]), m["source"], m["author"] or "", f"{m['priority'] or 0:.2f}", flag,
                      " ".join(m["text"].split())[:100])
    Console().print(table if rows else "No mentions.")


@mentions.command("show")
@click.argument("mention_id", type=ID)
@json_option
@click.pass_obj
def mentions_show(app: App, mention_id: int, as_json: bool) -> None:
    """Show one mention with its analysis."""
    m = app.store.mention(mention_id)
    if as_json:
        echo_json(m)
        return
    click.echo(f"#{m['id']} {m['source']} · @{m['author'] or m['author_id'] or '?'} ({m['author_reach']} reach) · "
               f"{_when(m['posted_at'] or m['created_at'])}")
    click.echo(m["url"] or "")
    click.echo(m["text"])
    click.echo(f"language {m['language']} · sentiment {m['sentiment']} ({m['sentiment_score'] or 0:+.2f}) · "
               f"complaint {m['complaint_score'] or 0:.2f} · urgency {m['urgency']} · priority {m['priority'] or 0:.2f}")
    flags = "duplicate of #" + str(m["duplicate_of"]) if m["duplicate_of"] else ("flagged" if m["flagged"] else "not flagged")
    click.echo(f"{flags} · topic {m['topic']} · review {m['review_status']}")


@mentions.command("flag")
@click.argument("mention_id", type=ID)
@click.option("--off", is_flag=True, help="Unflag instead.")
@click.pass_obj
def mentions_flag(app: App, mention_id: int, off: bool) -> None:
    """Flag a mention for a human (or unflag it with --off)."""
    app.store.update_mention(mention_id, flagged=0 if off else 1)
    click.echo(f"Mention {mention_id} {'unflagged' if off else 'flagged'}.")


@mentions.command("review")
@click.argument("mention_id", type=ID)
@click.argument("status", type=click.Choice(REVIEW_STATUSES))
@click.pass_obj
def mentions_review(app: App, mention_id: int, status: str) -> None:
    """Set a mention's review status."""
    app.store.update_mention(mention_id, review_status=status)
    click.echo(f"Mention {mention_id} is {status}.")


@mentions.command("storms")
@json_option
@click.pass_obj
def mentions_storms(app: App, as_json: bool) -> None:
    """Complaint storm alerts, newest first."""
    rows = [{"at": e["created_at"], **(e["data"] or {})} for e in app.store.events(kind="storm")][::-1]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No storm alerts.")
    for s in rows:
        click.echo(f"{_when(s['at'])}  '{s['topic']}' on {s['source']}: {s['count']} complaints "
                   f"(usual {s['baseline']}) · top terms: {', '.join(s.get('top_terms', []))}")
        for text in s.get("sample", [])[:3]:
            click.echo(f"    • {' '.join(str(text).split())[:120]}")


@mentions.command("ambassadors")
@click.option("--limit", default=20, show_default=True)
@json_option
@click.pass_obj
def mentions_ambassadors(app: App, limit: int, as_json: bool) -> None:
    """Authors with repeated positive mentions, weighted by reach and recency, with evidence."""
    from rich.console import Console
    from rich.table import Table

    from webcare.listeners.ambassadors import ambassadors

    rows = ambassadors(app.store, app.settings.listeners.ambassadors, app.store.clock(), limit)
    if as_json:
        echo_json(rows)
        return
    table = Table("score", "source", "author", "reach", "positive", "negative", "latest evidence")
    for a in rows:
        table.add_row(f"{a['score']:.2f}", a["source"], a["author"] or a["author_id"], str(a["reach"]),
                      str(a["positive"]), str(a["negative"]), a["evidence"][0]["text"][:70] if a["evidence"] else "")
    Console().print(table if rows else "No ambassadors yet.")
