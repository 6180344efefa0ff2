"""Answer templates per language, the domain (what each intent does), the demo orders and the catalogue."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from nlu.data import load_catalogue
from webcare.core.errors import ConfigError


@dataclass(frozen=True)
class IntentRule:
    """What the bot does for an intent: answer with a response, escalate, or fill a slot."""

    action: str = "respond"  # respond | escalate | fill_slot
    response: str | None = None
    requires: tuple[str, ...] = ()


@dataclass
class Responses:
    """Templates (`name -> variations`) per language plus the domain rules."""

    templates: dict[str, dict[str, list[str]]]
    intents: dict[str, IntentRule]
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    titles: dict[str, dict[str, str]] = field(default_factory=dict)
    in_stock: dict[str, bool] = field(default_factory=dict)  # catalogue product name -> in stock
    rng: random.Random = field(default_factory=random.Random)

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
        return cls(templates=templates, intents=intents, orders=orders, titles=titles, in_stock=in_stock)

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
