"""The shared vocabulary in webcare/core, checked across its users: one cleaner (stored text is the
analysed text, for chats and for mentions), one percentile, one rate-limit reading, one backoff."""

from __future__ import annotations

import statistics
from datetime import timedelta

import numpy as np
import pytest

from emulators import console_kit
from emulators.listen_kit import KeywordAnalyzer, config, mention
from webcare.core.messages import IncomingMessage
from webcare.core.ratelimit import DEFAULT_WAIT, retry_after, until_reset
from webcare.core.retry import backoff
from webcare.core.stats import percentile
from webcare.core.text import clean_text, html_to_text
from webcare.listeners.triage import Triage
from webcare.store import Store

JUNK = "  Waar\x00 is\x1b mijn pakket\ud800?\x7f "


class Recording(console_kit.KeywordAnalyzer):
    """The console kit's analyzer, remembering every text it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def analyze(self, text, context=None):
        self.seen.append(text)
        return super().analyze(text, context)


class RecordingMany(KeywordAnalyzer):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def analyze_many(self, texts):
        self.seen.extend(texts)
        return super().analyze_many(texts)


def test_clean_text_drops_junk_keeps_words_apart_and_is_idempotent():
    cleaned = clean_text(JUNK)
    assert cleaned == "Waar is mijn pakket ?"
    assert clean_text(cleaned) == cleaned
    assert clean_text(b"caf\xc3\xa9\xff") == "café"
    assert clean_text(None) == ""


def test_a_chat_message_is_stored_as_it_was_analysed(tmp_path):
    store = Store.memory()
    analyzer = Recording()
    engine = console_kit.make_engine(store, console_kit.write_content(tmp_path), analyzer)
    engine.handle(IncomingMessage("terminal", "u1", "c1", JUNK))
    (conversation,) = store.conversations()
    stored = [m["text"] for m in store.messages(conversation["id"]) if m["direction"] == "in"]
    assert stored == [clean_text(JUNK)]
    assert analyzer.seen[0] == stored[0]


def test_a_mention_is_stored_as_it_was_analysed():
    store = Store.memory()
    analyzer = RecordingMany()
    Triage(store, analyzer, config()).process([mention("m1", JUNK)])
    (stored,) = store.mentions()
    assert stored["text"] == clean_text(JUNK) == analyzer.seen[0]


def test_html_to_text_breaks_lines_drops_tags_and_decodes_entities():
    assert html_to_text("<p>Hoi <a href='x'>@acme</a> &amp; co</p><p>tweede</p>") == "Hoi @acme & co\ntweede"
    assert html_to_text("een<br/>twee") == "een\ntwee"


@pytest.mark.parametrize("q", [0, 10, 50, 90, 95, 99, 100])
def test_percentile_is_numpys_linear_interpolation(q):
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile(values, 50) == statistics.median(values)
    assert percentile([], 90) is None


def test_rate_limit_resets_and_retry_afters_read_one_way():
    assert until_reset("1042", now=1000.0) == 42.0
    assert until_reset(1000.5, now=1000.0) == 1.0  # at least a second
    assert until_reset(None, now=1000.0) == until_reset("soon", now=1000.0) == DEFAULT_WAIT
    assert retry_after("30", now=0) == 30.0
    assert retry_after(timedelta(seconds=5), now=0) == 5.0  # Telegram's RetryAfter in PTB 23
    assert retry_after(7, now=0) == 7.0
    assert retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert retry_after("", now=0) == retry_after("garbage", now=0) == DEFAULT_WAIT


def test_backoff_is_equal_jitter_between_half_and_all_of_the_exponential_step_capped():
    for failures, (low, high) in {1: (1, 2), 3: (4, 8), 9: (30, 60)}.items():
        waits = [backoff(failures, base=2, cap=60) for _ in range(50)]
        assert all(low <= w <= high for w in waits), (failures, min(waits), max(waits))
        assert len(set(waits)) > 1  # jittered
