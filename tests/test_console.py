"""The staff console through FastAPI's TestClient: auth, CSRF, XSS, inbox, takeover, mentions, dashboard."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from emulators.console_kit import (
    PASSWORD,
    add_user,
    csrf_of,
    fast_argon2,  # noqa: F401 - autouse: cheap argon2 here
    login,
    make_engine,
    settings,
    write_content,
)
from webcare.console import create_app


@pytest.fixture
def app(store, tmp_path):
    engine = make_engine(store, write_content(tmp_path / "content"))
    app = create_app(store, settings(login_attempts=3, metrics_token="scrape-token"), engine)
    for name, role in (("alice", "agent"), ("sam", "social"), ("root", "admin")):
        add_user(store, name, role)
    return app


@pytest.fixture
def agent(app):
    client = TestClient(app)
    assert login(client, "alice").headers["location"] == "/inbox"
    return client


@pytest.fixture
def customer(app):
    client = TestClient(app)
    client.get("/chat")
    return client


def say(customer: TestClient, text: str) -> None:
    assert customer.post("/chat/api/messages", json={"text": text}).status_code == 202


def escalate(customer: TestClient, first: str = "hello, my order 12345678 is broken and I am angry",
             then: str = "I want a human") -> int:
    say(customer, first)
    say(customer, then)
    store = customer.app.state.store
    return store.inbox()[0]["conversation_id"]


# -- auth ------------------------------------------------------------------------------------


def test_pages_need_a_signed_in_user(app):
    client = TestClient(app)
    response = client.get("/inbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/inbox"
    assert client.get("/inbox/rows", headers={"X-Requested-With": "fetch"}).status_code == 401


def test_session_cookie_is_httponly_and_samesite(app):
    client = TestClient(app)
    response = login(client, "alice")
    cookie = response.headers["set-cookie"].lower()
    assert "webcare_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert PASSWORD not in response.headers["set-cookie"]


def test_wrong_password_is_refused_and_logins_are_rate_limited(app):
    client = TestClient(app)
    for _ in range(3):
        response = login(client, "alice", "wrong password")
        assert response.status_code == 401 and "Wrong username or password" in response.text
    blocked = login(client, "alice")  # even the right password waits now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert blocked.headers.get("location") is None and client.get("/inbox", follow_redirects=False).status_code == 303
    assert login(TestClient(app), "sam").status_code == 303  # a colleague at the same address is not locked out
    assert app.state.store.events("login_failed")


def test_login_rejects_a_post_without_csrf_token(app):
    client = TestClient(app)
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403 and "form has expired" in response.text


def test_next_never_redirects_to_another_site(app):
    client = TestClient(app)
    token = csrf_of(client.get("/login?next=//evil.example/").text)
    response = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token,
                                           "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/inbox"


def test_roles_limit_pages(app, agent):
    assert agent.get("/mentions").status_code == 403
    social = TestClient(app)
    assert login(social, "sam").headers["location"] == "/mentions"
    assert social.get("/inbox").status_code == 403
    assert social.get("/dashboard").status_code == 200
    admin = TestClient(app)
    login(admin, "root")
    assert admin.get("/inbox").status_code == 200 and admin.get("/mentions").status_code == 200


def test_a_removed_user_is_signed_out(app, agent):
    app.state.store.remove_user("alice")
    assert agent.get("/inbox", follow_redirects=False).status_code == 303


def test_logout_needs_csrf_and_ends_the_session(agent):
    assert agent.post("/logout", data={}).status_code == 403
    token = csrf_of(agent.get("/inbox").text)
    agent.post("/logout", data={"csrf": token})
    assert agent.get("/inbox", follow_redirects=False).status_code == 303


def test_security_headers(agent):
    response = agent.get("/inbox")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# -- inbox, conversation, takeover ---------------------------------------------------------


def test_escalated_conversation_shows_in_the_inbox_with_its_story(agent, customer):
    conversation_id = escalate(customer)
    inbox = agent.get("/inbox").text
    assert f"/conversations/{conversation_id}" in inbox and "data-due=" in inbox
    page = agent.get(f"/conversations/{conversation_id}").text
    assert "order number: 12345678" in page  # entities in the story card, readable
    assert "Request human" in page and "request_human" not in page  # the intent's title, not its id
    assert 'chip mood negative" title="score -0.8">negative' in page  # sentiment as a word, the score on hover
    assert "webchat" in page  # channels and identities


def test_the_conversation_page_reads_the_story_from_the_ticket(agent, customer, store, monkeypatch):
    conversation_id = escalate(customer)

    def rebuilt(*args, **kwargs):
        raise AssertionError("the console rebuilt the story")

    monkeypatch.setattr(store, "build_story", rebuilt)
    page = agent.get(f"/conversations/{conversation_id}").text
    assert "order number: 12345678" in page and "Request human" in page


def test_inbox_orders_most_urgent_then_oldest(app, store):
    ids = []
    for priority in ("normal", "urgent", "normal"):
        customer = store.identify("webchat", f"c-{len(ids)}")
        conversation = store.open_conversation(customer["id"], "webchat", f"c-{len(ids)}")
        store.escalate(conversation["id"], "requested", priority, sla_due_at=store.clock() + 3600 * (len(ids) + 1))
        ids.append(conversation["id"])
    assert [r["conversation_id"] for r in store.inbox()] == [ids[1], ids[0], ids[2]]


def test_everything_a_customer_wrote_is_escaped(agent, customer):
    conversation_id = escalate(customer, 'hello <script>alert("x")</script><img src=x onerror=alert(1)>')
    for url in ("/inbox", f"/conversations/{conversation_id}", f"/conversations/{conversation_id}/transcript"):
        html = agent.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in agent.get(f"/conversations/{conversation_id}").text


def test_take_reply_and_close_reach_the_customer_and_ask_csat(app, agent, customer, store):
    conversation_id = escalate(customer)
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token})
    assert store.conversation(conversation_id)["owner"] == "alice"
    say(customer, "are you there?")  # the bot stays silent while a person owns the case
    agent.post(f"/conversations/{conversation_id}/reply", data={"csrf": token, "text": "Hi, I'm Alice <b>"})
    seen = customer.get("/chat/api/messages").json()["messages"]
    assert seen[-1] == {**seen[-1], "from": "agent", "name": "alice", "text": "Hi, I'm Alice <b>"}
    assert seen[-2]["text"] == "are you there?"
    ticket = store.ticket_for_conversation(conversation_id)
    assert ticket["first_response_at"] is not None and ticket["assignee"] == "alice"
    response = agent.post(f"/conversations/{conversation_id}/close", data={"csrf": token})
    assert "thanked and asked how it went" in response.text
    after = customer.get(f"/chat/api/messages?after={seen[-1]['id']}").json()["messages"]
    assert after[-1]["text"].startswith("How did we do") and len(after[-1]["buttons"]) == 5
    assert store.ticket(ticket["id"])["status"] == "closed"
    customer.post("/chat/api/messages", json={"text": "/csat 4", "kind": "button"})
    assert store.ticket(ticket["id"])["csat"] == 4


def test_hand_back_gives_the_bot_the_conversation(agent, customer, store):
    conversation_id = escalate(customer)
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token})
    agent.post(f"/conversations/{conversation_id}/handback", data={"csrf": token})
    assert store.conversation(conversation_id)["state"] == "bot"
    assert store.ticket_for_conversation(conversation_id)["status"] == "resolved"
    say(customer, "hello again")
    assert customer.get("/chat/api/messages").json()["messages"][-1]["text"] == "Hello! How can I help?"


def test_actions_without_csrf_token_change_nothing(agent, customer, store):
    conversation_id = escalate(customer)
    for action, data in (("take", {}), ("reply", {"text": "forged"}), ("close", {}), ("handback", {})):
        response = agent.post(f"/conversations/{conversation_id}/{action}", data={**data, "csrf": "forged"})
        assert response.status_code == 403
    assert store.conversation(conversation_id)["state"] == "waiting"
    assert not [m for m in store.messages(conversation_id) if m["author"].startswith("agent:")]


def test_another_agents_case_needs_an_explicit_takeover(app, agent, customer, store):
    conversation_id = escalate(customer)
    store.take(conversation_id, "bob")
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    response = agent.post(f"/conversations/{conversation_id}/reply", data={"csrf": token, "text": "mine?"})
    assert "owned by bob" in response.text
    page = agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token, "force": "1"}).text
    assert store.conversation(conversation_id)["owner"] == "alice" and 'id="send-reply"' in page


def test_empty_and_oversized_replies_are_refused(agent, customer, store):
    conversation_id = escalate(customer)
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token})
    assert "Write a reply first" in agent.post(f"/conversations/{conversation_id}/reply",
                                               data={"csrf": token, "text": "  "}).text
    assert "at most 4000" in agent.post(f"/conversations/{conversation_id}/reply",
                                        data={"csrf": token, "text": "x" * 4001}).text
    assert not [m for m in store.messages(conversation_id) if m["author"] == "agent:alice"]


def test_canned_replies_follow_the_conversation_language(agent, customer, store):
    conversation_id = escalate(customer, "hallo", "ik wil een medewerker")
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    page = agent.post(f"/conversations/{conversation_id}/take", data={"csrf": token}).text
    assert "Dank voor je geduld" in page and "Thanks for your patience" not in page


def test_merge_and_split_customers_by_hand(agent, customer, store):
    conversation_id = escalate(customer)
    me = store.conversation(conversation_id)["customer_id"]
    other = store.identify("telegram", "777", "Anna")["id"]
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/customers/{me}/merge", data={"csrf": token, "other": str(other),
                                                "back": f"/conversations/{conversation_id}"})
    identities = store.identities(me)
    assert {"webchat", "telegram"} <= {i["channel"] for i in identities}
    telegram = next(i for i in identities if i["channel"] == "telegram")
    page = agent.post(f"/identities/{telegram['id']}/split", data={"csrf": token}).text
    assert "new customer" in page and "telegram" not in {i["channel"] for i in store.identities(me)}


def test_unknown_conversation_is_a_clear_404(agent):
    response = agent.get("/conversations/999")
    assert response.status_code == 404 and "conversation 999 does not exist" in response.text


def test_live_fragments_and_json(agent, customer):
    conversation_id = escalate(customer)
    rows = agent.get("/inbox/rows", headers={"X-Requested-With": "fetch"})
    assert rows.status_code == 200 and "<html" not in rows.text and f"/conversations/{conversation_id}" in rows.text
    data = agent.get("/api/inbox").json()
    assert [r["conversation_id"] for r in data["waiting"]] == [conversation_id]
    transcript = agent.get(f"/conversations/{conversation_id}/transcript").text
    assert "I want a human" in transcript and 'data-state="waiting"' in transcript


# -- mentions ------------------------------------------------------------------------------


@pytest.fixture
def social(app):
    client = TestClient(app)
    login(client, "sam")
    return client


def add_mention(store, external_id="m1", text="@shop my parcel is lost <script>x()</script>", **extra):
    row = {"source": "x", "external_id": external_id, "author": "kim", "author_id": "42", "author_name": "Kim",
           "author_reach": 1200, "url": "https://x.example/kim/status/1", "text": text, "language": "en",
           "sentiment": "negative", "sentiment_score": -0.7, "complaint": 1, "complaint_score": 0.9,
           "urgency": "normal", "priority": 0.8, "flagged": 1} | extra
    return store.ingest_mentions([row])[0]


def test_mention_queue_shows_flagged_mentions_escaped_with_scores(social, store):
    add_mention(store)
    add_mention(store, "m2", "unflagged", flagged=0)
    add_mention(store, "m3", "evil link", url="javascript:alert(1)")
    page = social.get("/mentions").text
    assert "my parcel is lost" in page and "unflagged" not in page
    assert "<script>x()" not in page and "&lt;script&gt;" in page
    assert "reach 1,200" in page and 'href="https://x.example/kim/status/1"' in page
    assert "javascript:" not in page


def test_dismiss_and_confirm_are_stored_as_labels(social, store):
    first, second = add_mention(store), add_mention(store, "m2", "love the new app")
    token = csrf_of(social.get("/mentions").text)
    social.post(f"/mentions/{first}/review", data={"csrf": token, "action": "dismiss"})
    social.post(f"/mentions/{second}/review", data={"csrf": token, "action": "confirm"})
    assert store.mention(first)["review_status"] == "dismissed"
    assert store.mention(second)["review_status"] == "confirmed"
    labels = {(label["source_id"], label["label"]) for label in store.labels("mention_flag")}
    assert labels == {(first, "not_relevant"), (second, "relevant")}
    assert all(label["author"] == "sam" and label["source"] == "mention" for label in store.labels())
    page = social.get("/mentions").text
    assert "my parcel is lost" not in page  # reviewed ones leave the queue
    assert "my parcel is lost" in social.get("/mentions?status=reviewed").text


def test_corrections_of_sentiment_and_complaint_are_labels(social, store):
    mention_id = add_mention(store)
    token = csrf_of(social.get("/mentions").text)
    social.post(f"/mentions/{mention_id}/review",
                data={"csrf": token, "action": "correct", "sentiment": "neutral", "complaint": "no"})
    mention = store.mention(mention_id)
    assert mention["sentiment"] == "neutral" and mention["complaint"] == 0
    assert [label["label"] for label in store.labels("sentiment")] == ["neutral"]
    assert [label["label"] for label in store.labels("complaint")] == ["not_complaint"]


def test_mention_reply_goes_to_the_outbox_of_its_network(social, store):
    mention_id = add_mention(store)
    token = csrf_of(social.get("/mentions").text)
    social.post(f"/mentions/{mention_id}/reply", data={"csrf": token, "text": "Sorry Kim, DM us your order?"})
    [row] = store.pending_outbox("x")
    assert row["chat_id"] == "m1" and row["text"] == "Sorry Kim, DM us your order?" and row["author"] == "agent:sam"
    assert store.mention(mention_id)["review_status"] == "replied"


def test_a_mention_reply_counts_once_on_the_dashboard_and_not_as_resolved_by_the_bot(social, store):
    from webcare.console.dashboard import compute

    mention_id = add_mention(store)
    token = csrf_of(social.get("/mentions").text)
    social.post(f"/mentions/{mention_id}/reply", data={"csrf": token, "text": "Sorry Kim, DM us your order?"})
    store.close_conversation(store.mention(mention_id)["conversation_id"], reason="idle")
    report = compute(store, "24h")
    assert report["volumes"] == {"x": 1}
    assert report["figures"]["conversations"] == 0 and report["figures"]["bot_resolution_rate"] is None


def test_mention_becomes_one_ticket(social, store):
    mention_id = add_mention(store)
    token = csrf_of(social.get("/mentions").text)
    for _ in range(2):
        social.post(f"/mentions/{mention_id}/ticket", data={"csrf": token})
    [ticket] = store.tickets(kind="mention")
    assert ticket["mention_id"] == mention_id and ticket["priority"] == "high" and ticket["assignee"] == "sam"


def test_mention_forms_need_csrf(social, store):
    mention_id = add_mention(store)
    assert social.post(f"/mentions/{mention_id}/review", data={"action": "dismiss"}).status_code == 403
    assert store.mention(mention_id)["review_status"] == "new" and not store.labels()


def test_storm_banner_and_page(social, store):
    store.log_event("storm", data={"topic": "delivery <b>", "source": "x", "count": 40, "baseline": 3.5,
                                   "sample": ["where is my parcel", "<i>late again</i>"]})
    page = social.get("/mentions").text
    assert "Complaint storm" in page and "delivery &lt;b&gt;" in page
    storms = social.get("/storms").text
    assert "40 complaints against a usual 3.5" in storms and "&lt;i&gt;late again" in storms


def test_ambassadors_are_repeat_positive_authors(social, store):
    for i in range(3):
        add_mention(store, f"p{i}", "love it", author="fan", author_id="7", sentiment="positive", flagged=0)
    add_mention(store, "p9", "nice", author="once", author_id="8", sentiment="positive", flagged=0)
    page = social.get("/ambassadors").text
    assert "@fan" in page and "@once" not in page and "at least 3 positive mentions" in page


# -- dashboard and metrics ---------------------------------------------------------------


def test_dashboard_figures_plots_and_exports(agent, customer, store):
    conversation_id = escalate(customer)
    token = csrf_of(agent.get(f"/conversations/{conversation_id}").text)
    agent.post(f"/conversations/{conversation_id}/reply", data={"csrf": token, "text": "on it"})
    agent.post(f"/conversations/{conversation_id}/close", data={"csrf": token})
    customer.post("/chat/api/messages", json={"text": "/csat 5", "kind": "button"})
    store.log_event("storm", data={"topic": "app", "source": "x", "count": 9, "baseline": 1})
    page = agent.get("/dashboard?period=24h")
    assert page.status_code == 200 and page.text.count("<svg") == 7 and "stroke-dasharray" in page.text
    report = agent.get("/dashboard/export.json?period=24h").json()
    figures = report["figures"]
    assert figures["escalations"] == 1 and figures["csat_average"] == 5 and figures["sla_kept_pct"] == 100
    assert figures["escalation_rate"] == 1.0 and figures["first_response_median_s"] is not None
    assert report["volumes"] == {"webchat": 1} and report["series"]["storm_marks"]
    csv_text = agent.get("/dashboard/export.csv?period=24h").text.splitlines()
    assert csv_text[0].startswith("bucket_start,messages_negative") and len(csv_text) == 26
    assert sum(int(line.split(",")[1]) for line in csv_text[1:]) >= 1  # the angry first message
    figures_csv = agent.get("/dashboard/export.csv?table=figures&period=24h").text
    assert "csat_average,5" in figures_csv
    assert agent.get("/dashboard/export.json?period=24h&channel=telegram").json()["figures"]["escalations"] == 0
    assert agent.get("/dashboard?period=1y").status_code == 400


def test_healthz_and_metrics(app, customer):
    escalate(customer)
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok", "schema": app.state.store.schema_version()}
    metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).text
    assert 'webcare_messages_total{channel="webchat",delivery="none",direction="in"} 2.0' in metrics
    assert 'webcare_events_total{kind="escalated"} 1.0' in metrics
    assert "webcare_queue_length 1.0" in metrics
    assert re.search(r'webcare_http_request_seconds_count\{method="POST",route="/chat/api/messages"\} 2.0', metrics)


def test_sign_in_returns_to_the_page_asked_for(app):
    client = TestClient(app)
    response = client.get("/dashboard?period=24h&language=nl", follow_redirects=False)
    assert response.headers["location"] == "/login?next=/dashboard%3Fperiod%3D24h%26language%3Dnl"
    token = csrf_of(client.get(response.headers["location"]).text)
    signed = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token,
                                         "next": "/dashboard?period=24h&language=nl"}, follow_redirects=False)
    assert signed.headers["location"] == "/dashboard?period=24h&language=nl"
