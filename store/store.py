"""The `Store` facade: one class whose verbs come from one module per concern.

A new concern is one new module with one class over `Base` (store/base.py), added to the bases of
`Store` below; nothing else changes. Every verb that writes more than one row does so in one
transaction, and a verb may call another concern's verbs through `self` (nested transactions
become savepoints).
"""

from __future__ import annotations

from typing import Any

from webcare.store.audit import Audit
from webcare.store.base import Backend, Row, open_backend
from webcare.store.conversations import CONVERSATION_STATES, Conversations
from webcare.store.customers import CLAIM_KINDS, Customers
from webcare.store.handoff import PRIORITIES, Handoff, conversation_ticket_key
from webcare.store.mentions import Mentions, mention_ticket_key
from webcare.store.notes import Notes
from webcare.store.outbox import Outbox
from webcare.store.privacy import Privacy
from webcare.store.reports import Reports
from webcare.store.review import REVIEW_ACTIONS, MentionReview
from webcare.store.search import Search
from webcare.store.story import Stories
from webcare.store.users import Users

__all__ = ["CLAIM_KINDS", "CONVERSATION_STATES", "PRIORITIES", "REVIEW_ACTIONS", "Backend", "Row", "Store",
           "conversation_ticket_key", "mention_ticket_key", "open_backend"]


class Store(Customers, Conversations, Outbox, Handoff, Stories, Mentions, MentionReview, Audit, Privacy, Reports,
            Users, Search, Notes):
    """Customers and their identities, conversations, messages, tickets, mentions and more."""

    @classmethod
    def open(cls, url: str = "sqlite:///webcare.db", **kwargs: Any) -> Store:
        busy = kwargs.pop("busy_timeout_ms", 5000)
        return cls(open_backend(url, busy), **kwargs)

    @classmethod
    def memory(cls, **kwargs: Any) -> Store:
        """A throw-away in-memory store, for tests and trials."""
        return cls.open("sqlite:///:memory:", **kwargs)
