"""Replies to mentions: the posting side of each network, shaped as an outbox channel.

Staff answer a mention in the console; the console queues an outbox row whose channel is the
mention's source and whose chat id is the mention's external id. The outbox dispatcher delivers
it through the matching class here, which posts a reply to that post. Each has the channel
shape (`name`, `start`, `stop`, `send(message) -> platform id`) without importing the bot.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import tweepy
from atproto import models
from atproto_client import exceptions as atp
from mastodon import MastodonError, MastodonNotFoundError, MastodonRatelimitError, MastodonUnauthorizedError

from webcare.core.errors import ConfigError, DeliveryFailed
from webcare.core.ratelimit import until_reset
from webcare.listeners.bluesky import BlueskySession, reset_header
from webcare.listeners.config import BlueskyConfig, ListenersConfig, MastodonConfig, XConfig
from webcare.listeners.mastodon import make_api
from webcare.listeners.x import make_client

LIMITS = {"x": 280, "bluesky": 300, "mastodon": 500}


class Reply(Protocol):
    chat_id: str
    text: str


def _check_length(network: str, text: str) -> None:
    if len(text) > LIMITS[network]:
        raise DeliveryFailed(f"{network}: a reply may have {LIMITS[network]} characters, this one has {len(text)}",
                             permanent=True)


class _Replies:
    name = ""

    async def start(self) -> None:
        """Nothing to connect: every reply is one HTTP request."""

    async def stop(self) -> None:
        """Nothing to release."""

    async def send(self, message: Reply) -> str | None:
        _check_length(self.name, message.text)
        return await asyncio.to_thread(self.post_reply, message.chat_id, message.text)

    def post_reply(self, in_reply_to: str, text: str) -> str:
        raise NotImplementedError


class XReplies(_Replies):
    """Replies with POST /2/tweets; needs a user-context token (OAuth 2 with tweet.write)."""

    name = "x"

    def __init__(self, config: XConfig, timeout: float = 30.0, clock: Any = time.time) -> None:
        token = config.reply_access_token or config.bearer_token
        if token is None:
            raise ConfigError("listeners.x: replies need reply_access_token (X_REPLY_ACCESS_TOKEN)")
        self.client = make_client(token.get_secret_value(), config.base_url, timeout)
        self.clock = clock

    def post_reply(self, in_reply_to: str, text: str) -> str:
        try:
            response = self.client.create_tweet(text=text, in_reply_to_tweet_id=in_reply_to, user_auth=False)
        except tweepy.TooManyRequests as e:
            raise DeliveryFailed("x: rate limited", retry_after=until_reset(
                e.response.headers.get("x-rate-limit-reset"), self.clock())) from e
        except tweepy.HTTPException as e:
            status = e.response.status_code
            raise DeliveryFailed(f"x: reply refused: HTTP {status}: {e}", permanent=400 <= status < 500) from e
        except Exception as e:  # network trouble: retried by the outbox
            raise DeliveryFailed(f"x: {e}") from e
        return str(response["data"]["id"])


class BlueskyReplies(_Replies):
    """Replies with a post whose reply ref points at the mention (and its thread's root)."""

    name = "bluesky"

    def __init__(self, config: BlueskyConfig, timeout: float = 30.0) -> None:
        self.session = BlueskySession(config, timeout)

    def post_reply(self, in_reply_to: str, text: str) -> str:
        try:
            client = self.session.client()
            found = client.get_posts([in_reply_to]).posts
            if not found:
                raise DeliveryFailed(f"bluesky: post {in_reply_to} no longer exists", permanent=True)
            parent = models.create_strong_ref(found[0])
            reply = getattr(found[0].record, "reply", None)
            root = reply.root if reply is not None else parent
            created = client.send_post(text, profile_identify=self.session.did,
                                       reply_to=models.AppBskyFeedPost.ReplyRef(parent=parent, root=root))
        except atp.RateLimitExceededError as e:
            raise DeliveryFailed("bluesky: rate limited", retry_after=until_reset(reset_header(e), time.time())) from e
        except DeliveryFailed:
            raise
        except Exception as e:  # login, network, server trouble: retried by the outbox
            raise DeliveryFailed(f"bluesky: {e}") from e
        return created.uri


class MastodonReplies(_Replies):
    """Replies with a status in reply to the mention's status id."""

    name = "mastodon"

    def __init__(self, config: MastodonConfig, timeout: float = 30.0) -> None:
        if config.access_token is None:
            raise ConfigError("listeners.mastodon: replies need access_token (MASTODON_ACCESS_TOKEN)")
        self.api = make_api(config, timeout)

    def post_reply(self, in_reply_to: str, text: str) -> str:
        try:
            status = self.api.status_post(text, in_reply_to_id=in_reply_to, visibility="public")
        except MastodonRatelimitError as e:
            raise DeliveryFailed("mastodon: rate limited",
                                 retry_after=until_reset(self.api.ratelimit_reset, time.time())) from e
        except (MastodonNotFoundError, MastodonUnauthorizedError) as e:
            raise DeliveryFailed(f"mastodon: reply refused: {e}", permanent=True) from e
        except MastodonError as e:
            raise DeliveryFailed(f"mastodon: {e}") from e
        return str(status["id"])


def reply_channels(config: ListenersConfig, timeout: float | None = None) -> dict[str, _Replies]:
    """The reply senders of the enabled networks that have what it takes to post, by channel name."""
    timeout = timeout or config.timeout_seconds
    channels: dict[str, _Replies] = {}
    if config.x.enabled and (config.x.reply_access_token or config.x.bearer_token):
        channels["x"] = XReplies(config.x, timeout)
    if config.bluesky.enabled and config.bluesky.handle and config.bluesky.app_password:
        channels["bluesky"] = BlueskyReplies(config.bluesky, timeout)
    if config.mastodon.enabled and config.mastodon.access_token:
        channels["mastodon"] = MastodonReplies(config.mastodon, timeout)
    return channels
