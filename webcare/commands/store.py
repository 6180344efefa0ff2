"""`webcare store`: bring the schema up to date, copy between databases, apply retention, inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from webcare.commands import echo_json, json_option

if TYPE_CHECKING:
    from webcare.app import App

_URL_HELP = "Store URL (default: store.url in config.yml)."


@click.group("store")
def store() -> None:
    """The shared store: schema, copying between SQLite and PostgreSQL, data retention."""


@store.command()
@click.option("--url", help=_URL_HELP)
@click.pass_obj
def migrate(app: App, url: str | None) -> None:
    """Bring the store's schema up to date (webcare also does this whenever it starts)."""
    from webcare.store import Store, open_backend
    from webcare.store.config import redact_url

    url = url or app.settings.store.url
    backend = open_backend(url, app.settings.store.busy_timeout_ms)
    before = 0
    if "schema_migrations" in backend.table_names():
        before = backend.query("SELECT MAX(version) AS v FROM schema_migrations")[0]["v"] or 0
    migrated = Store(backend)
    after = migrated.schema_version()
    migrated.close()
    done = f"applied {', '.join(str(v) for v in range(before + 1, after + 1))}" if after > before else "up to date"
    click.echo(f"{redact_url(url)}: schema version {after} ({done}).")


@store.command()
@click.option("--from", "source_url", help=f"Copy from this store. {_URL_HELP}")
@click.option("--to", "target_url", required=True, help="Copy into this new, empty store.")
@click.option("--batch", default=1000, show_default=True, help="Rows read and written at a time.")
@click.pass_obj
def copy(app: App, source_url: str | None, target_url: str, batch: int) -> None:
    """Copy every row into an empty store on another database, e.g. SQLite to PostgreSQL or back.

    Stop webcare first. Both stores get the current schema; ids are kept, the copy is one
    transaction and is checked by row counts, and PostgreSQL's id sequences are reset. Then
    point store.url at the new store.
    """
    from rich.console import Console
    from rich.table import Table

    from webcare.store import Store
    from webcare.store.config import redact_url
    from webcare.store.copy import copy_store

    source_url = source_url or app.settings.store.url
    if source_url == target_url:
        raise click.ClickException("--from and --to are the same store")
    busy = app.settings.store.busy_timeout_ms
    source = Store.open(source_url, busy_timeout_ms=busy)
    try:
        target = Store.open(target_url, busy_timeout_ms=busy)
        try:
            copied = copy_store(source, target, batch, lambda t, n: click.echo(f"  {t}: {n}", err=True))
        finally:
            target.close()
    finally:
        source.close()
    table = Table("table", "rows", title=f"{redact_url(source_url)} → {redact_url(target_url)}")
    for name, n in copied.items():
        table.add_row(name, str(n))
    Console().print(table)
    click.echo(f"Copied {sum(copied.values())} rows; row counts verified on both sides.")


@store.command()
@click.option("--days", type=click.IntRange(min=1), help="Keep this many days (default: store.retention_days).")
@click.pass_obj
def prune(app: App, days: int | None) -> None:
    """Forget personal data older than the retention period; metrics (events) stay.

    Inactive customers are erased, old delivered messages deleted, old mentions and finished
    tickets stripped of personal data. Run it daily, e.g. from cron.
    """
    days = days or app.settings.store.retention_days
    if days is None:
        raise click.ClickException("no retention period: set store.retention_days in config.yml or pass --days")
    counts = app.store.prune(days)
    click.echo(
        f"Older than {days} days: {counts['customers']} customers erased, {counts['messages']} messages deleted, "
        f"{counts['mentions']} mentions, {counts['claims']} claims and {counts['tickets']} tickets stripped of personal data."
    )


@store.command()
@click.option("--url", help=_URL_HELP)
@json_option
@click.pass_obj
def info(app: App, url: str | None, as_json: bool) -> None:
    """Where the store is, its schema version and the rows in each table."""
    from rich.console import Console
    from rich.table import Table

    from webcare.store import Store
    from webcare.store.config import redact_url
    from webcare.store.copy import TABLES, row_counts

    url = url or app.settings.store.url
    opened = Store.open(url, busy_timeout_ms=app.settings.store.busy_timeout_ms)
    try:
        facts = {"url": redact_url(url), "dialect": opened.backend.dialect,
                 "schema_version": opened.schema_version(), "rows": row_counts(opened)}
    finally:
        opened.close()
    if as_json:
        echo_json(facts)
        return
    table = Table("table", "rows", title=f"{facts['url']} ({facts['dialect']}, schema {facts['schema_version']})")
    for name in TABLES:
        table.add_row(name, str(facts["rows"][name]))
    Console().print(table)
