"""Shopper languages: gettext catalogs in kiosk/locale/<lang>/LC_MESSAGES/kiosk.po.

The .po files are compiled in memory on first use (Babel), so there is no
build step, nothing is written next to the code, and a catalog is never stale.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DOMAIN = "kiosk"


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        if language == "en":
            return gettext.NullTranslations()
        raise FileNotFoundError(f"no catalog for language {language!r} ({po})")
    with po.open("rb") as f:
        catalog = read_po(f)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def tr(language: str, message: str, *, context: str = "", **params: object) -> str:
    """`message` in `language`; `context` tells apart one English text with two meanings (msgctxt)."""
    t = translations(language)
    text = t.pgettext(context, message) if context else t.gettext(message)
    return text.format(**params) if params else text


def trn(language: str, singular: str, plural: str, count: int, **params: object) -> str:
    """The form for `n` ("1 item", "2 items"; Chinese has one form)."""
    text = translations(language).ngettext(singular, plural, count)
    return text.format(**params) if params else text
