"""End to end in a real headless Chromium (Debian's chromium + chromedriver, nothing downloaded).

A customer chats on the web chat (at http://localhost:PORT) while staff use the console (at
http://127.0.0.1:PORT, another origin, so the two keep separate cookies in one browser). Also takes
the screenshots for docs/console.md when WEBCARE_SCREENSHOTS is set to a folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from emulators.console_kit import PASSWORD, add_user, seed_history, settings
from tests.helpers import matches
from webcare.bot.config import EscalationConfig
from webcare.bot.handoff import sla_due
from webcare.console import create_app
from webcare.console.config import ConsoleConfig
from webcare.console.server import build_server
from webcare.store import Store

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = os.environ.get("WEBCARE_SCREENSHOTS")


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install webcare[test])"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: apt-get install chromium chromium-driver ({package})"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=en-US", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser, analyzer, responses):
    """The console and web chat served by uvicorn on a free port, over a SQLite file store and the real NLU."""
    from webcare.bot.engine import DialogueEngine

    root = tmp_path_factory.mktemp("browser")
    store = Store.open(f"sqlite:///{root / 'webcare.db'}")
    engine = DialogueEngine(store, analyzer, responses)
    app = create_app(store, settings(refresh_seconds=0.5), engine)
    add_user(store, "alice", "agent")
    add_user(store, "sam", "social")
    add_user(store, "bea", "agent")
    seed_history(store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = build_server(app, ConsoleConfig(port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the console did not start"
    yield {"store": store, "console": f"http://127.0.0.1:{port}", "chat": f"http://localhost:{port}/chat",
           "responses": responses}
    server.should_exit = True
    thread.join(10)
    store.close()


def wait_for(driver, condition, timeout: float = 60):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    return wait.until(condition)


def by_css(selector: str):
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, selector


def chat_texts(driver) -> list[str]:
    return [e.text for e in driver.find_elements(*by_css("#messages .bubble"))]


def chat_say(driver, text: str) -> None:
    count = len(chat_texts(driver))
    box = driver.find_element(*by_css("#text"))
    box.send_keys(text)
    driver.find_element(*by_css("#send")).click()
    wait_for(driver, lambda d: len(chat_texts(d)) > count + 1 or text in chat_texts(d)[count:])


def sign_in(driver, site, username: str) -> None:
    driver.get(site["console"] + "/login")
    driver.find_element(*by_css("input[name=username]")).send_keys(username)
    driver.find_element(*by_css("input[name=password]")).send_keys(PASSWORD)
    driver.find_element(*by_css("form.login button")).click()
    wait_for(driver, lambda d: "/login" not in d.current_url)


def shot(driver, name: str, height: int = 900) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1280, height)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
        driver.set_window_size(1280, 900)


def phone(driver, on: bool = True) -> None:
    """Emulate a 360 px wide phone (or stop emulating)."""
    if on:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 360, "height": 760, "deviceScaleFactor": 1, "mobile": True})
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def phone_shot(driver, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def sign_in_as(driver, site, username: str) -> None:
    """Sign out whoever is signed in, then sign in `username`."""
    driver.get(site["console"] + "/login")
    if driver.find_elements(*by_css(".logout button")):
        driver.find_element(*by_css(".logout button")).click()
    sign_in(driver, site, username)


def seed_queue(store: Store) -> None:
    """A few other escalated customers, so the inbox looks like a working day."""
    for n, (name, priority, reason) in enumerate((("Daan de Vries", "high", "complaint"),
                                                  ("Emma Jansen", "normal", "fallbacks"))):
        customer = store.identify("telegram", f"tg-{n}", name)
        conversation = store.open_conversation(customer["id"], "telegram", f"tg-{n}")
        store.record_incoming(conversation["id"], "Mijn pakket is nog steeds niet bezorgd!")
        store.escalate(conversation["id"], reason, priority, f"{name} via telegram; escalated: {reason}.",
                       sla_due_at=sla_due(EscalationConfig(), priority, store.clock()))  # as the engine sets it


def said(site, driver, template: str) -> bool:
    return any(matches(site["responses"], t, template, "en") for t in chat_texts(driver))


def test_customer_and_agent_end_to_end(browser, site):
    store = site["store"]
    seed_queue(store)
    browser.get(site["chat"])
    chat_tab = browser.current_window_handle
    chat_say(browser, 'Hello! <img src=x onerror="window.pwned=1"><script>window.pwned=2</script>')
    wait_for(browser, lambda d: len(chat_texts(d)) >= 2)  # the bot answered
    assert chat_texts(browser)[0].startswith("Hello! <img src=x")  # shown as text, never run
    chat_say(browser, "My order 12345678 arrived broken. I want to talk to a human please.")
    wait_for(browser, lambda d: said(site, d, "escalate_ack") or said(site, d, "escalate_ack_closed"))
    shot(browser, "webchat")

    browser.switch_to.new_window("tab")
    console_tab = browser.current_window_handle
    sign_in(browser, site, "alice")
    assert browser.execute_script("return document.cookie") == ""  # the session cookie is HttpOnly
    conversation_id = next(r for r in store.inbox() if r["channel"] == "webchat")["conversation_id"]
    link = wait_for(browser, lambda d: d.find_element(*by_css(f'a[href="/conversations/{conversation_id}"]')))
    wait_for(browser, lambda d: "left" in d.find_element(*by_css(".sla")).text)  # SLA countdown runs
    shot(browser, "inbox")
    link.click()
    wait_for(browser, lambda d: d.find_element(*by_css("#take"))).click()
    box = wait_for(browser, lambda d: d.find_element(*by_css("#reply-text")))
    browser.find_element(*by_css(".canned-reply")).click()  # a canned reply fills the box
    assert box.get_attribute("value")
    box.clear()
    box.send_keys("Hi, this is Alice. I'm sorry about order 12345678, a new one is on its way.")
    browser.find_element(*by_css("#send-reply")).click()
    wait_for(browser, lambda d: "Alice" in d.find_element(*by_css("#transcript")).text)

    browser.switch_to.window(chat_tab)
    wait_for(browser, lambda d: any("this is Alice" in t for t in chat_texts(d)))  # pushed, no reload
    assert browser.execute_script("return window.pwned") is None
    chat_say(browser, "Thank you!")

    browser.switch_to.window(console_tab)
    wait_for(browser, lambda d: "Thank you!" in d.find_element(*by_css("#transcript")).text)  # live update
    shot(browser, "conversation", 1000)
    browser.find_element(*by_css("#close")).click()
    wait_for(browser, lambda d: "asked how it went" in d.page_source)

    browser.switch_to.window(chat_tab)
    wait_for(browser, lambda d: said(site, d, "csat_ask"))
    buttons = browser.find_elements(*by_css("#messages li:last-child .buttons button"))
    assert [b.text for b in buttons] == ["1", "2", "3", "4", "5"]
    buttons[3].click()
    wait_for(browser, lambda d: said(site, d, "csat_thanks"))
    assert store.ticket_for_conversation(conversation_id)["csat"] == 4
    assert "★★★★☆ (4)" in chat_texts(browser) and "/csat 4" not in chat_texts(browser)  # the rating, not a command
    assert all(not b.is_enabled() for b in buttons)  # a choice is made once
    assert any(t.endswith("from Huisraad is taking over the conversation.") for t in chat_texts(browser))

    browser.switch_to.window(console_tab)
    store.log_event("storm", data={"topic": "retour", "source": "bluesky", "count": 42, "baseline": 4.2,
                                   "sample": ["Waar blijft mijn geld?"]})
    browser.get(site["console"] + "/dashboard?period=7d")
    wait_for(browser, lambda d: len(d.find_elements(*by_css("svg.chart"))) == 7)
    assert "Complaint storm" in browser.find_element(*by_css(".banner")).text
    shot(browser, "dashboard", 1250)


def test_social_team_reviews_and_dismisses_a_mention(browser, site):
    store = site["store"]
    base = {"source": "x", "author_reach": 5400, "language": "nl", "urgency": "normal", "flagged": 1,
            "url": "https://x.example/status/1"}
    store.ingest_mentions([
        base | {"external_id": "t1", "author": "boze_klant", "author_name": "Boze Klant", "sentiment": "negative",
                "sentiment_score": -0.8, "complaint": 1, "complaint_score": 0.93, "priority": 0.9,
                "text": "@shop al 2 weken geen pakket <script>window.pwned=3</script> #slecht"},
        base | {"external_id": "t2", "author": "spam4u", "author_name": "Spam", "sentiment": "neutral",
                "sentiment_score": 0.0, "complaint": 0, "complaint_score": 0.1, "priority": 0.4,
                "text": "Win een iPhone bij shop!!! klik hier"},
    ])
    browser.get(site["console"] + "/login")
    if browser.find_elements(*by_css(".logout button")):
        browser.find_element(*by_css(".logout button")).click()
    sign_in(browser, site, "sam")
    wait_for(browser, lambda d: d.find_elements(*by_css("article.mention")))
    assert browser.execute_script("return window.pwned") is None
    assert "<script>window.pwned=3</script>" in browser.find_element(*by_css("article.mention .text")).text
    shot(browser, "mentions")
    spam = next(m for m in store.mentions() if m["external_id"] == "t2")
    browser.find_element(*by_css(f"#mention-{spam['id']} button.dismiss")).click()
    wait_for(browser, lambda d: not d.find_elements(*by_css(f"#mention-{spam['id']}")))
    assert "dismissed" in browser.find_element(*by_css(".flash")).text
    assert [(label["label"], label["author"]) for label in store.labels("mention_flag")] == [("not_relevant", "sam")]


def test_a_forged_cross_site_form_changes_nothing(browser, site):
    store = site["store"]
    conversation_id = store.conversations(states=["bot", "waiting", "human", "closed"])[0]["id"]
    before = len(store.messages(conversation_id))
    target = f"{site['console']}/conversations/{conversation_id}/reply"
    browser.get(site["chat"])  # another origin than the console, where an attacker's page would be
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
        "const t = document.createElement('input'); t.name = 'text'; t.value = 'forged'; f.append(t);"
        "document.body.append(f); f.submit();", target)
    wait_for(browser, lambda d: "/chat" not in d.current_url)
    assert len(store.messages(conversation_id)) == before
    assert not [m for m in store.messages(conversation_id) if m["text"] == "forged"]


def test_a_chat_session_the_server_never_issued_is_replaced_and_the_message_still_arrives(browser, site):
    browser.get(site["chat"])
    wait_for(browser, lambda d: d.find_element(*by_css("#status")).text == "")  # the stream is open
    browser.delete_cookie("webcare_chat")
    browser.add_cookie({"name": "webcare_chat", "value": "made-up-by-the-customer", "httpOnly": True})
    chat_say(browser, "Hello after a forged cookie")
    wait_for(browser, lambda d: len(chat_texts(d)) >= 2)  # the bot answered on the new session's stream
    cookie = browser.get_cookie("webcare_chat")["value"]
    assert cookie != "made-up-by-the-customer"
    [message] = site["store"].backend.query("SELECT chat_id FROM messages WHERE text = 'Hello after a forged cookie'")
    assert message["chat_id"] not in cookie


def working_day_case(store: Store) -> int:
    """An angry Dutch customer waiting for a person, and the labels an admin made."""
    for name, colour in (("Retour", "#f4b400"), ("Schade", "#c0392b"), ("VIP", "#8e44ad")):
        if not any(t["name"] == name for t in store.tags()):
            store.add_tag(name, colour)
    customer = store.identify("telegram", "tg-anna", "Anna de Vries")
    conversation = store.open_conversation(customer["id"], "telegram", "tg-anna")["id"]
    for text, score in (("Hallo, mijn bestelling 12345678 is kapot aangekomen", -0.7),
                        ("Ik wil graag een medewerker spreken", -0.3)):
        store.record_incoming(conversation, text, analysis={
            "language": "nl", "intent": "request_human" if "medewerker" in text else "order_status",
            "confidence": 0.93, "sentiment": "negative", "sentiment_score": score, "complaint": score < -0.5,
            "entities": [{"type": "order_number", "value": "12345678"}] if "12345678" in text else []})
    store.add_claim(conversation, "order_number", "12345678")
    store.escalate(conversation, "complaint", "high", "Anna de Vries via telegram: order 12345678 broken.",
                   sla_due_at=sla_due(EscalationConfig(), "high", store.clock()))
    store.tag_conversation(conversation, "Schade")
    return conversation


def test_a_working_day_search_note_label_assign_and_profile(browser, site):
    store = site["store"]
    conversation_id = working_day_case(store)
    sign_in_as(browser, site, "alice")
    search = wait_for(browser, lambda d: d.find_element(*by_css("#search")))
    search.send_keys("kapot\n")  # the header's search box
    wait_for(browser, lambda d: "/conversations?" in d.current_url)
    assert "kapot aangekomen" in browser.find_element(*by_css(".message-hits")).text
    shot(browser, "console-search")
    browser.find_element(*by_css("body")).send_keys("j")  # keyboard: select the first row, open it
    wait_for(browser, lambda d: d.find_elements(*by_css("tr.selected")))
    browser.find_element(*by_css("body")).send_keys("\ue007")  # Enter
    wait_for(browser, lambda d: d.current_url.endswith(f"/conversations/{conversation_id}"))

    moods = [e.text for e in browser.find_elements(*by_css("#moods .chip"))]
    assert moods == ["negative", "negative"]  # the story's moods are the transcript's
    assert [e.text for e in browser.find_elements(*by_css("#transcript .chip.mood"))] == moods
    assert "request_human" not in browser.find_element(*by_css("main")).text  # titles, never raw ids

    browser.find_element(*by_css("body")).send_keys("n")  # keyboard: write a note
    note = browser.switch_to.active_element
    assert note.get_attribute("id") == "note-text"
    note.send_keys("Belde ook al; bied een nieuwe bank aan.")
    browser.find_element(*by_css("#add-note")).click()
    wait_for(browser, lambda d: "nieuwe bank" in d.find_element(*by_css("#transcript .note")).text)
    assert store.pending_outbox() == [] or all("nieuwe bank" not in m["text"] for m in store.pending_outbox())

    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(*by_css("#add-label select"))).select_by_visible_text("Retour")
    browser.find_element(*by_css("#add-label button")).click()
    wait_for(browser, lambda d: "Retour" in d.find_element(*by_css("h1")).text)
    Select(browser.find_element(*by_css("#assign select"))).select_by_value("bea")
    browser.find_element(*by_css("#assign button")).click()
    wait_for(browser, lambda d: "Assigned to bea" in d.find_element(*by_css(".flash")).text)
    assert store.conversation(conversation_id)["assignee"] == "bea"
    browser.find_element(*by_css("body")).send_keys("?")
    wait_for(browser, lambda d: d.find_element(*by_css("#help")).is_displayed())
    browser.find_element(*by_css("body")).send_keys("\ue00c")  # Escape
    wait_for(browser, lambda d: not d.find_element(*by_css("#help")).is_displayed())
    shot(browser, "console-conversation", 1000)

    browser.find_element(*by_css("#profile-link")).click()
    name = wait_for(browser, lambda d: d.find_element(*by_css("#profile-name")))
    name.clear()
    name.send_keys("Anna de Vries-Bakker")
    browser.find_element(*by_css("#profile button")).click()
    wait_for(browser, lambda d: "Anna de Vries-Bakker" in d.find_element(*by_css("h1")).text)
    assert "12345678" in browser.find_element(*by_css(".claims")).text
    shot(browser, "console-profile")

    sign_in_as(browser, site, "bea")  # the colleague is told
    bell = wait_for(browser, lambda d: d.find_element(*by_css("#notifications summary")))
    bell.click()
    assert f"conversation #{conversation_id}" in browser.find_element(*by_css("#notifications")).text


def test_the_console_speaks_dutch_by_choice(browser, site):
    sign_in_as(browser, site, "alice")
    browser.find_element(*by_css("#lang-nl")).click()
    wait_for(browser, lambda d: d.find_element(*by_css("html")).get_attribute("lang") == "nl")
    assert "Uitloggen" in browser.find_element(*by_css(".logout")).text
    browser.get(site["console"] + "/conversations?status=all")
    assert "Gesprekken" in browser.find_element(*by_css("h1")).text
    shot(browser, "console-dutch")
    browser.find_element(*by_css("#lang-en")).click()
    wait_for(browser, lambda d: d.find_element(*by_css("html")).get_attribute("lang") == "en")


def test_a_phone_can_work_the_queue_at_360_px(browser, site):
    store = site["store"]
    conversation_id = working_day_case(store)
    sign_in_as(browser, site, "alice")
    phone(browser)
    try:
        for path, name in (("/inbox", "console-phone-inbox"), (f"/conversations/{conversation_id}",
                                                               "console-phone-conversation")):
            browser.get(site["console"] + path)
            wide = browser.execute_script("return document.documentElement.scrollWidth")
            assert wide <= 360, f"{path} is {wide} px wide on a 360 px phone"
            phone_shot(browser, name)
        take = browser.find_element(*by_css("#take"))
        assert take.is_displayed() and take.rect["x"] + take.rect["width"] <= 360
    finally:
        phone(browser, on=False)
