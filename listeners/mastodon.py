"""Mastodon through Mastodon.py: hashtag timelines and status search on one instance.

Paging goes forward with `min_id` (the statuses right after the last one seen), so a poll never
skips statuses however many arrived; the cursor keeps the highest status id per stream.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mastodon import Mastodon, MastodonAPIError, MastodonError, MastodonNetworkError, MastodonRatelimitError

from webcare.core.errors import ConfigError, ListenerError
from webcare.core.ratelimit import until_reset
from webcare.core.text import html_to_text
from webcare.listeners.base import Mention, PollRateLimited, dump_cursor, load_cursor, parse_time
from webcare.listeners.config import MastodonConfig

log = logging.getLogger(__name__)


def make_api(config: MastodonConfig, timeout: float = 30.0) -> Mastodon:
    """A Mastodon.py client for the configured instance (the listener's and the replies')."""
    token = config.access_token.get_secret_value() if config.access_token else None
    return Mastodon(access_token=token, api_base_url=config.api_base_url, ratelimit_method="throw",
                    request_timeout=timeout, version_check_mode="none")


class MastodonListener:
    """Polls `#hashtag` timelines and full-text status search."""

    name = "mastodon"

    def __init__(self, config: MastodonConfig, timeout: float = 30.0, clock: Any = time.time) -> None:
        if not config.hashtags and not config.queries:
            raise ConfigError("listeners.mastodon: configure hashtags or queries")
        if config.queries and config.access_token is None:
            raise ConfigError("listeners.mastodon: status search needs access_token (set MASTODON_ACCESS_TOKEN)")
        self.config = config
        self.interval = config.interval_seconds
        self.clock = clock
        self.api = make_api(config, timeout)

    def streams(self) -> list[str]:
        return [f"tag:{t.lstrip('#')}" for t in self.config.hashtags] + [f"q:{q}" for q in self.config.queries]

    def poll(self, cursor: str | None) -> tuple[list[Mention], str | None]:
        state = load_cursor(cursor, self.name)
        found: list[Mention] = []
        for stream in self.streams():
            state[stream] = self._poll_stream(stream, state.get(stream), found, state)
        return found, dump_cursor(state)

    def _fetch(self, stream: str, min_id: str | None) -> list[Any]:
        kind, _, arg = stream.partition(":")
        limit = self.config.page_size
        if kind == "tag":
            return list(self.api.timeline_hashtag(arg, min_id=min_id, limit=limit))
        result = self.api.search_v2(arg, result_type="statuses", min_id=min_id, limit=limit, resolve=False)
        return list(result.get("statuses") or [])

    def _poll_stream(self, stream: str, min_id: str | None, out: list[Mention], state: dict[str, Any]) -> str | None:
        for _ in range(self.config.max_pages):
            try:
                page = self._fetch(stream, min_id)
            except MastodonRatelimitError as e:
                wait = until_reset(self.api.ratelimit_reset, self.clock())
                raise PollRateLimited(f"mastodon: rate limited on {stream}", wait, out,
                                      dump_cursor({**state, stream: min_id})) from e
            except (MastodonAPIError, MastodonNetworkError, MastodonError) as e:
                raise ListenerError(f"mastodon: {stream}: {e}") from e
            ids = []
            for status in page:
                mention = self._mention(status, stream)
                if mention is not None:
                    out.append(mention)
                if isinstance(status, dict) and str(status.get("id", "")).isdigit():
                    ids.append(int(status["id"]))
            if not ids:
                break
            min_id = str(max(ids))
            if len(page) < self.config.page_size:
                break
        return min_id

    def _mention(self, status: Any, stream: str) -> Mention | None:
        try:
            account = status["account"]
            post = status.get("reblog") or status
            text = html_to_text(post["content"])
            return Mention(
                source=self.name, external_id=str(status["id"]), text=text,
                author_id=str(account["id"]), author=account.get("acct"), author_name=account.get("display_name"),
                author_reach=int(account.get("followers_count") or 0), url=status.get("url") or status.get("uri"),
                posted_at=parse_time(status.get("created_at")), query=stream.partition(":")[2],
                repost_of=str(post["id"]) if status.get("reblog") else None,
                raw={"lang": status.get("language")},
            )
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            log.warning("mastodon: skipped a malformed status (%s): %.200r", e, status)
            return None
