"""The `webcare` command groups, one module each; shared parameter types live here."""

import click

ID = click.IntRange(1, 2**63 - 1)  # a row id: what both SQLite and PostgreSQL can hold
