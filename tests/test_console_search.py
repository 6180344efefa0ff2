"""The console's store concerns on every backend: full-text search, lists, notes, labels, assignment, saved views."""

from __future__ import annotations

import pytest

from webcare.core.errors import StoreError
from webcare.store.search import Filters


def _chat(store, name: str, chat: str, texts: list[tuple[str, str]], channel: str = "telegram") -> int:
    customer = store.identify(channel, chat, name)
    conversation = store.open_conversation(customer["id"], channel, chat)
    for text, language in texts:
        store.record_incoming(conversation["id"], text, analysis={"language": language, "sentiment": "neutral"})
    store.update_conversation(conversation["id"], language=texts[0][1])
    return conversation["id"]


@pytest.fixture
def filled(any_store):
    s = any_store
    a = _chat(s, "Anna de Vries", "1", [("Mijn bestelling 12345678 is kapot aangekomen", "nl")])
    b = _chat(s, "Bob Smith", "2", [("Where is my parcel? The delivery is late", "en")], channel="webchat")
    c = _chat(s, "Carla", "3", [("Ik wil mijn fietsen retourneren", "nl")])
    s.update_conversation(c, state="closed")
    return s, a, b, c


def test_search_finds_messages_in_either_language_with_stems_or_prefixes(filled):
    store, a, b, c = filled
    assert [m["conversation_id"] for m in store.search_messages("bestelling", Filters())] == [a]
    assert [m["conversation_id"] for m in store.search_messages("fiets", Filters())] == [c]  # prefix / stem
    assert [m["conversation_id"] for m in store.search_messages("delivery late", Filters())] == [b]
    assert store.search_messages("delivery kapot", Filters()) == []  # every word must match
    assert store.search_messages("'; DROP TABLE messages; --", Filters()) == []


def test_search_filters_by_status_channel_and_language(filled):
    store, a, b, c = filled
    both = store.list_conversations(Filters(), query="mijn")
    assert {r["id"] for r in both} == {a, c}
    assert [r["id"] for r in store.list_conversations(Filters(status="closed"), query="mijn")] == [c]
    assert [r["id"] for r in store.list_conversations(Filters(status="open"), query="mijn")] == [a]
    assert [r["id"] for r in store.list_conversations(Filters(channel="webchat"))] == [b]
    assert {r["id"] for r in store.list_conversations(Filters(language="nl"))} == {a, c}


def test_search_finds_customers_by_name_and_lists_paginate(filled):
    store, _a, _b, _c = filled
    assert [r["display_name"] for r in store.search_customers("vries")] == ["Anna de Vries"]
    first, second = store.list_conversations(Filters(), limit=2), store.list_conversations(Filters(), limit=2, offset=2)
    assert len(first) == 2 and len(second) == 1 and not {r["id"] for r in first} & {r["id"] for r in second}


def test_erased_customers_and_their_messages_are_not_found(filled):
    store, a, _b, _c = filled
    store.erase_customer(store.conversation(a)["customer_id"])
    assert store.search_messages("bestelling", Filters()) == [] and store.search_customers("vries") == []


def test_notes_stay_out_of_the_transcript_and_the_outbox(filled):
    store, a, _b, _c = filled
    store.add_note(a, "alice", "Klant belde ook al: geef korting")
    assert [n["text"] for n in store.notes(a)] == ["Klant belde ook al: geef korting"]
    assert all("korting" not in m["text"] for m in store.messages(a)) and store.pending_outbox() == []
    with pytest.raises(StoreError):
        store.add_note(a, "alice", "   ")


def test_labels_filter_and_count(filled):
    store, a, b, _c = filled
    store.add_tag("Retour", "#cc3300")
    with pytest.raises(StoreError):
        store.add_tag("Retour", "#cc3300")
    with pytest.raises(StoreError):
        store.add_tag("Bad", "red")
    store.tag_conversation(a, "Retour")
    store.tag_conversation(a, "Retour")  # twice is once
    assert [r["id"] for r in store.list_conversations(Filters(label="Retour"))] == [a]
    assert store.conversation_tags([a, b]) == {a: [store.tags()[0]], b: []}
    assert store.tag_counts()[0]["conversations"] == 1
    store.tag_conversation(a, "Retour", on=False)
    assert store.list_conversations(Filters(label="Retour")) == []
    with pytest.raises(StoreError):
        store.tag_conversation(a, "Unknown")


def test_assignment_tells_the_assignee_and_shows_under_mine(filled):
    store, a, b, c = filled
    store.add_user("bea", "x", "agent", "Bea")
    store.add_user("carl", "x", "agent", "Carl")
    store.update_user("carl", team="billing", keep_sessions=True)
    assert store.assign(a, "bea", actor="alice") == ["bea"]
    assert [r["id"] for r in store.list_conversations(Filters(status="mine", user="bea"))] == [a]
    assert (store.notifications("bea")[0]["conversation_id"], store.notifications("bea")[0]["actor"]) == (a, "alice")
    assert store.assign(b, "team:billing", actor="alice") == ["carl"]
    assert [r["id"] for r in store.list_conversations(Filters(status="mine", user="x", teams=["billing"]))] == [b]
    assert {r["who"]: r["n"] for r in store.assignee_counts()} == {"bea": 1, "team:billing": 1}
    assert store.read_notifications("bea") == 1 and store.notifications("bea") == []
    with pytest.raises(StoreError):
        store.assign(a, "nobody", actor="alice")
    with pytest.raises(StoreError):
        store.assign(c, "bea", actor="alice")  # closed


def test_tickets_list_by_status_and_mine(filled):
    store, a, b, _c = filled
    store.take(a, "alice")
    store.escalate(b, "complaint", "high")
    assert [t["conversation_id"] for t in store.list_tickets("mine", user="alice")] == [a]
    assert {t["conversation_id"] for t in store.list_tickets("open")} == {a, b}
    assert [t["conversation_id"] for t in store.list_tickets("open", priority="high")] == [b]
    assert store.list_tickets("resolved") == []


def test_saved_views_are_per_user(any_store):
    any_store.save_view("alice", "Retouren", {"q": "retour", "status": "open"})
    any_store.save_view("alice", "Retouren", {"q": "retour", "status": "closed"})
    assert [v["query"]["status"] for v in any_store.saved_views("alice")] == ["closed"]
    assert any_store.saved_views("bob") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_search_migration_indexes_what_was_stored_before_it(request, tmp_path, monkeypatch, backend):
    import webcare.store.base as module
    from webcare.store import Store
    from webcare.store.schema import MIGRATIONS

    search = next(v for v, name, _ in MIGRATIONS if name.startswith("console: full-text search"))

    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    monkeypatch.setattr(module, "MIGRATIONS", [m for m in MIGRATIONS if m[0] < search])
    old = Store.open(url)
    conversation = _chat(old, "Oude Klant", "9", [("Mijn oude bestelling kwam nooit aan", "nl")])
    old.close()
    monkeypatch.undo()
    new = Store.open(url)
    assert new.schema_version() >= search
    assert [m["conversation_id"] for m in new.search_messages("oude bestelling", Filters())] == [conversation]
    assert [c["display_name"] for c in new.search_customers("klant")] == ["Oude Klant"]
    new.close()


def test_postgres_stems_each_message_in_its_own_language(postgres_store):
    dutch = _chat(postgres_store, "Anna", "1", [("Twee bestellingen zijn kapotgegaan", "nl")])
    english = _chat(postgres_store, "Bob", "2", [("Both parcels were delivered late", "en")])
    def found(query: str) -> list[int]:
        return [m["conversation_id"] for m in postgres_store.search_messages(query, Filters())]
    assert found("bestelling") == [dutch]  # Dutch stem: bestellingen → bestelling
    assert found("deliver parcel") == [english]  # English stems
    assert found("zijn") == [dutch]  # a Dutch stop word still matches as written


def test_a_store_copy_carries_notes_labels_assignments_and_views(filled, tmp_path):
    from webcare.store import Store
    from webcare.store.copy import copy_store

    store, a, _b, _c = filled
    store.add_user("bea", "x", "agent")
    store.add_note(a, "alice", "note")
    store.add_tag("Retour", "#cc3300")
    store.tag_conversation(a, "Retour")
    store.assign(a, "bea", actor="alice")
    store.save_view("alice", "Mine", {"status": "mine"})
    target = Store.open(f"sqlite:///{tmp_path / 'copy.db'}")
    copied = copy_store(store, target)
    assert {t: copied[t] for t in ("notes", "tags", "conversation_tags", "notifications", "saved_views")} == dict.fromkeys(
        ("notes", "tags", "conversation_tags", "notifications", "saved_views"), 1)
    assert [m["conversation_id"] for m in target.search_messages("bestelling", Filters())] == [a]  # indexed there
    target.close()
