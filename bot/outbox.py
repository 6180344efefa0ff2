"""The outbox dispatcher: delivers queued replies (the bot's and staff's) on the customer's channel.

Replies are rows in the store with delivery 'pending'. A dispatcher claims them per channel (or per
chat) for a lease, sends each chat's replies in order — different chats concurrently — and marks
them sent, or failed with an equal-jitter backoff (webcare/core/retry.py) or the wait the platform
asked for. Because the queue lives in the store, a reply survives a crash or restart and any process
may deliver it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from webcare.bot.channels.base import Channel
from webcare.bot.engine import to_outgoing
from webcare.bot.events import OutboxListener
from webcare.core.errors import ChannelError
from webcare.core.retry import backoff
from webcare.store import Store

log = logging.getLogger(__name__)

RETRY_BASE, RETRY_CAP = 2.0, 300.0  # seconds: the n-th failed send waits 2^(n-1)..2^n s (equal jitter), at most 5 min


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
        batch: int = 50,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.worker = worker or worker_name()
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Start the next round now instead of after the poll interval (e.g. a reply was just queued)."""
        self._wake.set()

    def claim(self, name: str, chat_id: str | None = None) -> list[dict[str, Any]]:
        """Claim what is due now on a channel (or in one of its chats) for this worker (blocking)."""
        return self.store.claim_outbox(name, self.worker, self.batch, self.lease_seconds, chat_id)

    async def dispatch_once(self) -> int:
        """Deliver what is due now on every channel; return how many were sent."""
        sent = 0
        for name in self.channels:
            claimed_at = time.monotonic()
            rows = await asyncio.to_thread(self.claim, name)
            sent += await self.deliver(name, rows, claimed_at)
        return sent

    async def dispatch_chat(self, name: str, chat_id: str) -> int:
        """Deliver what is due now in one chat of one channel (a channel's own fast path)."""
        claimed_at = time.monotonic()
        rows = await asyncio.to_thread(self.claim, name, chat_id)
        return await self.deliver(name, rows, claimed_at)

    async def deliver(self, name: str, rows: list[dict[str, Any]], claimed_at: float) -> int:
        """Send rows claimed at `claimed_at` (monotonic): each chat's in order, chats side by side.

        Returns how many were sent.
        """
        chats: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            chats.setdefault(row["chat_id"], []).append(row)
        counts = await asyncio.gather(
            *(self._deliver_chat(name, chat_rows, claimed_at) for chat_rows in chats.values())
        )
        return sum(counts)

    async def _deliver_chat(self, name: str, rows: list[dict[str, Any]], claimed_at: float) -> int:
        channel = self.channels[name]
        for done, row in enumerate(rows):
            try:
                fresh = time.monotonic() - claimed_at < self.lease_seconds / 3
                if not fresh and not await asyncio.to_thread(
                    self.store.renew_claim, row["id"], self.worker, self.lease_seconds
                ):
                    continue  # this batch outlived its lease and another worker has the reply now
                try:
                    platform_id = await channel.send(to_outgoing(row))
                except ChannelError as e:
                    await self._failed(name, row, e)
                    await self._release(rows[done + 1 :])  # keep the chat's replies in order behind the failure
                    return done
                await asyncio.to_thread(self.store.mark_sent, row["id"], platform_id)
            except asyncio.CancelledError:  # stopping: the replies not tried yet are free again at once;
                await self._release(rows[done + 1 :])  # this one may have gone out, so its lease runs out
                raise
        return len(rows)

    async def _release(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            await asyncio.to_thread(self.store.release_claim, row["id"])

    async def _failed(self, name: str, row: dict[str, Any], error: ChannelError) -> None:
        attempts = row["attempts"] + 1
        retry_after = getattr(error, "retry_after", None)
        give_up = getattr(error, "permanent", False) or attempts >= self.max_attempts
        retry_in = None if give_up else (retry_after or backoff(attempts, RETRY_BASE, RETRY_CAP))
        log.warning("send of message %s on %s failed (attempt %d): %s", row["id"], name, attempts, error)
        await asyncio.to_thread(self.store.mark_failed, row["id"], str(error), retry_in)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set: a round when woken (a reply queued here, or NOTIFY from another
        process on PostgreSQL), else every `poll_interval` for what came due (retries, expired leases)."""
        loop = asyncio.get_running_loop()
        listener = OutboxListener.for_store(
            self.store, lambda channel, _chat: loop.call_soon_threadsafe(self.wake) if channel in self.channels else None)
        try:
            await self._rounds(stop)
        finally:
            if listener is not None:
                listener.stop()

    async def _rounds(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.dispatch_once()
            except Exception:
                log.exception("outbox round failed; retrying")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
