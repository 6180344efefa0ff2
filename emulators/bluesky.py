"""A Bluesky emulator: createSession (with a DID document naming a PDS), searchPosts, getPosts, createRecord.

One instance can play the entryway that logs in and name another instance as the account's PDS,
to test that the client follows the PDS of the session's DID document.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any

from emulators.server import Emulator, Reply, Request

HANDLE, DID, PASSWORD = "acme.test", "did:plc:acmebrand", "app-pass-1234"


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


class BlueskyEmulator(Emulator):
    def __init__(self, pds_url: str | None = None) -> None:
        super().__init__()
        self.pds_url = pds_url  # the PDS named in the DID document; None: this emulator itself
        self.posts: list[dict[str, Any]] = []  # oldest first
        self.created: list[dict[str, Any]] = []
        self.extra_items: list[Any] = []
        self._seq = itertools.count(1)
        self.token = _jwt({"sub": DID, "exp": int(time.time()) + 3600, "scope": "com.atproto.appPass"})

    def post(self, text: str, author: str = "alice", likes: int = 0) -> str:
        n = next(self._seq)
        uri = f"at://did:plc:{author}/app.bsky.feed.post/3k{n:08d}"
        stamp = f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}.000Z"
        self.posts.append({
            "uri": uri, "cid": f"bafyrei{n:020d}", "indexedAt": stamp, "likeCount": likes, "repostCount": 0,
            "author": {"did": f"did:plc:{author}", "handle": f"{author}.bsky.social", "displayName": author.title()},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": stamp, "langs": ["nl"]},
        })
        return uri

    def route(self, request: Request) -> Reply:
        nsid = request.path.removeprefix("/xrpc/")
        if nsid == "com.atproto.server.createSession":
            body = request.json()
            if body.get("identifier") != HANDLE or body.get("password") != PASSWORD:
                return Reply(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
            did_doc = {
                "@context": ["https://www.w3.org/ns/did/v1"], "id": DID, "alsoKnownAs": [f"at://{HANDLE}"],
                "verificationMethod": [],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": self.pds_url or self.url}],
            }
            return Reply(200, {"did": DID, "handle": HANDLE, "accessJwt": self.token,
                               "refreshJwt": _jwt({"sub": DID, "exp": int(time.time()) + 86400}),
                               "didDoc": did_doc, "active": True})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "AuthenticationRequired", "message": "no or wrong token"})
        if nsid == "app.bsky.feed.searchPosts":
            return self._search(request)
        if nsid == "app.bsky.feed.getPosts":
            uri = request.query.get("uris")
            return Reply(200, {"posts": [p for p in self.posts if p["uri"] == uri]})
        if nsid == "com.atproto.repo.createRecord":
            body = request.json()
            self.created.append(body)
            n = next(self._seq)
            return Reply(200, {"uri": f"at://{DID}/app.bsky.feed.post/3r{n:08d}", "cid": f"bafyreply{n:016d}"})
        return Reply(501, {"error": "MethodNotImplemented", "message": nsid})

    def _search(self, request: Request) -> Reply:
        q = request.query["q"].lower()
        since = request.query.get("since") or ""
        found = [p for p in reversed(self.posts) if q in p["record"]["text"].lower() and p["indexedAt"] >= since]
        start = int(request.query.get("cursor") or 0)
        size = int(request.query.get("limit") or 25)
        page: list[Any] = found[start:start + size]
        if self.extra_items:
            page, self.extra_items = page + self.extra_items, []
        body: dict[str, Any] = {"posts": page}
        if start + size < len(found):
            body["cursor"] = str(start + size)
        return Reply(200, body)
