"""The shared store: one `Store` facade over one module per concern, on SQLite or PostgreSQL.

    base.py           the backend, the clock, row helpers (`_one`, `_all`, `_insert`, `_update`,
                      `_lock`, `transaction`), `where` for optional filters, migrations
    customers.py      customers, identities, claims, merge and split
    conversations.py  conversations and their lifecycle, customers' messages
    outbox.py         replies queued, claimed under leases, marked sent or failed
    handoff.py        tickets: escalate, take, agent reply, hand back, CSAT, queue length
    story.py          the story so far, built at escalation and kept fresh on the ticket
    mentions.py       mentions ingested once, cursors and leases per source
    review.py         the social team's verbs: review, reply to, ticket a mention
    audit.py          events and staff labels
    privacy.py        export, erase, prune
    reports.py        read models: inbox, dashboard rows, /metrics totals
    users.py          staff users and sessions

Adding a concern: write one module with one class over `store.base.Base` and add it to the bases
of `Store` in store/store.py — no other file changes. Every multi-step domain operation is one
verb and one transaction here; the console and the bot call verbs, never compose them.
"""

from webcare.store.store import (
    CLAIM_KINDS,
    REVIEW_ACTIONS,
    Backend,
    Store,
    conversation_ticket_key,
    mention_ticket_key,
    open_backend,
)

__all__ = ["CLAIM_KINDS", "REVIEW_ACTIONS", "Backend", "Store", "conversation_ticket_key", "mention_ticket_key",
           "open_backend"]
