"""The outbox dispatcher: delivers queued replies (the bot's and staff's) on the customer's channel.

Replies are rows in the store with delivery 'pending'. A dispatcher claims them per channel for a
lease, sends them in order per chat, and marks them sent, or failed with a backoff. Because the
queue lives in the store, a reply survives a crash or restart and any process may deliver it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Mapping

from bot.channels.base import Channel
from bot.engine import to_outgoing
from store import Store
from webcare.errors import ChannelError

log = logging.getLogger(__name__)


def backoff(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: a random wait up to base·2^attempt, capped."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2**attempt)


def worker_name(role: str = "outbox") -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


class OutboxDispatcher:
    """Claims and delivers pending replies for a set of channels."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        worker: str | None = None,
        poll_interval: float = 0.5,
        max_attempts: int = 10,
        lease_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.worker = worker or worker_name()
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds

    async def dispatch_once(self) -> int:
        """Deliver what is due now; return how many were sent."""
        sent = 0
        for name, channel in self.channels.items():
            rows = await asyncio.to_thread(
                self.store.claim_outbox, name, self.worker, 50, self.lease_seconds
            )
            blocked: set[str] = set()
            for row in rows:
                if row["chat_id"] in blocked:  # keep a chat's replies in order behind a failure
                    await asyncio.to_thread(self.store.release_claim, row["id"])
                    continue
                if not await asyncio.to_thread(self.store.renew_claim, row["id"], self.worker, self.lease_seconds):
                    continue  # this batch outlived its lease and another worker has the reply now
                try:
                    platform_id = await channel.send(to_outgoing(row))
                except ChannelError as e:
                    blocked.add(row["chat_id"])
                    attempts = row["attempts"] + 1
                    retry_after = getattr(e, "retry_after", None)
                    retry_in = None if attempts >= self.max_attempts else (retry_after or backoff(attempts))
                    log.warning("send of message %s on %s failed (attempt %d): %s", row["id"], name, attempts, e)
                    await asyncio.to_thread(self.store.mark_failed, row["id"], str(e), retry_in)
                    continue
                await asyncio.to_thread(self.store.mark_sent, row["id"], platform_id)
                sent += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set."""
        while not stop.is_set():
            try:
                await self.dispatch_once()
            except Exception:  # noqa: BLE001 - a broken round must not end delivery for good
                log.exception("outbox round failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), self.poll_interval)
            except TimeoutError:
                pass
