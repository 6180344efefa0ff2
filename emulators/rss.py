"""An RSS/Atom emulator: feeds at /feeds/<name> with ETag and Last-Modified (304 when unchanged)."""

from __future__ import annotations

import hashlib
from email.utils import formatdate
from xml.sax.saxutils import escape

from emulators.server import Emulator, Reply, Request


class RSSEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.feeds: dict[str, list[dict[str, str]]] = {}
        self.raw: dict[str, str] = {}  # a feed served as this exact text (malformed on purpose)
        self.modified: dict[str, float] = {}

    def entry(self, feed: str, title: str, summary: str = "", guid: str | None = None, author: str = "reviewer") -> None:
        items = self.feeds.setdefault(feed, [])
        items.append({"title": title, "summary": summary, "guid": guid or f"{feed}-{len(items)}", "author": author})
        self.modified[feed] = 1_790_000_000.0 + len(items)

    def feed_url(self, name: str) -> str:
        return f"{self.url}/feeds/{name}"

    def _xml(self, name: str) -> str:
        items = "".join(
            f"<item><title>{escape(i['title'])}</title><description>{escape(i['summary'])}</description>"
            f"<guid>{escape(i['guid'])}</guid><link>https://reviews.example/{escape(i['guid'])}</link>"
            f"<author>{escape(i['author'])}</author><pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate></item>"
            for i in reversed(self.feeds[name])
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'

    def route(self, request: Request) -> Reply:
        name = request.path.removeprefix("/feeds/")
        if name in self.raw:
            return Reply(200, self.raw[name], {"Content-Type": "application/rss+xml"})
        if name not in self.feeds:
            return Reply(404, "no such feed")
        body = self._xml(name)
        etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'
        modified = formatdate(self.modified[name], usegmt=True)
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(200, body, {"Content-Type": "application/rss+xml", "ETag": etag, "Last-Modified": modified})
