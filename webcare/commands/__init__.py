"""The `webcare` command groups, one module each; shared parameter types live here."""

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
ID = click.IntRange(1, 2**63 - 1)  # a row id: what both SQLite and PostgreSQL can hold


def json_option(command: F) -> F:
    """The one `--json` flag (as sqlite-utils' `output_options`): the command gets `as_json: bool`
    and prints with `echo_json` when it is set."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table or text.")(command)


def echo_json(value: Any) -> None:
    """Print `value` as indented JSON (non-ASCII kept, timestamps and other objects as strings)."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))
