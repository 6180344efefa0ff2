"""Bluesky through atproto: log in with an app password, then `app.bsky.feed.searchPosts` per query.

Login may move the client to the PDS named in the session's DID document (atproto does that);
with `follow_pds: false` the client stays on `base_url` (a proxy, or an AppView of your own).
Results come newest first; a poll pages until the posts are older than the stored watermark
(`since`, inclusive, so the boundary post comes again and the store drops it).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from atproto import Client, Session, SessionEvent, models
from atproto_client import exceptions as atp
from atproto_client.request import Request

from webcare.core.errors import ConfigError, ListenerError
from webcare.core.ratelimit import until_reset
from webcare.listeners.base import Mention, PollRateLimited, dump_cursor, load_cursor, parse_time
from webcare.listeners.config import BlueskyConfig

log = logging.getLogger(__name__)


def reset_header(error: atp.AtProtocolError) -> str | None:
    """The `ratelimit-reset` header (epoch seconds) of a refused request, when it came with one."""
    response = getattr(error, "response", None)
    return (response.headers or {}).get("ratelimit-reset") if response else None


class BlueskySession:
    """A logged-in atproto client and the account's DID, shared by the listener and the replies.

    atproto keeps its session private; the DID (where replies are posted) is taken from its public
    `on_session_change` callback, which fires on login and on every refresh.
    """

    def __init__(self, config: BlueskyConfig, timeout: float = 30.0) -> None:
        if not config.handle or config.app_password is None:
            raise ConfigError("listeners.bluesky: set handle and app_password (BLUESKY_APP_PASSWORD)")
        self.config = config
        self.timeout = timeout
        self.did: str | None = None
        self._client: Client | None = None

    def client(self) -> Client:
        """The logged-in client (logs in once; atproto refreshes the session itself)."""
        if self._client is None:
            client = Client(base_url=self.config.base_url, request=Request(timeout=self.timeout))
            client.on_session_change(self._remember)
            try:
                client.login(self.config.handle, self.config.app_password.get_secret_value(),  # type: ignore[union-attr]
                             fetch_bsky_profile=False)
            except atp.UnauthorizedError as e:
                raise ListenerError(f"bluesky: login as {self.config.handle} refused: check the app password") from e
            except atp.AtProtocolError as e:
                raise ListenerError(f"bluesky: login failed: {e}") from e
            if not self.config.follow_pds:
                client.update_base_url(self.config.base_url)
            self._client = client
        return self._client

    def forget(self) -> None:
        """Log in again on the next call (the session was refused)."""
        self._client = None

    def _remember(self, _event: SessionEvent, session: Session) -> None:
        self.did = session.did


class BlueskyListener:
    """Polls post search for each configured query."""

    name = "bluesky"

    def __init__(self, config: BlueskyConfig, timeout: float = 30.0, clock: Any = time.time) -> None:
        self.session = BlueskySession(config, timeout)
        if not config.queries:
            raise ConfigError("listeners.bluesky: configure queries")
        self.config = config
        self.interval = config.interval_seconds
        self.clock = clock

    def login(self) -> Client:
        """The logged-in client."""
        return self.session.client()

    def poll(self, cursor: str | None) -> tuple[list[Mention], str | None]:
        state = load_cursor(cursor, self.name)
        client = self.login()
        found: list[Mention] = []
        for query in self.config.queries:
            state[query] = self._poll_query(client, query, dict(state.get(query, {})), found, state)
        return found, dump_cursor(state)

    def _poll_query(self, client: Client, query: str, s: dict[str, Any], out: list[Mention],
                    state: dict[str, Any]) -> dict[str, Any]:
        for _ in range(self.config.max_pages):
            params = {"q": query, "sort": "latest", "limit": self.config.page_size}
            if s.get("since"):
                params["since"] = s["since"]
            if s.get("page"):
                params["cursor"] = s["page"]
            try:
                response = client.invoke_query("app.bsky.feed.searchPosts", params=models.AppBskyFeedSearchPosts.Params(**params))
            except atp.RateLimitExceededError as e:
                wait = until_reset(reset_header(e), self.clock())
                raise PollRateLimited(f"bluesky: rate limited on {query!r}", wait, out,
                                      dump_cursor({**state, query: s})) from e
            except atp.UnauthorizedError as e:
                self.session.forget()  # log in again next time
                raise ListenerError(f"bluesky: {query!r}: not authorised: {e}") from e
            except atp.AtProtocolError as e:
                raise ListenerError(f"bluesky: {query!r}: {type(e).__name__}: {e}") from e
            body = response.content if isinstance(response.content, dict) else {}
            posts = [p for p in body.get("posts") or []]
            for post in posts:
                mention = self._mention(post, query)
                if mention is not None:
                    out.append(mention)
                    stamp = post.get("indexedAt")
                    if stamp and stamp > (s.get("newest") or ""):
                        s["newest"] = stamp
            page = body.get("cursor")
            if not page or not posts:
                newest = s.get("newest") or s.get("since")
                return {"since": newest} if newest else {}
            s["page"] = page
        return s

    def _mention(self, post: Any, query: str) -> Mention | None:
        try:
            record, author = post["record"], post["author"]
            text = record["text"]
            if not isinstance(text, str) or not post["uri"].startswith("at://"):
                raise ValueError("no text or no at:// uri")
            rkey = post["uri"].rsplit("/", 1)[-1]
            return Mention(
                source=self.name, external_id=post["uri"], text=text, author_id=author["did"],
                author=author.get("handle"), author_name=author.get("displayName"),
                author_reach=int(post.get("likeCount") or 0) + int(post.get("repostCount") or 0),
                url=f"https://bsky.app/profile/{author.get('handle') or author['did']}/post/{rkey}",
                posted_at=parse_time(record.get("createdAt") or post.get("indexedAt")), query=query,
                raw={"cid": post.get("cid"), "langs": record.get("langs")},
            )
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            log.warning("bluesky: skipped a malformed post (%s): %.200r", e, post)
            return None
