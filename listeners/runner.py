"""The one runner of all listeners: per-source schedules, backoff with jitter, rate-limit waits.

Each source is polled when due. A poll's mentions and its next cursor are stored by triage in one
transaction; only then does the cursor advance. Errors back off exponentially with equal jitter (webcare/core/retry.py);
a rate limit waits until the network's reset time and resumes from the page that was refused.
Several processes may run runners on one store: a lease per source lets one of them poll it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from webcare.core import extras
from webcare.core.errors import ConfigError, RateLimited, WebcareError
from webcare.core.retry import backoff
from webcare.listeners.base import Listener, PollRateLimited
from webcare.listeners.config import ListenersConfig
from webcare.listeners.triage import BatchResult, Triage
from webcare.nlu.types import TextAnalyzer
from webcare.store import Store

log = logging.getLogger(__name__)


LISTENERS = {  # network → (module, class); a network's client library loads only when it is enabled
    "x": ("webcare.listeners.x", "XListener"),
    "bluesky": ("webcare.listeners.bluesky", "BlueskyListener"),
    "mastodon": ("webcare.listeners.mastodon", "MastodonListener"),
    "rss": ("webcare.listeners.rss", "RSSListener"),
}


def build_listeners(config: ListenersConfig) -> list[Listener]:
    """The enabled listeners, each built from its section (a ConfigError names what is missing)."""
    built = []
    for name, (module, cls) in LISTENERS.items():
        section = getattr(config, name)
        if section.enabled:
            listener = getattr(extras.load(module, "listeners", f"listeners.{name}"), cls)
            built.append(listener(section, timeout=config.timeout_seconds))
    return built


@dataclass
class SourceState:
    next_due: float = 0.0
    failures: int = 0
    polls: int = 0
    last_error: str | None = None


class ListenerRunner:
    """Polls each listener on its own schedule and hands what it finds to triage."""

    def __init__(
        self,
        store: Store,
        listeners: Sequence[Listener],
        triage: Triage,
        backoff_base: float = 5.0,
        backoff_max: float = 900.0,
        progress: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        worker: str | None = None,
    ) -> None:
        self.store = store
        self.listeners = list(listeners)
        self.triage = triage
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.progress = progress
        self.clock = clock
        self.worker = worker or f"listeners@{socket.gethostname()}:{os.getpid()}"
        self.state = {listener.name: SourceState() for listener in self.listeners}
        self.totals = BatchResult()
        self._stop = threading.Event()

    @classmethod
    def from_config(
        cls,
        config: ListenersConfig,
        store: Store,
        analyzer: TextAnalyzer,
        notify: Callable[[str], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ListenerRunner:
        listeners = build_listeners(config)
        if not listeners:
            raise ConfigError("listeners: no network is enabled (set listeners.<network>.enabled: true)")
        triage = Triage(store, analyzer, config, notify=notify)
        return cls(store, listeners, triage, config.backoff_base_seconds, config.backoff_max_seconds, progress)

    @staticmethod
    def cursor_key(name: str) -> str:
        return f"listener:{name}"

    def run_once(self, force: bool = False) -> dict[str, BatchResult | None]:
        """Poll every source that is due (all of them with `force`); its result, or None when skipped."""
        results: dict[str, BatchResult | None] = {}
        for listener in self.listeners:
            due = force or self.state[listener.name].next_due <= self.clock()
            results[listener.name] = self.poll(listener) if due and not self._stop.is_set() else None
        return results

    def poll(self, listener: Listener) -> BatchResult | None:
        """One poll of one source, stored with its cursor; schedules the next one."""
        state, key = self.state[listener.name], self.cursor_key(listener.name)
        now = self.clock()
        if not self.store.acquire_lease(key, self.worker, max(listener.interval * 2, 120.0)):
            state.next_due = now + listener.interval  # another process polls this source
            return None
        state.polls += 1
        try:
            try:
                mentions, cursor = listener.poll(self.store.get_cursor(key))
            except PollRateLimited as e:  # keep what came before the refused page, then wait
                result = self.triage.process(e.mentions, (key, e.cursor) if e.cursor is not None else None)
                self._wait(state, listener.name, e)
                return self._report(listener.name, result)
            except RateLimited as e:
                self._wait(state, listener.name, e)
                return None
            result = self.triage.process(mentions, (key, cursor))
        except WebcareError as e:
            self._fail(state, listener.name, e)
            return None
        except Exception as e:
            log.exception("%s: poll failed", listener.name)
            self._fail(state, listener.name, e)
            return None
        state.failures, state.last_error = 0, None
        state.next_due = self.clock() + listener.interval
        return self._report(listener.name, result)

    def _wait(self, state: SourceState, name: str, e: RateLimited) -> None:
        state.next_due = self.clock() + e.retry_after + random.uniform(0, 1)  # a second of spread: no stampede at reset
        state.last_error = str(e)
        log.info("%s: rate limited; next poll in %.0f s", name, e.retry_after)

    def _fail(self, state: SourceState, name: str, e: Exception) -> None:
        state.failures += 1
        state.last_error = str(e)
        wait = backoff(state.failures, self.backoff_base, self.backoff_max)
        state.next_due = self.clock() + wait
        log.warning("%s: %s; retry %d in %.0f s", name, e, state.failures, wait)

    def _report(self, name: str, result: BatchResult) -> BatchResult:
        self.totals.add(result)
        if self.progress is not None:
            t = self.totals
            self.progress(
                f"{name}: +{result.new} new, {result.flagged} flagged, {result.duplicates} duplicates · total "
                f"{t.new} mentions, {t.flagged} flagged, {t.tickets} tickets, {len(t.storms)} storms, "
                f"{len(t.ambassadors)} ambassadors"
            )
        return result

    def next_due(self) -> float:
        return min((s.next_due for s in self.state.values()), default=self.clock() + 60)

    def run(self) -> None:
        """Poll until `stop()` is called (from another thread or a signal handler)."""
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(max(0.0, min(self.next_due() - self.clock(), 60.0)))
        self.release()

    def stop(self) -> None:
        self._stop.set()

    async def run_async(self, stop: asyncio.Event) -> None:
        """Poll in a worker thread until `stop` is set (for `webcare run`)."""
        watcher = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                await asyncio.to_thread(self.run_once)
                wait = max(0.0, min(self.next_due() - self.clock(), 60.0))
                await asyncio.wait({watcher}, timeout=wait)
        finally:
            watcher.cancel()
            await asyncio.to_thread(self.release)

    def release(self) -> None:
        """Give up this runner's leases, so the next process (or `webcare listen --once`) polls at once."""
        for listener in self.listeners:
            self.store.release_lease(self.cursor_key(listener.name), self.worker)


async def run_listeners(settings: Any, store: Store, analyzer: TextAnalyzer, stop: asyncio.Event,
                        notify: Callable[[str], None] | None = None) -> None:
    """The `listeners` role of `webcare run`."""
    runner = ListenerRunner.from_config(settings.listeners, store, analyzer, notify=notify)
    await runner.run_async(stop)
