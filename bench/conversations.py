"""The conversation benchmark: multi-turn dialogues for the demo shop, each turn with its expected
outcome, run through the real dialogue engine and NLU (as `webcare chat` builds them) and scored.

Every dialogue is a fresh customer on a fresh in-memory store, with a clock inside business hours
(Tuesday 11:00 in the configured timezone) unless the dialogue names another moment. A turn expects
- `answer`: every fact appears in the bot's replies (and no `absent` text does), no hand-over, no decline;
- `ask`: a reply rendered from template `ask_<slot>`, no hand-over;
- `handover`: a ticket is opened or a conversation starts waiting for staff during the turn, or it was
  already waiting and the bot keeps the customer informed (replies);
- `decline`: a reply rendered from a template whose name starts with `decline`, no hand-over;
and every reply must be in the expected language. Data and the dev/held-out split: bench/conversations/.

    python bench/conversations.py [--split dev|heldout|all] [--show-failures] [--json PATH]
                                  [--channel direct|terminal|whatsapp|email|webchat|telegram]
                                  [--config config.yml]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.channel_paths import PATHS, Send
from webcare.bot.channels.base import IncomingMessage, OutgoingMessage
from webcare.bot.channels.terminal import TerminalChannel
from webcare.bot.engine import DialogueEngine
from webcare.bot.responses import Responses
from webcare.core.errors import ConfigError
from webcare.nlu.language import LanguageDetector
from webcare.store import Store

DATA = ROOT / "bench" / "conversations"
SPLITS = ("dev", "heldout")
RESULTS = ROOT / "bench" / "results" / "conversations.json"
EXPECTS = ("answer", "ask", "handover", "decline")
ANSWERABLE = ("answer", "ask", "decline")
CHANNELS = ("direct", "terminal", *PATHS)  # the last ones: real channel code paths (bench/channel_paths.py)
BASE_MOMENT = "2025-06-10 11:00"  # a Tuesday, inside business hours
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SECONDS_BETWEEN_TURNS = 20
MIN_WORDS_FOR_DETECTION = 4
TARGETS = {"accuracy": (">=", 0.90), "needless_handover_rate": ("<=", 0.05),
           "missed_handover_rate": ("<=", 0.03), "wrong_language_turns": ("<=", 0)}


# -- the data --------------------------------------------------------------------------------------

Fact = str | list[str]  # a text, or alternatives of which one must appear


@dataclass(frozen=True)
class Turn:
    user: str
    expect: str
    facts: tuple[Fact, ...] = ()
    absent: tuple[str, ...] = ()
    slot: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Dialogue:
    id: str
    language: str
    category: str
    turns: tuple[Turn, ...]
    tags: tuple[str, ...] = ()
    clock: str | None = None  # "<weekday> HH:MM" local time; default Tuesday 11:00
    split: str = "dev"


class DataError(ValueError):
    """A dialogue file that does not follow the format (README.md in bench/conversations/)."""


def load_dialogues(path: Path, split: str) -> list[Dialogue]:
    """The dialogues of one file, validated."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: {e}") from e
    dialogues = [_dialogue(raw, split, f"{path.name} #{n}") for n, raw in enumerate(data.get("dialogues") or [], 1)]
    ids = [d.id for d in dialogues]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate ids {', '.join(duplicates)}")
    return dialogues


def split_files(split: str) -> list[Path]:
    """The files of a split: `heldout.yml`, or `dev.yml` and every further `dev*.yml` (dev2.yml, …)."""
    if split == "heldout":
        return [DATA / "heldout.yml"]
    return sorted(DATA.glob("dev*.yml"))


def load_split(split: str) -> list[Dialogue]:
    """The dialogues of a split over all its files; an id is unique over the files."""
    dialogues = [d for path in split_files(split) for d in load_dialogues(path, split)]
    ids = [d.id for d in dialogues]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DataError(f"{split}: duplicate ids {', '.join(duplicates)}")
    return dialogues


def _dialogue(raw: dict[str, Any], split: str, where: str) -> Dialogue:
    for key in ("id", "language", "category", "turns"):
        if not raw.get(key):
            raise DataError(f"{where}: missing {key!r}")
    where = f"{where} ({raw['id']})"
    if raw["language"] not in ("nl", "en"):
        raise DataError(f"{where}: language must be nl or en")
    if raw.get("clock"):
        moment(raw["clock"])  # raises on a bad value
    turns = tuple(_turn(t, f"{where} turn {n}") for n, t in enumerate(raw["turns"], 1))
    return Dialogue(id=str(raw["id"]), language=raw["language"], category=raw["category"], turns=turns,
                    tags=tuple(raw.get("tags") or ()), clock=raw.get("clock"), split=split)


def _turn(raw: dict[str, Any], where: str) -> Turn:
    user, expect = raw.get("user"), raw.get("expect")
    if not isinstance(user, str) or not user.strip():
        raise DataError(f"{where}: 'user' must be a non-empty text")
    if expect not in EXPECTS:
        raise DataError(f"{where}: 'expect' must be one of {', '.join(EXPECTS)}, not {expect!r}")
    facts = tuple(f if isinstance(f, str) else list(f) for f in raw.get("facts") or ())
    if expect == "answer" and (not facts or any(not f for f in facts)):
        raise DataError(f"{where}: an answer needs non-empty 'facts'")
    if expect == "ask" and not raw.get("slot"):
        raise DataError(f"{where}: 'ask' needs a 'slot'")
    if raw.get("lang") not in (None, "nl", "en"):
        raise DataError(f"{where}: 'lang' must be nl or en")
    return Turn(user=user, expect=expect, facts=facts, absent=tuple(raw.get("absent") or ()),
                slot=raw.get("slot"), lang=raw.get("lang"))


def moment(clock: str | None, timezone: str = "Europe/Amsterdam") -> float:
    """The timestamp of '<weekday> HH:MM' in the benchmark's week (default: Tuesday 11:00), local time."""
    base = datetime.strptime(BASE_MOMENT, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(timezone))
    if not clock:
        return base.timestamp()
    match = re.fullmatch(r"([a-z]+) (\d\d):(\d\d)", clock.strip().lower())
    if not match or match.group(1) not in DAYS:
        raise DataError(f"clock {clock!r}: expected '<weekday> HH:MM', e.g. 'sunday 20:00'")
    day = base + timedelta(days=DAYS.index(match.group(1)) - base.weekday())
    return day.replace(hour=int(match.group(2)), minute=int(match.group(3))).timestamp()


# -- matching facts and languages ------------------------------------------------------------------

def normalise(text: str) -> str:
    """Lower case, punctuation and dashes to spaces, '€' split from digits; padded with spaces, so that
    a fact matches whole tokens ("€ 54" does not match "€ 549", "€549,00" matches "€ 549")."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch if ch.isalnum() or ch == "€" else " " for ch in text)
    text = text.replace("€", " € ")
    return " " + " ".join(text.split()) + " "


def has_fact(text: str, fact: Fact) -> bool:
    alternatives = [fact] if isinstance(fact, str) else fact
    normalised = normalise(text)
    return any(normalise(a) in normalised for a in alternatives)


class LanguageOf:
    """The language a reply is in: the template language when the text is one of exactly one
    language's variations of its template (exact), else lingua on texts of 4+ words, else unknown."""

    def __init__(self, responses: Responses) -> None:
        self.responses = responses
        self.detector = LanguageDetector(["nl", "en"], "nl")
        self._patterns: dict[tuple[str, str], list[re.Pattern[str]]] = {}

    def __call__(self, reply: OutgoingMessage) -> str | None:
        if reply.template:
            matching = [lang for lang in ("nl", "en") if self._matches(reply.text, reply.template, lang)]
            if len(matching) == 1:
                return matching[0]
        if len(reply.text.split()) < MIN_WORDS_FOR_DETECTION:
            return None
        return self.detector.detect(reply.text)[0]

    def _matches(self, text: str, template: str, language: str) -> bool:
        key = (template, language)
        if key not in self._patterns:
            variations = self.responses.templates.get(language, {}).get(template) or []
            self._patterns[key] = [
                re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".+?", re.escape(v)), re.DOTALL)
                for v in variations if isinstance(v, str)
            ]
        return any(p.fullmatch(text) for p in self._patterns[key])


# -- running and scoring -------------------------------------------------------------------------

@dataclass
class TurnResult:
    turn: Turn
    replies: list[OutgoingMessage]
    reply_languages: list[str | None]
    handed_over: bool  # a hand-over started in this turn
    was_waiting: bool  # the customer was already waiting for staff before this turn
    expected_language: str
    correct: bool = False
    why: str = ""

    @property
    def wrong_language(self) -> bool:
        return any(lang is not None and lang != self.expected_language for lang in self.reply_languages)


@dataclass
class DialogueResult:
    dialogue: Dialogue
    turns: list[TurnResult] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return all(t.correct for t in self.turns)


def judge(result: TurnResult) -> tuple[bool, str]:
    """Whether the turn got what it expected, and why not."""
    turn, replies = result.turn, result.replies
    templates = [r.template or "" for r in replies]
    text = "\n".join(r.text for r in replies)
    if not replies and not (turn.expect == "handover" and result.handed_over):
        return False, "no reply"
    if turn.expect == "handover":
        if result.handed_over or result.was_waiting:
            return _language_ok(result)
        return False, "no hand-over"
    if result.handed_over:
        return False, "needless hand-over"
    declined = any(t.startswith("decline") for t in templates)
    if turn.expect == "decline":
        return _language_ok(result) if declined else (False, "not declined")
    if turn.expect == "ask":
        wanted = f"ask_{turn.slot}"
        return _language_ok(result) if wanted in templates else (False, f"no {wanted}")
    if declined:
        return False, "declined an answerable question"
    missing = [f for f in turn.facts if not has_fact(text, f)]
    if missing:
        return False, "missing " + "; ".join(f if isinstance(f, str) else " | ".join(f) for f in missing)
    present = [a for a in turn.absent if has_fact(text, a)]
    if present:
        return False, "says " + "; ".join(present)
    return _language_ok(result)


def _language_ok(result: TurnResult) -> tuple[bool, str]:
    if result.wrong_language:
        return False, f"reply not in {result.expected_language}"
    return True, ""


class Clock:
    """A settable clock for the store: the dialogue's moment, moved on between turns."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Bench:
    """Runs dialogues through an engine built by `make_engine` on a fresh store per dialogue."""

    def __init__(self, make_engine: Callable[[Store], DialogueEngine], responses: Responses,
                 channel: str = "direct", timezone: str = "Europe/Amsterdam") -> None:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}: use {', '.join(CHANNELS)}")
        self.make_engine = make_engine
        self.responses = responses
        self.channel = channel
        self.timezone = timezone
        self.language_of = LanguageOf(responses)

    def run(self, dialogue: Dialogue) -> DialogueResult:
        clock = Clock(moment(dialogue.clock, self.timezone))
        store = Store.memory(clock=clock)
        self.responses.rng = random.Random(zlib.crc32(dialogue.id.encode()))  # the same variations every run
        try:
            engine = self.make_engine(store)
            result = DialogueResult(dialogue)
            with self._sender(store, engine, f"bench-{dialogue.id}") as send:
                for turn in dialogue.turns:
                    result.turns.append(self._turn(store, send, turn, dialogue.language))
                    clock.now += SECONDS_BETWEEN_TURNS
            return result
        finally:
            store.close()

    def _sender(self, store: Store, engine: DialogueEngine, user: str) -> AbstractContextManager[Send]:
        """How a customer's text reaches the engine and the replies come back, per channel."""
        if self.channel in PATHS:
            return PATHS[self.channel](store, engine, user)
        if self.channel == "direct":
            return nullcontext(lambda text: engine.handle(IncomingMessage(channel="bench", external_user_id=user,
                                                                          chat_id=user, text=text, display_name=user)))
        terminal = TerminalChannel(engine, user, io.StringIO(), interactive=False)

        def through_terminal(text: str) -> list[OutgoingMessage]:
            templates = {r.message_id: r.template for r in engine.handle(terminal.incoming(text))}
            delivered = terminal.deliver()
            for message in delivered:
                message.template = templates.get(message.message_id)
            return delivered

        return nullcontext(through_terminal)

    def _turn(self, store: Store, send: Send, turn: Turn, language: str) -> TurnResult:
        tickets, waiting = _handover_state(store)
        replies = [r for r in send(turn.user) if r.author == "bot"]
        tickets_after, waiting_after = _handover_state(store)
        result = TurnResult(
            turn=turn, replies=replies, reply_languages=[self.language_of(r) for r in replies],
            handed_over=tickets_after > tickets or bool(waiting_after - waiting),
            was_waiting=bool(waiting) and bool(waiting_after), expected_language=turn.lang or language,
        )
        result.correct, result.why = judge(result)
        return result


def _handover_state(store: Store) -> tuple[int, set[int]]:
    """How many tickets exist and which conversations wait for (or are with) staff."""
    return len(store.tickets(limit=100_000)), {c["id"] for c in store.conversations(states=("waiting", "human"))}


# -- numbers ---------------------------------------------------------------------------------------

def summarise(results: Iterable[DialogueResult]) -> dict[str, Any]:
    """Accuracy and hand-over/language error rates over the turns of these dialogues."""
    results = list(results)
    turns = [t for r in results for t in r.turns]
    answerable = [t for t in turns if t.turn.expect in ANSWERABLE]
    handovers = [t for t in turns if t.turn.expect == "handover"]
    needless = sum(t.handed_over for t in answerable)
    missed = sum(not (t.handed_over or t.was_waiting) for t in handovers)
    wrong_language = sum(t.wrong_language for t in turns)
    return {
        "dialogues": len(results),
        "dialogues_correct": sum(r.correct for r in results),
        "turns": len(turns),
        "correct": sum(t.correct for t in turns),
        "accuracy": _rate(sum(t.correct for t in turns), len(turns)),
        "answerable_turns": len(answerable),
        "needless_handovers": needless,
        "needless_handover_rate": _rate(needless, len(answerable)),
        "handover_turns": len(handovers),
        "missed_handovers": missed,
        "missed_handover_rate": _rate(missed, len(handovers)),
        "wrong_language_turns": wrong_language,
        "wrong_language_rate": _rate(wrong_language, len(turns)),
    }


def delivery(results: Iterable[DialogueResult]) -> dict[str, Any]:
    """How many bot replies reached the customer, and on a channel path how many of them changed on the
    way (text, buttons, or not traceable to the engine's reply), by reason, with a few examples."""
    replies = [(r.dialogue.id, n, reply) for r in results for n, t in enumerate(r.turns, 1) for reply in t.replies]
    altered = [(d, n, reply, reply.altered) for d, n, reply in replies if getattr(reply, "altered", None)]
    reasons = sorted({why for *_, why in altered})
    return {"replies": len(replies), "altered": len(altered),
            "reasons": {why: sum(w == why for *_, w in altered) for why in reasons},
            "examples": [f"{d}#{n} ({why}): {reply.text[:120]!r}" for d, n, reply, why in altered[:5]]}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report(results: list[DialogueResult]) -> dict[str, Any]:
    """Numbers per split: overall, per language, per category."""
    out: dict[str, Any] = {}
    for split in sorted({r.dialogue.split for r in results}, key=lambda s: SPLITS.index(s)):
        mine = [r for r in results if r.dialogue.split == split]
        out[split] = {
            "overall": summarise(mine),
            "languages": {lang: summarise(r for r in mine if r.dialogue.language == lang)
                          for lang in sorted({r.dialogue.language for r in mine})},
            "categories": {cat: summarise(r for r in mine if r.dialogue.category == cat)
                           for cat in sorted({r.dialogue.category for r in mine})},
            "category_languages": {f"{cat}/{lang}": summarise(r for r in mine if (r.dialogue.category, r.dialogue.language) == (cat, lang))
                                   for cat, lang in sorted({(r.dialogue.category, r.dialogue.language) for r in mine})},
            "failed_turns": [f"{r.dialogue.id}#{n}: {t.why}" for r in mine for n, t in enumerate(r.turns, 1)
                             if not t.correct],
        }
    if "all" not in out and len(out) > 1:
        out["all"] = {"overall": summarise(results)}
    return out


def targets(numbers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The held-out targets of issue 13, each with its value and pass/fail."""
    checks = {}
    for name, (op, bound) in TARGETS.items():
        value = numbers.get(name)
        passed = value is not None and (value >= bound if op == ">=" else value <= bound)
        checks[name] = {"value": value, "target": f"{op} {bound}", "pass": passed}
    return checks


# -- output ----------------------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "  –  " if value is None else f"{value * 100:5.1f}"


def print_table(split: str, numbers: dict[str, Any]) -> None:
    print(f"\n== {split}: {numbers['overall']['dialogues']} dialogues, {numbers['overall']['turns']} turns")
    print(f"{'':26} {'turns':>5} {'acc %':>6} {'needless %':>10} {'missed %':>8} {'wrong lang':>10}")
    rows = [("overall", numbers["overall"])]
    rows += [(f"language {k}", v) for k, v in numbers["languages"].items()]
    rows += [(f"  {k}", v) for k, v in numbers["categories"].items()]
    for name, row in rows:
        print(f"{name:26} {row['turns']:5d} {_pct(row['accuracy']):>6} {_pct(row['needless_handover_rate']):>10} "
              f"{_pct(row['missed_handover_rate']):>8} {row['wrong_language_turns']:10d}")


def print_failures(results: list[DialogueResult]) -> None:
    for result in results:
        if result.correct:
            continue
        d = result.dialogue
        print(f"\n--- {d.id} ({d.split}, {d.language}, {d.category}{', ' + ', '.join(d.tags) if d.tags else ''})")
        for t in result.turns:
            expected = t.turn.expect + (f" {t.turn.slot}" if t.turn.slot else "")
            if t.turn.facts:
                expected += " " + json.dumps(list(t.turn.facts), ensure_ascii=False)
            print(f"  user: {t.turn.user}")
            for reply, lang in zip(t.replies, t.reply_languages, strict=True):
                print(f"  bot [{reply.template or '-'}, {lang or '?'}]: {' '.join(reply.text.split())}")
            state = " (hand-over)" if t.handed_over else ""
            verdict = "ok" if t.correct else f"WRONG: {t.why}"
            print(f"  expected {expected}{state} -> {verdict}")


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def build_app(config: Path | None):  # -> webcare.app.App
    """The app as `webcare chat` builds it, on the shipped content, with models under .webcare/bench-models."""
    from webcare.app import App
    from webcare.config import load_settings

    settings = load_settings(config)
    settings.nlu.data_dir = str(ROOT / "responses")
    settings.nlu.model_dir = str(ROOT / ".webcare" / "bench-models")
    return App(settings=settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--show-failures", action="store_true", help="print the transcript of each failed dialogue")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"write the numbers here (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--channel", choices=CHANNELS, default="direct",
                        help="direct: DialogueEngine.handle; terminal, whatsapp, email, webchat, telegram: "
                             "through that channel's code path (bench/channel_paths.py)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml", help="config file (dialogue and escalation settings)")
    args = parser.parse_args(argv)

    splits = SPLITS if args.split == "all" else (args.split,)
    try:
        dialogues = [d for s in splits for d in load_split(s)]
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        app = build_app(args.config)
        app.analyzer(progress=lambda line: print(line, file=sys.stderr))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    bench = Bench(lambda store: app.engine(store=store), app.responses, args.channel, app.settings.escalation.timezone)
    load_before = round(os.getloadavg()[0], 2)
    began = time.perf_counter()
    results = [bench.run(d) for d in dialogues]
    seconds = round(time.perf_counter() - began, 1)
    numbers = report(results)

    if args.show_failures:
        print_failures(results)
    for split in splits:
        print_table(split, numbers[split])
    checks = None
    if "heldout" in numbers:
        checks = targets(numbers["heldout"]["overall"])
        print("\nheld-out targets:")
        for name, check in checks.items():
            print(f"  {name:24} {check['value']!s:>8}  {check['target']:>7}  {'PASS' if check['pass'] else 'FAIL'}")
    output = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average_1min": [load_before, round(os.getloadavg()[0], 2)],
        "channel": args.channel,
        "seconds": seconds,
        "splits": numbers,
        "delivery": delivery(results),
        "heldout_targets": checks,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.channel in PATHS:
        print(f"\nreplies changed on the way to the customer: {output['delivery']['altered']} of "
              f"{output['delivery']['replies']} {output['delivery']['reasons']}")
    print(f"\nwrote {args.json} ({seconds} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
