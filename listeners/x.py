"""X (Twitter) API v2 through tweepy: recent search for the configured queries and the brand's mentions.

tweepy hard-codes https://api.twitter.com; a requests adapter mounted on the client's session
rewrites that host to the configured `base_url` (a proxy, or the emulator the tests start) and
adds a timeout. Each stream's cursor keeps `since_id` and, while paging, the page token and the
newest id of the sequence, so a poll cut short (page limit, 429) resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from webcare.core.errors import ConfigError, ListenerError
from webcare.core.ratelimit import until_reset
from webcare.listeners.base import Mention, PollRateLimited, dump_cursor, load_cursor, parse_time
from webcare.listeners.config import XConfig

log = logging.getLogger(__name__)
TWITTER_HOST = "https://api.twitter.com"
TWEET_FIELDS = ["author_id", "created_at", "lang", "referenced_tweets", "conversation_id", "public_metrics"]
USER_FIELDS = ["username", "name", "public_metrics"]


class HostRewrite(HTTPAdapter):
    """Sends what tweepy addresses to api.twitter.com to `base_url` instead, with a timeout."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.url and request.url.startswith(TWITTER_HOST):
            request.url = self.base_url + request.url[len(TWITTER_HOST):]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def make_client(bearer_token: str, base_url: str, timeout: float) -> tweepy.Client:
    """A tweepy client that talks to `base_url` and returns plain dicts (malformed items stay readable)."""
    client = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
    client.session.mount(TWITTER_HOST, HostRewrite(base_url, timeout))
    return client


class XListener:
    """Polls recent search per query and the brand account's mentions."""

    name = "x"

    def __init__(self, config: XConfig, timeout: float = 30.0, clock: Any = time.time) -> None:
        if config.bearer_token is None:
            raise ConfigError("listeners.x: no bearer_token configured (set X_BEARER_TOKEN)")
        if not config.queries and not config.user_id:
            raise ConfigError("listeners.x: configure queries or user_id")
        self.config = config
        self.interval = config.interval_seconds
        self.clock = clock
        self.client = make_client(config.bearer_token.get_secret_value(), config.base_url, timeout)

    def streams(self) -> list[str]:
        return [f"q:{q}" for q in self.config.queries] + ([f"mentions:{self.config.user_id}"] if self.config.user_id else [])

    def poll(self, cursor: str | None) -> tuple[list[Mention], str | None]:
        state = load_cursor(cursor, self.name)
        mentions: list[Mention] = []
        for stream in self.streams():
            state[stream] = self._poll_stream(stream, dict(state.get(stream, {})), mentions, state)
        return mentions, dump_cursor(state)

    def _poll_stream(self, stream: str, s: dict[str, Any], out: list[Mention], state: dict[str, Any]) -> dict[str, Any]:
        kind, _, arg = stream.partition(":")
        for _ in range(self.config.max_pages):
            params: dict[str, Any] = {
                "max_results": self.config.page_size, "expansions": ["author_id", "referenced_tweets.id"],
                "tweet_fields": TWEET_FIELDS, "user_fields": USER_FIELDS,
            }
            if s.get("since_id"):
                params["since_id"] = s["since_id"]
            try:
                if kind == "q":
                    if s.get("token"):
                        params["next_token"] = s["token"]
                    page = self.client.search_recent_tweets(arg, **params)
                else:
                    if s.get("token"):
                        params["pagination_token"] = s["token"]
                    page = self.client.get_users_mentions(arg, **params)
            except tweepy.TooManyRequests as e:
                wait = until_reset(e.response.headers.get("x-rate-limit-reset"), self.clock())
                raise PollRateLimited(f"x: rate limited on {stream}", wait, out, dump_cursor({**state, stream: s})) from e
            except tweepy.HTTPException as e:
                raise ListenerError(f"x: {stream}: HTTP {e.response.status_code}: {e}") from e
            except (requests.RequestException, ValueError) as e:
                raise ListenerError(f"x: {stream}: {e}") from e
            meta = page.get("meta") or {}
            s.setdefault("newest", meta.get("newest_id"))
            out.extend(self._mentions(page, arg if kind == "q" else "@mentions"))
            token = meta.get("next_token")
            if not token:
                newest = s.get("newest") or s.get("since_id")
                return {"since_id": newest} if newest else {}
            s["token"] = token
        return s  # page limit reached: the next poll goes on from s["token"]

    def _mentions(self, page: dict[str, Any], query: str) -> list[Mention]:
        includes = page.get("includes")
        listed = includes.get("users") if isinstance(includes, dict) else None
        users = {u["id"]: u for u in listed if isinstance(u, dict) and isinstance(u.get("id"), str)} \
            if isinstance(listed, list) else {}
        found = []
        data = page.get("data")
        for tweet in data if isinstance(data, list) else []:
            try:
                found.append(self._mention(tweet, users, query))
            except (KeyError, TypeError, AttributeError, ValueError) as e:
                log.warning("x: skipped a malformed tweet (%s): %.200r", e, tweet)
        return found

    def _mention(self, tweet: Any, users: dict[Any, dict[str, Any]], query: str) -> Mention:
        if not isinstance(tweet, dict) or not tweet.get("id") or not isinstance(tweet.get("text"), str):
            raise ValueError("no id or no text")
        user = users.get(tweet.get("author_id")) or {}
        repost = next((r.get("id") for r in tweet.get("referenced_tweets") or []
                       if isinstance(r, dict) and r.get("type") == "retweeted"), None)
        username = user.get("username")
        return Mention(
            source=self.name, external_id=str(tweet["id"]), text=tweet["text"],
            author_id=tweet.get("author_id"), author=username, author_name=user.get("name"),
            author_reach=int((user.get("public_metrics") or {}).get("followers_count") or 0),
            url=f"https://x.com/{username or 'i'}/status/{tweet['id']}",
            posted_at=parse_time(tweet.get("created_at")), query=query,
            repost_of=str(repost) if repost else None, raw={"lang": tweet.get("lang")},
        )
