"""Answer templates per language, the domain (what each intent does), the demo orders and the catalogue."""

from __future__ import annotations

import difflib
import functools
import random
import re
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from webcare.core.errors import ConfigError
from webcare.nlu.data import Article, load_articles, load_catalogue, parse_rasa_nlu, read_jsonl
from webcare.nlu.knowledge import STOPWORDS


@dataclass(frozen=True)
class IntentRule:
    """What the bot does for an intent: answer with a response, escalate, or fill a slot."""

    action: str = "respond"  # respond | escalate | fill_slot
    response: str | None = None
    requires: tuple[str, ...] = ()


COMMON_WORDS = frozenset().union(*STOPWORDS.values()) | frozenset(
    "until after before about would could should also still just really since while during please thanks "
    "tot nadat voordat sinds terwijl tijdens even gewoon echt eigenlijk nou graag bedankt alsjeblieft".split())
GENERIC_INTENTS = 4  # a word in the examples of this many intents is generic,
GENERIC_ARTICLES = 0.15  # and so is one in this share of the articles
CORE_EXAMPLES = 3  # a word in this many examples of an intent is one of its core words


@dataclass(frozen=True)
class CatalogueItem:
    """A product the shop sells: its name, price, stock and category, and the phrases that name it."""

    name: str
    price: float
    in_stock: bool
    category: str
    phrases: tuple[str, ...] = ()


@dataclass
class Catalogue:
    """The shop's products and categories (`catalogue.yml`): what is sold, at what price, in stock or not."""

    items: dict[str, CatalogueItem] = field(default_factory=dict)  # product name -> item
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {nl: name, en: name, words: [...]}

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        if not path.exists():
            return cls()
        doc = _read_yaml(path)
        items = {}
        for p in doc.get("products") or []:
            phrases = [p["name"]] + [s for key in p if key.startswith("synonyms_") for s in p[key] or []]
            items[p["name"]] = CatalogueItem(p["name"], float(p.get("price_eur") or 0), bool(p.get("in_stock", True)),
                                             str(p.get("category", "")), tuple(s.lower() for s in phrases))
        return cls(items, {k: dict(v or {}) for k, v in (doc.get("categories") or {}).items()})

    def category_of(self, text: str) -> str | None:
        """The category a text names ("airfryers", "koffiemachine"), by its display names and `words`."""
        lower = text.lower()
        for key, names in self.categories.items():
            words = [str(w) for k, w in names.items() if k != "words"] + [str(w) for w in names.get("words", [])]
            for word in words:
                stem = word.lower().rstrip("s") if len(word) > 4 else word.lower()
                if re.search(rf"(?<!\w){re.escape(stem)}", lower):
                    return key
        return None

    def knows(self, phrase: str) -> bool:
        """Whether every word of a phrase belongs to a product's names or a category's words."""
        words = re.findall(r"\w[\w-]+", phrase.lower())
        if not words:
            return True
        category_words = [str(w) for names in self.categories.values() for k, ws in names.items()
                          for w in (ws if k == "words" else [ws])]
        vocabulary = " ".join([p for item in self.items.values() for p in item.phrases] + category_words).lower()
        return all(re.search(rf"\b{re.escape(w)}\b", vocabulary) if len(w) < 4 else _stem(w) in vocabulary
                   for w in words)

    def in_category(self, category: str) -> list[CatalogueItem]:
        return [item for item in self.items.values() if item.category == category]

    def category_name(self, category: str, language: str) -> str:
        names = self.categories.get(category, {})
        return str(names.get(language) or names.get("en") or category)


def words_of(text: str) -> list[str]:
    """Lower-cased words without accents ("België" and "belgie" are one word)."""
    folded = unicodedata.normalize("NFKD", text.lower())
    return re.findall(r"\w+", "".join(ch for ch in folded if not unicodedata.combining(ch)))


def stem(word: str) -> str:
    """A crude stem for matching across inflections and compounds: the first 6 letters ("returning" ~ "return")."""
    return word[:6]


def _intent_words(root: Path, languages: list[str]) -> dict[str, frozenset[str]]:
    """Per intent, the stems its training examples use repeatedly (in CORE_EXAMPLES or more): its core words."""
    counts: dict[str, dict[str, int]] = {}
    for language in languages:
        path = root / "nlu" / f"{language}.yml"
        if path.exists():
            for example in parse_rasa_nlu(_read_yaml(path), language, str(path)).examples:
                per_intent = counts.setdefault(example.intent, {})
                for word in {stem(w) for w in words_of(example.text)}:
                    per_intent[word] = per_intent.get(word, 0) + 1
    return {intent: frozenset(w for w, n in words.items() if n >= CORE_EXAMPLES) for intent, words in counts.items()}


def _stem(word: str) -> str:
    """Crude Dutch/English plural stripping, enough to match "fietsen" or "airfryers" against the catalogue."""
    for suffix in ("'s", "en", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def format_price(amount: float, language: str) -> str:
    """€549,00 (nl) or €549.00 (en)."""
    text = f"{amount:,.2f}"
    if language == "nl":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"€{text}"


@dataclass
class Responses:
    """Templates (`name -> variations`) per language plus the domain rules."""

    templates: dict[str, dict[str, list[str]]]
    intents: dict[str, IntentRule]
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    titles: dict[str, dict[str, str]] = field(default_factory=dict)
    in_stock: dict[str, bool] = field(default_factory=dict)  # catalogue product name -> in stock
    catalogue: Catalogue = field(default_factory=Catalogue)
    articles: dict[tuple[str, str], Article] = field(default_factory=dict)  # (language, article id) -> article
    intent_words: dict[str, frozenset[str]] = field(default_factory=dict)  # intent -> core words of its examples
    rng: random.Random = field(default_factory=random.Random)
    root: Path | None = None

    @classmethod
    def load(cls, content_dir: str | Path) -> Responses:
        """Read `templates/<lang>.yml`, `domain.yml`, `demo_orders.yml` and `catalogue.yml` from a content folder."""
        root = Path(content_dir)
        templates: dict[str, dict[str, list[str]]] = {}
        titles: dict[str, dict[str, str]] = {}
        for path in sorted((root / "templates").glob("*.yml")):
            data = _read_yaml(path)
            titles[path.stem] = data.pop("_intent_titles", {}) or {}
            templates[path.stem] = {
                name: [value] if isinstance(value, str) else value
                for name, value in data.items()
                if not name.startswith("_")
            }
            templates[path.stem]["_order_statuses"] = data.get("_order_statuses", {})
        if not templates:
            raise ConfigError(f"{root / 'templates'}: no response templates (<language>.yml) found")
        domain = _read_yaml(root / "domain.yml").get("intents", {})
        intents = {
            name: IntentRule(
                action=(rule or {}).get("action", "respond"),
                response=(rule or {}).get("response", name),
                requires=tuple((rule or {}).get("requires", ())),
            )
            for name, rule in domain.items()
        }
        orders_file = root / "demo_orders.yml"
        orders = _current_orders(_read_yaml(orders_file)) if orders_file.exists() else {}
        in_stock = {product.name: product.in_stock for product in load_catalogue(root)}
        articles = {(a.language, a.id): a for a in load_articles(root, list(templates))} \
            if (root / "knowledge").is_dir() else {}
        return cls(templates=templates, intents=intents, orders=orders, titles=titles, in_stock=in_stock,
                   catalogue=Catalogue.load(root / "catalogue.yml"), articles=articles,
                   intent_words=_intent_words(root, list(templates)), root=root)

    @functools.cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word the shop's content uses (templates, articles, catalogue), lower-cased."""
        texts = [v for t in self.templates.values() for vs in t.values() if isinstance(vs, list) for v in vs]
        texts += [f"{a.title} {' '.join(a.questions)} {a.answer}" for a in self.articles.values()]
        texts += [p for item in self.catalogue.items.values() for p in item.phrases]
        return frozenset(w for text in texts for w in words_of(str(text)))

    @functools.cached_property
    def template_words(self) -> frozenset[str]:
        """The words of the answer templates: what the shop says it does."""
        texts = [v for t in self.templates.values() for vs in t.values() if isinstance(vs, list) for v in vs]
        return frozenset(w for text in texts for w in words_of(str(text)))

    def specific_words(self, text: str, intent: str) -> set[str]:
        """Content words of a text that are neither the intent's core words nor generic: what makes it specific."""
        common = self.intent_words.get(intent, frozenset()) | self.generic_words
        return {stem(w) for w in words_of(text) if w not in COMMON_WORDS and len(w) > 3} - common

    @functools.cached_property
    def generic_words(self) -> frozenset[str]:
        """Stems that the examples of several intents use ("after", "want"): they make no question specific."""
        counts: dict[str, int] = {}
        for words in self.intent_words.values():
            for word in words:
                counts[word] = counts.get(word, 0) + 1
        in_articles: dict[str, int] = {}
        for article in self.articles.values():
            for word in self.article_words(article):
                in_articles[word] = in_articles.get(word, 0) + 1
        languages = max(1, len(self.templates))
        return frozenset([w for w, n in counts.items() if n >= GENERIC_INTENTS] + [
            w for w, n in in_articles.items() if n >= GENERIC_ARTICLES * len(self.articles) / languages])

    def article_words(self, article: Article) -> frozenset[str]:
        """The stems of an article's title, questions and answer."""
        return frozenset(stem(w) for w in words_of(f"{article.title} {' '.join(article.questions)} {article.answer}"))

    @functools.cached_property
    def known_words(self) -> frozenset[str]:
        """The shop's vocabulary plus every word of the NLU training examples and the affect data."""
        examples: set[str] = set()
        for language in self.templates if self.root else ():
            path = self.root / "nlu" / f"{language}.yml"
            if path.exists():
                examples.update(w for e in parse_rasa_nlu(_read_yaml(path), language, str(path)).examples
                                for w in words_of(e.text))
            affect = self.root / "affect" / f"{language}.jsonl"  # customers' own words
            if affect.exists():
                examples.update(w for row in read_jsonl(affect) for w in words_of(row["text"]))
        return self.vocabulary | frozenset(examples) | COMMON_WORDS

    def foreign_words(self, text: str) -> list[str]:
        """Words of a text the shop's content never uses, nor a near spelling of one ("Bijenkorf", "parkeren"):
        a sign the question is about something else than the shop. Typos ("vooraad") are not foreign."""
        known = self.known_words
        foreign = []
        for word in words_of(text):
            if len(word) < 5 or not word.isalpha() or word in known or _stem(word) in known:
                continue
            if not difflib.get_close_matches(word, self._known_by_length.get(len(word), []), n=1, cutoff=0.8):
                foreign.append(word)
        return foreign

    @functools.cached_property
    def _known_by_length(self) -> dict[int, list[str]]:
        """Known words by the word lengths they can be a near spelling of (within 2 letters)."""
        by_length: dict[int, list[str]] = {}
        for word in self.known_words:
            for length in range(len(word) - 2, len(word) + 3):
                by_length.setdefault(length, []).append(word)
        return by_length

    def is_language(self, text: str) -> bool:
        """Whether a text is words at all (some of them common words or the shop's), not keyboard mashing."""
        words = [w for w in words_of(text) if not w.isdigit()]
        known = [w for w in words if w in COMMON_WORDS or w in self.vocabulary]
        return bool(words) and len(known) * 3 >= len(words)

    @property
    def languages(self) -> list[str]:
        return list(self.templates)

    def has(self, name: str, language: str) -> bool:
        return name in self.templates.get(language, {})

    def render(self, name: str, language: str, **values: Any) -> str:
        """One variation of a template in the language (or any language that has it), filled in."""
        variations = self.templates.get(language, {}).get(name)
        if not variations:
            variations = next((t[name] for t in self.templates.values() if t.get(name)), None)
        if not variations:
            raise ConfigError(f"no response template named {name!r}")
        return string.Formatter().vformat(self.rng.choice(variations), (), _Lenient(values))

    def order_status_label(self, status: str, language: str) -> str:
        return self.templates.get(language, {}).get("_order_statuses", {}).get(status, status)  # type: ignore[return-value]

    def intent_title(self, intent: str, language: str) -> str:
        """A human label for an intent, for clarify buttons."""
        return self.titles.get(language, {}).get(intent) or intent.replace("_", " ").capitalize()


def _current_orders(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The demo orders, their eta moved by (today - `_as_of`) when the file names that day."""
    as_of = data.pop("_as_of", None)
    shift = date.today() - date.fromisoformat(str(as_of)) if as_of else timedelta(0)
    orders = {}
    for number, order in data.items():
        order = dict(order or {})
        if order.get("eta"):
            order["eta"] = (date.fromisoformat(str(order["eta"])) + shift).isoformat()
        orders[str(number)] = order
    return orders


class _Lenient(dict):
    """Leaves unknown placeholders visible instead of failing a reply."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: missing") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
