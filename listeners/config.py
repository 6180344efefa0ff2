"""The `listeners:` section of config.yml: one sub-section per social network, triage, storms, ambassadors.

Secrets are never written in config.yml itself: refer to the environment, e.g.
`bearer_token: ${X_BEARER_TOKEN:-}` (an empty reference becomes null: the network stays off).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetworkConfig(_Section):
    """What every network has: on/off, how often to poll, how many pages per poll."""

    enabled: bool = False
    interval_seconds: float = Field(60.0, gt=0, description="seconds between polls")
    max_pages: int = Field(10, ge=1, description="pages fetched per query in one poll; the rest next poll")
    page_size: int = Field(100, ge=1, le=100)


class XConfig(NetworkConfig):
    """X (Twitter) API v2 through tweepy. Recent search needs the Basic tier or higher."""

    bearer_token: SecretStr | None = None
    base_url: str = "https://api.twitter.com"
    queries: list[str] = Field(default_factory=list, description="search queries, e.g. '(acme OR @acme) lang:nl'")
    user_id: str | None = Field(None, description="the brand account's numeric id: its mentions are read too")
    interval_seconds: float = Field(300.0, gt=0)
    page_size: int = Field(100, ge=10, le=100)
    reply_access_token: SecretStr | None = Field(None, description="OAuth 2 user token with tweet.write, for replies")


class BlueskyConfig(NetworkConfig):
    """Bluesky through atproto: login with an app password, then app.bsky.feed.searchPosts."""

    handle: str | None = None
    app_password: SecretStr | None = None
    base_url: str = "https://bsky.social"
    follow_pds: bool = Field(True, description="after login, talk to the PDS named in the session's DID document")
    queries: list[str] = Field(default_factory=list)
    page_size: int = Field(100, ge=1, le=100)


class MastodonConfig(NetworkConfig):
    """Mastodon through Mastodon.py: hashtag timelines and status search on one instance."""

    api_base_url: str = "https://mastodon.social"
    access_token: SecretStr | None = None
    hashtags: list[str] = Field(default_factory=list, description="without '#'")
    queries: list[str] = Field(default_factory=list, description="full-text status search (needs a token)")
    page_size: int = Field(40, ge=1, le=40)


class FeedConfig(_Section):
    """One RSS/Atom feed: a review site, a news search, a forum."""

    url: str
    topic: str | None = None


class RSSConfig(NetworkConfig):
    """RSS/Atom feeds through feedparser, fetched with ETag / Last-Modified."""

    feeds: list[FeedConfig] = Field(default_factory=list)
    interval_seconds: float = Field(900.0, gt=0)
    keywords: list[str] = Field(
        default_factory=list, description="keep only entries that mention one of these (empty: keep all)"
    )


class TriageConfig(_Section):
    """What needs a human, and how near two texts must be to count as one."""

    batch_size: int = Field(200, ge=1, description="mentions analysed and stored per transaction")
    brand_handles: list[str] = Field(default_factory=list, description="e.g. ['@acme', 'acme.bsky.social']")
    flag_priority: float = Field(0.55, ge=0, le=1, description="priority from which a mention is flagged")
    complaint_threshold: float = Field(0.5, ge=0, le=1)
    dedupe_window: int = Field(50000, ge=100, description="recent texts remembered for near-duplicate checks")
    near_duplicate_jaccard: float = Field(0.8, gt=0, le=1, description="word-shingle similarity for near-duplicates")
    topics: dict[str, list[str]] = Field(
        default_factory=dict, description="topic name → keywords, e.g. {delivery: [bezorg, levering, delivery]}"
    )


class StormConfig(_Section):
    """A complaint storm: complaints per topic in a window far above the rolling baseline."""

    window_minutes: float = Field(15.0, gt=0)
    alpha: float = Field(0.1, gt=0, le=1, description="EWMA weight of the newest window")
    z_threshold: float = Field(4.0, gt=0)
    min_count: int = Field(10, ge=1, description="never a storm below this many complaints in a window")
    cooldown_minutes: float = Field(60.0, ge=0, description="one alert per topic in this time")


class AmbassadorConfig(_Section):
    """Authors who keep saying good things, weighted by reach and recency."""

    min_positive: int = Field(3, ge=1)
    half_life_days: float = Field(30.0, gt=0)
    max_negative_share: float = Field(0.2, ge=0, le=1)


class ListenersConfig(_Section):
    """Which networks to watch and for what, and what to do with what is found."""

    enabled: bool = False
    x: XConfig = Field(default_factory=XConfig)
    bluesky: BlueskyConfig = Field(default_factory=BlueskyConfig)
    mastodon: MastodonConfig = Field(default_factory=MastodonConfig)
    rss: RSSConfig = Field(default_factory=RSSConfig)
    triage: TriageConfig = Field(default_factory=TriageConfig)
    storms: StormConfig = Field(default_factory=StormConfig)
    ambassadors: AmbassadorConfig = Field(default_factory=AmbassadorConfig)
    backoff_base_seconds: float = Field(5.0, gt=0)
    backoff_max_seconds: float = Field(900.0, gt=0)
    timeout_seconds: float = Field(30.0, gt=0, description="HTTP timeout of every network call")
