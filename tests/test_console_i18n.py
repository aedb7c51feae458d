"""Issue 12: the console speaks Chinese and English: every message in its templates and code has a Chinese
translation (extracted the way `python -m headoffice.console.i18n` does), placeholders survive translation, money
and times follow the viewer's locale, and the vendored htmx is the file its README names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from headoffice.console import i18n

ROOT = Path(__file__).resolve().parent.parent


def test_every_console_message_has_a_chinese_translation_with_its_placeholders():
    zh = i18n.translations("zh_CN")
    missing, broken = [], []
    for m in i18n.extract():
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            text, source = zh.ngettext(m.id[0], m.id[1], 2), m.id[1]
        else:
            text, source = zh.gettext(m.id), m.id
        if text == source and re.search(r"[A-Za-z]{3}", source) and source not in ("CSV", "EMVCo", "emvco"):
            missing.append(source)
        if set(re.findall(r"%\(\w+\)\w", source)) != set(re.findall(r"%\(\w+\)\w", text)):
            broken.append(source)
    assert missing == [] and broken == []


def test_money_and_times_follow_the_viewers_locale():
    token = i18n.current.set("zh_CN")
    try:
        assert i18n.money(123450) == "¥1,234.50" and i18n.percent(0.755) == "75.5%"
        assert i18n.gettext_("Fleet") == "设备" and i18n.ngettext_("%(num)d kiosk", "%(num)d kiosks", 3) == "3 台自助机"
    finally:
        i18n.current.reset(token)
    assert i18n.money(123450) == "CN¥1,234.50" and i18n.ngettext_("%(num)d kiosk", "%(num)d kiosks", 1) == "1 kiosk"
    assert i18n.when("2026-12-04T06:00:00.000Z") and i18n.when(None) == ""
    assert i18n.choose(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN" and i18n.choose(None, "fr-FR") == "en"
    assert i18n.choose("en", "zh-CN") == "en"  # the viewer's own choice wins


def test_the_vendored_htmx_is_the_file_its_readme_names():
    readme = (ROOT / "headoffice" / "static" / "README.md").read_text()
    named = re.findall(r"`([\w.-]+\.js)` \|[^|]+\|[^|]+\| `([0-9a-f]{64})`", readme)
    assert [name for name, _ in named] == [p.name for p in sorted((ROOT / "headoffice" / "static").glob("*.js"))]
    for name, digest in named:
        assert hashlib.sha256((ROOT / "headoffice" / "static" / name).read_bytes()).hexdigest() == digest
