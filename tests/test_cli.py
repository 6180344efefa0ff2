"""The webcare CLI through click's CliRunner, and the piped chat as a real subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.helpers import matches
from webcare import __version__
from webcare.cli import cli
from webcare.store import Store


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


@pytest.fixture
def project(tmp_path, monkeypatch, nlu_config):
    """A working directory with a config that uses a file store and the cached test models."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text(
        f"store:\n  url: sqlite:///{tmp_path / 'webcare.db'}\n"
        f"nlu:\n  data_dir: {nlu_config.data_dir}\n  model_dir: {nlu_config.model_dir}\n"
    )
    return tmp_path


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("path", [p for p, _ in all_commands(cli)], ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = cli
    for name in path:
        command = command.commands[name]
    assert command.help, f"`webcare {' '.join(path)}` has no help text"


def test_init_writes_a_valid_starter_config_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (tmp_path / "config.yml").read_text() == (ROOT / "config.yml").read_text()
    again = runner.invoke(cli, ["init"])
    assert again.exit_code == 1 and "exists already" in again.output
    assert runner.invoke(cli, ["init", "--force"]).exit_code == 0


def test_broken_config_is_one_clear_line_without_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text("store:\n  urll: x\n")
    result = CliRunner().invoke(cli, ["tickets", "list"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: config.yml line 2: store.urll: Extra inputs are not permitted"
    assert "Traceback" not in result.output


def test_unknown_ticket_is_a_clear_error(project):
    result = CliRunner().invoke(cli, ["tickets", "show", "99"])
    assert result.exit_code == 1 and "ticket 99 does not exist" in result.output


def test_tickets_list_and_show(project):
    store = Store.open(f"sqlite:///{project / 'webcare.db'}")
    customer = store.identify("terminal", "anna", "Anna")
    conversation = store.open_conversation(customer["id"], "terminal", "anna")
    store.record_incoming(conversation["id"], "Ik wil een medewerker")
    store.escalate(conversation["id"], "requested", "high", "Anna wants a person.",
                   {"transcript": [{"author": "customer", "text": "Ik wil een medewerker", "at": 0}]})
    store.close()
    runner = CliRunner()
    listed = runner.invoke(cli, ["tickets", "list", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert [(r["id"], r["priority"], r["reason"]) for r in rows] == [(1, "high", "requested")]
    table = runner.invoke(cli, ["tickets", "list"])
    assert "requested" in table.output and "high" in table.output
    shown = runner.invoke(cli, ["tickets", "show", "1"])
    assert "Anna wants a person." in shown.output and "Ik wil een medewerker" in shown.output


def test_piped_chat_answers_dutch_asks_once_and_escalates(project, analyzer, responses):
    script = "Waar is mijn bestelling?\n12345678\nIk wil een medewerker spreken\n"
    done = subprocess.run(
        [sys.executable, "-m", "webcare", "chat", "--user", "anna"],
        input=script, check=False, capture_output=True, text=True, cwd=project, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(project)},
    )
    assert done.returncode == 0, done.stderr
    blocks = re.split(r"\n\n(?!\d+\. )", done.stdout.rstrip("\n"))  # an answer's buttons follow it as "1. …"
    blocks = [block.split("\n\n1. ")[0] for block in blocks]
    assert len(blocks) == 3, done.stdout
    asks = [matches(responses, block, "ask_order_number", "nl") for block in blocks]
    assert asks == [True, False, False]
    assert matches(responses, blocks[1], "order_status_shipped", "nl") and "12345678" in blocks[1]
    listed = CliRunner().invoke(cli, ["tickets", "list", "--json"])
    tickets = json.loads(listed.output)
    assert len(tickets) == 1 and "12345678" in tickets[0]["summary"]


def _commands(group: click.Group, ctx: click.Context) -> list[click.Command]:
    found: list[click.Command] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.extend(_commands(command, ctx) if isinstance(command, click.Group) else [command])
    return found


def test_every_json_flag_is_the_one_shared_option():
    ctx = click.Context(cli)
    flags = [p for c in _commands(cli, ctx) for p in c.params if "--json" in getattr(p, "opts", [])]
    assert len(flags) >= 9
    assert {(p.name, p.is_flag, p.help) for p in flags} == {("as_json", True, "Print JSON instead of a table or text.")}
