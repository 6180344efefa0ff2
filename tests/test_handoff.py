"""The expected wait we promise, priorities, and the story-so-far."""

from datetime import datetime
from zoneinfo import ZoneInfo

from webcare.bot.config import EscalationConfig
from webcare.bot.handoff import estimate_wait, priority_for

TZ = ZoneInfo("Europe/Amsterdam")


def ts(*args):
    return datetime(*args, tzinfo=TZ).timestamp()


def test_wait_during_business_hours_grows_with_the_queue():
    config = EscalationConfig(agents_on_duty=2, minutes_per_case=8)
    monday_ten = ts(2026, 11, 23, 10, 0)
    short = estimate_wait(config, 0, monday_ten)
    long = estimate_wait(config, 10, monday_ten)
    assert short.open_now and short.minutes == 5
    assert long.open_now and long.minutes == 45  # (10 + 1) * 8 / 2 = 44 → rounded up to 45
    assert long.describe("nl") == "ongeveer 45 minuten"
    assert long.describe("en") == "about 45 minutes"


def test_outside_hours_tells_when_staff_is_back():
    config = EscalationConfig()
    saturday_night = ts(2026, 11, 28, 22, 0)
    wait = estimate_wait(config, 0, saturday_night)
    assert not wait.open_now
    assert wait.opens.weekday() == 0 and wait.opens.hour == 9  # Monday 09:00
    assert wait.describe("nl") == "maandag om 09:00"


def test_a_wait_past_closing_time_moves_to_the_next_opening():
    config = EscalationConfig(agents_on_duty=1, minutes_per_case=30)
    friday_late = ts(2026, 11, 27, 17, 0)
    wait = estimate_wait(config, 3, friday_late)
    assert not wait.open_now and wait.opens.weekday() == 5 and wait.opens.hour == 10


def test_priorities():
    assert priority_for("requested", {"sentiment_score": 0.1}) == "normal"
    assert priority_for("complaint", {"complaint": True, "sentiment_score": -0.9}) == "high"
    assert priority_for("urgent", {"urgency": "high", "complaint": True}) == "urgent"
    assert priority_for("fallbacks", None) == "normal"


def test_story_lists_channels_entities_mood_and_earlier_tickets(store):
    customer = store.identify("telegram", "42", "Anna")
    old = store.open_conversation(customer["id"], "telegram", "42")
    store.escalate(old["id"], "complaint")
    store.close_conversation(old["id"])
    conv = store.open_conversation(customer["id"], "terminal", "anna")
    store.merge_customers(customer["id"], store.identify("terminal", "anna")["id"], actor="kim")  # linked by staff
    store.add_claim(conv["id"], "email", "anna@example.nl")
    m1 = store.record_incoming(conv["id"], "waar is mijn pakket")
    store.set_analysis(m1, {"intent": "order_status", "sentiment_score": 0.0, "out_of_scope": False})
    m2 = store.record_incoming(conv["id"], "dit duurt belachelijk lang")
    store.set_analysis(m2, {"intent": "complain", "sentiment_score": -0.8, "out_of_scope": False})
    store.update_conversation(conv["id"], slots={"order_number": "40218833"})
    summary, story = store.build_story(conv["id"], "complaint")
    assert story["channels"] == ["telegram", "terminal"]
    assert story["intents"] == ["order_status", "complain"]
    assert story["slots"] == {"order_number": "40218833"}
    assert story["claims"] == [{"kind": "email", "value": "anna@example.nl", "verified": False}]
    assert story["sentiment_trend"] == [0.0, -0.8]
    assert [t["reason"] for t in story["earlier_tickets"]] == ["complaint"]
    assert [m["text"] for m in story["transcript"]] == ["waar is mijn pakket", "dit duurt belachelijk lang"]
    assert "Anna via telegram, terminal" in summary
    assert "order number 40218833" in summary
    assert "getting worse" in summary
