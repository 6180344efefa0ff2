"""config.yml: defaults, environment secrets, and errors that name the key and the line."""

import pytest

from webcare.config import load_settings, parse_settings
from webcare.core.errors import ConfigError


def test_shipped_config_is_valid_and_equals_the_starter():
    from importlib import resources

    starter = resources.files("webcare").joinpath("config.example.yml").read_text(encoding="utf-8")
    assert parse_settings(starter).store.url.startswith("sqlite:///")


def test_missing_default_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.nlu.languages == ["nl", "en"]
    assert settings.dialogue.max_fallbacks == 2


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.yml")


def test_unknown_key_names_key_and_line():
    text = "store:\n  url: sqlite:///x.db\ndialogue:\n  max_falbacks: 3\n"
    with pytest.raises(ConfigError, match=r"line 4: dialogue\.max_falbacks: Extra inputs"):
        parse_settings(text)


def test_wrong_type_names_key_and_line():
    text = "console:\n  host: 127.0.0.1\n  port: lots\n"
    with pytest.raises(ConfigError, match=r"line 3: console\.port"):
        parse_settings(text)


def test_broken_yaml_names_line():
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        parse_settings("store:\n  url: [unclosed\n")


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        parse_settings("- just\n- a list\n")


def test_bad_business_hours_and_regex_are_rejected():
    with pytest.raises(ConfigError, match="business_hours"):
        parse_settings("escalation:\n  business_hours: {mon: '9-5'}\n")
    with pytest.raises(ConfigError, match="keywords"):
        parse_settings("escalation:\n  keywords: ['(unclosed']\n")


def test_secrets_come_from_the_environment_and_stay_hidden(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:supersecret")
    settings = parse_settings("channels:\n  telegram:\n    token: ${TELEGRAM_BOT_TOKEN}\n")
    assert settings.channels.telegram.token.get_secret_value() == "123:supersecret"
    assert "supersecret" not in repr(settings)
    assert "supersecret" not in settings.model_dump_json()


def test_unset_secret_with_empty_default_is_none(monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    settings = parse_settings("channels:\n  telegram:\n    token: ${TELEGRAM_BOT_TOKEN:-}\n")
    assert settings.channels.telegram.token is None


def test_env_default_inside_a_value(monkeypatch):
    monkeypatch.delenv("WEBCARE_DB", raising=False)
    assert parse_settings("store:\n  url: sqlite:///${WEBCARE_DB:-a.db}\n").store.url == "sqlite:///a.db"
