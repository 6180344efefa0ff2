"""A Mastodon emulator: hashtag timelines and status search with min_id paging, posting statuses."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qsl

from emulators.server import Emulator, Reply, Request

TOKEN = "masto-token"


class MastodonEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[dict[str, Any]] = []  # oldest first
        self.posted: list[dict[str, Any]] = []
        self.extra_items: list[Any] = []
        self._ids = itertools.count(110_000_000_000_000_001)

    def status(self, text: str, tags: tuple[str, ...] = (), author: str = "anna", followers: int = 50,
               reblog_of: dict[str, Any] | None = None) -> dict[str, Any]:
        status_id = str(next(self._ids))
        status = {
            "id": status_id, "uri": f"https://social.example/users/{author}/statuses/{status_id}",
            "url": f"https://social.example/@{author}/{status_id}", "created_at": "2026-11-20T10:00:00.000Z",
            "content": f"<p>{text}</p>", "language": "nl", "visibility": "public", "reblog": reblog_of,
            "tags": [{"name": t, "url": f"https://social.example/tags/{t}"} for t in tags],
            "account": {"id": str(abs(hash(author)) % 10**9), "username": author, "acct": f"{author}@social.example",
                        "display_name": author.title(), "followers_count": followers,
                        "url": f"https://social.example/@{author}"},
        }
        self.statuses.append(status)
        return status

    def route(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == "/api/v1/statuses":
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return Reply(401, {"error": "The access token is invalid"})
            if "json" in request.headers.get("content-type", ""):
                form = request.json()
            else:
                form = dict(parse_qsl(request.body.decode()))
            self.posted.append(form)
            return Reply(200, self.status(form.get("status", ""), author="acme"))
        if request.path.rstrip("/") in ("/api/v1/instance", "/api/v2/instance"):
            return Reply(200, {"uri": "social.example", "domain": "social.example", "title": "Social",
                               "version": "4.3.0", "api_versions": {"mastodon": 2}})
        if request.path.startswith("/api/v1/timelines/tag/"):
            tag = request.path.rsplit("/", 1)[-1].lower()
            return self._page([s for s in self.statuses if any(t["name"] == tag for t in s["tags"])], request)
        if request.path == "/api/v2/search":
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return Reply(401, {"error": "The access token is invalid"})
            q = request.query["q"].lower()
            page = self._page([s for s in self.statuses if q in s["content"].lower()], request)
            return Reply(page.status, {"accounts": [], "hashtags": [], "statuses": page.body}, page.headers)
        return Reply(404, {"error": "Record not found"})

    def _page(self, found: list[dict[str, Any]], request: Request) -> Reply:
        """Like Mastodon: with min_id, the statuses right after it; always newest first within the page."""
        limit = int(request.query.get("limit") or 20)
        min_id = int(request.query.get("min_id") or 0)
        after = [s for s in found if int(s["id"]) > min_id]
        page: list[Any] = list(reversed(after[:limit] if min_id else after[-limit:]))
        if self.extra_items:
            page, self.extra_items = page + self.extra_items, []
        return Reply(200, page)
