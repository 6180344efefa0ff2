"""Inbound e-mail from an IMAP mailbox (imapclient): IDLE when the server offers it, polling otherwise.

A thread watches one folder. Each unseen mail is fetched without marking it (BODY.PEEK), handed to
the e-mail channel, and flagged \\Seen only once the channel took it; a mail the store could not
take stays unseen and is read again on the next look; one it cannot read at all is flagged for a
person and skipped. Connection failures reconnect with backoff.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable

from imapclient import FLAGGED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientError

from webcare.bot.config import EmailConfig
from webcare.bot.outbox import backoff
from webcare.core.errors import StoreError

log = logging.getLogger(__name__)
IDLE_TICK = 1.0  # seconds per IDLE check, so a stop is noticed quickly


class MailboxWatcher:
    """Feeds new mail of `config.imap_folder` to `receive(raw)` until stopped."""

    def __init__(self, config: EmailConfig, receive: Callable[[bytes], str]) -> None:
        self.config = config
        self.receive = receive
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imap", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                client = self.connect()
                try:
                    failures = 0
                    self._watch(client)
                finally:
                    client.logout()
            except Exception as e:  # the watcher must outlive any failure: it reconnects, with the reason logged
                failures += 1
                wait = backoff(failures, base=1.0, cap=300.0)
                log.warning("IMAP %s: %s; trying again in %.0f s", self.config.imap_host, e, wait,
                            exc_info=not isinstance(e, (IMAPClientError, OSError)))
                self._stop.wait(wait)

    def connect(self) -> IMAPClient:
        """Signed in, with the folder selected; over TLS or STARTTLS unless `imap_security` is none."""
        config = self.config
        assert config.imap_host is not None
        context = ssl.create_default_context(cafile=config.tls_ca_file)
        client = IMAPClient(config.imap_host, config.imap_port, ssl=config.imap_security == "ssl",
                            ssl_context=context, timeout=30)
        if config.imap_security == "starttls":
            client.starttls(context)  # fails (and is retried) when the server does not offer it
        password = config.imap_password.get_secret_value() if config.imap_password else ""
        client.login(config.imap_username or config.address or "", password)
        client.select_folder(config.imap_folder)
        return client

    def _watch(self, client: IMAPClient) -> None:
        idle = client.has_capability("IDLE")
        while not self._stop.is_set():
            self.fetch_new(client)
            if idle:
                self._idle(client)
            else:
                self._stop.wait(self.config.poll_seconds)

    def _idle(self, client: IMAPClient) -> None:
        """Wait for the server to announce new mail (or poll_seconds, or a stop)."""
        client.idle()
        try:
            deadline = time.monotonic() + self.config.poll_seconds
            while not self._stop.is_set() and time.monotonic() < deadline:
                if client.idle_check(timeout=IDLE_TICK):
                    break
        finally:
            client.idle_done()

    def fetch_new(self, client: IMAPClient) -> int:
        """Hand every unseen mail to the channel; return how many were taken."""
        taken = 0
        uids = client.search(["UNSEEN"])
        for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items() if uids else ():
            try:
                outcome = self.receive(data[b"BODY[]"])
            except StoreError as e:
                log.warning("IMAP mail %s left unseen, the store is unavailable: %s", uid, e)
                return taken
            except Exception:  # a mail webcare cannot read must not block the rest: flagged for a person
                log.exception("IMAP mail %s could not be handled; flagged in the mailbox", uid)
                client.add_flags([uid], [SEEN, FLAGGED])
                continue
            log.info("IMAP mail %s: %s", uid, outcome)
            client.add_flags([uid], [SEEN])
            taken += 1
        return taken
