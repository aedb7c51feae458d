"""The console's languages: gettext catalogs in headoffice/locale/<lang>/LC_MESSAGES/console.po (English is the
source), money and times in the viewer's locale (Babel).

The .po files are compiled in memory on first use, so there is no build step.  The language of the request being
rendered is a context variable: the templates' `_()` and the `money`/`when` filters read it.
"""

from __future__ import annotations

import contextvars
import gettext
import io
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = {"en": "English", "zh_CN": "中文"}
DOMAIN = "console"
current: contextvars.ContextVar[str] = contextvars.ContextVar("console_language", default="en")


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def gettext_(message: str, **params: object) -> str:
    text = translations(current.get()).gettext(message)
    return text % params if params else text


def ngettext_(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def choose(asked: str | None, accept_language: str) -> str:
    """The language a request gets: the one the viewer chose, else the browser's first we have, else English."""
    if asked in LANGUAGES:
        return asked
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().replace("-", "_").lower()
        for lang in LANGUAGES:
            if tag == lang.lower() or tag.split("_")[0] == lang.split("_")[0].lower():
                return lang
    return "en"


def money(amount: int | None, currency: str = "CNY") -> str:
    """Minor units in the viewer's locale: ¥1,234.50 / ¥1,234.50 (CN)."""
    if amount is None:
        return ""
    return format_currency(Decimal(amount) / 100, currency or "CNY", locale=_locale(current.get()))


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_locale(current.get()))


def percent(value: float | None) -> str:
    return "" if value is None else format_percent(value, format="#,##0.0%", locale=_locale(current.get()))


def when(t: float | str | None) -> str:
    """A Unix time or an RFC 3339 string, in head office's time zone, as the viewer's locale writes it."""
    if t is None or t == "":
        return ""
    if isinstance(t, str):
        moment = datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone()
    else:
        moment = datetime.fromtimestamp(float(t)).astimezone()
    return format_datetime(moment, "yyyy-MM-dd HH:mm:ss", locale=_locale(current.get()))


def extract():
    """Every message of the console: the templates' `_()`/`ngettext()`, the console's Python and words.py."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="headoffice console", domain=DOMAIN)
    root = Path(__file__).resolve().parent.parent
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for folder, method in ((root / "templates", "jinja2"), (root / "console", "python")):
        pattern = "**.html" if method == "jinja2" else "**.py"
        found = extract_from_dir(
            str(folder), [(pattern, method)], {pattern: {"extensions": "jinja2.ext.i18n"}}, keywords=keywords
        )
        for filename, lineno, message, _comments, _context in found:
            catalog.add(message, locations=[(f"{folder.name}/{filename}", lineno)], flags=())
    return catalog


def update_catalogs() -> None:
    """`python -m headoffice.console.i18n`: bring every language's .po up to the messages in the code (new ones
    untranslated, gone ones dropped), keeping the translations it has."""
    from babel.messages.pofile import write_po

    template = extract()
    for lang in LANGUAGES:
        if lang == "en":
            continue
        po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as f:
            write_po(f, catalog, width=120, omit_header=False, ignore_obsolete=True, sort_output=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{po}: {len(catalog)} messages, {len(missing)} to translate")


if __name__ == "__main__":
    update_catalogs()
