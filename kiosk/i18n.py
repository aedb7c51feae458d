"""Shopper languages: gettext catalogs in kiosk/locale/<lang>/LC_MESSAGES/kiosk.po, and product names.

The .po files are compiled in memory on first use (Babel), so there is no
build step, nothing is written next to the code, and a catalog is never stale.
A product has a Chinese and an English name: Traditional Chinese shoppers read
the Chinese one converted by OpenCC (s2twp), Japanese and Korean the English one.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"zh_CN": "简体中文", "zh_TW": "繁體中文", "en": "English", "ja": "日本語", "ko": "한국어"}
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


@cache
def _to_traditional() -> Any:
    from opencc import OpenCC  # its dictionaries load once, on the first Traditional Chinese name

    return OpenCC("s2twp")


@lru_cache(maxsize=4096)
def traditional(text: str) -> str:
    """Simplified Chinese as Taiwan writes it (纯牛奶 -> 純牛奶, 方便面 -> 泡麵)."""
    return str(_to_traditional().convert(text))


def product_name(name_zh: str, name_en: str, language: str, names: Iterable[Sequence[str]] = ()) -> str:
    """A product's name in `language`: head office's name in it (`names`: (language, name) pairs) when the
    catalog has one, else Chinese for Chinese (in Traditional script for zh_TW), else English."""
    for lang, name in names:
        if lang == language and name:
            return name
    if language == "zh_TW":
        return traditional(name_zh)
    return name_zh if language.startswith("zh") else name_en


def tr(language: str, message: str, *, context: str = "", **params: object) -> str:
    """`message` in `language`; `context` tells apart one English text with two meanings (msgctxt)."""
    t = translations(language)
    text = t.pgettext(context, message) if context else t.gettext(message)
    return text.format(**params) if params else text


def trn(language: str, singular: str, plural: str, count: int, **params: object) -> str:
    """The form for `n` ("1 item", "2 items"; Chinese has one form)."""
    text = translations(language).ngettext(singular, plural, count)
    return text.format(**params) if params else text
