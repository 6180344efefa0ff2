"""An X API v2 emulator: recent search, user mentions, posting tweets; newest first, paged, since_id."""

from __future__ import annotations

import itertools
from typing import Any

from emulators.server import Emulator, Reply, Request


class XEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.tweets: list[dict[str, Any]] = []  # oldest first
        self.users: dict[str, dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []
        self._ids = itertools.count(1000)
        self.extra_items: list[Any] = []  # malformed items served once with the next search page

    def add_user(self, user_id: str, username: str, followers: int = 10) -> None:
        self.users[user_id] = {"id": user_id, "username": username, "name": username.title(),
                               "public_metrics": {"followers_count": followers}}

    def tweet(self, text: str, author_id: str = "1", mentions: str | None = None, retweet_of: str | None = None) -> str:
        if author_id not in self.users:
            self.add_user(author_id, f"user{author_id}")
        tweet_id = str(next(self._ids))
        tweet: dict[str, Any] = {"id": tweet_id, "text": text, "author_id": author_id,
                                 "created_at": "2026-11-20T10:00:00.000Z", "lang": "nl", "_mentions": mentions}
        if retweet_of:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
        self.tweets.append(tweet)
        return tweet_id

    def route(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer test-token":
            return Reply(401, {"title": "Unauthorized"})
        if request.method == "POST" and request.path == "/2/tweets":
            body = request.json()
            self.posted.append(body)
            return Reply(201, {"data": {"id": str(next(self._ids)), "text": body["text"]}})
        if request.path == "/2/tweets/search/recent":
            words = request.query["query"].lower().split()
            found = [t for t in self.tweets if any(w in t["text"].lower() for w in words)]
            return self._page(found, request, "next_token")
        if request.path.startswith("/2/users/") and request.path.endswith("/mentions"):
            user_id = request.path.split("/")[3]
            return self._page([t for t in self.tweets if t["_mentions"] == user_id], request, "pagination_token")
        return Reply(404, {"title": "Not Found"})

    def _page(self, found: list[dict[str, Any]], request: Request, token_param: str) -> Reply:
        since = int(request.query.get("since_id") or 0)
        newest_first = [t for t in reversed(found) if int(t["id"]) > since]
        size = int(request.query.get("max_results") or 10)
        start = int(request.query.get(token_param) or 0)
        page = newest_first[start:start + size]
        data: list[Any] = [{k: v for k, v in t.items() if not k.startswith("_")} for t in page]
        if self.extra_items:
            data += self.extra_items
            self.extra_items = []
        meta: dict[str, Any] = {"result_count": len(page)}
        if newest_first:
            meta["newest_id"] = newest_first[0]["id"]  # of the whole sequence, as X does
            meta["oldest_id"] = newest_first[-1]["id"]
        if start + size < len(newest_first):
            meta["next_token"] = str(start + size)
        authors = {t["author_id"] for t in page}
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
            body["includes"] = {"users": [self.users[a] for a in sorted(authors)]}
        return Reply(200, body)
