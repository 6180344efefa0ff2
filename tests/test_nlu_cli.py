"""`webcare nlu …` through click's CliRunner; training behaviour on small content of our own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from webcare.cli import cli
from webcare.core.errors import ModelNotTrained
from webcare.nlu import Analyzer, NLUConfig
from webcare.nlu.data import load_nlu

ROOT = Path(__file__).resolve().parent.parent

SMALL_NL = """version: "3.1"
nlu:
- intent: order_status
  examples: |
    - waar is mijn bestelling
    - waar blijft mijn pakket
    - wanneer komt mijn bestelling [12345678](order_number)
    - ik wacht nog op mijn order
    - is mijn pakket al verzonden
- intent: opening_hours
  examples: |
    - hoe laat zijn jullie open
    - wat zijn de openingstijden
    - zijn jullie zondag open
    - tot hoe laat is de winkel open
    - wanneer gaat de winkel open
- synonym: airfryer
  examples: |
    - heteluchtfriteuse
- lookup: product
  examples: |
    - airfryer
- regex: postcode
  examples: |
    - \\b\\d{4}\\s?[A-Z]{2}\\b
"""
SMALL_EN = """version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order
    - where is my parcel
    - when will order [12345678](order_number) arrive
    - I am still waiting for my order
    - has my package shipped
- intent: opening_hours
  examples: |
    - what time do you open
    - what are your opening hours
    - are you open on sunday
    - until when is the shop open
    - when does the store open
"""
ARTICLE = """---
id: returns
title: Retourneren
questions:
  - Hoe stuur ik iets terug?
  - Hoe lang heb ik om te retourneren?
url: https://example.test/retour
---
Je hebt 30 dagen bedenktijd. Meld je retour aan via je account en stuur het pakket gratis terug.
"""


@pytest.fixture
def content(tmp_path):
    data = tmp_path / "responses"
    (data / "nlu").mkdir(parents=True)
    (data / "nlu" / "nl.yml").write_text(SMALL_NL, encoding="utf-8")
    (data / "nlu" / "en.yml").write_text(SMALL_EN, encoding="utf-8")
    (data / "knowledge" / "nl").mkdir(parents=True)
    (data / "knowledge" / "nl" / "returns.md").write_text(ARTICLE, encoding="utf-8")
    (data / "templates").mkdir()
    (data / "templates" / "nl.yml").write_text("order_status:\n  - Je bestelling is onderweg.\n", encoding="utf-8")
    return data


@pytest.fixture
def config(content, tmp_path):
    return NLUConfig(data_dir=str(content), model_dir=str(tmp_path / "models"),
                     cache_dir=str(ROOT / ".webcare" / "cache"))


def test_no_model_gives_a_clear_error(config):
    with pytest.raises(ModelNotTrained, match=r"no trained NLU model in .*models.*webcare nlu train"):
        Analyzer.load(config)


def test_unreadable_model_asks_to_train_again(config):
    Analyzer.train(config)
    (Path(config.model_dir) / "analyzer.joblib").write_bytes(b"not a model")
    with pytest.raises(ModelNotTrained, match="cannot be read"):
        Analyzer.load(config)


def test_small_content_trains_and_works_without_affect_data(config):
    analyzer = Analyzer.train(config)
    result = analyzer.analyze("waar blijft mijn pakket?")
    assert result.intent == "order_status"
    assert analyzer.meta["affect_heads"] == []  # no labelled data: the word-list fallback answers
    angry = analyzer.analyze("Dit is belachelijk, mijn bestelling is kapot aangekomen!")
    assert angry.sentiment == "negative" and angry.complaint
    assert 0 < angry.complaint_score < 0.9  # honest: a fallback is not sure
    assert ("postcode", "1234 AB") in {(e.type, e.value) for e in analyzer.analyze("mijn postcode is 1234 AB").entities}
    hit = analyzer.analyze("Hoe lang heb ik om iets terug te sturen?").knowledge
    assert hit and hit[0].article_id == "returns" and hit[0].url == "https://example.test/retour"
    assert hit[0].answer.startswith("Je hebt 30 dagen")
    assert analyzer.analyze("What is the capital of Australia?").knowledge == []


def test_english_question_finds_the_dutch_article_when_no_english_one_fits(config):
    analyzer = Analyzer.train(config)
    hits = analyzer.analyze("How do I send something back, how many days do I have to return it?").knowledge
    assert [h.language for h in hits][:1] in ([], ["nl"])


def test_retrains_when_the_content_changes(config, content):
    first = Analyzer.load_or_train(config)
    assert Analyzer.load_or_train(config).meta["trained_at"] == first.meta["trained_at"]  # unchanged: loaded
    path = content / "nlu" / "en.yml"
    path.write_text(path.read_text() + "- intent: thanks\n  examples: |\n    - thanks\n    - thank you\n"
                    "    - many thanks\n    - cheers\n    - thx\n", encoding="utf-8")
    second = Analyzer.load_or_train(config)
    assert second.meta["trained_at"] != first.meta["trained_at"]
    assert "thanks" in second.meta["intents"]


def test_missing_content_is_a_clear_error(tmp_path):
    from webcare.core.errors import NLUError

    with pytest.raises(NLUError, match="no intent examples"):
        Analyzer.train(NLUConfig(data_dir=str(tmp_path), model_dir=str(tmp_path / "m")))


def _project(tmp_path, content, extra: str = "") -> Path:
    path = tmp_path / "config.yml"
    path.write_text(f"nlu:\n  data_dir: {content}\n  model_dir: {tmp_path / 'models'}\n"
                    f"  cache_dir: {ROOT / '.webcare' / 'cache'}\n{extra}"
                    f"store:\n  url: sqlite:///{tmp_path / 'webcare.db'}\n", encoding="utf-8")
    return path


def test_cli_train_analyze_and_json(tmp_path, content):
    runner = CliRunner()
    cfg = str(_project(tmp_path, content))
    result = runner.invoke(cli, ["-c", cfg, "nlu", "train"])
    assert result.exit_code == 0, result.output
    assert "Trained 2 intents" in result.output
    result = runner.invoke(cli, ["-c", cfg, "nlu", "analyze", "waar is bestelling 12345678?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["intent"] == "order_status" and data["entities"][0]["value"] == "12345678"
    result = runner.invoke(cli, ["-c", cfg, "nlu", "analyze", "hoe laat zijn jullie open"])
    assert result.exit_code == 0 and "opening_hours" in result.output


def test_cli_without_a_model_trains_or_explains(tmp_path, content):
    cfg = str(_project(tmp_path, tmp_path / "empty"))
    result = CliRunner().invoke(cli, ["-c", cfg, "nlu", "analyze", "hallo"])
    assert result.exit_code == 1
    assert "no intent examples" in result.output and "Traceback" not in result.output


def test_cli_train_with_own_sentiment_labels(tmp_path, content):
    labels = tmp_path / "sentiment.jsonl"
    rows = [{"text": t, "label": "negative"} for t in ("slecht", "waardeloos", "boos", "kapot", "vreselijk")]
    rows += [{"text": t, "label": "positive"} for t in ("top", "super", "blij", "geweldig", "prima")]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = str(_project(tmp_path, content))
    result = CliRunner().invoke(cli, ["-c", cfg, "nlu", "train", "--sentiment", str(labels)])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "models" / "meta.json").read_text())
    assert meta["affect_heads"] == ["sentiment"] and meta["label_files"][0][0] == "sentiment"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "furious"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", cfg, "nlu", "train", "--sentiment", str(bad)])
    assert result.exit_code == 1 and "'furious' is not a sentiment label" in result.output


def test_cli_evaluate_intent_and_sentiment_from_files(tmp_path, content):
    train = tmp_path / "train.jsonl"
    test = tmp_path / "test.jsonl"
    data = load_nlu(content, ["nl", "en"])
    train.write_text("".join(json.dumps({"text": e.text, "label": e.intent}) + "\n" for e in data.examples))
    test.write_text("".join(json.dumps(r) + "\n" for r in [
        {"text": "waar is mijn pakket", "label": "order_status"},
        {"text": "when do you open", "label": "opening_hours"},
        {"text": "who painted the mona lisa", "label": "oos"}]))
    plot = tmp_path / "confusion.png"
    result = CliRunner().invoke(cli, ["-c", str(_project(tmp_path, content)), "nlu", "evaluate", "intent",
                                      "--train", str(train), "--test", str(test), "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "macro_f1", "n_test",
                "train_seconds", "examples_per_second"):
        assert key in report
    assert report["n_test"] == 3 and report["in_scope_accuracy"] == 1.0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    sentiment = tmp_path / "sent.jsonl"
    sentiment.write_text("".join(json.dumps(r) + "\n" for r in [
        {"text": "super blij", "label": "positive"}, {"text": "heel slecht", "label": "negative"},
        {"text": "geweldig, top", "label": "positive"}, {"text": "waardeloos en kapot", "label": "negative"}]))
    result = CliRunner().invoke(cli, ["-c", str(_project(tmp_path, content)), "nlu", "evaluate", "sentiment",
                                      "--train", str(sentiment), "--test", str(sentiment)])
    assert result.exit_code == 0, result.output
    assert "macro_f1" in result.output and "accuracy" in result.output


def test_cli_evaluate_needs_a_test_set(tmp_path, content):
    result = CliRunner().invoke(cli, ["-c", str(_project(tmp_path, content)), "nlu", "evaluate", "intent"])
    assert result.exit_code == 2 and "--test" in result.output


def test_rasa_export_import_round_trip(tmp_path, content):
    runner = CliRunner()
    cfg = str(_project(tmp_path, content))
    result = runner.invoke(cli, ["-c", cfg, "nlu", "export-rasa", str(tmp_path / "rasa")])
    assert result.exit_code == 0, result.output
    domain = (tmp_path / "rasa" / "nl" / "domain.yml").read_text()
    assert "utter_order_status" in domain
    fresh = tmp_path / "fresh"
    shutil.copytree(content / "templates", fresh / "templates")
    cfg2 = str(_project(tmp_path, fresh))
    result = runner.invoke(cli, ["-c", cfg2, "nlu", "import-rasa", str(tmp_path / "rasa" / "nl"), "--language", "nl"])
    assert result.exit_code == 0, result.output
    assert "10 examples" in result.output
    before, after = load_nlu(content, ["nl"]), load_nlu(fresh, ["nl"])
    assert sorted((e.text, e.intent, e.entities) for e in before.examples) == \
        sorted((e.text, e.intent, e.entities) for e in after.examples)
    assert after.synonyms == before.synonyms and after.lookups == before.lookups and after.regexes == before.regexes
    again = runner.invoke(cli, ["-c", cfg2, "nlu", "import-rasa", str(tmp_path / "rasa" / "nl"), "--language", "nl"])
    assert "0 examples" in again.output  # importing twice adds nothing


def test_cli_export_labels_from_the_store(tmp_path, content):
    from webcare.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'webcare.db'}")
    store.add_label("sentiment", "Wat een slechte service", "negative", language="nl")
    store.add_label("complaint", "Mijn pakket is kapot", "yes", language="nl")
    store.close()
    out = tmp_path / "labels"
    result = CliRunner().invoke(cli, ["-c", str(_project(tmp_path, content)), "nlu", "export-labels", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "sentiment.jsonl").read_text().splitlines()]
    assert rows == [{"text": "Wat een slechte service", "label": "negative", "lang": "nl", "source": "staff"}]
    assert (out / "complaint.jsonl").exists()
