"""The shared store: customers, identities, conversations, messages, tickets, mentions and more."""

from webcare.store.store import CLAIM_KINDS, Backend, Store, open_backend

__all__ = ["CLAIM_KINDS", "Backend", "Store", "open_backend"]
