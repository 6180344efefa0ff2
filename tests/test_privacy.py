"""Privacy and secrets: GDPR export and erasure and data retention from the CLI; secrets never shown."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from tests.test_store_contract import PERSONAL, dump, personal_customer
from webcare.cli import cli
from webcare.config import load_settings
from webcare.store import Store

TOKEN = "123456:AAH-very-secret-bot-token"
SECRET_KEY = "console-cookie-signing-secret"
DB_PASSWORD = "pg-pass-w0rd"


@pytest.fixture
def project(tmp_path):
    db = tmp_path / "webcare.db"
    config = tmp_path / "config.yml"
    config.write_text(f"store:\n  url: sqlite:///{db}\n  retention_days: 30\n")
    return config, f"sqlite:///{db}"


def webcare(config, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["-c", str(config), *args], input=input, catch_exceptions=False)


def test_customers_find_export_and_erase(project, tmp_path):
    config, url = project
    s = Store.open(url)
    customer_id, _ = personal_customer(s)
    s.close()
    found = webcare(config, "customers", "find", "email", "anna@example.nl")
    assert found.output.startswith(f"{customer_id}\tAnna de Vries\t")
    assert found.output.rstrip().endswith("\tclaimed")  # typed by the customer: a claim, not a proof
    assert webcare(config, "customers", "find", "telegram", "tg-anna-42").output.rstrip().endswith("\tidentity")
    assert "no customer" in webcare(config, "customers", "find", "email", "nobody@example.nl").output
    export = json.loads(webcare(config, "customers", "export", str(customer_id)).output)
    assert export["conversations"][0]["messages"][0]["text"] == "mijn pakket 40218833 is kapot"
    assert webcare(config, "customers", "export", str(customer_id), "-o", str(tmp_path / "anna.json")).exit_code == 0
    assert json.loads((tmp_path / "anna.json").read_text())["customer"]["id"] == customer_id
    declined = webcare(config, "customers", "erase", str(customer_id), input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    erased = webcare(config, "customers", "erase", str(customer_id), input="y\n")
    assert erased.exit_code == 0 and f"Customer {customer_id} erased (" in erased.output
    s = Store.open(url)
    everything = dump(s)
    assert not [value for value in PERSONAL if value in everything]
    s.close()
    missing = webcare(config, "customers", "export", "9999")
    assert missing.exit_code == 1 and "customer 9999 does not exist" in missing.output


def test_prune_uses_the_configured_retention(project, tmp_path):
    config, url = project
    s = Store.open(url, clock=lambda: 1_000_000.0)
    _, conversation_id = personal_customer(s)
    s.hand_back(conversation_id)
    s.close()
    result = webcare(config, "store", "prune")
    assert result.exit_code == 0 and "Older than 30 days: 1 customers erased" in result.output
    assert "Older than 7 days: 0 customers erased" in webcare(config, "store", "prune", "--days", "7").output
    bare = tmp_path / "bare.yml"
    bare.write_text(f"store:\n  url: {url}\n")
    refused = webcare(bare, "store", "prune")
    assert refused.exit_code == 1 and "set store.retention_days" in refused.output


def test_secrets_come_from_the_environment_and_are_never_shown(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBCARE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("WEBCARE_DB_PASSWORD", DB_PASSWORD)
    config = tmp_path / "config.yml"
    config.write_text(
        "store:\n  url: postgresql://webcare:${WEBCARE_DB_PASSWORD}@127.0.0.1:1/webcare\n"
        "channels:\n  telegram:\n    token: ${TELEGRAM_BOT_TOKEN}\n"
        "console:\n  secret_key: ${WEBCARE_SECRET_KEY}\n"
    )
    assert TOKEN not in config.read_text()
    settings = load_settings(config)
    assert settings.channels.telegram.token.get_secret_value() == TOKEN
    assert settings.console.secret_key.get_secret_value() == SECRET_KEY
    assert DB_PASSWORD in settings.store.url
    caplog.set_level(logging.DEBUG)
    logging.getLogger("webcare").info("settings: %s / %r", settings, settings)
    result = webcare(config, "store", "info")  # cannot connect: the error names the server, not the password
    assert result.exit_code == 1 and "cannot connect to PostgreSQL at postgresql://webcare:***@" in result.output
    shown = repr(settings) + str(settings) + settings.model_dump_json() + caplog.text + result.output
    for secret in (TOKEN, SECRET_KEY, DB_PASSWORD):
        assert secret not in shown
