"""UI strings (not content) through Babel message catalogs, and locale-aware formatting.

Catalogs live in ``app/i18n/locales/<lang>/LC_MESSAGES/messages.po`` and are compiled to ``.mo``
by ``make i18n-compile`` (part of every ``make`` install step). Message ids are English.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from babel.dates import format_date
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"


class CatalogMissing(RuntimeError):
    pass


@cache
def translations(lang: str) -> Translations:
    """The compiled catalog of `lang` (English is the source language and needs none)."""
    mo = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if lang == "en" and not mo.exists():
        return Translations()
    if not mo.exists():
        raise CatalogMissing(f"{mo} is missing: run `make i18n-compile`")
    with mo.open("rb") as fp:
        return Translations(fp, domain=DOMAIN)


def _(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown (see `Strings`)."""
    return message


class Strings:
    """The UI strings of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._t = translations(lang)

    def get(self, message: str, **values: object) -> str:
        text = self._t.gettext(message)
        return text.format(**values) if values else text

    def plural(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self._t.ngettext(singular, plural, n).format(n=n, **values)

    def date(self, value: dt.date) -> str:
        return format_date(value, format="long", locale=self.lang)


@cache
def strings(lang: str) -> Strings:
    return Strings(lang)
