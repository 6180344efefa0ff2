"""`webcare store migrate | copy | info`: moving a deployment between SQLite and PostgreSQL, and back.

The PostgreSQL cases run against the session's private server (emulators/postgres_server.py) and skip
with the reason when PostgreSQL is not installed (under CI=true that fails the run).
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

import webcare.store.copy as store_copy
from tests.test_store_contract import mention, personal_customer
from webcare.cli import cli
from webcare.core.errors import StoreError
from webcare.store import Store
from webcare.store.copy import TABLES, copy_store, row_counts
from webcare.store.schema import MIGRATIONS


def webcare(config, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, ["-c", str(config), *args], catch_exceptions=False)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(f"store:\n  url: sqlite:///{tmp_path / 'webcare.db'}\n")
    return path


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'webcare.db'}"


def filled(url: str) -> Store:
    """A store with a bit of everything, including JSON, NULLs, floats, leases and a pending reply."""
    s = Store.open(url)
    personal_customer(s)
    other = s.identify("webchat", "sess-9", "Bob 🙂")
    conversation = s.open_conversation(other["id"], "webchat", "sess-9")
    s.record_incoming(conversation["id"], "hoi", platform_message_id="w1", analysis={"score": 0.123456789012345})
    s.queue_outgoing(conversation["id"], "Hallo!", buttons=[{"title": "Ja", "payload": "/ja"}])
    s.close_conversation(conversation["id"])
    s.ingest_mentions([mention(n, priority=n / 7) for n in range(5)], cursor=("x", "4"))
    s.acquire_lease("x", "host-a", 60)
    s.add_user("kim", "hash", "agent")
    return s


def everything(s: Store) -> dict[str, list[dict]]:
    return {t: s.backend.query(f"SELECT * FROM {t} ORDER BY {'source' if t == 'cursors' else 'id'}")
            for t in TABLES}


@pytest.mark.parametrize("target_kind", ["sqlite", "postgres"])
def test_copy_keeps_every_row_and_new_rows_get_fresh_ids(request, sqlite_url, tmp_path, target_kind):
    target_url = (request.getfixturevalue("postgres_url") if target_kind == "postgres"
                  else f"sqlite:///{tmp_path / 'copy.db'}")
    source = filled(sqlite_url)
    target = Store.open(target_url)
    copied = copy_store(source, target, batch=3)  # small batches: the pagination is exercised
    assert copied == row_counts(source) and copied["mentions"] == 6
    assert everything(target) == everything(source)
    max_customer = max(r["id"] for r in everything(target)["customers"])
    assert target.identify("telegram", "new")["id"] == max_customer + 1  # the id sequence was moved on
    source.close()
    target.close()


def test_sqlite_to_postgres_and_back_through_the_cli_loses_nothing(config, sqlite_url, postgres_url, tmp_path):
    original = everything(filled(sqlite_url))
    result = webcare(config, "store", "copy", "--to", postgres_url)
    assert result.exit_code == 0, result.output
    assert "row counts verified" in result.output
    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    result = webcare(config, "store", "copy", "--from", postgres_url, "--to", back_url)
    assert result.exit_code == 0, result.output
    back = Store.open(back_url)
    assert everything(back) == original
    back.close()
    info = json.loads(webcare(config, "store", "info", "--url", postgres_url, "--json").output)
    assert info["dialect"] == "postgresql" and info["rows"]["mentions"] == 6


def test_copy_refuses_a_store_that_is_not_empty(config, sqlite_url, tmp_path):
    filled(sqlite_url).close()
    target_url = f"sqlite:///{tmp_path / 'used.db'}"
    used = Store.open(target_url)
    used.identify("telegram", "already here")
    result = webcare(config, "store", "copy", "--to", target_url)
    assert result.exit_code == 1 and "not empty (customers, identities, events)" in result.output
    assert row_counts(used)["customers"] == 1
    used.close()
    assert "same store" in webcare(config, "store", "copy", "--to", sqlite_url).output


def test_a_copy_that_fails_halfway_leaves_the_target_empty(sqlite_url, tmp_path, monkeypatch):
    source = filled(sqlite_url)
    target = Store.open(f"sqlite:///{tmp_path / 'copy.db'}")
    insert = store_copy._insert

    def failing(backend, table, rows):
        if table == "tickets":
            raise StoreError("disk full")
        insert(backend, table, rows)

    monkeypatch.setattr(store_copy, "_insert", failing)
    with pytest.raises(StoreError, match="disk full"):
        copy_store(source, target)
    assert set(row_counts(target).values()) == {0}
    source.close()
    target.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_migrate_reports_what_it_applied(request, config, tmp_path, kind):
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else f"sqlite:///{tmp_path / 'fresh.db'}"
    versions = [v for v, _, _ in MIGRATIONS]
    applied = f"schema version {versions[-1]} (applied {', '.join(map(str, versions))})"
    assert applied in webcare(config, "store", "migrate", "--url", url).output
    assert f"schema version {versions[-1]} (up to date)" in webcare(config, "store", "migrate", "--url", url).output


def test_info_shows_the_rows_per_table(config, sqlite_url):
    filled(sqlite_url).close()
    result = webcare(config, "store", "info")
    assert result.exit_code == 0 and f"schema {MIGRATIONS[-1][0]}" in " ".join(result.output.split())
    assert json.loads(webcare(config, "store", "info", "--json").output)["rows"]["users"] == 1
