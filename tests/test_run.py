"""`webcare run --only …` as real, separate processes sharing one store: Telegram (through the real
python-telegram-bot and the Bot API emulator), the console and web chat, and the X listener (the
real tweepy against the X emulator). One bot process is killed with SIGKILL and restarted; every
customer message is answered exactly once and every mention stored once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from emulators.console_kit import KeywordAnalyzer
from emulators.telegram_api import TOKEN, TelegramEmulator
from emulators.x_api import XEmulator
from webcare.store import Store

pytestmark = pytest.mark.slow

STAFF_CHAT = -100777


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def deployment(tmp_path, analyzer, nlu_config):
    """Emulators, a config.yml pointing at them, and a way to start `webcare run` processes."""
    with TelegramEmulator() as tg, XEmulator() as x:
        port = free_port()
        config = {
            "store": {"url": f"sqlite:///{tmp_path / 'webcare.db'}"},
            "nlu": {"data_dir": nlu_config.data_dir, "model_dir": nlu_config.model_dir},
            "channels": {
                "telegram": {"token": "${TELEGRAM_BOT_TOKEN}", "base_url": tg.base_url,
                             "base_file_url": tg.base_file_url, "poll_timeout": 1, "typing": False},
                "staff_telegram": {"chat_id": STAFF_CHAT, "poll_interval": 0.2},
            },
            "listeners": {"enabled": True, "x": {"enabled": True, "bearer_token": "${X_BEARER_TOKEN}",
                                                 "base_url": x.url, "queries": ["acme"], "interval_seconds": 1}},
            "console": {"port": port},
        }
        path = tmp_path / "config.yml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "X_BEARER_TOKEN": "test-token",
               "PYTHONUNBUFFERED": "1"}
        processes: list[subprocess.Popen] = []

        def start(*roles: str) -> subprocess.Popen:
            args = [a for role in roles for a in ("--only", role)]
            log = open(tmp_path / f"{'-'.join(roles)}-{len(processes)}.log", "w")  # noqa: SIM115
            process = subprocess.Popen([sys.executable, "-m", "webcare", "-c", str(path), "run", *args],
                                       cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
            processes.append(process)
            return process

        yield tg, x, start, f"http://127.0.0.1:{port}", path
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        logs = "\n".join(f"== {p.name}\n{p.read_text()}" for p in sorted(tmp_path.glob("*.log")))
        print(logs)  # shown when a test fails
        assert "test-token" not in logs and TOKEN not in logs  # secrets are never logged


def wait_until(check, timeout: float = 180.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_roles_in_separate_processes_survive_a_killed_bot(deployment, tmp_path):
    tg, x, start, console_url, _ = deployment
    bot = start("bot", "outbox")
    start("console")
    start("listeners")
    wait_until(lambda: tg.commands, what="the bot to register its commands")
    wait_until(lambda: _healthy(console_url), what="the console to answer /healthz")

    tg.message(501, "Wat zijn jullie openingstijden?", first_name="Anna")
    tg.wait_for("sendMessage", chat_id=501, timeout=180)
    tg.message(502, "Ik wil een medewerker spreken", first_name="Bram")
    tg.wait_for("sendMessage", chat_id=502, timeout=180)
    post = tg.wait_for("sendMessage", chat_id=STAFF_CHAT, timeout=180)[0]
    assert "Bram" in post["text"]  # the escalation reached the staff group with its story

    x.tweet("@acme mijn pakket is al een week te laat, echt belachelijk", author_id="77")
    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    try:
        wait_until(lambda: store.mentions(), timeout=180, what="the X mention to be stored")

        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
        tg.message(503, "Waar is mijn bestelling 12345678?", first_name="Cas")
        tg.message(501, "Bedankt!", first_name="Anna")
        start("bot", "outbox")
        tg.wait_for("sendMessage", chat_id=503, timeout=180)
        wait_until(lambda: len(tg.sent("sendMessage", 501)) >= 2, timeout=180, what="Anna's second answer")
        time.sleep(3)  # time for anything that would be sent twice

        for chat in (501, 502, 503):
            rows = store.backend.query("SELECT direction, text, delivery FROM messages WHERE channel = 'telegram' "
                               "AND chat_id = ? ORDER BY id", [str(chat)])
            incoming = [r for r in rows if r["direction"] == "in"]
            outgoing = [r for r in rows if r["direction"] == "out"]
            assert len({r["text"] for r in incoming}) == len(incoming)  # each customer message stored once
            assert outgoing and all(r["delivery"] == "sent" for r in outgoing)
            assert len(tg.texts(chat)) == len(outgoing)  # every reply delivered exactly once
        assert len(tg.texts(501)) == 2
        assert len(store.mentions()) == 1
        assert len(store.tickets(kind="escalation")) == 1
    finally:
        store.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_run_with_nothing_enabled_says_so_without_loading_the_nlu(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"console": {"enabled": False}, "store": {"url": f"sqlite:///{tmp_path}/w.db"},
                                    "nlu": {"model_dir": str(tmp_path / "models")}}))
    done = subprocess.run([sys.executable, "-m", "webcare", "-c", str(path), "run", "--only", "listeners"],
                          check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TELEGRAM_BOT_TOKEN": ""})
    assert done.returncode == 0
    assert "nothing to run" in done.stderr
    assert "training" not in done.stderr and not (tmp_path / "models").exists()  # no NLU for a role without work


def test_run_trains_missing_models_once_with_a_message(tmp_path, nlu_config, monkeypatch):
    from webcare.app import App
    from webcare.config import Settings
    from webcare.roles import needs_nlu

    trained: list[str] = []

    def train(cls, config, progress=None, label_files=None):
        trained.append(config.model_dir)
        return KeywordAnalyzer()

    app = App(settings=Settings(nlu=nlu_config.model_copy(update={"model_dir": str(tmp_path / "models")})))
    monkeypatch.setattr("webcare.nlu.analyzer.Analyzer.train", classmethod(train))
    messages: list[str] = []
    assert needs_nlu(app.settings, {"console"}) and not needs_nlu(app.settings, {"outbox", "listeners"})
    app.analyzer(progress=messages.append)
    app.engine(progress=messages.append)
    assert trained == [str(tmp_path / "models")]  # once, however many roles ask for it
    assert any("no model exists; training" in m for m in messages)


def test_training_progress_shows_each_step_once(capsys):
    from webcare.commands.progress import nlu_progress

    with nlu_progress() as say:
        say("nlu: the content changed or no model exists; training")
        say("intents: fitting on 3 examples of 2 intents")
    assert capsys.readouterr().err.splitlines() == [
        "nlu: the content changed or no model exists; training", "intents: fitting on 3 examples of 2 intents"]
