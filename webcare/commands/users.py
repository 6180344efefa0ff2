"""`webcare users`: staff accounts of the web console (roles agent, social, admin)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from webcare.console.auth import ROLES, check_role, hash_password

if TYPE_CHECKING:
    from webcare.app import App


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users() -> None:
    """Add, list, change and remove staff users of the web console."""


@users.command()
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="agent: inbox; social: mentions; admin: all.")
@click.option("--name", "display_name", help="The name shown in the console (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def add(app: App, username: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Create a staff user; asks for the password (at least 8 characters)."""
    if not username.strip() or len(username) > 64 or any(c.isspace() for c in username):
        raise click.ClickException("a username is 1–64 characters without spaces")
    if app.store.user(username) is not None:
        raise click.ClickException(f"user {username!r} already exists")
    app.store.add_user(username, hash_password(_password(password_stdin)), check_role(role), display_name)
    click.echo(f"Added {username} ({role}).")


@users.command("list")
@click.pass_obj
def list_(app: App) -> None:
    """List staff users."""
    rows = app.store.users()
    if not rows:
        click.echo("No users; add one with `webcare users add NAME --role admin`.")
    for row in rows:
        state = " (disabled)" if row["disabled"] else ""
        click.echo(f"{row['username']}\t{row['role']}\t{row['display_name'] or ''}{state}")


@users.command()
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.option("--role", type=click.Choice(ROLES), help="Also change the role.")
@click.pass_obj
def passwd(app: App, username: str, password_stdin: bool, role: str | None) -> None:
    """Set a new password (and optionally a new role) for a staff user."""
    if app.store.user(username) is None:
        raise click.ClickException(f"no user {username!r}")
    fields = {"password_hash": hash_password(_password(password_stdin))}
    if role:
        fields["role"] = role
    app.store.update_user(username, **fields)
    click.echo(f"Changed {username}.")


@users.command()
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove(app: App, username: str, yes: bool) -> None:
    """Remove a staff user (signed-in sessions of theirs end at the next request)."""
    if app.store.user(username) is None:
        raise click.ClickException(f"no user {username!r}")
    if not yes:
        click.confirm(f"Remove {username}?", abort=True)
    app.store.remove_user(username)
    click.echo(f"Removed {username}.")
