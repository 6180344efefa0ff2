"""Push instead of polling: wake who waits for a reply the moment one is queued.

In one process the web chat wakes its waiting pages itself (a posted message's replies, the
outbox dispatcher's `send`). Across processes, PostgreSQL carries the same event: the store sends
`NOTIFY webcare_outbox, '<channel>:<chat_id>'` with each queued reply (store/outbox.py) and
`OutboxListener` turns those into calls of `on_reply(channel, chat_id)`. SQLite has no such
signal: one process, its in-process events, and the waiters' slow safety poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from webcare.store import Store
from webcare.store.outbox import OUTBOX_EVENTS

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 5.0


class OutboxListener:
    """A daemon thread on its own PostgreSQL connection: LISTEN webcare_outbox, call `on_reply` for each."""

    def __init__(self, url: str, on_reply: Callable[[str, str], None]) -> None:
        self.url = url
        self.on_reply = on_reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)

    @classmethod
    def for_store(cls, store: Store, on_reply: Callable[[str, str], None]) -> OutboxListener | None:
        """A started listener when the store is on PostgreSQL; None on SQLite (nothing to listen to)."""
        if store.backend.dialect != "postgresql":
            return None
        listener = cls(store.backend.url, on_reply)
        listener._thread.start()
        return listener

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {OUTBOX_EVENTS}")
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            channel, _, chat_id = notice.payload.partition(":")
                            self.on_reply(channel, chat_id)
            except psycopg.Error as e:
                log.warning("outbox events: %s; listening again in %.0f s", e, RECONNECT_SECONDS)
                self._stop.wait(RECONNECT_SECONDS)
