"""The console for a working day over HTTP: search, lists, profiles, notes, labels, assignment, languages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from emulators.console_kit import (
    add_user,
    csrf_of,
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    login,
    make_engine,
    settings,
    write_content,
)
from tests.conftest import ROOT
from webcare.console import create_app
from webcare.console.i18n import choose, translations


@pytest.fixture
def app(store, tmp_path):
    app = create_app(store, settings(), make_engine(store, write_content(tmp_path / "content")))
    for name, role in (("alice", "agent"), ("bea", "agent"), ("sam", "social"), ("root", "admin")):
        add_user(store, name, role)
    store.update_user("bea", keep_sessions=True, display_name="Bea", team="billing")
    return app


def client(app, name: str, **headers: str) -> TestClient:
    c = TestClient(app, headers=headers)
    login(c, name)
    return c


@pytest.fixture
def case(app):
    """An escalated web chat: the customer was angry about order 12345678 and asked for a human."""
    customer = TestClient(app)
    customer.get("/chat")
    for text in ("hello, my order 12345678 is broken and I am angry", "I want a human"):
        assert customer.post("/chat/api/messages", json={"text": text}).status_code == 202
    return app.state.store.inbox()[0]["conversation_id"]


def post(c: TestClient, url: str, **data: str):
    return c.post(url, data={"csrf": csrf_of(c.get("/login").text), **data}, follow_redirects=False)


def test_search_finds_the_conversation_its_customer_and_its_message(app, case):
    alice = client(app, "alice")
    page = alice.get("/conversations", params={"q": "broken", "status": "all"}).text
    assert f'href="/conversations/{case}#m' in page  # the matching message, linked
    assert f'data-href="/conversations/{case}"' in page
    assert "No conversations match." in alice.get("/conversations", params={"q": "zebra", "status": "all"}).text
    filtered = alice.get("/conversations", params={"q": "broken", "status": "closed"}).text
    assert f'data-href="/conversations/{case}"' not in filtered


def test_lists_paginate_and_odd_filters_are_ignored(app, store, case):
    for n in range(30):
        customer = store.identify("telegram", f"c{n}", f"Klant {n}")
        store.open_conversation(customer["id"], "telegram", f"c{n}")
    alice = client(app, "alice")
    first = alice.get("/conversations", params={"status": "all"}).text
    assert first.count("data-href=") == 25 and 'id="next-page"' in first
    second = alice.get("/conversations", params={"status": "all", "page": "2"}).text
    assert second.count("data-href=") == 6 and 'id="prev-page"' in second
    odd = alice.get("/conversations", params={"status": "<x>", "page": "²", "priority": "huge", "since": "soon"})
    assert odd.status_code == 200
    assert alice.get("/tickets", params={"status": "all"}).text.count(f'data-href="/conversations/{case}"') == 1


def test_saved_views_belong_to_their_user(app, case):
    alice = client(app, "alice")
    assert post(alice, "/views", name="Broken", q="broken", status="all").status_code == 303
    assert "/conversations?q=broken&amp;status=all" in alice.get("/conversations").text
    assert "Broken" not in client(app, "bea").get("/conversations").text


def test_a_note_is_shown_to_staff_apart_and_never_sent(app, store, case):
    alice = client(app, "alice")
    post(alice, f"/conversations/{case}/notes", text="Customer phoned too: <b>refund</b> approved")
    transcript = alice.get(f"/conversations/{case}/transcript").text
    assert 'class="note"' in transcript and "&lt;b&gt;refund&lt;/b&gt;" in transcript  # escaped, marked apart
    assert all("refund" not in m["text"] for m in store.messages(case))
    chat = TestClient(app)  # what any customer's chat page can fetch holds no note
    assert "refund" not in chat.get("/chat").text
    assert post(alice, f"/conversations/{case}/notes", text=" ").status_code == 303  # refused with a message
    assert len(store.notes(case)) == 1


def test_admin_manages_labels_and_staff_put_them_on(app, store, case):
    root, alice = client(app, "root"), client(app, "alice")
    assert alice.get("/labels").status_code == 403
    post(root, "/labels", name="Refund", colour="#ffcc00")
    tag_id = store.tags()[0]["id"]
    assert f".tag-{tag_id} {{ background: #ffcc00; color: #1d2330; }}" in alice.get("/labels.css").text
    post(alice, f"/conversations/{case}/labels", label="Refund")
    page = alice.get("/conversations", params={"label": "Refund", "status": "all"}).text
    assert f'data-href="/conversations/{case}"' in page and f"tag-{tag_id}" in page
    assert "Labels on conversations and mentions" in alice.get("/dashboard").text
    post(alice, f"/conversations/{case}/labels", label="Refund", remove="1")
    assert store.conversation_tags([case])[case] == []


def test_assigning_tells_the_colleague(app, store, case):
    alice, bea = client(app, "alice"), client(app, "bea")
    post(alice, f"/conversations/{case}/assign", assignee="bea")
    assert store.conversation(case)["assignee"] == "bea"
    page = bea.get("/inbox").text
    assert f"alice assigned conversation #{case} to you" in page
    assert f'data-href="/conversations/{case}"' in bea.get("/conversations", params={"status": "mine"}).text
    post(bea, "/notifications/read", back="/inbox")
    assert "assigned conversation" not in bea.get("/inbox").text
    post(alice, f"/conversations/{case}/assign", assignee="team:billing")
    assert store.conversation(case)["assignee"] == "team:billing"


def test_customer_profile_shows_everything_and_edits_name_and_language(app, store, case):
    alice = client(app, "alice")
    customer_id = store.conversation(case)["customer_id"]
    store.add_note(case, "bea", "VIP")
    page = alice.get(f"/customers/{customer_id}").text
    assert "12345678" in page and "claimed" in page and "verified" in page  # the claim, and the identity
    assert "1 conversation" in page and "1 note" in page and "VIP" in page
    post(alice, f"/customers/{customer_id}", display_name="  Anna   de Vries ", language="nl")
    assert (store.customer(customer_id)["display_name"], store.customer(customer_id)["language"]) == ("Anna de Vries", "nl")
    post(alice, f"/customers/{customer_id}", display_name="x", language="fr")
    assert store.customer(customer_id)["language"] == "nl"  # refused
    assert "Anna de Vries" in alice.get("/customers", params={"q": "anna"}).text


def test_story_and_transcript_show_the_same_mood_as_words(app, case):
    page = client(app, "alice").get(f"/conversations/{case}").text
    story = page[page.index('id="moods"'):page.index("Earlier tickets")]
    transcript = page[page.index('id="transcript"'):]
    assert story.count("chip mood negative") == transcript.count("chip mood negative") == 1
    assert "-0.0" not in page and "1.00" not in page  # no raw scores shown, no negative zero


def test_language_by_browser_then_by_choice(app, case):
    dutch = client(app, "alice", **{"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    page = dutch.get("/inbox").text
    assert '<html lang="nl">' in page and "Wachtend" in page and "Uitloggen" in page
    post(dutch, "/language", language="en", back="/inbox")
    assert "Sign out" in dutch.get("/inbox").text  # the user's choice beats the browser
    assert post(dutch, "/language", language="fr").status_code == 303
    assert "Sign out" in dutch.get("/inbox").text


def test_dutch_is_the_default_and_numbers_dates_follow_the_locale(store, tmp_path):
    app = create_app(store, settings(language="nl"))
    add_user(store, "alice", "agent")
    c = TestClient(app)
    assert "Inloggen" in c.get("/login").text
    assert choose(None, "fr-FR, en;q=0.4") == "en" and choose(None, "de") == "nl" and choose("en", "nl") == "en"
    assert choose(None, "nl;q=abc, en") == "en"
    assert translations("nl").ngettext("%(num)s conversation", "%(num)s conversations", 1) == "%(num)s gesprek"


def test_every_string_in_the_console_is_translated_to_dutch():
    """Extracted from the code and templates now (as pybabel does), not from a possibly stale .pot."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    from webcare.console.i18n import CATALOGUES

    keywords = {**DEFAULT_KEYWORDS, "N_": None, "say": (2,), "text": (2,)}
    method_map = [("console/**.py", "python"), ("console/templates/**.html", "jinja2")]
    found = extract_from_dir(str(ROOT), method_map, keywords=keywords)
    wanted = {m if isinstance(m, str) else m[0] for *_, m, _, _ in found}
    assert len(wanted) > 200
    with (CATALOGUES / "nl.po").open("rb") as f:
        done = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id and m.string}
    assert wanted - done == set()


def test_charts_keep_their_outer_labels_inside_and_skip_missing_points():
    from webcare.console.charts import line_chart

    labels = [f"12-{d:02d}" for d in range(1, 31)]
    svg = str(line_chart("CSAT", labels, {"csat": [None] * 29 + [4.5]}))
    assert 'text-anchor="start" class="tick">12-01<' in svg and 'text-anchor="end" class="tick">12-30<' in svg
    assert 'points="' in svg and "None" not in svg


def test_dashboard_speaks_in_plurals_and_offers_the_channels_seen(app, case):
    page = client(app, "alice").get("/dashboard").text
    assert "<span>1</span>conversation ·" in page and "conversations ·" not in page
    assert '<select name="channel" id="dashboard-channel">' in page and "<option >webchat</option>" in page
    assert "CSAT over time" in page and "Open conversations per colleague" in page


def test_the_social_team_labels_mentions_and_filters_by_label(app, store):
    ids = store.ingest_mentions([
        {"source": "x", "external_id": str(n), "text": text, "flagged": 1, "author": "kim"}
        for n, text in enumerate(("where is my parcel", "love the new sofa"))])
    store.add_tag("Bezorging", "#1f4e79")
    sam = client(app, "sam")
    post(sam, f"/mentions/{ids[0]}/labels", label="Bezorging")
    assert [t["name"] for t in store.mention_tags([ids[0]])[ids[0]]] == ["Bezorging"]
    page = sam.get("/mentions", params={"label": "Bezorging"}).text
    assert "where is my parcel" in page and "love the new sofa" not in page
    assert "love the new sofa" in sam.get("/mentions").text
    assert store.tag_counts()[0]["mentions"] == 1


def test_sla_clocks_read_in_the_console_language():
    from datetime import datetime

    from webcare.bot.handoff import SlaClock
    from webcare.console.readable import sla_text

    paused = SlaClock(7200, False, datetime(2026, 12, 8, 9, 0))  # a Tuesday
    assert sla_text(paused, "en") == "paused · starts Tue 09:00 · 2h 0m left"
    assert sla_text(paused, "nl") == "gepauzeerd · start di 09:00 · nog 2h 0m"
    assert sla_text(SlaClock(-300, True), "nl") == "5m 0s te laat"
