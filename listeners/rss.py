"""RSS and Atom feeds (review sites, news searches, forums) through feedparser.

Feeds are fetched with requests (a timeout, and the status and headers in hand) sending the stored
ETag and Last-Modified, so an unchanged feed costs a 304 and nothing else; feedparser parses the
body. An entry's id is its guid, else its link, else a hash of its title and summary.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import time
from typing import Any

import feedparser
import requests

from webcare.core.errors import ConfigError, ListenerError
from webcare.core.ratelimit import retry_after
from webcare.core.text import html_to_text
from webcare.listeners.base import Mention, PollRateLimited, dump_cursor, load_cursor
from webcare.listeners.config import FeedConfig, RSSConfig

log = logging.getLogger(__name__)
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _safe_char_refs(body: bytes) -> bytes:
    """Character references to what is no character (a lone surrogate such as `&#xD800;`, beyond
    U+10FFFF, NUL) become U+FFFD: feedparser would otherwise fail on the whole feed."""

    def replace(match: re.Match[bytes]) -> bytes:
        code = int(match[1], 16) if match[1] else int(match[2])
        return b"&#xFFFD;" if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match[0]

    return _CHAR_REF.sub(replace, body)


class RSSListener:
    """Polls each configured feed; keeps entries that mention a keyword (all when none are set)."""

    name = "rss"

    def __init__(self, config: RSSConfig, timeout: float = 30.0, clock: Any = time.time) -> None:
        if not config.feeds:
            raise ConfigError("listeners.rss: configure feeds (a list of {url, topic})")
        self.config = config
        self.interval = config.interval_seconds
        self.timeout = timeout
        self.clock = clock
        self.keywords = [k.lower() for k in config.keywords]
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "webcare-listener (+https://github.com/webcare)"

    def poll(self, cursor: str | None) -> tuple[list[Mention], str | None]:
        state = load_cursor(cursor, self.name)
        found: list[Mention] = []
        for feed in self.config.feeds:
            try:
                state[feed.url] = self._poll_feed(feed, state.get(feed.url) or {}, found)
            except PollRateLimited as e:
                raise PollRateLimited(str(e), e.retry_after, found, dump_cursor(state)) from e
        return found, dump_cursor(state)

    def _poll_feed(self, feed: FeedConfig, s: dict[str, Any], out: list[Mention]) -> dict[str, Any]:
        headers = {}
        if s.get("etag"):
            headers["If-None-Match"] = s["etag"]
        if s.get("modified"):
            headers["If-Modified-Since"] = s["modified"]
        try:
            response = self.session.get(feed.url, headers=headers, timeout=self.timeout)
        except requests.RequestException as e:
            raise ListenerError(f"rss: {feed.url}: {e}") from e
        if response.status_code == 304:
            return s
        if response.status_code in (429, 503) and "Retry-After" in response.headers:
            wait = retry_after(response.headers.get("Retry-After"), self.clock())
            raise PollRateLimited(f"rss: {feed.url} asks to wait", wait, [], None)
        if response.status_code >= 400:
            raise ListenerError(f"rss: {feed.url}: HTTP {response.status_code}")
        out.extend(self.mentions(response.content, feed, {k.lower(): v for k, v in response.headers.items()}))
        return {k: v for k, v in {"etag": response.headers.get("ETag"),
                                  "modified": response.headers.get("Last-Modified")}.items() if v}

    def mentions(self, body: bytes, feed: FeedConfig, headers: dict[str, str] | None = None) -> list[Mention]:
        """The mentions in one fetched feed; an entry that cannot be read is logged and skipped."""
        try:
            parsed = feedparser.parse(_safe_char_refs(body), response_headers=headers or {})
        except Exception as e:
            raise ListenerError(f"rss: {feed.url}: not a feed ({type(e).__name__})") from e
        if parsed.bozo and not parsed.entries:
            raise ListenerError(f"rss: {feed.url}: not a feed ({parsed.get('bozo_exception')})")
        found = []
        for number, entry in enumerate(parsed.entries, 1):
            try:
                mention = self._mention(entry, feed)
            except (TypeError, ValueError, AttributeError, UnicodeError) as e:
                log.warning("rss: skipped entry %d of %s: %s", number, feed.url, e)
                continue
            if mention is not None:
                found.append(mention)
        return found

    def _mention(self, entry: Any, feed: FeedConfig) -> Mention | None:
        title = html_to_text(entry.get("title") or "")
        summary = html_to_text(entry.get("summary") or "")
        text = " — ".join(t for t in (title, summary) if t)
        if not text:
            log.warning("rss: skipped an entry without title or text in %s", feed.url)
            return None
        if self.keywords and not any(k in text.lower() for k in self.keywords):
            return None
        external_id = entry.get("id") or entry.get("link") or hashlib.sha1(text.encode()).hexdigest()
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        return Mention(
            source=self.name, external_id=f"{feed.url}#{external_id}"[:500], text=" ".join(text.split()),
            author=entry.get("author"), author_name=entry.get("author"), url=entry.get("link"),
            posted_at=calendar.timegm(stamp) if stamp else None, query=feed.topic or feed.url,
        )
