"""NLU on the shipped content: language, intents, out of scope, entities, affect, knowledge, bad input."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from webcare.nlu import Analysis, Analyzer
from webcare.nlu.data import NLUData, Product, parse_example, parse_rasa_nlu
from webcare.nlu.entities import EntityExtractor
from webcare.nlu.language import LanguageDetector


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Waar is mijn bestelling? Ik wacht al een week.", "nl"),
        ("Where is my order? I have been waiting for a week.", "en"),
        ("Bonjour, où est ma commande s'il vous plaît?", "fr"),
        ("Hoe laat gaan jullie morgen open?", "nl"),
    ],
)
def test_language_of_whole_sentences(analyzer, text, language):
    result = analyzer.analyze(text)
    assert result.language == language
    assert result.language_confidence > 0.5


def test_short_texts_keep_the_conversations_language():
    detector = LanguageDetector(["nl", "en", "fr"], "nl")
    assert detector.detect("ok", "en")[0] == "en"
    assert detector.detect("ok", "nl")[0] == "nl"
    assert detector.detect("hoi", "en")[0] == "en"  # not sure enough to switch
    assert detector.detect("12345678", "en") == ("en", 0.0)
    assert detector.detect("dank je wel", "en")[0] == "nl"  # sure enough to switch


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Waar blijft mijn pakket?", "order_status"),
        ("Hoe laat zijn jullie open op zaterdag?", "opening_hours"),
        ("Ik wil mijn bestelling terugsturen", "return_item"),
        ("Ik wil een medewerker spreken", "request_human"),
        ("Where is my parcel?", "order_status"),
        ("What are your opening hours on Saturday?", "opening_hours"),
        ("I want to send my order back", "return_item"),
        ("Can I talk to a real person please", "request_human"),
        ("Welke betaalmethodes accepteren jullie?", "payment_methods"),
        ("which payment methods do you accept", "payment_methods"),
    ],
)
def test_intents_in_both_languages(analyzer, text, intent):
    result = analyzer.analyze(text)
    assert result.intent == intent, result.ranking
    assert not result.out_of_scope
    assert result.confidence >= 0.55
    assert result.ranking[0][0] == intent
    assert all(0.0 <= c <= 1.0 for _, c in result.ranking)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("waar is mijn bestelingg", "order_status"),  # typos
        ("wanneer zijn jullie ope", "opening_hours"),
        ("my order is waar?", "order_status"),  # mixed Dutch/English
        ("ik wil mijn order returnen", "return_item"),
    ],
)
def test_typos_and_mixed_language(analyzer, text, intent):
    assert analyzer.analyze(text).intent == intent


@pytest.mark.parametrize(
    "text",
    ["Wie wint het WK voetbal dit jaar?", "What is the capital of Australia?", "Schrijf een gedicht over de zee",
     "how do I change a flat tyre on my bike"],
)
def test_out_of_scope_is_not_answered_confidently(analyzer, text):
    result = analyzer.analyze(text)
    assert result.out_of_scope or result.confidence < 0.55, (result.intent, result.confidence)
    if result.out_of_scope:
        assert result.intent is None


def test_entities_in_a_message(analyzer):
    text = "Bestelling 12345678 is niet aangekomen, mail naar Jan.Jansen@Example.nl of bel 06-12345678"
    result = analyzer.analyze(text)
    found = {(e.type, e.value) for e in result.entities}
    assert ("order_number", "12345678") in found
    assert ("email", "jan.jansen@example.nl") in found
    assert ("phone", "0612345678") in found
    order = result.entity("order_number")
    assert text[order.start : order.end] == "12345678"


def test_an_expected_order_number_may_be_a_near_miss(analyzer):
    assert analyzer.analyze("1234567").entity("order_number") is None
    hit = analyzer.analyze("1234567", {"language": "nl", "expecting": "order_number"}).entity("order_number")
    assert hit is not None and hit.value == "1234567"


def test_dates_amounts_and_products():
    today = date(2024, 5, 15)  # a Wednesday
    extractor = EntityExtractor(
        NLUData(synonyms={"heteluchtfriteuse": "airfryer"}, lookups={"product": ["airfryer", "waterkoker"]}),
        [Product("kettle-1", "Huisraad Waterkoker 1.7L", ("kettle",))],
    )
    found = {(e.type, e.value) for e in extractor.extract(
        "morgen of vorige week, op 3 maart of 12-03-2024, voor €12,50 of 30 euro: mijn heteluchtfriteuse "
        "en de kettle", today=today)}
    assert ("date", "2024-05-16") in found
    assert ("date", "2024-05-06") in found  # Monday of last week
    assert ("date", "2024-03-03") in found and ("date", "2024-03-12") in found
    assert ("amount", "12.50") in found and ("amount", "30") in found
    assert ("product", "airfryer") in found  # synonym mapped to its canonical value
    assert ("product", "Huisraad Waterkoker 1.7L") in found  # catalogue synonym
    weekday = extractor.extract("next friday", today=today)[0]
    assert weekday.value == (today + timedelta(days=2)).isoformat()  # the coming Friday


def test_products_from_the_shipped_lookup_and_synonyms(analyzer):
    result = analyzer.analyze("Mijn heteluchtfriteuse doet het niet meer")
    assert ("product", "airfryer") in {(e.type, e.value) for e in result.entities}


def test_rasa_entity_markup():
    ex = parse_example('mijn [12345678](order_number) en [NYC]{"entity": "city", "value": "New York"}', "x", "nl")
    assert ex.text == "mijn 12345678 en NYC"
    assert [(a.entity, a.value, ex.text[a.start : a.end]) for a in ex.entities] == [
        ("order_number", "12345678", "12345678"), ("city", "New York", "NYC")]
    data = parse_rasa_nlu({"nlu": [{"intent": "a", "examples": '- go to [NYC]{"entity": "city", "value": "New York"}'}]}, "en")
    assert data.synonyms == {"nyc": "New York"}


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("Super service, heel erg bedankt! 😊", "positive"),
        ("Thanks a lot, great help!", "positive"),
        ("Dit is echt waardeloos, ik ben woedend 😡", "negative"),
        ("This is terrible, I am furious", "negative"),
        ("Hoe laat gaan jullie open?", "neutral"),
    ],
)
def test_clear_sentiment(analyzer, text, sentiment):
    result = analyzer.analyze(text)
    assert result.sentiment == sentiment, result.sentiment_score
    assert -1.0 <= result.sentiment_score <= 1.0


def test_negation_is_not_negative(analyzer):
    assert analyzer.analyze("niet slecht hoor, prima geholpen").sentiment != "negative"
    assert analyzer.analyze("not bad at all, thanks").sentiment != "negative"
    assert analyzer.analyze("niet goed").sentiment_score < analyzer.analyze("goed").sentiment_score


def test_complaint_and_urgency(analyzer):
    complaint = analyzer.analyze("Mijn airfryer is na twee dagen kapot en niemand reageert, schandalig!")
    assert complaint.complaint and complaint.complaint_score >= 0.5 and complaint.sentiment == "negative"
    question = analyzer.analyze("Welke betaalmethodes hebben jullie?")
    assert not question.complaint and question.complaint_score < complaint.complaint_score
    urgent = analyzer.analyze("URGENT: er komt rook uit de waterkoker, wat moet ik nu meteen doen?")
    assert urgent.urgency == "high" and urgent.urgency_score > question.urgency_score
    damaged = analyzer.analyze("Mijn airfryer 12345678 is kapot aangekomen!")
    assert damaged.complaint and damaged.sentiment == "negative"


def test_praise_is_neither_a_complaint_nor_urgent():
    """The heads are independent; the labelling rule (praise is no complaint, never urgent) joins them."""
    from webcare.nlu.affect import AffectHeads

    probs = {"sentiment": [{"negative": 0.05, "neutral": 0.05, "positive": 0.9}, {"negative": 0.9, "neutral": 0.1, "positive": 0.0}],
             "complaint": [{"no": 0.2, "yes": 0.8}, {"no": 0.2, "yes": 0.8}],
             "urgency": [{"low": 0.1, "normal": 0.2, "high": 0.7}, {"low": 0.1, "normal": 0.2, "high": 0.7}]}
    praise, complaint = AffectHeads().from_probabilities(probs, ["Top, vandaag al in huis!", "Kapot, nu oplossen!"])
    assert not praise.complaint and praise.complaint_score == pytest.approx(0.08)
    assert praise.urgency == "normal" and praise.urgency_score == pytest.approx(0.5 * 0.83 + 0.07)
    assert complaint.complaint and complaint.complaint_score == 0.8 and complaint.urgency == "high"


def test_praise_in_a_real_post_is_not_flagged_as_a_complaint(analyzer):
    result = analyzer.analyze("Wat een geweldige service van acme, gisteren besteld en vandaag al in huis! Top!")
    assert result.sentiment == "positive" and not result.complaint and result.urgency != "high"


def test_everyday_statement_is_neutral(analyzer):
    assert analyzer.analyze("Morgen ga ik met mijn zus naar de markt in Utrecht.").sentiment == "neutral"
    assert analyzer.analyze("Going to my brother's for dinner on Saturday.").sentiment == "neutral"


def test_sentiment_lexicon_priors():
    from webcare.nlu.lexicon import dutch_sentiment, prior_features

    assert dutch_sentiment(["slechte", "service"])[0] < 0 < dutch_sentiment(["niet", "slecht"])[0]
    assert dutch_sentiment(["erg", "goed"])[0] > dutch_sentiment(["goed"])[0] > 0
    assert dutch_sentiment(["de", "bestelling"]) == (0.0, 0.0, 0)
    assert prior_features("not bad at all", [])[0] > 0 > prior_features("this is terrible", [])[0]


@pytest.mark.parametrize("text", ["", "   ", "😀🎉👍", "\x00\x01\x02\ufffd\x7f", "a" * 10_000, "Waar is " * 1250])
def test_bad_input_gets_an_answer(analyzer, text):
    result = analyzer.analyze(text, {"language": "en"})
    assert isinstance(result, Analysis)
    assert result.language in ("nl", "en", "fr")
    json.dumps(result.to_dict())  # storable as the message's analysis
    if not any(ch.isalnum() for ch in text):
        assert result.intent is None and result.out_of_scope


def test_emoji_only_still_carries_sentiment(analyzer):
    assert analyzer.analyze("😡😡👎").sentiment == "negative"


def test_analyze_many_equals_analyze(analyzer):
    texts = ["Waar is mijn bestelling?", "", "What are your opening hours?", "🙂"]
    many = analyzer.analyze_many(texts)
    for text, result in zip(texts, many, strict=True):
        single = analyzer.analyze(text)
        assert (result.intent, result.language, result.sentiment) == (single.intent, single.language, single.sentiment)
        assert result.confidence == pytest.approx(single.confidence, abs=1e-3)


def test_analysis_round_trips_through_json(analyzer):
    result = analyzer.analyze("Bestelling 12345678 is kapot aangekomen")
    again = Analysis.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.intent == result.intent and again.entities == result.entities


def test_the_saved_model_loads_and_agrees(analyzer, nlu_config):
    loaded = Analyzer.load(nlu_config)
    for text in ("Waar is mijn bestelling?", "Can I pay with PayPal?"):
        assert loaded.analyze(text).intent == analyzer.analyze(text).intent


def test_analysis_is_thread_safe(analyzer):
    from concurrent.futures import ThreadPoolExecutor

    texts = ["Waar is mijn bestelling?", "What are your opening hours?", "Ik wil retourneren"] * 5
    expected = [analyzer.analyze(t).intent for t in texts]
    with ThreadPoolExecutor(4) as pool:
        assert [a.intent for a in pool.map(analyzer.analyze, texts)] == expected
