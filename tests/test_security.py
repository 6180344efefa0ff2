"""Hardening: secrets kept out of output, abuse limits, malformed input, health and metrics, leases."""

from __future__ import annotations

import io
import logging

import pytest
from click.testing import CliRunner

from bot.channels.telegram import TelegramChannel
from store import open_backend
from tests.emulators.telegram_harness import telegram_config
from webcare import redact
from webcare.cli import cli
from webcare.config import parse_settings
from webcare.errors import ConfigError, StoreError

pytest_plugins = ["tests.emulators.telegram_fixtures"]  # fixtures: tg, db_url, engine, bot

BOT_TOKEN = "987654321:AAH-a-real-looking-secret-token_xyz123"


@pytest.fixture(autouse=True)
def no_remembered_secrets():
    redact.forget_all()
    yield
    redact.forget_all()


# -- secrets never in output ----------------------------------------------------------------------


async def test_a_rejected_telegram_token_is_not_in_the_error(tg, engine):
    channel = TelegramChannel(telegram_config(tg, token=BOT_TOKEN), engine, engine.store)
    with pytest.raises(ConfigError, match="did not accept") as caught:
        await channel.start()
    assert BOT_TOKEN not in str(caught.value) and "AAH-a-real" not in str(caught.value)
    assert redact.MASK in str(caught.value)


def test_an_unsupported_store_url_does_not_echo_its_password():
    with pytest.raises(StoreError) as caught:
        open_backend("mysql://shop:hunter2-secret@db.example.com/shop")
    assert "hunter2-secret" not in str(caught.value)
    assert "mysql://shop:***@db.example.com/shop" in str(caught.value)


def test_values_from_the_environment_and_secret_fields_are_masked(monkeypatch):
    monkeypatch.setenv("SHOP_BLUESKY_PASSWORD", "app-pass-1234")
    parse_settings("listeners:\n  bluesky:\n    app_password: ${SHOP_BLUESKY_PASSWORD}\n"
                   "console:\n  secret_key: literally-written-key\n")
    text = "login with app-pass-1234 failed; key literally-written-key; port 8080"
    assert redact.redact(text) == "login with *** failed; key ***; port 8080"


def test_cli_errors_mask_configured_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_STORE_URL", "oracle://shop:pw-in-url-42@db/shop")
    (tmp_path / "config.yml").write_text("store:\n  url: ${SHOP_STORE_URL}\n")
    result = CliRunner().invoke(cli, ["tickets", "list"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "pw-in-url-42" not in result.output and "oracle://shop:***@db/shop" in result.output


def test_log_lines_and_tracebacks_are_masked():
    redact.register("s3cr3t-token-value")
    stream = io.StringIO()
    logger = logging.getLogger("webcare.test.redact")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    redact.install_logging(logger)
    try:
        logger.warning("calling with %s and %s", "s3cr3t-token-value", f"bot{BOT_TOKEN}/getMe")
        try:
            raise RuntimeError("postgresql://app:db-password@host/db refused")
        except RuntimeError:
            logger.exception("store down")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "s3cr3t" not in output and BOT_TOKEN not in output and "db-password" not in output
    assert "calling with *** and bot***/getMe" in output and "postgresql://app:***@host/db" in output
