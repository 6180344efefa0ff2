"""The shipped knowledge base (`responses/knowledge/<lang>/<id>.md`) and catalogue (`catalogue.yml`).

Each check is a small function that returns the problems it finds, so a broken file fails with every
problem named; the last tests feed broken content to the checks to prove they catch it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "responses"
KNOWLEDGE = CONTENT / "knowledge"
LANGUAGES = ("nl", "en")
MIN_ARTICLES = 32
MAX_ANSWER_CHARS = 600
ARTICLE_KEYS = {"id", "title", "intents", "questions", "url"}
REQUIRED_KEYS = {"id", "title", "questions"}
ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
INTENT = re.compile(r"^[a-z_]+$")
SKU = re.compile(r"^HR-[A-Z]{2}-\d{3}$")
PRODUCT_KEYS = {"sku", "name", "category", "price_eur", "in_stock", "synonyms_nl", "synonyms_en"}


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter (between the first two `---` lines) and the Markdown body after it."""
    if not text.startswith("---\n"):
        raise ValueError("does not start with a --- front matter line")
    front, sep, body = text[4:].partition("\n---\n")
    if not sep:
        raise ValueError("front matter is never closed with a --- line")
    meta = yaml.safe_load(front)
    if not isinstance(meta, dict):
        raise TypeError("front matter is not a mapping")
    return meta, body.strip()


def article_problems(path: Path) -> list[str]:
    """Everything wrong with one article file; empty when it is fine."""
    try:
        meta, answer = split_front_matter(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, yaml.YAMLError) as e:
        return [f"front matter: {e}"]
    problems = [f"missing key {k!r}" for k in sorted(REQUIRED_KEYS - meta.keys())]
    problems += [f"unknown key {k!r}" for k in sorted(meta.keys() - ARTICLE_KEYS)]
    if meta.get("id") != path.stem or not ID.match(str(meta.get("id"))):
        problems.append(f"id {meta.get('id')!r} must be kebab-case and equal the file name {path.stem!r}")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("title must be a non-empty string")
    questions = meta.get("questions")
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        problems.append("questions must be a list of non-empty strings")
    else:
        if not 3 <= len(questions) <= 6:
            problems.append(f"needs 3–6 questions, has {len(questions)}")
        if len({q.casefold() for q in [*questions, str(title)]}) != len(questions) + 1:
            problems.append("questions repeat each other or the title")
    intents = meta.get("intents", [])
    if not isinstance(intents, list) or not all(isinstance(i, str) and INTENT.match(i) for i in intents):
        problems.append("intents must be a list of snake_case intent names")
    url = meta.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith("https://huisraad.example/")):
        problems.append(f"url {url!r} must start with https://huisraad.example/")
    if not answer:
        problems.append("the answer (body) is empty")
    elif len(answer) >= MAX_ANSWER_CHARS:
        problems.append(f"the answer has {len(answer)} characters, must stay under {MAX_ANSWER_CHARS}")
    if "\n---" in answer:
        problems.append("a stray --- line in the answer")
    return problems


def numbers(text: str, language: str) -> Counter[float]:
    """The numbers in a text (prices, hours, days), with Dutch and English separators normalised."""
    if language == "nl":
        text = re.sub(r"(?<=\d)\.(?=\d{3}\b)", "", text)  # 1.500 -> 1500
        text = re.sub(r"(?<=\d),(?=\d)", ".", text)  # 3,95 -> 3.95
    else:
        text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,500 -> 1500
    return Counter(float(n) for n in re.findall(r"\d+(?:\.\d+)?", text))


def catalogue_problems(doc: Any) -> list[str]:
    """Everything wrong with a parsed catalogue.yml; empty when it is fine."""
    if not isinstance(doc, dict) or not isinstance(doc.get("products"), list) or not doc["products"]:
        return ["needs a non-empty `products` list"]
    categories = doc.get("categories") or {}
    problems = [f"category {k!r} needs a name in {lang!r}" for k, names in categories.items()
                for lang in LANGUAGES if not isinstance(names, dict) or not names.get(lang)]
    skus: Counter[str] = Counter()
    owners: dict[tuple[str, str], set[str]] = {}
    for n, product in enumerate(doc["products"]):
        if not isinstance(product, dict):
            problems.append(f"product #{n} is not a mapping")
            continue
        sku = str(product.get("sku"))
        skus[sku] += 1
        problems += [f"{sku}: missing key {k!r}" for k in sorted(PRODUCT_KEYS - product.keys())]
        problems += [f"{sku}: unknown key {k!r}" for k in sorted(product.keys() - PRODUCT_KEYS)]
        if not SKU.match(sku):
            problems.append(f"{sku}: sku must look like HR-XX-000")
        if not isinstance(product.get("name"), str) or not product["name"].strip():
            problems.append(f"{sku}: name must be a non-empty string")
        if product.get("category") not in categories:
            problems.append(f"{sku}: category {product.get('category')!r} is not listed under `categories`")
        price = product.get("price_eur")
        amount = isinstance(price, (int, float)) and not isinstance(price, bool)
        if not amount or price <= 0 or round(price, 2) != price:
            problems.append(f"{sku}: price_eur {price!r} must be a positive amount in euros and cents")
        if not isinstance(product.get("in_stock"), bool):
            problems.append(f"{sku}: in_stock must be true or false, got {product.get('in_stock')!r}")
        for lang in LANGUAGES:
            synonyms = product.get(f"synonyms_{lang}")
            if not isinstance(synonyms, list) or not synonyms:
                problems.append(f"{sku}: synonyms_{lang} must be a non-empty list")
                continue
            for s in synonyms:
                if not isinstance(s, str) or s != s.strip().lower() or not s:
                    problems.append(f"{sku}: synonym {s!r} must be a trimmed lower-case phrase")
                else:
                    owners.setdefault((lang, s), set()).add(sku)
    problems += [f"sku {s} is used {c} times" for s, c in skus.items() if c > 1]
    problems += [f"{lang} synonym {s!r} names several products: {sorted(o)}"
                 for (lang, s), o in owners.items() if len(o) > 1]
    return problems


def article_paths(language: str) -> list[Path]:
    return sorted(p for p in (KNOWLEDGE / language).glob("*.md") if p.name.lower() != "readme.md")


def load(path: Path) -> tuple[dict[str, Any], str]:
    return split_front_matter(path.read_text(encoding="utf-8"))


ALL_ARTICLES = [p for lang in LANGUAGES for p in article_paths(lang)]


# -- the shipped knowledge base ------------------------------------------------------------------------------

def test_both_languages_have_the_same_articles():
    ids = {lang: {p.stem for p in article_paths(lang)} for lang in LANGUAGES}
    assert len(ids["nl"]) >= MIN_ARTICLES, f"only {len(ids['nl'])} Dutch articles"
    assert ids["nl"] == ids["en"], f"only in nl: {ids['nl'] - ids['en']}; only in en: {ids['en'] - ids['nl']}"


@pytest.mark.parametrize("path", ALL_ARTICLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_article_is_well_formed(path):
    assert article_problems(path) == []


@pytest.mark.parametrize("path", article_paths("nl"), ids=lambda p: p.stem)
def test_translation_states_the_same_facts(path):
    """Intents and url shape match, and the answers mention the same numbers (prices, hours, days)."""
    nl_meta, nl_answer = load(path)
    en_meta, en_answer = load(KNOWLEDGE / "en" / path.name)
    assert nl_meta["id"] == en_meta["id"]
    assert nl_meta.get("intents") == en_meta.get("intents")
    assert ("url" in nl_meta) == ("url" in en_meta)
    assert numbers(nl_answer, "nl") == numbers(en_answer, "en")


def test_article_intents_exist_in_the_training_data():
    declared: set[str] = set()
    for lang in LANGUAGES:
        path = CONTENT / "nlu" / f"{lang}.yml"
        if path.exists():
            items = yaml.safe_load(path.read_text("utf-8"))["nlu"]
            declared |= {e["intent"] for e in items if "intent" in e}
    if not declared:
        pytest.skip("no responses/nlu/<lang>.yml training data to check intents against")
    used = {i for p in ALL_ARTICLES for i in load(p)[0].get("intents") or []}
    assert used - declared == set(), "articles name intents the NLU training data does not have"


def test_titles_are_unique_per_language():
    for lang in LANGUAGES:
        titles = Counter(load(p)[0]["title"].casefold() for p in article_paths(lang))
        assert [t for t, c in titles.items() if c > 1] == []


def test_the_nlu_loader_reads_every_article():
    from webcare.nlu.data import load_articles

    articles = load_articles(CONTENT, list(LANGUAGES))
    assert len(articles) == len(ALL_ARTICLES)
    by_key = {(a.language, a.id): a for a in articles}
    meta, answer = load(KNOWLEDGE / "en" / "return-period.md")
    hit = by_key[("en", "return-period")]
    assert (hit.title, hit.answer, list(hit.questions)) == (meta["title"], answer, meta["questions"])


# -- the shipped catalogue -----------------------------------------------------------------------------------

def test_catalogue_is_valid():
    doc = yaml.safe_load((CONTENT / "catalogue.yml").read_text(encoding="utf-8"))
    assert catalogue_problems(doc) == []
    products = doc["products"]
    assert len(products) >= 25
    stock = {p["in_stock"] for p in products}
    assert stock == {True, False}, "the demo needs products both in and out of stock"


# -- the knowledge base answers questions it has not seen ----------------------------------------------------

# Customer questions written apart from the articles (never tuned on): article id -> (nl, en).
HELD_OUT: dict[str, tuple[str, str]] = {
    "airfryer-cleaning": ("Er zit allemaal vet in mijn airfryer, hoe krijg ik dat eruit?",
        "There's grease all over the inside of my air fryer, how do I clean it?"),
    "business-invoice": ("Kan de factuur op naam van mijn eenmanszaak?",
        "Can the invoice be made out to my business?"),
    "cancel-order": ("Ik heb per ongeluk de verkeerde kleur besteld, kan ik de order annuleren?",
        "I ordered the wrong colour by mistake, can I cancel the order?"),
    "change-delivery-address": ("Het pakket moet naar mijn werk in plaats van naar huis",
        "The parcel needs to go to my work address instead of home"),
    "change-email": ("Mijn oude hotmailadres gebruik ik niet meer, hoe verander ik dat?",
        "I no longer use my old hotmail address, how do I change it?"),
    "click-and-collect": ("Kan ik bestellen en het dan in Rotterdam ophalen?",
        "Can I order and then pick it up in Rotterdam?"),
    "complaint-procedure": ("Ik wil formeel bezwaar maken",
        "I want to lodge a formal complaint"),
    "cookies": ("Waarom verschijnt die cookiebanner steeds?",
        "Why does the cookie banner keep popping up?"),
    "create-account": ("Moet ik me registreren om iets te kopen?",
        "Do I have to register to buy something?"),
    "customer-service-contact": ("Tot hoe laat is jullie helpdesk bereikbaar?",
        "Until what time is your helpdesk open?"),
    "damaged-on-arrival": ("Mijn nieuwe stofzuiger gaat niet aan",
        "My new vacuum cleaner won't switch on"),
    "delete-account-gdpr": ("Ik wil geen klant meer zijn, haal mijn account weg",
        "I don't want to be a customer anymore, remove my account"),
    "delivery-abroad": ("Leveren jullie ook in Gent?",
        "Do you deliver to Ghent?"),
    "delivery-times": ("Wanneer komt mijn bestelling ongeveer?",
        "Roughly when will my order arrive?"),
    "descale-coffee-machine": ("Hoe vaak moet de koffiemachine ontkalkt worden?",
        "How often does the coffee machine need descaling?"),
    "discount-code-problems": ("Ik krijg de melding dat mijn code verlopen is",
        "It says my code has expired"),
    "energy-labels": ("Is het minikoelkastje zuinig?",
        "Is the mini fridge energy-efficient?"),
    "evening-weekend-delivery": ("Kan het pakket op zondag komen?",
        "Can the parcel come on a Sunday?"),
    "exchange-product": ("Kan ik de airfryer ruilen voor een grotere?",
        "Can I exchange the air fryer for a bigger one?"),
    "extended-warranty": ("Wat kost Huisraad Zorgeloos?",
        "How much is Huisraad Zorgeloos?"),
    "gift-card": ("Ik heb een cadeaukaart gekregen, hoe gebruik ik die?",
        "I was given a gift card, how do I use it?"),
    "holiday-hours": ("Zijn jullie open op Tweede Kerstdag?",
        "Are you open on Boxing Day?"),
    "installation-service": ("Installeren jullie ook de wijnklimaatkast?",
        "Do you also install the wine cooler?"),
    "invoice-download": ("Waar download ik de pdf van mijn aankoop?",
        "Where do I download the PDF of my purchase?"),
    "klarna-pay-later": ("Wat is de limiet voor Klarna?",
        "What is the Klarna limit?"),
    "missing-parcel": ("Mijn pakket is gestolen van de stoep",
        "My parcel was stolen from the doorstep"),
    "newsletter": ("Hoe kan ik me inschrijven voor jullie nieuwsbrief?",
        "How can I sign up for your newsletter?"),
    "order-confirmation-missing": ("Geen orderbevestiging in mijn inbox",
        "No order confirmation in my inbox"),
    "order-status-help": ("Wat betekent status verzonden?",
        "What does the status shipped mean?"),
    "password-reset": ("Ik krijg geen mail om mijn wachtwoord te resetten",
        "I don't get the e-mail to reset my password"),
    "payment-failed": ("Mijn iDEAL-betaling is afgebroken",
        "My iDEAL payment was interrupted"),
    "payment-methods": ("Kan ik met Bancontact betalen?",
        "Can I pay with Bancontact?"),
    "pickup-points": ("Mag mijn pakket naar een DHL-punt?",
        "Can my parcel go to a DHL point?"),
    "pre-orders": ("Kan ik de nieuwe Vonk al voorbestellen?",
        "Can I pre-order the new Vonk already?"),
    "price-match": ("Ik heb hem bij een andere webwinkel goedkoper gezien",
        "I saw it cheaper at another shop"),
    "product-advice": ("Welke blender is goed voor smoothies?",
        "Which blender is good for smoothies?"),
    "recycling-old-appliances": ("Nemen jullie oude waterkokers in?",
        "Do you take back old kettles?"),
    "refund-timing": ("Ik heb mijn retour al een week geleden gestuurd, waar blijft mijn geld?",
        "I sent my return a week ago, where's my money?"),
    "repair-process": ("Mijn robotstofzuiger rijdt niet meer, kan hij gerepareerd worden?",
        "My robot vacuum doesn't move anymore, can it be repaired?"),
    "return-costs": ("Kost een retour geld?",
        "Does a return cost money?"),
    "return-opened-product": ("Ik heb de blender één keer gebruikt, kan ik hem nog terugsturen?",
        "I used the blender once, can I still return it?"),
    "return-period": ("Ik heb de stofzuiger 2 weken geleden gekocht, mag hij nog terug?",
        "I bought the vacuum 2 weeks ago, can I still return it?"),
    "robot-vacuum-app": ("De app herkent mijn robot niet",
        "The app doesn't recognise my robot"),
    "shipping-costs": ("Wat zijn de bezorgkosten naar België?",
        "What are the delivery costs to Belgium?"),
    "spare-parts": ("Ik zoek een nieuwe kan voor mijn blender",
        "I'm looking for a new jug for my blender"),
    "stock-alerts": ("De Robbie Mini is uitverkocht, komt hij terug?",
        "The Robbie Mini is sold out, will it come back?"),
    "store-hours-amsterdam": ("Wanneer is de winkel in Amsterdam open?",
        "When is the Amsterdam store open?"),
    "store-hours-antwerpen": ("Is de winkel in Antwerpen op maandag open?",
        "Is the Antwerp store open on Mondays?"),
    "store-hours-eindhoven": ("Hoe laat sluit Huisraad Eindhoven?",
        "What time does Huisraad Eindhoven close?"),
    "store-hours-rotterdam": ("Wat zijn de openingstijden in Rotterdam?",
        "What are the opening times in Rotterdam?"),
    "store-hours-utrecht": ("Tot hoe laat is Huisraad Utrecht open op zaterdag?",
        "Until when is Huisraad Utrecht open on Saturday?"),
    "store-locations": ("Hebben jullie een winkel in Eindhoven?",
        "Do you have a shop in Eindhoven?"),
    "store-stock": ("Kan ik op de site zien of de winkel het heeft?",
        "Can I see on the website whether the store has it?"),
    "student-discount": ("Hoeveel korting krijgen studenten?",
        "How much discount do students get?"),
    "trade-in": ("Kan ik mijn oude robotstofzuiger inleveren voor korting?",
        "Can I hand in my old robot vacuum for a discount?"),
    "track-parcel": ("Heb je een trackingnummer voor mij?",
        "Do you have a tracking number for me?"),
    "warranty-coverage": ("Mijn filter is versleten, is dat garantie?",
        "My filter is worn out, is that under warranty?"),
    "warranty-period": ("Hoe lang garantie krijg ik op een robotstofzuiger?",
        "How long is the warranty on a robot vacuum?"),
}
# Share of HELD_OUT whose article is among the analyzer's knowledge hits (measured: nl 0.66, en 0.74).
MIN_FOUND = {"nl": 0.5, "en": 0.6}


def test_held_out_questions_cover_every_article():
    assert set(HELD_OUT) == {p.stem for p in article_paths("nl")}


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_analyzer_finds_the_article_for_unseen_questions(analyzer, language):
    index = LANGUAGES.index(language)
    found = [article_id for article_id, questions in HELD_OUT.items()
             if article_id in [hit.article_id for hit in analyzer.analyze(questions[index]).knowledge]]
    share = len(found) / len(HELD_OUT)
    assert share >= MIN_FOUND[language], f"found only {len(found)}/{len(HELD_OUT)}"


# -- the checks catch broken content -------------------------------------------------------------------------

GOOD = """---
id: sample
title: Is dit een voorbeeld?
intents: [return_item]
questions:
  - Eerste vraag?
  - Tweede vraag?
  - Derde vraag?
url: https://huisraad.example/voorbeeld
---
Ja, dit is een voorbeeld.
"""


@pytest.mark.parametrize(("broken", "problem"), [
    (GOOD.replace("---\nid", "id", 1), "front matter"),
    (GOOD.replace("title: Is dit", "title: [Is dit"), "front matter"),
    (GOOD.replace("id: sample\n", ""), "missing key 'id'"),
    (GOOD.replace("id: sample", "id: other"), "equal the file name"),
    (GOOD.replace("  - Derde vraag?\n", ""), "needs 3–6 questions, has 2"),
    (GOOD.replace("Derde vraag?", "Eerste vraag?"), "repeat"),
    (GOOD.replace("Ja, dit is een voorbeeld.\n", ""), "the answer (body) is empty"),
    (GOOD.replace("Ja, dit is een voorbeeld.", "Ja. " * 200), "must stay under 600"),
    (GOOD.replace("url:", "link:"), "unknown key 'link'"),
    (GOOD.replace("https://huisraad.example/", "http://elders.example/"), "must start with"),
    (GOOD.replace("[return_item]", "[Return Item]"), "snake_case"),
])
def test_article_check_catches(tmp_path, broken, problem):
    path = tmp_path / "sample.md"
    path.write_text(GOOD, encoding="utf-8")
    assert article_problems(path) == []
    path.write_text(broken, encoding="utf-8")
    assert any(problem in p for p in article_problems(path)), article_problems(path)


def test_number_check_catches_a_wrong_translation():
    assert numbers("Gratis vanaf €50, anders €4,95; Klarna tot €1.500 (09:30)", "nl") == \
        numbers("Free from €50, otherwise €4.95; Klarna up to €1,500 (09:30)", "en")
    assert numbers("binnen 30 dagen", "nl") != numbers("within 14 days", "en")


def product(**changes: Any) -> dict[str, Any]:
    base = {"sku": "HR-XX-001", "name": "Test", "category": "kettle", "price_eur": 9.95, "in_stock": True,
            "synonyms_nl": ["testkoker"], "synonyms_en": ["test kettle"]}
    return {**base, **changes}


CATEGORIES = {"kettle": {"nl": "waterkokers", "en": "kettles"}}


@pytest.mark.parametrize(("products", "problem"), [
    ([product(), product()], "used 2 times"),
    ([product(price_eur=0)], "positive amount"),
    ([product(price_eur=-5)], "positive amount"),
    ([product(price_eur="12")], "positive amount"),
    ([product(price_eur=1.999)], "euros and cents"),
    ([product(in_stock="yes")], "in_stock must be true or false"),
    ([product(sku="kettle")], "sku must look like"),
    ([product(category="toys")], "not listed under `categories`"),
    ([product(synonyms_en=[])], "synonyms_en must be a non-empty list"),
    ([product(synonyms_nl=["Testkoker"])], "lower-case"),
    ([product(), product(sku="HR-XX-002", synonyms_en=["other"])], "names several products"),
    ([{k: v for k, v in product().items() if k != "name"}], "missing key 'name'"),
])
def test_catalogue_check_catches(products, problem):
    assert catalogue_problems({"categories": CATEGORIES, "products": [product()]}) == []
    found = catalogue_problems({"categories": CATEGORIES, "products": products})
    assert any(problem in p for p in found), found
