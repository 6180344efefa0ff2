"""The channel registry and the Channel base class: discovery by name, buttons that never vanish."""

from __future__ import annotations

import pytest

from webcare.bot.channels import CHANNELS, enabled_channels
from webcare.bot.channels.base import Channel, ChannelContext, OutgoingMessage
from webcare.bot.config import ChannelsConfig
from webcare.bot.outbox import OutboxDispatcher
from webcare.store import Store


class PlainText(Channel):
    """A channel that can only send text (as SMS or e-mail): what the base class gives for free."""

    name = "plain"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, message: OutgoingMessage, text: str) -> str | None:
        self.sent.append(text)
        return f"plain:{len(self.sent)}"


def test_every_registered_channel_loads_and_has_a_config_section():
    sections = ChannelsConfig()
    for name, spec in CHANNELS.items():
        cls = spec.load()
        assert hasattr(sections, name), f"channels.{name} has no config section"
        assert isinstance(getattr(sections, name).enabled, bool)
        if spec.within is None:
            assert issubclass(cls, Channel) and cls.name == name


def test_a_role_holds_only_the_channels_its_config_switches_on():
    assert enabled_channels(ChannelsConfig(), "bot") == []  # no Telegram token: no bot channel
    with_token = ChannelsConfig.model_validate({"telegram": {"token": "123:abc"}})
    assert enabled_channels(with_token, "bot") == ["telegram"]
    assert enabled_channels(ChannelsConfig(), "console") == ["webchat"]
    assert enabled_channels(ChannelsConfig.model_validate({"webchat": {"enabled": False}}), "console") == []


async def test_a_channel_without_buttons_shows_numbered_choices_and_a_typed_number_is_the_payload(store: Store):
    customer = store.identify("plain", "u1")
    conversation = store.open_conversation(customer["id"], "plain", "chat-1")
    store.queue_outgoing(conversation["id"], "Did you mean:", buttons=[
        {"title": "Where is my order?", "payload": "/order_status"}, {"title": "A person", "payload": "/human"}])
    channel = PlainText()
    assert await OutboxDispatcher(store, {"plain": channel}).dispatch_once() == 1
    assert channel.sent == ["Did you mean:\n\n1. Where is my order?\n2. A person"]
    assert Channel.incoming_text(store, "plain", "chat-1", "2") == ("/human", "button")
    assert Channel.incoming_text(store, "plain", "chat-1", "2.") == ("/human", "button")
    assert Channel.incoming_text(store, "plain", "chat-1", "3") == ("3", "text")  # no third choice
    assert Channel.incoming_text(store, "plain", "other-chat", "1") == ("1", "text")


async def test_a_channel_with_neither_send_nor_send_text_says_so():
    class Mute(Channel):
        name = "mute"

    with pytest.raises(NotImplementedError, match="send_text"):
        await Mute().send(OutgoingMessage("mute", "c", "hi"))


def test_the_console_app_holds_the_console_channels(store: Store):
    from emulators.console_kit import settings
    from webcare.console.app import create_app

    app = create_app(store, settings())
    assert set(app.state.channels) == {"webchat"}
    assert app.state.webchat is app.state.channels["webchat"]
    from fastapi.testclient import TestClient

    assert TestClient(app).get("/chat").status_code == 200  # the channel's routes are in the app


def test_context_options_build_the_terminal(store: Store, tmp_path):
    import io

    from emulators.console_kit import make_engine, settings, write_content
    from webcare.bot.channels.terminal import TerminalChannel

    engine = make_engine(store, write_content(tmp_path))
    out = io.StringIO()
    context = ChannelContext(store, engine, settings(), {"user": "anna", "out": out, "interactive": False})
    channel = TerminalChannel.from_config(settings().channels.terminal, context)
    channel.run(["hello"])
    assert "Hello! How can I help?" in out.getvalue()


def test_the_stores_channel_verbs_on_every_backend(any_store: Store):
    """last_message, record_receipt and release_held, which the WhatsApp and e-mail channels use."""
    customer = any_store.identify("whatsapp", "316")
    conversation = any_store.open_conversation(customer["id"], "whatsapp", "316")
    any_store.record_incoming(conversation["id"], "hoi", platform_message_id="wamid.in")
    sent = any_store.queue_outgoing(conversation["id"], "Hallo")
    any_store.mark_sent(sent, "wamid.out")
    held = any_store.queue_outgoing(conversation["id"], "Later", author="agent:alice")
    any_store.mark_failed(held, "held: the window has closed", None)
    assert any_store.last_message("whatsapp", "316", "in")["text"] == "hoi"
    assert any_store.last_message("whatsapp", "316", "out")["id"] == held
    assert any_store.last_message("whatsapp", "other", "in") is None
    assert any_store.record_receipt("whatsapp", "wamid.out", "read")
    assert not any_store.record_receipt("whatsapp", "wamid.out", "delivered")  # never back from read
    assert not any_store.record_receipt("whatsapp", "wamid.unknown", "read")
    assert any_store.message(sent)["receipt"] == "read"
    assert any_store.release_held("whatsapp", "316") == 1
    assert any_store.message(held)["delivery"] == "pending" and any_store.message(held)["error"] is None
    assert any_store.record_receipt("whatsapp", "wamid.out", "failed", "131047 re-engagement")
    assert any_store.message(sent)["delivery"] == "failed"
