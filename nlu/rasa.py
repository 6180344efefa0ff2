"""Rasa 3 YAML in and out, without the rasa package.

`import_rasa` reads Rasa files (nlu.yml: intents with entity annotations, synonyms, regexes, lookups;
domain.yml: intents and `utter_` responses) into webcare content: `nlu/<language>.yml`,
`templates/<language>.yml` and `domain.yml`. Existing content is kept; new items are added.
`export_rasa` writes webcare's content back as a Rasa project (`<language>/nlu.yml`, `domain.yml`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from nlu.data import Example, NLUData, parse_rasa_nlu, read_yaml


class _Literal(str):
    """A string YAML writes as a `|` block."""


yaml.SafeDumper.add_representer(
    _Literal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|"))


def markup(example: Example) -> str:
    """An example with its entities written back as Rasa annotations."""
    out, pos = [], 0
    for a in sorted(example.entities, key=lambda a: a.start):
        shown = example.text[a.start : a.end]
        out.append(example.text[pos : a.start])
        if a.value == shown:
            out.append(f"[{shown}]({a.entity})")
        else:
            out.append(f"[{shown}]" + json.dumps({"entity": a.entity, "value": a.value}, ensure_ascii=False))
        pos = a.end
    out.append(example.text[pos:])
    return "".join(out)


def _block(items: list[str]) -> _Literal:
    return _Literal("".join(f"- {i}\n" for i in items))


def nlu_document(data: NLUData, language: str) -> dict[str, Any]:
    """A Rasa 3 `nlu:` document for the examples of one language (plus all synonyms/regexes/lookups)."""
    by_intent: dict[str, list[str]] = {}
    for ex in data.examples:
        if ex.language == language:
            by_intent.setdefault(ex.intent, []).append(markup(ex))
    items: list[dict[str, Any]] = [{"intent": i, "examples": _block(x)} for i, x in by_intent.items()]
    synonyms: dict[str, list[str]] = {}
    for variant, canonical in data.synonyms.items():
        synonyms.setdefault(canonical, []).append(variant)
    items += [{"synonym": c, "examples": _block(v)} for c, v in synonyms.items()]
    items += [{"regex": n, "examples": _block(p)} for n, p in data.regexes.items()]
    items += [{"lookup": n, "examples": _block(v)} for n, v in data.lookups.items()]
    return {"version": "3.1", "nlu": items}


def _dump(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")


def export_rasa(data_dir: Path, out_dir: Path, languages: list[str]) -> list[Path]:
    """Write `<out>/<language>/nlu.yml` and `<out>/<language>/domain.yml`; return the files written."""
    written = []
    for language in languages:
        path = data_dir / "nlu" / f"{language}.yml"
        if not path.exists():
            continue
        data = parse_rasa_nlu(read_yaml(path), language, str(path))
        target = out_dir / language / "nlu.yml"
        _dump(nlu_document(data, language), target)
        written.append(target)
        domain: dict[str, Any] = {"version": "3.1", "intents": data.intents}
        templates_path = data_dir / "templates" / f"{language}.yml"
        if templates_path.exists():
            templates = read_yaml(templates_path)
            domain["responses"] = {
                f"utter_{name}": [{"text": str(v)} for v in (value if isinstance(value, list) else [value])]
                for name, value in templates.items()
                if not name.startswith("_") and isinstance(value, (str, list))
            }
        target = out_dir / language / "domain.yml"
        _dump(domain, target)
        written.append(target)
    return written


def import_rasa(files: list[Path], data_dir: Path, language: str) -> dict[str, int]:
    """Merge Rasa nlu/domain files into the content of one language; counts of what was added."""
    added = {"examples": 0, "intents": 0, "synonyms": 0, "regexes": 0, "lookups": 0, "responses": 0}
    nlu_path = data_dir / "nlu" / f"{language}.yml"
    current = parse_rasa_nlu(read_yaml(nlu_path), language, str(nlu_path)) if nlu_path.exists() else NLUData()
    known = {(e.intent, markup(e)) for e in current.examples}
    intents_before = set(current.intents)
    domain_intents: list[str] = []
    responses: dict[str, list[str]] = {}
    for file in files:
        doc = read_yaml(Path(file))
        if "nlu" in doc:
            incoming = parse_rasa_nlu(doc, language, str(file))
            for ex in incoming.examples:
                if (ex.intent, markup(ex)) not in known:
                    known.add((ex.intent, markup(ex)))
                    current.examples.append(ex)
                    added["examples"] += 1
            added["synonyms"] += len(set(incoming.synonyms) - set(current.synonyms))
            added["regexes"] += len(set(incoming.regexes) - set(current.regexes))
            added["lookups"] += len(set(incoming.lookups) - set(current.lookups))
            current.merge(NLUData(synonyms=incoming.synonyms, regexes=incoming.regexes, lookups=incoming.lookups))
        for intent in doc.get("intents") or []:
            domain_intents.append(next(iter(intent)) if isinstance(intent, dict) else str(intent))
        for name, variants in (doc.get("responses") or {}).items():
            texts = [v["text"] for v in variants or [] if isinstance(v, dict) and v.get("text")]
            if texts:
                responses[name.removeprefix("utter_")] = texts
    added["intents"] = len(set(current.intents) - intents_before)
    _dump(nlu_document(current, language), nlu_path)
    if responses:
        templates_path = data_dir / "templates" / f"{language}.yml"
        templates = read_yaml(templates_path) if templates_path.exists() else {}
        new = {k: v for k, v in responses.items() if k not in templates}
        added["responses"] = len(new)
        _dump({**templates, **new}, templates_path)
    if domain_intents or responses:
        domain_path = data_dir / "domain.yml"
        domain = read_yaml(domain_path) if domain_path.exists() else {}
        rules = domain.setdefault("intents", {}) or {}
        domain["intents"] = rules
        for intent in domain_intents or current.intents:
            if intent not in rules:
                rules[intent] = {"action": "respond", "response": intent} if intent in responses else None
        _dump(domain, domain_path)
    return added
