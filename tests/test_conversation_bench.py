"""The conversation benchmark: its data is complete and fair, and its scoring judges turns correctly."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from webcare.bot.channels.base import Button, OutgoingMessage, buttons_as_text
from webcare.bot.engine import DialogueEngine
from webcare.nlu.types import Analysis, Entity

ROOT = Path(__file__).resolve().parent.parent


def _load_bench():
    spec = importlib.util.spec_from_file_location("conversation_bench", ROOT / "bench" / "conversations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


bench = _load_bench()
channel_paths = importlib.import_module("bench.channel_paths")  # on the path once the benchmark is loaded
CATEGORIES = {
    "order_status", "product_info", "price", "stock", "returns", "shipping", "payment", "store_hours", "warranty",
    "complaint_answerable", "handover_request", "risk", "not_sold", "out_of_scope", "near_topic", "correction",
    "follow_up", "mixed_language", "smalltalk", "negative_reaction",
}
TAGS = {"typos", "flemish", "angry", "sarcastic", "rambling"}


@pytest.fixture(scope="module")
def dialogues():
    return {split: bench.load_split(split) for split in bench.SPLITS}


# -- the data ----------------------------------------------------------------------------------------

def test_enough_dialogues_per_language_and_a_held_out_part_of_about_40_percent(dialogues):
    """About 40 % of the first dev file and the held-out file together is held out (further dev files only add)."""
    every = dialogues["dev"] + dialogues["heldout"]
    assert sum(d.language == "nl" for d in every) >= 120
    assert sum(d.language == "en" for d in every) >= 80
    first_dev = bench.load_dialogues(bench.DATA / "dev.yml", "dev")
    assert 0.35 <= len(dialogues["heldout"]) / (len(first_dev) + len(dialogues["heldout"])) <= 0.45


def test_the_dev_split_is_every_dev_file_and_ids_are_unique_over_them(tmp_path, monkeypatch):
    assert [p.name for p in bench.split_files("dev")][:1] == ["dev.yml"] and len(bench.split_files("dev")) >= 2
    one = {"id": "x", "language": "nl", "category": "smalltalk", "turns": [{"user": "hoi", "expect": "decline"}]}
    for name in ("dev.yml", "dev2.yml"):
        (tmp_path / name).write_text(yaml.safe_dump({"dialogues": [one]}))
    monkeypatch.setattr(bench, "DATA", tmp_path)
    with pytest.raises(bench.DataError, match="dev: duplicate ids x"):
        bench.load_split("dev")


def test_every_category_and_language_is_in_both_parts(dialogues):
    for split in bench.SPLITS:
        assert {(d.category, d.language) for d in dialogues[split]} == {(c, lang) for c in CATEGORIES for lang in ("nl", "en")}


def test_categories_tags_and_expectations_are_known(dialogues):
    for d in dialogues["dev"] + dialogues["heldout"]:
        assert d.category in CATEGORIES, d.id
        assert set(d.tags) <= TAGS, d.id
        assert d.id.startswith({"dev": "d-", "heldout": "h-"}[d.split] + d.language + "-"), d.id
        for turn in d.turns:
            assert turn.expect in bench.EXPECTS
            assert turn.expect != "answer" or turn.facts, d.id


def test_held_out_and_dev_share_no_dialogue(dialogues):
    dev, heldout = dialogues["dev"], dialogues["heldout"]
    assert not {d.id for d in dev} & {d.id for d in heldout}
    def texts(ds):
        return {bench.normalise(t.user) for d in ds for t in d.turns if re.search(r"[^\W\d_]", t.user)}
    assert not texts(dev) & texts(heldout)


def test_no_turn_repeats_a_training_or_affect_example(dialogues):
    """Turns with letters in them (pure order numbers are data, not wording) are written for the benchmark."""
    examples = set()
    for path in sorted((ROOT / "responses" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for line in (item.get("examples") or "").splitlines() if "intent" in item else ():
                text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line.strip().removeprefix("- "))
                examples.add(bench.normalise(text))
    for path in sorted((ROOT / "responses" / "affect").glob("*.jsonl")):
        examples |= {bench.normalise(json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines() if line}
    copied = [t.user for d in dialogues["dev"] + dialogues["heldout"] for t in d.turns
              if re.search(r"[^\W\d_]", t.user) and bench.normalise(t.user) in examples]
    assert copied == []


@pytest.mark.parametrize("turn, message", [
    ({"user": "hoi", "expect": "maybe"}, "'expect' must be one of"),
    ({"user": "wat kost het?", "expect": "answer"}, "needs non-empty 'facts'"),
    ({"user": "waar is het?", "expect": "ask"}, "needs a 'slot'"),
    ({"user": "", "expect": "decline"}, "'user' must be a non-empty text"),
])
def test_a_malformed_turn_is_refused_with_the_reason(tmp_path, turn, message):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({"dialogues": [{"id": "x", "language": "nl", "category": "price", "turns": [turn]}]}))
    with pytest.raises(bench.DataError, match=re.escape(message)):
        bench.load_dialogues(path, "dev")


def test_duplicate_ids_and_bad_clocks_are_refused(tmp_path):
    one = {"id": "x", "language": "nl", "category": "smalltalk", "turns": [{"user": "hoi", "expect": "decline"}]}
    path = tmp_path / "dup.yml"
    path.write_text(yaml.safe_dump({"dialogues": [one, one]}))
    with pytest.raises(bench.DataError, match="duplicate ids x"):
        bench.load_dialogues(path, "dev")
    path.write_text(yaml.safe_dump({"dialogues": [{**one, "clock": "someday 25:00"}]}))
    with pytest.raises(bench.DataError, match="weekday"):
        bench.load_dialogues(path, "dev")


# -- matching -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, fact, found", [
    ("De Vonk Barista 500 kost €549,00.", "€ 549", True),
    ("De Vonk Barista 500 kost €549.", "€ 54", False),
    ("Bel 020-123 45 67", "020 123 45 67", True),
    ("Within 1–2 working days.", "1-2 working days", True),
    ("Je hebt 30 dagen bedenktijd", ["30 days", "30 dagen"], True),
    ("Retourneren kan", "retour", False),
])
def test_facts_match_whole_words_ignoring_case_and_punctuation(text, fact, found):
    assert bench.has_fact(text, fact) is found


# -- scoring on the real engine with a scripted analyzer -------------------------------------------------

class ScriptedAnalyzer:
    """Returns a fixed analysis per text, so the scoring is checked without training NLU."""

    def __init__(self, script: dict[str, Analysis]) -> None:
        self.script = script

    def analyze(self, text, context=None):
        return self.script[text]


def _order(number: str) -> Analysis:
    return Analysis(text=number, language="nl", intent="inform", confidence=0.9,
                    entities=[Entity("order_number", number, number, 0, len(number))])


SCRIPT = {
    "waar blijft mijn pakket": Analysis(text="", language="nl", intent="order_status", confidence=0.9),
    "12345678": _order("12345678"),
    "ik wil een mens": Analysis(text="", language="nl", intent="request_human", confidence=0.95),
    "where is my parcel": Analysis(text="", language="nl", intent="order_status", confidence=0.9),
}


@pytest.fixture
def runner(responses):
    analyzer = ScriptedAnalyzer(SCRIPT)
    return bench.Bench(lambda store: DialogueEngine(store, analyzer, responses), responses)


def _dialogue(language: str, *turns: dict) -> object:
    return bench._dialogue({"id": "t", "language": language, "category": "order_status", "turns": list(turns)}, "dev", "test")


def test_an_asked_slot_and_a_known_order_score_correct_and_a_missing_fact_scores_wrong(runner):
    result = runner.run(_dialogue("nl", {"user": "waar blijft mijn pakket", "expect": "ask", "slot": "order_number"},
                                  {"user": "12345678", "expect": "answer", "facts": ["12345678", "PostNL"]}))
    assert [t.correct for t in result.turns] == [True, True]
    result = runner.run(_dialogue("nl", {"user": "waar blijft mijn pakket", "expect": "ask", "slot": "email"},
                                  {"user": "12345678", "expect": "answer", "facts": ["DPD"]}))
    assert [(t.correct, t.why) for t in result.turns] == [(False, "no ask_email"), (False, "missing DPD")]


def test_hand_overs_count_as_needless_or_expected_and_waiting_keeps_the_customer_informed(runner):
    needless = runner.run(_dialogue("nl", {"user": "ik wil een mens", "expect": "answer", "facts": ["x"]}))
    expected = runner.run(_dialogue("nl", {"user": "ik wil een mens", "expect": "handover"},
                                    {"user": "waar blijft mijn pakket", "expect": "handover"}))
    missed = runner.run(_dialogue("nl", {"user": "waar blijft mijn pakket", "expect": "handover"}))
    assert (needless.turns[0].correct, needless.turns[0].why) == (False, "needless hand-over")
    assert [t.correct for t in expected.turns] == [True, True]  # the second: already waiting, told so
    assert expected.turns[1].was_waiting and not expected.turns[1].handed_over
    numbers = bench.summarise([needless, expected, missed])
    assert numbers["needless_handovers"] == 1 and numbers["answerable_turns"] == 1
    assert numbers["missed_handovers"] == 1 and numbers["handover_turns"] == 3
    assert numbers["accuracy"] == pytest.approx(2 / 4)


def test_a_reply_in_the_wrong_language_is_wrong_even_with_the_right_template(runner):
    result = runner.run(_dialogue("en", {"user": "where is my parcel", "expect": "ask", "slot": "order_number"}))
    turn = result.turns[0]
    assert turn.reply_languages == ["nl"]  # the scripted NLU said Dutch: the engine answered in Dutch
    assert (turn.correct, turn.why) == (False, "reply not in en")
    assert bench.summarise([result])["wrong_language_turns"] == 1


def test_the_terminal_channel_path_scores_like_the_engine(responses):
    analyzer = ScriptedAnalyzer(SCRIPT)
    terminal = bench.Bench(lambda store: DialogueEngine(store, analyzer, responses), responses, channel="terminal")
    result = terminal.run(_dialogue("nl", {"user": "waar blijft mijn pakket", "expect": "ask", "slot": "order_number"},
                                    {"user": "12345678", "expect": "answer", "facts": ["PostNL"]}))
    assert [t.correct for t in result.turns] == [True, True]


def test_the_clock_is_the_dialogues_local_moment():
    tuesday = bench.moment(None)
    sunday = bench.moment("sunday 20:00")
    assert sunday - tuesday == pytest.approx((5 * 24 + 9) * 3600)


def test_a_dialogue_runs_on_tuesday_morning_unless_it_names_another_moment(runner):
    weekday = runner.run(_dialogue("nl", {"user": "ik wil een mens", "expect": "handover"}))
    sunday = runner.run(bench._dialogue({"id": "s", "language": "nl", "category": "handover_request", "clock": "sunday 20:00",
                                         "turns": [{"user": "ik wil een mens", "expect": "handover"}]}, "dev", "test"))
    assert weekday.turns[0].replies[-1].template == "escalate_ack"  # staff are in
    assert sunday.turns[0].replies[-1].template == "escalate_ack_closed"  # staff are back on Monday



def _seen(result) -> list[list[tuple]]:
    return [[(r.template, r.text, [b.title for b in r.buttons]) for r in t.replies] + [(t.correct, t.why, t.handed_over)]
            for t in result.turns]


@pytest.mark.parametrize("channel", ["whatsapp", "email", "webchat", "telegram"])
def test_each_channel_path_delivers_and_scores_what_the_engine_said(responses, channel):
    """Turns go in through the channel's real code; the replies read as the customer got them score as direct."""
    analyzer = ScriptedAnalyzer(SCRIPT)
    paths = {name: bench.Bench(lambda store: DialogueEngine(store, analyzer, responses), responses, channel=name)
             for name in ("direct", channel)}
    asked = _dialogue("nl", {"user": "waar blijft mijn pakket", "expect": "ask", "slot": "order_number"},
                      {"user": "12345678", "expect": "answer", "facts": ["PostNL"]})
    handed = _dialogue("nl", {"user": "ik wil een mens", "expect": "handover"},
                       {"user": "waar blijft mijn pakket", "expect": "answer", "facts": ["x"]})
    for dialogue in (asked, handed):
        direct, through = paths["direct"].run(dialogue), paths[channel].run(dialogue)
        assert _seen(through) == _seen(direct)
        assert {r.channel for t in through.turns for r in t.replies} == {channel}
        assert bench.delivery([through])["altered"] == 0
    result = paths[channel].run(asked)
    assert result.turns[0].replies[0].template == "ask_order_number" and all(t.correct for t in result.turns)
    result = paths[channel].run(handed)
    assert result.turns[0].handed_over and result.turns[0].replies[-1].template == "escalate_ack"
    assert result.turns[1].why == "missing x"


def test_buttons_shown_as_numbered_lines_are_read_back_as_buttons():
    recorder = channel_paths.Recorder(engine=None)
    text = buttons_as_text("Hoe was het?", [Button("Goed", "/csat 5"), Button("Slecht", "/csat 1")])
    message = channel_paths.received(recorder, None, text + "\n", [], "email", "a@b.test")
    assert (message.text, [b.title for b in message.buttons]) == ("Hoe was het?", ["Goed", "Slecht"])
    plain = channel_paths.received(recorder, None, "Stap 1. Open de doos.\n2. Klaar", [], "email", "a@b.test")
    assert (plain.text, plain.buttons) == ("Stap 1. Open de doos.\n2. Klaar", [])
    assert message.altered == "no outbox row"  # not traceable to an engine reply


def test_a_reply_changed_on_its_way_is_counted_by_reason():
    recorder = channel_paths.Recorder(engine=None)
    said = {1: OutgoingMessage("whatsapp", "1", "Kies", [Button("Een heel lange knoptitel hier", "/a")], 1),
            2: OutgoingMessage("whatsapp", "1", "Hallo", [], 2)}
    recorder.replies.update(said)
    cut = channel_paths.received(recorder, {"id": 1, "author": "bot"}, "Kies", [Button("Een heel lange knopt", "/a")],
                                 "whatsapp", "1")
    same = channel_paths.received(recorder, {"id": 2, "author": "bot"}, "Hallo\n", [], "whatsapp", "1")
    assert (cut.altered, same.altered) == ("buttons", None)
    turn = bench.TurnResult(turn=bench.Turn("x", "decline"), replies=[cut, same], reply_languages=[None, None],
                            handed_over=False, was_waiting=False, expected_language="nl")
    numbers = bench.delivery([bench.DialogueResult(_dialogue("nl", {"user": "x", "expect": "decline"}), [turn])])
    assert (numbers["replies"], numbers["altered"], numbers["reasons"]) == (2, 1, {"buttons": 1})
