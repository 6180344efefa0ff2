"""Hypothesis strategies for what arrives from outside: chat bodies, console forms, Telegram updates,
listener items. Shared by tests/test_fuzz.py and bench/fuzz.py (test support, not shipped).
"""

from __future__ import annotations

import json
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from webcare.listeners.bluesky import BlueskyListener
from webcare.listeners.config import BlueskyConfig, MastodonConfig, RSSConfig, XConfig
from webcare.listeners.mastodon import MastodonListener
from webcare.listeners.rss import RSSListener
from webcare.listeners.x import XListener

# any text, lone surrogates included (JSON and Python allow them; UTF-8 and the databases do not)
TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=40).map("".join)
# JSON values, deep and wide
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
chat_bodies = st.one_of(
    st.fixed_dictionaries({"text": TEXT}, optional={"kind": json_values, "id": json_values}),
    json_values,
).map(lambda value: json.dumps(value).encode())
raw_bytes = st.binary(max_size=300)


FORMS = ("/conversations/{id}/reply", "/conversations/{id}/take", "/customers/{id}/merge",
         "/mentions/{id}/review", "/mentions/{id}/reply", "/login")


def form_body(fields: dict[str, bytes]) -> bytes:
    return b"&".join(f"{k}=".encode() + quote_from_bytes(v).encode() for k, v in fields.items())


users = st.fixed_dictionaries({"id": st.integers(), "is_bot": st.booleans(), "first_name": TEXT},
                              optional={"username": st.text(max_size=40), "last_name": TEXT})
chats = st.fixed_dictionaries({"id": st.integers(), "type": st.sampled_from(["private", "group", "supergroup",
                                                                             "channel", "bogus"])})
messages = st.fixed_dictionaries(
    {"message_id": st.integers(), "date": st.integers(min_value=0, max_value=2**32), "chat": chats},
    optional={"from": users, "text": TEXT, "caption": TEXT, "photo": st.lists(
        st.fixed_dictionaries({"file_id": st.text(), "file_unique_id": st.text(), "width": st.integers(),
                               "height": st.integers()}), max_size=2), "sticker": json_values,
        "edit_date": st.integers(min_value=0, max_value=2**32), "reply_to_message": st.just({})})
private_texts = st.fixed_dictionaries(  # what reaches a turn: a private chat's text from a person
    {"message_id": st.integers(min_value=1, max_value=2**31), "date": st.integers(min_value=0, max_value=2**31),
     "chat": st.fixed_dictionaries({"id": st.integers(1, 2**40), "type": st.just("private")}),
     "from": st.fixed_dictionaries({"id": st.integers(1, 2**40), "is_bot": st.just(False), "first_name": TEXT}),
     "text": TEXT})
updates = st.fixed_dictionaries({"update_id": st.integers()},
                                optional={"message": st.one_of(messages, private_texts), "edited_message": messages,
                                          "callback_query": json_values})


loose = st.one_of(st.none(), st.integers(), TEXT, st.lists(st.text(max_size=5), max_size=2))
tweets = st.lists(st.one_of(loose, st.fixed_dictionaries(
    {"id": loose, "text": st.one_of(TEXT, loose)},
    optional={"author_id": loose, "created_at": loose, "referenced_tweets": st.one_of(loose, st.lists(
        st.dictionaries(st.sampled_from(["type", "id"]), loose), max_size=2)), "lang": loose})), max_size=4)
x_pages = st.fixed_dictionaries({"data": st.one_of(st.none(), tweets)}, optional={"includes": st.one_of(
    loose, st.fixed_dictionaries({"users": st.lists(st.one_of(loose, st.dictionaries(
        st.sampled_from(["id", "username", "name", "public_metrics"]), st.one_of(loose, st.dictionaries(
            st.just("followers_count"), loose)))), max_size=3)}))})
bluesky_posts = st.one_of(loose, st.fixed_dictionaries(
    {"uri": st.one_of(loose, st.text().map(lambda t: "at://" + t)),
     "record": st.one_of(loose, st.fixed_dictionaries({"text": st.one_of(TEXT, loose)},
                                                      optional={"createdAt": loose, "langs": loose})),
     "author": st.one_of(loose, st.fixed_dictionaries({"did": loose}, optional={"handle": loose,
                                                                                "displayName": loose}))},
    optional={"likeCount": loose, "repostCount": loose, "indexedAt": loose, "cid": loose}))
mastodon_statuses = st.one_of(loose, st.fixed_dictionaries(
    {"id": loose, "content": st.one_of(TEXT, loose),
     "account": st.one_of(loose, st.fixed_dictionaries({"id": loose}, optional={
         "acct": loose, "display_name": loose, "followers_count": loose}))},
    optional={"url": loose, "created_at": loose, "language": loose, "reblog": st.one_of(st.none(), st.just({}))}))
feed_titles = TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))
char_refs = st.integers(min_value=0, max_value=0x200000).map(lambda c: f"&#{c};".encode())


def make_listeners() -> dict:
    """One listener per network, built from config as `webcare listen` builds them (no network is reached)."""
    return {
        "x": XListener(XConfig(enabled=True, bearer_token="fuzz", queries=["acme"])),
        "bluesky": BlueskyListener(BlueskyConfig(enabled=True, handle="a.b", app_password="fuzz", queries=["acme"])),
        "mastodon": MastodonListener(MastodonConfig(enabled=True, hashtags=["acme"])),
        "rss": RSSListener(RSSConfig(enabled=True, keywords=[], feeds=[{"url": "https://feed.example/rss"}])),
    }
