"""`webcare users` through click's CliRunner, and signing in with what it made."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from emulators.console_kit import (
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    login,
    settings,
)
from webcare.cli import cli
from webcare.console import create_app
from webcare.console.auth import LoginLimiter, authenticate
from webcare.store import Store


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text(f"store:\n  url: sqlite:///{tmp_path / 'webcare.db'}\n")
    return f"sqlite:///{tmp_path / 'webcare.db'}"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_add_list_passwd_remove(db):
    assert run("users", "add", "alice", "--role", "agent", "--name", "Alice A", "--password-stdin",
               input="first password\n").output == "Added alice (agent).\n"
    assert run("users", "list").output == "alice\tagent\tAlice A\n"
    store = Store.open(db)
    hashed = store.user("alice")["password_hash"]
    assert hashed.startswith("$argon2id$") and "first password" not in hashed
    assert authenticate(store, "alice", "first password") and not authenticate(store, "alice", "wrong one")
    assert run("users", "passwd", "alice", "--role", "admin", "--password-stdin", input="second password\n").exit_code == 0
    assert authenticate(store, "alice", "second password")["role"] == "admin"
    assert not authenticate(store, "alice", "first password")
    assert run("users", "remove", "alice", "--yes").output == "Removed alice.\n"
    assert run("users", "list").output.startswith("No users")
    store.close()


def test_prompted_password_is_confirmed(db):
    result = run("users", "add", "bob", "--role", "social", input="long enough\nlong enough\n")
    assert result.exit_code == 0 and "Added bob (social)" in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "carol", "--role", "agent", "--password-stdin"], "short\n", "at least 8 characters"),
        (["users", "add", "carol", "--role", "boss", "--password-stdin"], "long enough\n", "'boss' is not one of"),
        (["users", "add", "two words", "--role", "agent", "--password-stdin"], "long enough\n", "without spaces"),
        (["users", "passwd", "nobody", "--password-stdin"], "long enough\n", "no user 'nobody'"),
        (["users", "remove", "nobody", "--yes"], None, "no user 'nobody'"),
    ],
)
def test_bad_input_is_one_clear_error(db, args, stdin, message):
    result = run(*args, input=stdin)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert Store.open(db).users() == []


def test_a_duplicate_user_is_refused(db):
    run("users", "add", "dan", "--role", "agent", "--password-stdin", input="long enough\n")
    result = run("users", "add", "dan", "--role", "admin", "--password-stdin", input="other password\n")
    assert result.exit_code == 1 and "already exists" in result.output


def test_a_cli_user_signs_in_and_a_disabled_one_cannot(db):
    run("users", "add", "erin", "--role", "social", "--password-stdin", input="erin's password\n")
    store = Store.open(db)
    client = TestClient(create_app(store, settings()))
    assert login(client, "erin", "erin's password").headers["location"] == "/mentions"
    store.update_user("erin", disabled=1)
    assert client.get("/mentions", follow_redirects=False).status_code == 303
    assert login(TestClient(client.app), "erin", "erin's password").status_code == 401


def test_limiter_backs_off_exponentially_up_to_a_cap_and_forgets_after_the_window():
    now = [0.0]
    limiter = LoginLimiter(2, 600, max_delay=8, clock=lambda: now[0])
    limiter.failed("k")
    assert limiter.retry_after("k") == 0  # the first failures are free
    waits = []
    for _ in range(6):
        limiter.failed("k")
        waits.append(limiter.retry_after("k"))
    assert waits == [1, 2, 4, 8, 8, 8] and limiter.retry_after("other") == 0
    now[0] = 8
    assert limiter.retry_after("k") == 0  # never locked out for longer than the cap
    now[0] = 601
    limiter.failed("new")
    assert len(limiter) == 1  # "k" was forgotten: no failure within the window
