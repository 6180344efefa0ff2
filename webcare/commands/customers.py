"""`webcare customers`: find a customer; export or erase their personal data (GDPR)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from webcare.commands import ID

if TYPE_CHECKING:
    from webcare.app import App


@click.group("customers")
def customers() -> None:
    """Find customers; export or erase everything about one (GDPR access and erasure)."""


@customers.command()
@click.argument("channel")
@click.argument("external_id")
@click.pass_obj
def find(app: App, channel: str, external_id: str) -> None:
    """Customers by identity (`find telegram 12345`) or by what they typed (`find email anna@example.nl`).

    A typed e-mail, phone or order number is a claim: every customer who claimed it is listed,
    marked `claimed`, since anyone can type anything. An address that wrote to the shop's mailbox
    is the e-mail channel's identity, listed first.
    """
    from webcare.store import CLAIM_KINDS

    found = []
    key = external_id.lower() if channel in CLAIM_KINDS else external_id
    if customer := app.store.customer_by_identity(channel, key):
        found.append((customer, "identity"))
    if channel in CLAIM_KINDS:
        found += [(c, "claimed") for c in app.store.customers_claiming(channel, key)]
    if not found:
        raise click.ClickException(f"no customer has the identity or claim {channel}:{external_id}")
    for customer, how in found:
        identities = ", ".join(f"{i['channel']}:{i['external_id']}" for i in app.store.identities(customer["id"]))
        click.echo(f"{customer['id']}\t{customer['display_name'] or ''}\t{identities}\t{how}")


@customers.command()
@click.argument("customer_id", type=ID)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.pass_obj
def export(app: App, customer_id: int, output: Path | None) -> None:
    """Everything about one customer as JSON: identities, conversations, messages, tickets, mentions."""
    text = json.dumps(app.store.export_customer(customer_id), ensure_ascii=False, indent=2, default=str)
    if output is None:
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    click.echo(f"Wrote {output}.", err=True)


@customers.command()
@click.argument("customer_id", type=ID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def erase(app: App, customer_id: int, yes: bool) -> None:
    """Erase one customer's personal data for good; anonymous counts and metrics stay."""
    customer = app.store.customer(customer_id)
    if customer["erased_at"] is None and not yes:
        click.confirm(f"Erase all personal data of customer {customer_id}? This cannot be undone", abort=True)
    counts = app.store.erase_customer(customer_id, actor=getpass.getuser())
    changed = ", ".join(f"{n} {table}" for table, n in counts.items() if n) or "nothing left to erase"
    click.echo(f"Customer {customer_id} erased ({changed}).")
