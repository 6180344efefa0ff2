"""The terminal chat: interactive in a TTY (rich), line by line when piped, for trying webcare out.

Piped, every input line gets exactly one reply block (the bot's lines, then an empty line), flushed
at once, so a script can talk to the bot:
    printf 'Waar is mijn bestelling?\\n12345678\\n' | webcare chat

`webcare chat --new` ends the user's current conversation first, so the chat starts afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape

from webcare.bot.channels.base import (
    Button,
    Channel,
    ChannelContext,
    IncomingMessage,
    OutgoingMessage,
    button_from_number,
    buttons_as_text,
)
from webcare.bot.engine import DialogueEngine, to_outgoing
from webcare.bot.handoff import shown_text


class TerminalChannel(Channel):
    """One customer chatting in this terminal; replies (the bot's and staff's) come via the outbox."""

    name = "terminal"
    supports_buttons = True  # numbered, shown by `show`

    def __init__(self, engine: DialogueEngine, user: str, out: TextIO, interactive: bool) -> None:
        self.engine = engine
        self.user = user
        self.out = out
        self.interactive = interactive
        self.console = Console(file=out, highlight=False) if interactive else None
        self.buttons: list[Button] = []

    @classmethod
    def from_config(cls, section: Any, context: ChannelContext) -> TerminalChannel:
        """The chat of `webcare chat`: `context.options` gives `user`, `out` and `interactive`."""
        assert context.engine is not None
        options = context.options
        return cls(context.engine, options["user"], options["out"], options["interactive"])

    async def send(self, message: OutgoingMessage) -> str | None:
        """Show a reply the outbox dispatcher hands over (the chat delivers its own in `deliver`)."""
        self.show(message)
        return f"terminal:{message.message_id}"

    def restart(self) -> bool:
        """End this user's current conversation, so the next line starts a new one."""
        return self.engine.restart(self.name, self.user, self.user, actor=self.user)

    def handle_line(self, line: str) -> list[OutgoingMessage]:
        """Send one typed line to the bot; return every reply now due in this chat, delivered."""
        self.engine.handle(self.incoming(line))
        return self.deliver()

    def incoming(self, line: str) -> IncomingMessage:
        """A typed line as a message; a number picks one of the buttons last shown."""
        text = line.rstrip("\r\n")
        payload = button_from_number(text, self.buttons)
        return IncomingMessage(
            channel=self.name,
            external_user_id=self.user,
            chat_id=self.user,
            text=payload or text,
            kind="button" if payload else "text",
            display_name=self.user,
        )

    def deliver(self) -> list[OutgoingMessage]:
        """Show and mark sent the replies waiting in the outbox for this chat."""
        store = self.engine.store
        delivered = []
        for row in store.claim_outbox(self.name, f"terminal:{self.user}", chat_id=self.user):
            message = to_outgoing(row)
            self.show(message)
            store.mark_sent(row["id"])
            delivered.append(message)
        if delivered:
            self.buttons = delivered[-1].buttons
        return delivered

    def choice(self, payload: str) -> str:
        """How a button chosen by number reads: a rating as its stars, anything else as its title."""
        shown = shown_text(payload, "button")
        titles = [b.title for b in self.buttons if b.payload == payload]
        return shown if shown != payload or not titles else titles[0]

    def show(self, message: OutgoingMessage) -> None:
        who = "bot" if message.author == "bot" else message.author.removeprefix("agent:")
        if self.console is None:
            self.out.write(buttons_as_text(message.text, message.buttons) + "\n")
            return
        self.console.print(f"[bold cyan]{escape(who)} ›[/] {escape(message.text)}")
        for number, button in enumerate(message.buttons, 1):
            self.console.print(f"   [cyan]{number}.[/] {escape(button.title)}")

    def run(self, lines: Iterable[str]) -> None:
        """Chat until the input ends: one reply block per line."""
        for line in lines:
            self.handle_line(line)
            if self.console is None:
                self.out.write("\n")
                self.out.flush()

    def run_interactive(self) -> None:
        """A prompt loop for a person at a TTY; Ctrl-D or /quit ends it."""
        assert self.console is not None
        self.console.print("[dim]webcare chat — type your message; /quit to stop.[/]")
        self.deliver()
        while True:
            try:
                line = self.console.input("[bold green]you ›[/] ")
            except (EOFError, KeyboardInterrupt):
                self.console.print()
                return
            if line.strip() in ("/quit", "/exit"):
                return
            incoming = self.incoming(line)
            if incoming.kind == "button":  # "4" picked a button: show what was chosen
                self.console.print(f"[dim]   → {escape(self.choice(incoming.text))}[/]")
            with self.console.status("…", spinner="dots"):
                self.engine.handle(incoming)
            self.deliver()
