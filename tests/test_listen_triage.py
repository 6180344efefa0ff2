"""Triage, dedupe, storms and ambassadors on a deterministic keyword analyzer (no network, no models)."""

from __future__ import annotations

import pytest

from emulators.listen_kit import KeywordAnalyzer, config, mention
from webcare.listeners.ambassadors import ambassadors
from webcare.listeners.base import Mention
from webcare.listeners.config import StormConfig
from webcare.listeners.dedupe import NearDuplicates, normalise
from webcare.listeners.storms import StormDetector, storm_text
from webcare.listeners.triage import Triage
from webcare.store import Store, mention_ticket_key


@pytest.fixture
def triage(store):
    return Triage(store, KeywordAnalyzer(), config(), clock=lambda: 1_000_000.0)


def test_normalise_strips_retweet_prefix_links_handles_and_case():
    assert normalise("RT @bob: Mijn PAKKET is kapot! https://t.co/x #acme") == "mijn pakket is kapot acme"


def test_near_duplicates_finds_copy_paste_but_not_different_text():
    near = NearDuplicates(capacity=10, threshold=0.8)
    near.add("Mijn pakket van Acme is al twee weken zoek en niemand helpt mij verder", 1)
    assert near.find("RT @x: mijn pakket van acme is al twee weken zoek en niemand helpt mij verder!!") == 1
    assert near.find("Mijn pakket van Acme is al twee weken zoek en niemand helpt mij verder vandaag") == 1
    assert near.find("Acme heeft de beste klantenservice van Nederland, echt waar") is None


def test_near_duplicates_forgets_beyond_capacity():
    near = NearDuplicates(capacity=2)
    for i, text in enumerate(["een twee drie vier", "vijf zes zeven acht", "negen tien elf twaalf"]):
        near.add(text, i)
    assert near.find("een twee drie vier") is None and near.find("negen tien elf twaalf") == 2 and len(near) == 2


def test_triage_flags_complaints_opens_one_ticket_and_links_the_author(triage, store):
    result = triage.process([
        mention("1", "Mijn pakket is kapot aangekomen, waardeloos @acme", author="u1"),
        mention("2", "Leuke winkel, mooie dingen", author="u2"),
        mention("3", "@acme hoe laat gaan jullie open?", author="u3"),
    ], cursor=("listener:x", "c1"))
    assert (result.new, result.flagged, result.tickets) == (3, 2, 2)
    rows = {m["external_id"]: m for m in store.mentions(limit=10)}
    assert rows["1"]["flagged"] == 1 and rows["1"]["complaint"] == 1 and rows["1"]["topic"] == "delivery"
    assert rows["2"]["flagged"] == 0 and rows["2"]["customer_id"] is None
    assert rows["3"]["flagged"] == 1
    tickets = {t["mention_id"]: t for t in store.tickets(kind="mention")}
    complaint_ticket = tickets[rows["1"]["id"]]
    assert complaint_ticket["reason"] == "complaint"
    assert tickets[rows["3"]["id"]]["reason"] == "question to the brand"
    customer = store.customer_by_identity("x", "u1")
    assert customer is not None and complaint_ticket["customer_id"] == customer["id"] == rows["1"]["customer_id"]
    assert store.get_cursor("listener:x") == "c1"


def test_triage_is_idempotent_and_skips_analysis_of_known_mentions(triage, store):
    batch = [mention("1", "Bezorging kapot, waardeloos"), mention("2", "Geweldig product!")]
    triage.process(batch)
    calls = triage.analyzer.texts
    again = triage.process(batch + [mention("1", "Bezorging kapot, waardeloos")])
    assert (again.new, again.known, again.tickets) == (0, 3, 0)
    assert triage.analyzer.texts == calls
    assert len(store.mentions(limit=10)) == 2 and len(store.tickets(kind="mention")) == 1


def test_retweets_and_copy_paste_count_but_open_no_ticket(triage, store):
    triage.process([mention("1", "Mijn pakket is kapot en niemand van acme helpt, waardeloos", author="u1")])
    result = triage.process([
        mention("2", "RT @h_u1: Mijn pakket is kapot en niemand van acme helpt, waardeloos", author="u2",
                repost_of="1"),
        mention("3", "Mijn pakket is kapot en niemand van acme helpt!! waardeloos", author="u3"),
    ])
    assert (result.new, result.duplicates, result.tickets) == (2, 2, 0)
    first = store.mention_ids("x", ["1"])["1"]
    dupes = [m for m in store.mentions(limit=10) if m["duplicate_of"] is not None]
    assert {m["duplicate_of"] for m in dupes} == {first} and all(m["complaint"] == 1 for m in dupes)
    assert all(m["flagged"] == 0 for m in dupes)


def test_triage_memory_survives_a_restart(store):
    Triage(store, KeywordAnalyzer(), config(), clock=lambda: 1_000_000.0).process(
        [mention("1", "De bezorging van acme is echt waardeloos geweest deze week")])
    restarted = Triage(store, KeywordAnalyzer(), config(), clock=lambda: 1_000_000.0)
    result = restarted.process([mention("2", "De bezorging van ACME is echt waardeloos geweest deze week!")])
    assert result.duplicates == 1 and result.tickets == 0


def test_a_failed_batch_stores_nothing_and_keeps_the_cursor(triage, store, monkeypatch):
    store.set_cursor("listener:x", "before")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "open_ticket", broken)
    with pytest.raises(RuntimeError):
        triage.process([mention("1", "Leuk"), mention("2", "Kapot pakket, waardeloos")], cursor=("listener:x", "after"))
    assert store.mentions(limit=10) == [] and store.get_cursor("listener:x") == "before"
    monkeypatch.undo()
    result = triage.process([mention("1", "Leuk"), mention("2", "Kapot pakket, waardeloos")], cursor=("listener:x", "after"))
    assert (result.new, result.tickets) == (2, 1) and store.get_cursor("listener:x") == "after"


def test_priority_rises_with_urgency_and_reach(triage):
    calm = triage.verdict(mention("1", "x", reach=10), KeywordAnalyzer().analyze("pakket kapot"))
    loud = triage.verdict(mention("2", "x", reach=1_000_000), KeywordAnalyzer().analyze("pakket kapot, nu oplossen"))
    assert loud.priority > calm.priority and loud.ticket_priority == "urgent" and calm.flagged


def test_storm_detector_fires_once_on_a_spike_against_the_baseline():
    detector = StormDetector(StormConfig(window_minutes=10, min_count=5, z_threshold=3, cooldown_minutes=60))
    window = 600
    storms = []
    for w in range(50):  # a quiet baseline: one complaint every other window
        if w % 2 == 0:
            storms.append(detector.observe("delivery", "x", w * window + 5, "pakket te laat"))
    assert not any(storms)
    spike = [detector.observe("delivery", "bluesky" if i % 3 else "x", 50 * window + i, f"pakket kwijt bezorger {i}")
             for i in range(30)]
    fired = [s for s in spike if s]
    assert len(fired) == 1
    storm = fired[0]
    assert storm["topic"] == "delivery" and storm["source"] == "bluesky" and storm["baseline"] < 1
    assert storm["count"] >= 5 and "pakket" in storm["top_terms"] and len(storm["sample"]) == 5
    assert "delivery" in storm_text(storm)
    assert detector.observe("delivery", "x", 51 * window + 1, "pakket") is None  # cooldown


def test_storm_detector_ignores_a_steady_high_volume():
    detector = StormDetector(StormConfig(window_minutes=10, min_count=5, z_threshold=4))
    fired = [detector.observe("app", "x", w * 600 + i, "app crasht") for w in range(40) for i in range(20)]
    assert not any(fired[200:])  # after the warm-up, 20 per window is the normal


def test_triage_writes_a_storm_event_and_notifies(store):
    sent: list[str] = []
    triage = Triage(store, KeywordAnalyzer(), config(), notify=sent.append, clock=lambda: 1_000_000.0)
    batch = [mention(str(i), f"Bezorging kapot nummer {i}, waardeloos", author=f"u{i}", at=1_000_000.0 + i)
             for i in range(12)]
    result = triage.process(batch)
    assert len(result.storms) == 1
    events = store.events(kind="storm")
    assert len(events) == 1 and events[0]["data"]["topic"] == "delivery" and events[0]["data"]["count"] == 5
    assert {"topic", "source", "count", "baseline", "sample", "top_terms"} <= set(events[0]["data"])
    assert len(sent) == 1 and "delivery" in sent[0]


def test_a_failing_notify_does_not_lose_the_batch(store):
    def broken(text: str) -> None:
        raise ConnectionError("telegram down")

    triage = Triage(store, KeywordAnalyzer(), config(), notify=broken, clock=lambda: 1_000_000.0)
    result = triage.process([mention(str(i), f"pakket kapot {i}", at=1_000_000.0) for i in range(6)])
    assert result.new == 6 and len(store.events(kind="storm")) == 1


def test_ambassadors_rank_by_repeated_positive_mentions_reach_and_recency(triage, store):
    now = 1_000_000.0
    batch = []
    for i in range(4):
        batch.append(mention(f"big{i}", f"Acme is geweldig, bestelling {i} top", author="big", reach=50_000))
        batch.append(mention(f"small{i}", f"Super service van acme {i}", author="small", reach=10))
    batch += [mention("once", "Acme is top", author="once", reach=1_000_000)]
    batch += [mention(f"mixed{i}", f"Acme waardeloos {i}" if i < 3 else f"Acme geweldig {i}", author="mixed")
              for i in range(6)]
    result = triage.process(batch)
    ranked = ambassadors(store, config().ambassadors, now)
    assert [a["author_id"] for a in ranked] == ["big", "small"]
    assert ranked[0]["positive"] == 4 and len(ranked[0]["evidence"]) == 3 and ranked[0]["reach"] == 50_000
    assert {a["author_id"] for a in result.ambassadors} == {"big", "small"}
    events = store.events(kind="ambassador")
    assert sorted(e["data"]["author_id"] for e in events) == ["big", "small"]
    triage.process([mention("big9", "Acme blijft geweldig", author="big")])
    assert len(store.events(kind="ambassador")) == 2  # one event per ambassador


def test_store_verbs_for_listeners(any_store: Store):
    rows = [{"source": "x", "external_id": str(i), "text": f"t{i}", "author_id": "a", "sentiment": "positive",
             "complaint": 0, "topic": "general", "created_at": 100.0 + i} for i in range(3)]
    rows.append({"source": "x", "external_id": "9", "text": "dupe", "author_id": "a", "sentiment": "positive",
                 "duplicate_of": 1, "created_at": 200.0})
    any_store.ingest_mentions(rows)
    ids = any_store.mention_ids("x", ["0", "2", "nope"])
    assert set(ids) == {"0", "2"} and all(isinstance(v, int) for v in ids.values())
    assert any_store.mention_ids("bluesky", ["0"]) == {}
    recent = any_store.mentions_since(101.0)
    assert [r["external_id"] for r in recent] == ["1", "2", "9"] and recent[0]["at"] == 101.0
    authored = any_store.author_mentions(0.0, "x", "a")
    assert [r["external_id"] for r in authored] == ["0", "1", "2"]  # duplicates are not evidence


def test_a_restart_does_not_alert_the_same_storm_twice(store):
    def burst(start: int, count: int) -> list[Mention]:
        return [mention(str(i), f"Bezorging kapot nummer {i}, waardeloos", author=f"u{i}", at=1_000_000.0 + i)
                for i in range(start, start + count)]

    Triage(store, KeywordAnalyzer(), config(), clock=lambda: 1_000_100.0).process(burst(0, 8))
    assert len(store.events(kind="storm")) == 1
    restarted = Triage(store, KeywordAnalyzer(), config(), clock=lambda: 1_000_100.0)
    assert restarted.process(burst(8, 8)).storms == []
    assert len(store.events(kind="storm")) == 1


def test_triage_on_every_backend(any_store: Store):
    triage = Triage(any_store, KeywordAnalyzer(), config(), clock=lambda: 1_000_000.0)
    batch = [mention("1", "Pakket kapot, waardeloos", author="u1"), mention("2", "RT @h_u1: Pakket kapot, waardeloos",
                                                                            author="u2", repost_of="1"),
             mention("3", "Acme is top", author="u3")]
    result = triage.process(batch, cursor=("listener:x", "c1"))
    again = triage.process(batch, cursor=("listener:x", "c2"))
    assert (result.new, result.duplicates, result.tickets, again.new, again.known) == (3, 1, 1, 0, 3)
    assert any_store.get_cursor("listener:x") == "c2" and any_store.customer_by_identity("x", "u1") is not None


def test_triage_and_the_console_share_one_ticket_per_mention(triage, store):
    """The ticket key is one definition (`store.mention_ticket_key`): staff ticketing a mention that
    triage flagged get triage's ticket, and a mention triage left alone gets a ticket of its own."""
    triage.process([mention("1", "Mijn pakket is kapot, waardeloos @acme", author="u1"),
                    mention("2", "Leuke winkel, mooie dingen", author="u2")])
    rows = {m["external_id"]: m for m in store.mentions(limit=10)}
    flagged = store.ticket_for_mention(rows["1"]["id"])
    assert flagged["dedupe_key"] == mention_ticket_key("x", "1")
    ticketed = store.mention_to_ticket(rows["1"]["id"], "sam")
    assert ticketed["id"] == flagged["id"] and (ticketed["assignee"], ticketed["status"]) == ("sam", "assigned")
    other = store.mention_to_ticket(rows["2"]["id"], "sam")
    assert other["dedupe_key"] == mention_ticket_key("x", "2") and other["id"] != flagged["id"]
    assert len(store.tickets(kind="mention")) == 2
    assert store.mention(rows["1"]["id"])["review_status"] == "ticket"
