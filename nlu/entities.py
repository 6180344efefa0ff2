"""Entities by rule: order numbers, e-mail, phone, dates, amounts, products, plus the Rasa data's
regexes, lookup tables and synonyms."""

from __future__ import annotations

import re
from datetime import date, timedelta

from webcare.nlu.data import NLUData, Product
from webcare.nlu.types import Entity

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}[\s-]?(?:\(0\))?\s?\d(?:[\s-]?\d){6,11}\b|(?<![\w+])0\d(?:[\s-]?\d){8}\b")
AMOUNT = re.compile(
    r"(?:€|eur\b|euro\b|\$|usd\b|£)\s?(?P<a>\d+(?:[.,]\d{1,2})?)|(?P<b>\d+(?:[.,]\d{1,2})?)\s?(?:€|euro's?\b|eur\b|euros?\b|dollars?\b)",
    re.IGNORECASE,
)
DATE_NUMERIC = re.compile(r"\b(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})(?:[-/.](?P<y>\d{2,4}))?\b")
MONTHS = {name: i + 1 for names in (
    "januari februari maart april mei juni juli augustus september oktober november december",
    "january february march april may june july august september october november december",
    "jan feb mrt apr mei jun jul aug sep okt nov dec",
) for i, name in enumerate(names.split())} | {"mar": 3, "oct": 10}
DATE_WORDS = re.compile(r"\b(?P<d>\d{1,2})\s+(?P<m>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b(?:\s+(?P<y>\d{4}))?", re.IGNORECASE)
WEEKDAYS = {name: i for names in (
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
    "monday tuesday wednesday thursday friday saturday sunday",
) for i, name in enumerate(names.split())}
RELATIVE = {  # phrase -> days from today (weeks: the Monday of that week)
    "vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2, "gisteren": -1, "yesterday": -1,
    "eergisteren": -2, "day before yesterday": -2, "day after tomorrow": 2,
    "vorige week": -7, "afgelopen week": -7, "last week": -7, "volgende week": 7, "next week": 7,
    "deze week": 0, "this week": 0,
}
RELATIVE_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, RELATIVE), key=len, reverse=True)) + r")\b", re.IGNORECASE)
WEEKDAY_RE = re.compile(r"\b(?:(?P<q>vorige|afgelopen|volgende|komende|last|next|this|deze)\s+)?(?P<day>" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)


def _word_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    phrases = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not phrases:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(map(re.escape, phrases)) + r")(?!\w)", re.IGNORECASE)


class EntityExtractor:
    """Finds entities by regex, lookup table and synonym; overlapping matches keep the longest."""

    def __init__(self, data: NLUData, products: list[Product], order_number_pattern: str = r"\b\d{8}\b") -> None:
        self.order_number = re.compile(order_number_pattern)
        self.synonyms = dict(data.synonyms)
        self.regexes = [(name, re.compile(p, re.IGNORECASE)) for name, ps in data.regexes.items() for p in ps
                        if name not in ("order_number",)]
        lookups = {name: items + [v for v, canon in data.synonyms.items() if canon.lower() in {i.lower() for i in items}]
                   for name, items in data.lookups.items()}  # a synonym of a listed value is found too
        self.lookups = [(name, pat) for name, items in lookups.items() if (pat := _word_pattern(items))]
        self.lookup_values = {item.lower(): item for items in data.lookups.values() for item in items}
        self.product_names: dict[str, str] = {}
        for p in products:
            for variant in (p.name, *p.synonyms):
                self.product_names[variant.lower()] = p.name
        self.products = _word_pattern(list(self.product_names))

    def extract(self, text: str, expecting: str | None = None, today: date | None = None) -> list[Entity]:
        today = today or date.today()
        found: list[Entity] = []
        add = found.append
        for m in self.order_number.finditer(text):
            add(Entity("order_number", m.group(0), m.group(0), m.start(), m.end()))
        if expecting == "order_number" and not any(e.type == "order_number" for e in found):
            m = re.search(r"\b\d{5,12}\b", text)  # asked for one: accept a near miss, the lookup will tell
            if m:
                add(Entity("order_number", m.group(0), m.group(0), m.start(), m.end(), "rule"))
        for m in EMAIL.finditer(text):
            add(Entity("email", m.group(0).lower(), m.group(0), m.start(), m.end()))
        for m in PHONE.finditer(text):
            add(Entity("phone", re.sub(r"[\s()-]", "", m.group(0)), m.group(0), m.start(), m.end()))
        for m in AMOUNT.finditer(text):
            value = (m.group("a") or m.group("b")).replace(",", ".")
            add(Entity("amount", value, m.group(0), m.start(), m.end()))
        found.extend(self._dates(text, today))
        if self.products:
            for m in self.products.finditer(text):
                add(Entity("product", self.product_names[m.group(0).lower()], m.group(0), m.start(), m.end(), "lookup"))
        for name, pattern in self.regexes:
            for m in pattern.finditer(text):
                add(Entity(name, self._canonical(m.group(0)), m.group(0), m.start(), m.end()))
        for name, pattern in self.lookups:
            for m in pattern.finditer(text):
                add(Entity(name, self._canonical(m.group(0)), m.group(0), m.start(), m.end(), "lookup"))
        return _resolve_overlaps(found)

    def _canonical(self, value: str) -> str:
        return self.synonyms.get(value.lower()) or self.lookup_values.get(value.lower(), value)

    def _dates(self, text: str, today: date) -> list[Entity]:
        out = []
        for m in RELATIVE_RE.finditer(text):
            offset = RELATIVE[m.group(1).lower()]
            day = today + timedelta(days=offset)
            if "week" in m.group(1).lower():
                day -= timedelta(days=day.weekday())
            out.append(Entity("date", day.isoformat(), m.group(0), m.start(), m.end(), "rule"))
        for m in WEEKDAY_RE.finditer(text):
            target = WEEKDAYS[m.group("day").lower()]
            q = (m.group("q") or "").lower()
            delta = target - today.weekday()
            if q in ("vorige", "afgelopen", "last"):
                delta = delta - 7 if delta >= 0 else delta
            elif q in ("volgende", "komende", "next"):
                delta = delta + 7 if delta <= 0 else delta
            elif delta < 0:
                delta += 7  # a bare weekday means the coming one
            day = today + timedelta(days=delta)
            out.append(Entity("date", day.isoformat(), m.group(0), m.start(), m.end(), "rule"))
        for pattern in (DATE_NUMERIC, DATE_WORDS):
            for m in pattern.finditer(text):
                month = m.group("m")
                month_no = int(month) if month.isdigit() else MONTHS[month.lower()]
                year = int(m.group("y")) if m.group("y") else today.year
                year += 2000 if year < 100 else 0
                try:
                    day = date(year, month_no, int(m.group("d")))
                except ValueError:
                    continue
                out.append(Entity("date", day.isoformat(), m.group(0), m.start(), m.end(), "rule"))
        return out


def _resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the longest of overlapping matches (earlier rules win ties), in text order."""
    kept: list[Entity] = []
    for e in sorted(entities, key=lambda e: -(e.end - e.start)):
        if all(e.end <= k.start or e.start >= k.end for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)
