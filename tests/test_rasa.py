"""Rasa 3 import and export on the real example bots of RasaHQ/rasa (../shared/data/rasa_examples)
and on a file that holds every construct of the format: import → export → import gives the same content."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from webcare.core.errors import NLUError
from webcare.nlu.data import Annotation, parse_example, parse_rasa_nlu, read_yaml
from webcare.nlu.rasa import RICH_RESPONSES, export_rasa, import_rasa, markup, project_files

EXAMPLES = SHARED_DATA / "rasa_examples"
BOTS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) if EXAMPLES.is_dir() else []
needs_examples = pytest.mark.skipif(not BOTS, reason=f"{EXAMPLES} is not there (see ../shared/data/README.md)")


def language(bot: str) -> str:
    marker = EXAMPLES / bot / "LANGUAGE"
    return marker.read_text().strip() if marker.exists() else "en"


def content_files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yml"))}


@pytest.fixture
def imported(tmp_path):
    """`imported(bot)`: the content folder one bot's files were imported into."""

    def run(bot: str) -> Path:
        import_rasa(project_files([EXAMPLES / bot]), tmp_path / bot, language(bot))
        return tmp_path / bot

    return run


@needs_examples
@pytest.mark.parametrize("bot", BOTS)
def test_import_export_import_gives_the_same_content(bot, imported, tmp_path):
    first = imported(bot)
    export_rasa(first, tmp_path / "export", [language(bot)])
    second = tmp_path / "again"
    import_rasa(project_files([tmp_path / "export" / language(bot)]), second, language(bot))
    assert content_files(second) == content_files(first)


@needs_examples
@pytest.mark.parametrize("bot", BOTS)
def test_every_unique_example_is_imported_with_its_entities(bot, imported):
    lang = language(bot)
    originals = [parse_rasa_nlu(read_yaml(p), lang) for p in project_files([EXAMPLES / bot])
                 if "nlu" in read_yaml(p)]
    content = imported(bot)
    data = parse_rasa_nlu(read_yaml(content / "nlu" / f"{lang}.yml"), lang)
    expected = {(e.intent, e.text, e.entities, repr(e.metadata)) for o in originals for e in o.examples}
    assert {(e.intent, e.text, e.entities, repr(e.metadata)) for e in data.examples} == expected
    assert len(data.examples) == len(expected)  # duplicates once
    for original in originals:
        assert original.synonyms.items() <= data.synonyms.items()
        assert all(set(v) <= set(data.lookups[k]) for k, v in original.lookups.items())


@needs_examples
def test_every_construct_of_the_format(imported):
    content = imported("format_features")
    data = parse_rasa_nlu(read_yaml(content / "nlu" / "nl.yml"), "nl")
    by_text = {e.text: e for e in data.examples}
    long_form = by_text["Dit is echt belachelijk, mijn koelkast is kapot aangekomen!"]  # not a dict's text
    assert long_form.metadata == {"sentiment": "negative", "source": "e-mail"}
    assert long_form.entities == (Annotation("product", "koelkast", 30, 38),)
    assert data.intent_metadata["complain"] == {"sentiment": "negative", "owner": "webcare"}
    trip = by_text["ik wil van Den Bosch naar Zürich reizen"].entities
    assert [(a.entity, a.value, a.role) for a in trip] == [("city", "'s-Hertogenbosch", "departure"),
                                                           ("city", "Zürich", "destination")]
    pizza = by_text["een grote margherita en een kleine hawaï"].entities
    assert [(a.entity, a.value, a.group) for a in pizza] == [("size", "grote", "1"), ("pizza", "margherita", "1"),
                                                             ("size", "kleine", "2"), ("pizza", "hawaii", "2")]
    assert by_text["where is my parcel with order number 55501234?"].entities[0].value == "pakket"  # JSON, no spaces
    assert by_text["mijn pakketje is nog steeds niet binnen"].entities[0].value == "pakket"  # [x](e:v)
    assert "extra   spaties   rond   en   in   deze   zin" in by_text
    assert {"pakje": "pakket", "toaster": "broodrooster", "tosti-ijzer": "broodrooster"}.items() <= data.synonyms.items()
    assert data.regexes == {"order_number": [r"\b\d{8}\b"], "postcode": [r"\b[1-9][0-9]{3} ?[A-Za-z]{2}\b"]}
    assert "São Paulo" in data.lookups["city"]

    templates = read_yaml(content / "templates" / "nl.yml")
    assert templates["greet"] == ["Hallo! Waarmee kan ik je helpen?"]  # the conditional variation is Rasa's only
    assert templates["faq/opening_hours"] == ["We zijn open van maandag tot en met zaterdag, 9:00–18:00."]
    rich = templates[RICH_RESPONSES]
    assert rich["greet"][1]["condition"] == [{"type": "slot", "name": "name_known", "value": True}]
    assert rich["order_status"][1]["buttons"][1] == {"title": "Een medewerker spreken", "payload": "/request_human"}
    assert rich["faq/returns"][0]["buttons"] == [{"title": "Retourformulier", "payload": "/request_return"}]
    assert "custom" in rich["custom_only"][0] and "custom_only" not in templates
    domain = read_yaml(content / "domain.yml")
    assert domain["intents"]["faq/returns"] == {"action": "respond", "response": "faq/returns"}
    assert "faq" not in domain["intents"]  # a retrieval intent's base has no examples of its own
    assert domain["rasa"]["intents"] == {"book_trip": {"use_entities": ["city"]}}
    assert {"city": {"roles": ["departure", "destination"]}} in domain["rasa"]["entities"]
    assert domain["rasa"]["slots"]["name_known"]["type"] == "bool"


@needs_examples
def test_the_export_is_rasa_3_with_every_variation(imported, tmp_path):
    export_rasa(imported("format_features"), tmp_path / "out", ["nl"])
    nlu = read_yaml(tmp_path / "out" / "nl" / "nlu.yml")
    complain = next(i for i in nlu["nlu"] if i.get("intent") == "complain")
    assert complain["metadata"] == {"sentiment": "negative", "owner": "webcare"}
    assert complain["examples"][0] == {"text": "Dit is echt belachelijk, mijn [koelkast](product) is kapot aangekomen!",
                                       "metadata": {"sentiment": "negative", "source": "e-mail"}}
    domain = read_yaml(tmp_path / "out" / "nl" / "domain.yml")
    assert domain["version"] == "3.1" and "faq" in domain["intents"] and {"book_trip": {"use_entities": ["city"]}} \
        in domain["intents"]
    assert len(domain["responses"]["utter_greet"]) == 2 and domain["responses"]["utter_custom_only"][0]["custom"]
    assert domain["slots"]["name_known"]["type"] == "bool"


@needs_examples
def test_stories_and_rules_are_skipped_and_lookups_keep_their_characters(imported):
    content = imported("e2ebot")
    assert (content / "nlu" / "en.yml").exists()
    data = parse_rasa_nlu(read_yaml(imported("knowledgebasebot") / "nlu" / "en.yml"), "en")
    assert {"Lụa Restaurant", "B&B"} <= {item for items in data.lookups.values() for item in items}


def test_json_annotations_may_nest_and_mark_one_text_twice():
    ex = parse_example('in [NY]{"entity": "city", "value": "a}b]", "role": "to"} en [Utrecht][{"entity": "city"}, '
                       '{"entity": "province", "group": "2"}] of [tekst] [x]', "i", "nl")
    assert ex.text == "in NY en Utrecht of [tekst] [x]"
    assert [(a.entity, a.value, a.role, a.group) for a in ex.entities] == [
        ("city", "a}b]", "to", None), ("city", "Utrecht", None, None), ("province", "Utrecht", None, "2")]
    assert parse_example(markup(ex), "i", "nl") == ex


def test_a_broken_annotation_is_one_clear_error():
    with pytest.raises(NLUError, match="bad entity annotation"):
        parse_example('[x]{"entity": "e", ', "i", "nl")
    with pytest.raises(NLUError, match="without an entity name"):
        parse_example('[x]{"value": "v"}', "i", "nl")


def test_responses_that_are_not_lists_of_variations_are_one_clear_error(tmp_path):
    domain = tmp_path / "domain.yml"
    domain.write_text("version: '3.1'\nresponses:\n  utter_greet:\n  - Hallo\n")
    with pytest.raises(NLUError, match="list of variations"):
        import_rasa([domain], tmp_path / "content", "nl")
