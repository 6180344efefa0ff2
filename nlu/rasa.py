"""Rasa 3 YAML in and out, without the rasa package.

`import_rasa` reads the files of a Rasa project into webcare content for one language:
- training data (`nlu:`: intents with short or long-form examples, metadata, entity annotations with
  values, roles and groups; synonyms, regexes, lookup tables) → `nlu/<language>.yml`, which is Rasa YAML;
- responses (of the domain or of a training-data file) → `templates/<language>.yml`: the text
  variations as templates, and every variation as Rasa wrote it (buttons, image, condition, channel,
  custom payload) under `_rasa_responses`, for the export;
- domain intents → rules in `domain.yml`, and what webcare does not use itself (intent properties,
  entities with roles and groups, slots, actions, forms, session_config) under its `rasa:` key.
Stories, rules and other files are skipped. Existing content is kept; new items are added.
`export_rasa` writes the content back as a Rasa project (`<language>/nlu.yml`, `<language>/domain.yml`);
importing that export gives the same content again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from webcare.core.errors import NLUError
from webcare.nlu.data import Annotation, Example, NLUData, parse_rasa_nlu, read_yaml

RICH_RESPONSES = "_rasa_responses"  # key in templates/<language>.yml: Rasa's variations with more than text
DOMAIN_KEYS = ("entities", "slots", "actions", "forms", "session_config")  # kept verbatim under domain.yml `rasa:`


class _Literal(str):
    """A string YAML writes as a `|` block."""


yaml.SafeDumper.add_representer(
    _Literal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|"))


def markup(example: Example) -> str:
    """An example with its entities written back as Rasa annotations."""
    by_span: dict[tuple[int, int], list[Annotation]] = {}
    for a in example.entities:
        by_span.setdefault((a.start, a.end), []).append(a)
    out, pos = [], 0
    for (start, end), marked in sorted(by_span.items()):
        shown = example.text[start:end]
        out.append(example.text[pos:start])
        specs = [{"entity": a.entity, **({"value": a.value} if a.value != shown else {}),
                  **({"role": a.role} if a.role is not None else {}),
                  **({"group": a.group} if a.group is not None else {})} for a in marked]
        if len(specs) == 1 and list(specs[0]) == ["entity"]:
            out.append(f"[{shown}]({specs[0]['entity']})")
        else:
            out.append(f"[{shown}]" + json.dumps(specs[0] if len(specs) == 1 else specs, ensure_ascii=False))
        pos = end
    out.append(example.text[pos:])
    return "".join(out)


def _block(items: list[str]) -> _Literal:
    return _Literal("".join(f"- {i}\n" for i in items))


def _examples(examples: list[Example]) -> _Literal | list[dict[str, Any]]:
    """The short `|` block, or the long form when an example has metadata or a line break."""
    if not any(e.metadata or "\n" in e.text for e in examples):
        return _block([markup(e) for e in examples])
    return [{"text": markup(e), **({"metadata": e.metadata} if e.metadata else {})} for e in examples]


def nlu_document(data: NLUData, language: str) -> dict[str, Any]:
    """A Rasa 3 `nlu:` document for the examples of one language (plus all synonyms/regexes/lookups)."""
    by_intent: dict[str, list[Example]] = {}
    for ex in data.examples:
        if ex.language == language:
            by_intent.setdefault(ex.intent, []).append(ex)
    items: list[dict[str, Any]] = [
        {"intent": i, **({"metadata": data.intent_metadata[i]} if i in data.intent_metadata else {}),
         "examples": _examples(x)} for i, x in by_intent.items()]
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


def _response_variants(templates: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Rasa responses from a templates file: the saved Rasa variations where the template's texts are still
    theirs, the texts alone where staff changed them (or webcare wrote them)."""
    rich = templates.get(RICH_RESPONSES) or {}
    responses: dict[str, list[dict[str, Any]]] = {}
    for name, value in templates.items():
        if name.startswith("_") or not isinstance(value, (str, list)):
            continue
        texts = [str(v) for v in (value if isinstance(value, list) else [value])]
        saved = rich.get(name)
        responses[name] = saved if saved is not None and _texts(saved) == texts else [{"text": t} for t in texts]
    for name, saved in rich.items():
        responses.setdefault(name, saved)  # e.g. a custom payload without text
    return {f"utter_{name}": variants for name, variants in responses.items()}


def _texts(variants: list[dict[str, Any]]) -> list[str]:
    """The variations webcare answers with: the texts of those without a condition or a channel
    (all texts when every variation has one)."""
    plain = [str(v["text"]) for v in variants if v.get("text") and not v.get("condition") and not v.get("channel")]
    return plain or [str(v["text"]) for v in variants if v.get("text")]


def _domain_intents(rules: dict[str, Any], rasa: dict[str, Any], nlu_intents: list[str]) -> list[Any]:
    """Rasa's `intents:`: each intent once (a retrieval intent `faq/x` as `faq`), with its properties."""
    names = dict.fromkeys(i.split("/")[0] for i in [*rules, *nlu_intents])
    properties = rasa.get("intents") or {}
    return [{name: properties[name]} if name in properties else name for name in names]


def export_rasa(data_dir: Path, out_dir: Path, languages: list[str]) -> list[Path]:
    """Write `<out>/<language>/nlu.yml` and `<out>/<language>/domain.yml`; return the files written."""
    written = []
    domain_path = data_dir / "domain.yml"
    webcare_domain = read_yaml(domain_path) if domain_path.exists() else {}
    rasa = webcare_domain.get("rasa") or {}
    for language in languages:
        path = data_dir / "nlu" / f"{language}.yml"
        if not path.exists():
            continue
        data = parse_rasa_nlu(read_yaml(path), language, str(path))
        target = out_dir / language / "nlu.yml"
        _dump(nlu_document(data, language), target)
        written.append(target)
        domain: dict[str, Any] = {
            "version": "3.1", "intents": _domain_intents(webcare_domain.get("intents") or {}, rasa, data.intents)}
        domain |= {key: rasa[key] for key in DOMAIN_KEYS if key in rasa}
        templates_path = data_dir / "templates" / f"{language}.yml"
        if templates_path.exists():
            domain["responses"] = _response_variants(read_yaml(templates_path))
        target = out_dir / language / "domain.yml"
        _dump(domain, target)
        written.append(target)
    return written


def project_files(paths: list[Path]) -> list[Path]:
    """The YAML files of the given files and folders (folders searched recursively), in a stable order."""
    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
    return files


def _merge_domain_extras(rasa: dict[str, Any], doc: dict[str, Any]) -> None:
    """Add a domain file's intent properties, entities, slots, actions, forms and session config."""
    for intent in doc.get("intents") or []:
        if isinstance(intent, dict):
            for name, properties in intent.items():
                rasa.setdefault("intents", {}).setdefault(str(name), properties)
    for key in DOMAIN_KEYS:
        value = doc.get(key)
        if isinstance(value, list):
            known = rasa.setdefault(key, [])
            known += [v for v in value if v not in known]
        elif isinstance(value, dict):
            rasa.setdefault(key, {}).update({k: v for k, v in value.items() if k not in rasa[key]})


def _entity_names(rasa: dict[str, Any], data: NLUData) -> None:
    """Entities the examples annotate are entities of the domain too (as Rasa requires)."""
    declared = {next(iter(e)) if isinstance(e, dict) else e for e in rasa.get("entities", [])}
    annotated = dict.fromkeys(a.entity for ex in data.examples for a in ex.entities)
    missing = [name for name in annotated if name not in declared]
    if missing:
        rasa.setdefault("entities", []).extend(missing)


def _responses(doc: dict[str, Any], where: Path) -> dict[str, list[dict[str, Any]]]:
    responses = doc.get("responses") or {}
    if not isinstance(responses, dict) or not all(
            isinstance(v, list) and all(isinstance(x, dict) for x in v) for v in responses.values()):
        raise NLUError(f"{where}: `responses` must map each utter_ name to a list of variations (mappings)")
    return {str(name).removeprefix("utter_"): variants for name, variants in responses.items()}


def import_rasa(files: list[Path], data_dir: Path, language: str) -> dict[str, int]:
    """Merge Rasa nlu/domain files into the content of one language; counts of what was added."""
    added = {"examples": 0, "intents": 0, "synonyms": 0, "regexes": 0, "lookups": 0, "responses": 0}
    nlu_path = data_dir / "nlu" / f"{language}.yml"
    current = parse_rasa_nlu(read_yaml(nlu_path), language, str(nlu_path)) if nlu_path.exists() else NLUData()
    known = {(e.intent, markup(e)) for e in current.examples}
    intents_before = set(current.intents)
    domain_path = data_dir / "domain.yml"
    domain = read_yaml(domain_path) if domain_path.exists() else {}
    rasa: dict[str, Any] = domain.get("rasa") or {}
    domain_intents: list[str] = []
    responses: dict[str, list[dict[str, Any]]] = {}
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
            current.merge(NLUData(synonyms=incoming.synonyms, regexes=incoming.regexes, lookups=incoming.lookups,
                                  intent_metadata=incoming.intent_metadata))
        domain_intents += [str(next(iter(i))) if isinstance(i, dict) else str(i) for i in doc.get("intents") or []]
        _merge_domain_extras(rasa, doc)
        for name, variants in _responses(doc, Path(file)).items():
            responses.setdefault(name, variants)
    added["intents"] = len(set(current.intents) - intents_before)
    _dump(nlu_document(current, language), nlu_path)
    templates_path = data_dir / "templates" / f"{language}.yml"
    templates = read_yaml(templates_path) if templates_path.exists() else {}
    if responses:
        new = {k: v for k, v in responses.items() if k not in templates and k not in (templates.get(RICH_RESPONSES) or {})}
        added["responses"] = len(new)
        texts = {k: _texts(v) for k, v in new.items() if _texts(v)}
        rich = {k: v for k, v in new.items() if any(set(variant) != {"text"} for variant in v)}
        templates |= texts
        if rich:
            templates[RICH_RESPONSES] = dict(sorted({**(templates.get(RICH_RESPONSES) or {}), **rich}.items()))
        _dump(templates, templates_path)
    bases = {i.split("/")[0] for i in current.intents if "/" in i}  # `faq` of `faq/returns`: no intent of its own
    rules = domain.get("intents") or {}
    for intent in [*domain_intents, *current.intents]:
        if intent not in rules and intent not in bases:
            rules[intent] = {"action": "respond", "response": intent} if intent in templates else None
    _entity_names(rasa, current)
    domain["intents"] = rules
    if rasa:
        domain["rasa"] = rasa
    _dump(domain, domain_path)
    return added
