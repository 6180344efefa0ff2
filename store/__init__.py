"""The shared store: customers, identities, conversations, messages, tickets, mentions and more."""

from store.store import Backend, Store, open_backend

__all__ = ["Backend", "Store", "open_backend"]
