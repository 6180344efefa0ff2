"""The shipped demo content in responses/: training data, domain, templates and demo orders agree."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from webcare.nlu.data import parse_rasa_nlu

CONTENT = ROOT / "responses"
LANGUAGES = ("nl", "en")
MIN_EXAMPLES = 20
ENTITY_TYPES = {"order_number", "email", "product"}
CARRIERS = {"PostNL", "DHL", "DPD"}
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
_CALL = re.compile(r"\b(?:say|render)\(\s*[\"']([a-z_]+)[\"']")
# Placeholders the engine fills for each template it renders (bot/engine.py); intent answers get the slots.
ENGINE_VALUES = {
    "order_status": {"order_number", "status", "carrier", "eta"},
    "order_not_found": {"order_number"},
    "ask_postcode": {"order_number"},
    "postcode_mismatch": {"order_number"},
    "order_details": {"order_number", "items", "postcode"},
    "escalate_ack": {"wait", "ticket"},
    "escalate_ack_closed": {"opens", "ticket"},
    "waiting_open": {"wait", "ticket"},
    "waiting_closed": {"opens", "ticket"},
    "taken_over": {"agent", "shop"},
    "conversation_closed": {"shop"},
    "knowledge_answer": {"answer", "title"},
    "message_too_long": {"limit"},
    "product_in_stock": {"product"},
    "product_out_of_stock": {"product"},
    "product_price": {"product", "price", "stock", "category"},
    "product_details": {"product", "price", "stock", "category"},
    "catalogue_category": {"category", "products"},
    "decline_not_sold": {"thing"},
}


def load_nlu(root: Path, language: str) -> dict:
    return yaml.safe_load((root / "nlu" / f"{language}.yml").read_text(encoding="utf-8"))


def intent_examples(doc: dict) -> dict[str, list[str]]:
    """intent -> example lines (with markup) of one Rasa document."""
    found: dict[str, list[str]] = {}
    for item in doc["nlu"]:
        if "intent" in item:
            lines = [line.strip()[2:].strip() for line in item["examples"].splitlines() if line.strip()]
            found.setdefault(item["intent"], []).extend(lines)
    return found


def templates(root: Path, language: str) -> dict:
    return yaml.safe_load((root / "templates" / f"{language}.yml").read_text(encoding="utf-8"))


def variations(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def engine_templates() -> set[str]:
    """Template names the code renders by a literal name: say("…") / render("…") in bot/."""
    names: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        names.update(_CALL.findall(path.read_text(encoding="utf-8")))
    return names


def content_problems(root: Path) -> list[str]:  # noqa: C901 - a flat checklist, one `if` per rule of the format
    """Everything wrong with a content folder, as readable lines (empty when all is well)."""
    problems: list[str] = []
    docs = {lang: load_nlu(root, lang) for lang in LANGUAGES}
    examples = {lang: intent_examples(doc) for lang, doc in docs.items()}
    tpl = {lang: templates(root, lang) for lang in LANGUAGES}
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))["intents"]
    orders = yaml.safe_load((root / "demo_orders.yml").read_text(encoding="utf-8"))

    for lang in LANGUAGES:
        if str(docs[lang].get("version")) != "3.1":
            problems.append(f"nlu/{lang}.yml: version must be \"3.1\"")
        for intent, lines in examples[lang].items():
            if len(set(lines)) < MIN_EXAMPLES:
                problems.append(f"nlu/{lang}.yml: {intent} has {len(set(lines))} distinct examples (< {MIN_EXAMPLES})")
        seen: dict[str, str] = {}
        for intent, lines in examples[lang].items():
            for line in lines:
                key = " ".join(re.sub(r"[^\w@]+", " ", line.lower()).split())  # ignore punctuation
                if key in seen and seen[key] != intent:
                    problems.append(f"nlu/{lang}.yml: {line!r} is in both {seen[key]} and {intent}")
                seen[key] = intent
    if set(examples["nl"]) != set(examples["en"]):
        problems.append(f"intents differ between nl and en: {sorted(set(examples['nl']) ^ set(examples['en']))}")

    for intent, rule in domain.items():
        rule = rule or {}
        if rule.get("action", "respond") not in ("respond", "escalate", "fill_slot"):
            problems.append(f"domain.yml: {intent}: unknown action {rule['action']!r}")
        for lang in LANGUAGES:
            if intent not in examples[lang]:
                problems.append(f"domain.yml: {intent} has no training data in nlu/{lang}.yml")
            response = rule.get("response", intent)
            if rule.get("action", "respond") == "respond" and response not in tpl[lang]:
                problems.append(f"templates/{lang}.yml: no template {response!r} for intent {intent}")
            for slot in rule.get("requires", []):
                if f"ask_{slot}" not in tpl[lang]:
                    problems.append(f"templates/{lang}.yml: no ask_{slot} for {intent}")
            title = (tpl[lang].get("_intent_titles") or {}).get(intent)
            if not title or len(title) > 30:
                problems.append(f"templates/{lang}.yml: _intent_titles needs a short label (≤ 30) for {intent}")
    for lang in LANGUAGES:
        for intent in set(examples[lang]) - set(domain):
            problems.append(f"nlu/{lang}.yml: intent {intent} is not in domain.yml")

    for name in sorted(engine_templates()):
        for lang in LANGUAGES:
            if name not in tpl[lang]:
                problems.append(f"templates/{lang}.yml: the engine renders {name!r}, which is missing")

    names = {n for lang in LANGUAGES for n in tpl[lang] if not n.startswith("_")}
    for name in sorted(names):
        per_lang: dict[str, set[str]] = {}
        for lang in LANGUAGES:
            if name not in tpl[lang]:
                problems.append(f"templates/{lang}.yml: {name!r} exists in another language only")
                continue
            values = variations(tpl[lang][name])
            if not 1 <= len(values) <= 4 or not all(isinstance(v, str) and v.strip() for v in values):
                problems.append(f"templates/{lang}.yml: {name} needs 1–4 non-empty strings")
                continue
            for v in values:
                try:
                    found = placeholders(v)
                except ValueError as e:
                    problems.append(f"templates/{lang}.yml: {name}: {e} in {v!r}")
                    continue
                per_lang.setdefault(lang, set()).update(found)
                allowed = ENGINE_VALUES.get(name) or (
                    ENGINE_VALUES["order_status"] if name.startswith("order_status_") else None)
                if allowed is None and "order_number" in ((domain.get(name) or {}).get("requires") or []):
                    allowed = {"order_number"}
                if allowed is not None and not found <= allowed:
                    problems.append(f"templates/{lang}.yml: {name} uses {sorted(found - allowed)}, not filled in")
                elif allowed is None and found:
                    problems.append(f"templates/{lang}.yml: {name} uses {sorted(found)}, which nothing fills in")
        if len(per_lang) == len(LANGUAGES) and per_lang["nl"] != per_lang["en"]:
            problems.append(f"{name}: placeholders differ: nl {sorted(per_lang['nl'])} en {sorted(per_lang['en'])}")

    statuses = {lang: tpl[lang].get("_order_statuses") or {} for lang in LANGUAGES}
    if set(statuses["nl"]) != set(statuses["en"]):
        problems.append("_order_statuses differ between nl and en")
    if "12345678" not in orders or "40218833" not in orders:
        problems.append("demo_orders.yml: 12345678 and 40218833 must exist")
    for number, order in orders.items():
        if number == "_as_of":
            continue
        where = f"demo_orders.yml: {number}"
        if not re.fullmatch(r"\d{8}", str(number)) or not isinstance(number, str):
            problems.append(f"{where}: the key must be a quoted 8-digit string")
        status = order.get("status")
        for lang in LANGUAGES:
            if status not in statuses[lang]:
                problems.append(f"{where}: status {status!r} has no label in templates/{lang}.yml")
            if f"order_status_{status}" not in tpl[lang]:
                problems.append(f"{where}: no order_status_{status} template in templates/{lang}.yml")
        if status != "cancelled" and order.get("carrier") not in CARRIERS:
            problems.append(f"{where}: carrier must be one of {sorted(CARRIERS)}")
        if status != "cancelled" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(order.get("eta", ""))):
            problems.append(f"{where}: eta must be YYYY-MM-DD")
        if not re.fullmatch(r"[1-9]\d{3} [A-Z]{2}", str(order.get("postcode", ""))):
            problems.append(f"{where}: postcode must be a Dutch postcode such as '1012 AB' (the proof of the order)")
        items = order.get("items") or []
        if not items or not all(i.get("product") and int(i.get("qty", 0)) >= 1 for i in items):
            problems.append(f"{where}: items need a product and qty >= 1")
    return problems


@pytest.fixture(scope="module")
def nlu_data():
    return {lang: parse_rasa_nlu(load_nlu(CONTENT, lang), lang, f"nlu/{lang}.yml") for lang in LANGUAGES}


def test_shipped_content_has_no_problems():
    assert content_problems(CONTENT) == []


def test_size_of_the_demo_domain():
    intents = {lang: intent_examples(load_nlu(CONTENT, lang)) for lang in LANGUAGES}
    assert 30 <= len(intents["nl"]) <= 35
    assert min(len(v) for lang in LANGUAGES for v in intents[lang].values()) >= MIN_EXAMPLES
    for required in ("greet", "request_human", "complain", "order_status", "cancel_order", "inform", "help"):
        assert required in intents["nl"]


@pytest.mark.parametrize(
    "breakage,expected",
    [
        (lambda d: _drop_template(d, "nl", "escalate_ack"), "the engine renders 'escalate_ack'"),
        (lambda d: _drop_template(d, "en", "warranty"), "no template 'warranty'"),
        (lambda d: _edit(d / "templates" / "en.yml", "{order_number} has the status", "{order} has the status"),
         "order_status uses ['order']"),
        (lambda d: _edit(d / "nlu" / "en.yml", "- intent: privacy", "- intent: privacy_policy"),
         "intents differ between nl and en"),
        (lambda d: _edit(d / "demo_orders.yml", "carrier: DPD", "carrier: UPS"), "carrier must be one of"),
        (lambda d: _keep_examples(d / "nlu" / "nl.yml", "greet", 19), "greet has 19 distinct examples"),
    ],
)
def test_broken_content_is_reported(tmp_path, breakage, expected):
    copy = tmp_path / "responses"
    shutil.copytree(CONTENT, copy, ignore=shutil.ignore_patterns("knowledge", "affect", "catalogue.yml"))
    breakage(copy)
    assert any(expected in p for p in content_problems(copy)), content_problems(copy)


def _drop_template(root: Path, language: str, name: str) -> None:
    path = root / "templates" / f"{language}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data[name]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _keep_examples(path: Path, intent: str, count: int) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    item = next(i for i in doc["nlu"] if i.get("intent") == intent)
    item["examples"] = "".join(item["examples"].splitlines(keepends=True)[:count])
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_annotated_entities_parse_and_are_valid(nlu_data):
    for lang, data in nlu_data.items():
        regex = re.compile(data.regexes["order_number"][0])
        products = {p.lower() for p in data.lookups["product"]} | set(data.synonyms.values())
        annotated = [(ex, ann) for ex in data.examples for ann in ex.entities]
        assert len(annotated) >= 60, lang
        for ex, ann in annotated:
            shown = ex.text[ann.start : ann.end]
            assert "[" not in ex.text and "](" not in ex.text, ex.text
            assert ann.entity in ENTITY_TYPES, (lang, ex.text)
            if ann.entity == "order_number":
                assert regex.fullmatch(shown), (lang, ex.text)
            elif ann.entity == "email":
                assert EMAIL.match(shown), (lang, ex.text)
            else:
                canonical = data.synonyms.get(shown.lower(), shown.lower())
                assert canonical in products, (lang, shown)


def test_regexes_find_order_numbers_and_emails(nlu_data):
    for data in nlu_data.values():
        order = re.compile(data.regexes["order_number"][0])
        assert order.search("bestelling 40218833 graag") and not order.search("123456789")
        assert not order.search("1234567")
        email = re.compile(data.regexes["email"][0])
        assert email.search("mail me at lisa@example.nl please").group(0) == "lisa@example.nl"


def test_synonyms_never_disagree_between_languages(nlu_data):
    merged: dict[str, str] = {}
    for lang, data in nlu_data.items():
        for variant, canonical in data.synonyms.items():
            assert merged.setdefault(variant, canonical) == canonical, (lang, variant)
    assert merged["heteluchtfriteuse"] == "airfryer" and merged["air fryer"] == "airfryer"


def test_responses_load_and_every_template_renders(responses):
    values = {"order_number": "12345678", "status": "x", "carrier": "PostNL", "eta": "2025-06-14",
              "wait": "5", "ticket": 1, "opens": "9", "answer": "a", "title": "t", "limit": 4000,
              "product": "airfryer", "agent": "Anna", "shop": "Huisraad", "items": "1× airfryer",
              "postcode": "1012 AB", "price": "€9,95", "stock": "op voorraad", "category": "c", "products": "p",
              "thing": "fietsen"}
    assert set(responses.languages) >= set(LANGUAGES)
    for lang in LANGUAGES:
        for name, options in responses.templates[lang].items():
            if name.startswith("_"):
                continue
            for option in options:
                rendered = string.Formatter().vformat(option, (), values)
                assert "{" not in rendered, (lang, name)
            assert responses.render(name, lang, **values)
    assert responses.intents["request_human"].action == "escalate"
    assert responses.intents["complain"].action == "escalate"
    assert responses.intents["inform"].action == "fill_slot"
    assert responses.intents["order_status"].requires == ("order_number",)
    assert responses.intents["cancel_order"].requires == ("order_number",)
    assert responses.order_status_label("shipped", "nl") == "verzonden"
    assert responses.intent_title("order_status", "en") == "Where is my order?"
    assert responses.orders["12345678"]["carrier"] in CARRIERS
