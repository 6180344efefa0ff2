"""Training content: Rasa 3 YAML (intents, entity annotations, synonyms, regexes, lookups) and JSONL.

webcare keeps NLU data as Rasa YAML in `responses/nlu/<language>.yml`, knowledge articles as Markdown
with YAML front matter in `responses/knowledge/<language>/<id>.md`, the product catalogue in
`responses/catalogue.yml` and labelled affect data in `responses/affect/<language>.jsonl`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from webcare.core.errors import NLUError

_ANNOTATED = re.compile(r"\[(?P<text>[^\]]+)\](?=[({\[])")  # `[shown]` followed by `(`, `{` or `[`
_JSON = json.JSONDecoder()


@dataclass(frozen=True)
class Annotation:
    """An entity marked in a training example (Rasa's `role` and `group` when given)."""

    entity: str
    value: str
    start: int
    end: int
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Example:
    """One intent example, with the markup removed; `metadata` of Rasa's long form when given."""

    text: str
    intent: str
    language: str
    entities: tuple[Annotation, ...] = ()
    metadata: dict[str, Any] | None = field(default=None, hash=False)


@dataclass
class NLUData:
    """Everything Rasa-style YAML carries for NLU, merged over the languages."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased variant -> canonical value
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    intent_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, other: NLUData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        for name, items in other.regexes.items():
            self.regexes.setdefault(name, []).extend(i for i in items if i not in self.regexes[name])
        for name, items in other.lookups.items():
            self.lookups.setdefault(name, []).extend(i for i in items if i not in self.lookups[name])
        for intent, metadata in other.intent_metadata.items():
            self.intent_metadata.setdefault(intent, metadata)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


def _entity_specs(markup: str, at: int) -> tuple[list[dict[str, Any]], int] | None:
    """The annotation that starts at `markup[at]`: `(entity)`, `(entity:value)`, a JSON object or a JSON
    list of objects (several entities on one text); with where it ends. None when it is no annotation."""
    if markup[at] == "(":
        close = markup.find(")", at)
        if close < 0:
            return None
        entity, _, value = markup[at + 1 : close].partition(":")
        return [{"entity": entity, **({"value": value} if value else {})}], close + 1
    try:
        spec, end = _JSON.raw_decode(markup, at)
    except json.JSONDecodeError as e:
        if markup[at] == "[":
            return None  # `[a][b]` is text
        raise NLUError(f"bad entity annotation at {markup[at:at + 60]!r} in {markup!r}: {e}") from e
    specs = spec if isinstance(spec, list) else [spec]
    if not specs or not all(isinstance(x, dict) for x in specs):
        return None if markup[at] == "[" else ([spec], end)
    return specs, end


def _annotation(spec: Any, shown: str, start: int, markup: str) -> Annotation:
    if not isinstance(spec, dict) or not spec.get("entity"):
        raise NLUError(f"entity annotation without an entity name in {markup!r}")
    role, group = spec.get("role"), spec.get("group")
    return Annotation(str(spec["entity"]), str(spec.get("value") or shown), start, start + len(shown),
                      None if role is None else str(role), None if group is None else str(group))


def parse_example(markup: str, intent: str, language: str, metadata: dict[str, Any] | None = None) -> Example:
    """Strip Rasa entity markup: `[Amsterdam](city)`, `[Adam](city:Amsterdam)`,
    `[NYC]{"entity": "city", "value": "New York", "role": "to", "group": "1"}` and `[x][{…}, {…}]`."""
    markup = markup.strip()
    text: list[str] = []
    entities: list[Annotation] = []
    pos = length = 0
    search = 0
    while (m := _ANNOTATED.search(markup, search)) is not None:
        found = _entity_specs(markup, m.end())
        if found is None:
            search = m.start() + 1
            continue
        specs, end = found
        before = markup[pos : m.start()]
        text.append(before)
        length += len(before)
        shown = m.group("text")
        entities.extend(_annotation(spec, shown, length, markup) for spec in specs)
        text.append(shown)
        length += len(shown)
        pos = search = end
    text.append(markup[pos:])
    return Example("".join(text), intent, language, tuple(entities), metadata or None)


def _items(block: Any, where: str) -> list[tuple[str, dict[str, Any] | None]]:
    """The examples of a Rasa `examples:` entry with their metadata: the `- item` lines of a `|` block,
    or the long form, a list of `{text, metadata}` (or a plain YAML list)."""
    if isinstance(block, list):
        items = []
        for x in block:
            text, metadata = (x.get("text"), x.get("metadata")) if isinstance(x, dict) else (x, None)
            if not isinstance(text, str) or (metadata is not None and not isinstance(metadata, dict)):
                raise NLUError(f"{where}: a long-form example needs `text:` (and `metadata:` a mapping), got {x!r}")
            if text.strip():
                items.append((text.strip(), metadata))
        return items
    if not isinstance(block, str):
        raise NLUError(f"{where}: `examples` must be a `- item` block or a list of `- text:` items")
    items = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("- "):
            items.append((line[2:].strip(), None))
        elif line == "-" or not line:
            continue
        else:
            raise NLUError(f"{where}: expected lines starting with '- ', got {line!r}")
    return items


def parse_rasa_nlu(doc: dict[str, Any], language: str, where: str = "nlu") -> NLUData:
    """Read the `nlu:` list of a Rasa 3 training-data document."""
    data = NLUData()
    for i, item in enumerate(doc.get("nlu") or []):
        at = f"{where}: nlu[{i}]"
        if not isinstance(item, dict):
            raise NLUError(f"{at}: expected a mapping")
        examples = _items(item.get("examples", ""), at)
        if "intent" in item:
            intent = str(item["intent"])
            data.examples.extend(parse_example(x, intent, language, metadata) for x, metadata in examples)
            if isinstance(item.get("metadata"), dict):
                data.intent_metadata[intent] = item["metadata"]
        elif "synonym" in item:
            for variant, _ in examples:
                data.synonyms[variant.lower()] = str(item["synonym"])
        elif "regex" in item:
            data.regexes.setdefault(str(item["regex"]), []).extend(x for x, _ in examples)
        elif "lookup" in item:
            data.lookups.setdefault(str(item["lookup"]), []).extend(x for x, _ in examples)
        else:
            raise NLUError(f"{at}: expected one of intent, synonym, regex, lookup")
    for ex in data.examples:  # annotated values are synonyms too (Rasa's behaviour)
        for ann in ex.entities:
            shown = ex.text[ann.start : ann.end]
            if shown.lower() != ann.value.lower():
                data.synonyms.setdefault(shown.lower(), ann.value)
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise NLUError(f"{path}: cannot read YAML: {e}") from e
    if not isinstance(doc, dict):
        raise NLUError(f"{path}: expected a mapping at the top level")
    return doc


BUILTIN_OOS = Path(__file__).resolve().parent / "data" / "out_of_scope.yml"


def load_nlu(data_dir: Path, languages: list[str], oos_label: str | None = None) -> NLUData:
    """All `nlu/<language>.yml` files for the configured languages, plus (when `oos_label` is given) the
    built-in out-of-scope examples under that label, next to any the content has."""
    data = NLUData()
    for language in languages:
        path = data_dir / "nlu" / f"{language}.yml"
        if path.exists():
            data.merge(parse_rasa_nlu(read_yaml(path), language, str(path)))
    if oos_label and data.examples:
        builtin = read_yaml(BUILTIN_OOS)
        data.examples.extend(Example(str(t), oos_label, lang) for lang in languages for t in builtin.get(lang, []))
    return data


@dataclass(frozen=True)
class Article:
    """A knowledge-base article: questions it answers and the answer (Markdown body)."""

    id: str
    title: str
    language: str
    answer: str
    questions: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    url: str | None = None


def parse_article(path: Path, language: str) -> Article:
    text = path.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        _, _, rest = text.partition("---")
        front, sep, body = rest.partition("\n---")
        if not sep:
            raise NLUError(f"{path}: front matter opened with --- but never closed")
        try:
            meta = yaml.safe_load(front) or {}
        except yaml.YAMLError as e:
            raise NLUError(f"{path}: bad front matter: {e}") from e
    body = body.strip()
    if not body:
        raise NLUError(f"{path}: the article has no answer text")
    return Article(
        id=str(meta.get("id") or path.stem),
        title=str(meta.get("title") or path.stem),
        language=str(meta.get("language") or language),
        answer=body,
        questions=tuple(str(q) for q in meta.get("questions") or ()),
        intents=tuple(str(i) for i in meta.get("intents") or ()),
        url=meta.get("url"),
    )


def load_articles(data_dir: Path, languages: list[str]) -> list[Article]:
    return [
        parse_article(path, language)
        for language in languages
        for path in sorted((data_dir / "knowledge" / language).glob("*.md"))
        if path.name.lower() != "readme.md"
    ]


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    synonyms: tuple[str, ...] = ()
    in_stock: bool = True


def load_catalogue(data_dir: Path) -> list[Product]:
    path = data_dir / "catalogue.yml"
    if not path.exists():
        return []
    doc = read_yaml(path)
    products = doc.get("products") or []
    if isinstance(products, dict):  # {id: {name, synonyms}} is accepted too
        products = [{"id": k, **(v or {})} for k, v in products.items()]
    out = []
    for p in products:
        if not isinstance(p, dict) or not p.get("name"):
            raise NLUError(f"{path}: every product needs a name, got {p!r}")
        synonyms = p.get("synonyms") or []
        if isinstance(synonyms, dict):  # per-language synonyms
            synonyms = [s for items in synonyms.values() for s in items or []]
        synonyms = list(synonyms) + [s for key in p if key.startswith("synonyms_") for s in p[key] or []]
        names = p["name"].values() if isinstance(p["name"], dict) else [p["name"]]
        names = [str(n) for n in names]
        key = p.get("sku") or p.get("id") or names[0]
        out.append(Product(str(key), names[0], tuple(dict.fromkeys([*names[1:], *map(str, synonyms)])),
                           bool(p.get("in_stock", True))))
    return out


AFFECT_FIELDS = ("sentiment", "complaint", "urgency")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise NLUError(f"{path}: cannot read: {e}") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise NLUError(f"{path}:{n}: not JSON: {e}") from e
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise NLUError(f"{path}:{n}: each line needs a \"text\" string")
        rows.append(row)
    return rows


def load_affect(data_dir: Path, languages: list[str], split: str | None = "train") -> list[dict[str, Any]]:
    """Labelled affect rows of `affect/<language>.jsonl` (only `split` when given)."""
    rows = []
    for language in languages:
        path = data_dir / "affect" / f"{language}.jsonl"
        if path.exists():
            for row in read_jsonl(path):
                row.setdefault("lang", language)
                if split is None or row.get("split", "train") == split:
                    rows.append(row)
    return rows


def content_hash(data_dir: Path, languages: list[str], extra: str = "") -> str:
    """A hash over every file NLU trains on, plus `extra` (the relevant config)."""
    h = hashlib.sha256(extra.encode())
    patterns = [f"nlu/{lang}.yml" for lang in languages] + [f"knowledge/{lang}/*.md" for lang in languages]
    patterns += ["catalogue.yml"] + [f"affect/{lang}.jsonl" for lang in languages]
    for pattern in patterns:
        for path in sorted(data_dir.glob(pattern)):
            h.update(str(path.relative_to(data_dir)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()
