"""The console's languages: Dutch (default) and English, from gettext catalogues compiled at start.

Source strings are English; `console/locales/<locale>.po` holds each translation (docs/console.md says
how pybabel extracts new strings). The .po files are compiled in memory when the console starts, so an
install needs no build step. A user's own choice wins, then the browser's Accept-Language, then Dutch.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import pass_context
from markupsafe import Markup

CATALOGUES = Path(__file__).parent / "locales"
LOCALES = ("nl", "en")
DEFAULT = "nl"


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of a locale (English, the source language, translates to itself)."""
    path = CATALOGUES / f"{locale}.po"
    if not path.exists():
        return Translations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def choose(user_language: str | None, accept_language: str | None, default: str = DEFAULT) -> str:
    """The locale for a request: the user's choice, else the browser's first supported language."""
    if user_language in LOCALES:
        return user_language
    weighted = []
    for part in (accept_language or "").split(",")[:20]:
        tag, _, q = part.strip().partition(";q=")
        try:
            weighted.append((float(q or 1), tag.strip().replace("_", "-").split("-")[0].lower()))
        except ValueError:
            continue
    for _, language in sorted(weighted, key=lambda w: -w[0]):
        if language in LOCALES:
            return language
    return default


def _gettext(t: Translations) -> Any:
    @pass_context
    def gettext(context: Any, message: str, **variables: Any) -> str:
        text = t.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if variables else text

    return gettext


def _ngettext(t: Translations) -> Any:
    @pass_context
    def ngettext(context: Any, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = t.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext


def template_context(locale: str) -> dict[str, Any]:
    """What templates use to speak the locale: gettext, ngettext, _ and date and number filters' locale."""
    t = translations(locale)
    gettext = _gettext(t)
    return {"gettext": gettext, "_": gettext, "ngettext": _ngettext(t), "locale": locale}


def text(locale: str, message: str, **variables: Any) -> str:
    """A translated message for Python code (flashes, errors)."""
    translated = translations(locale).gettext(message)
    return translated % variables if variables else translated


def when(ts: float | None, locale: str = DEFAULT) -> str:
    """A timestamp as the locale writes a short date and time."""
    return format_datetime(datetime.fromtimestamp(ts), "short", locale=locale) if ts else ""


def number(value: float | None, locale: str = DEFAULT) -> str:
    return "—" if value is None else format_decimal(value, locale=locale)


def language_name(code: str, locale: str) -> str:
    """'nl' as the locale calls it ('Nederlands', 'Dutch')."""
    try:
        return Locale.parse(code).get_display_name(locale) or code
    except (ValueError, UnknownLocaleError):
        return code
