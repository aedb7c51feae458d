"""Shopper languages: gettext catalogs in kiosk/locale/<lang>/LC_MESSAGES/kiosk.po.

`make` compiles them to .mo with Babel; if a .mo is missing or older than its
.po (a checkout run without make), it is compiled here on first use.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DOMAIN = "kiosk"


def compile_catalogs() -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as f:
                catalog = read_po(f)
            with mo.open("wb") as f:
                write_mo(f, catalog)


@cache
def translations(language: str) -> gettext.NullTranslations:
    compile_catalogs()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=language == "en")


def tr(language: str, message: str, **params: object) -> str:
    text = translations(language).gettext(message)
    return text.format(**params) if params else text
