"""Every shopper text the screens use has a Chinese translation; English is the msgid itself."""

import ast
from pathlib import Path

import pytest

from hardware.simulator import BUTTONS
from kiosk.i18n import LOCALE_DIR, tr, trn
from kiosk.ui import texts

REPO = Path(__file__).resolve().parent.parent


def ui_messages() -> set[str]:
    """Literal strings passed to the screens' translation calls, plus every text table and the simulator's
    button labels."""
    found = {label for b in BUTTONS for label in [b.label]}
    for name, value in vars(texts).items():
        if name.isupper() and isinstance(value, dict):
            found |= {v for v in value.values() if isinstance(v, str)}
        elif name.isupper() and isinstance(value, str):
            found.add(value)
    for module in (REPO / "kiosk" / "ui").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_" and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    found.add(node.args[0].value)
    return found


TRANSLATED = ["zh_CN", "zh_TW", "ja", "ko"]  # English is the msgid itself


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_screen_text_is_translated(language):
    messages = ui_messages()
    assert len(messages) > 40
    same = {"OK", "EMV", "Alipay", "WeChat Pay"}  # the same word in these languages
    missing = [m for m in sorted(messages) if tr(language, m) == m and m not in same]
    assert missing == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_catalog_keeps_every_placeholder(language):
    """A translation that drops or renames {amount} would raise at the screen (or say the wrong thing)."""
    import re

    from babel.messages.pofile import read_po

    with (LOCALE_DIR / language / "LC_MESSAGES" / "kiosk.po").open("rb") as f:
        catalog = read_po(f)
    english = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    assert english >= ui_messages()
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = set(re.findall(r"{(\w+)}", ids[0]))
        for s in strings:
            assert set(re.findall(r"{(\w+)}", s)) == want, (language, ids[0], s)


def test_product_names_in_every_language():
    from kiosk.i18n import product_name

    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "zh_CN") == "纯牛奶 250ml"
    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "zh_TW") == "純牛奶 250ml"
    assert product_name("方便面", "Instant noodles", "zh_TW") == "泡麵"  # Taiwan's word, not only its script
    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "ja") == "Whole milk 250ml"
    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "ko") == "Whole milk 250ml"
    theirs = (("ja", "牛乳 250ml"), ("zh_TW", "鮮乳 250ml"))  # head office's own names win
    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "ja", theirs) == "牛乳 250ml"
    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "zh_TW", theirs) == "鮮乳 250ml"
    assert product_name("纯牛奶 250ml", "Whole milk 250ml", "ko", theirs) == "Whole milk 250ml"


def test_placeholders_survive_translation():
    assert tr("zh_CN", "Pay {amount}", amount="¥1.00") == "支付 ¥1.00"
    assert tr("en", "Order {order_no}", order_no="K01-1") == "Order K01-1"


def test_catalogs_exist_for_every_language():
    from kiosk.i18n import LANGUAGES

    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/kiosk.po"))
    assert found == sorted(LANGUAGES) == ["en", "ja", "ko", "zh_CN", "zh_TW"]


def plural_messages() -> set[tuple[str, str]]:
    """(singular, plural) pairs passed to the screens' plural calls (`self._n`)."""
    found = set()
    for module in (REPO / "kiosk" / "ui").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_n" and len(node.args) >= 2:
                found.add((node.args[0].value, node.args[1].value))
    return found


def test_counts_read_right_in_every_language():
    """Issue 13, defect 7: "1 items"."""
    pairs = plural_messages()
    assert ("{n} item", "{n} items") in pairs
    for one, many in pairs:
        assert trn("en", one, many, 1, n=1) == one.format(n=1) and trn("en", one, many, 2, n=2) == many.format(n=2)
        for language in TRANSLATED:
            assert trn(language, one, many, 1, n=1) != one.format(n=1), f"untranslated in {language}: {one!r}"


def test_no_english_text_stands_for_two_meanings():
    """Issue 13, defect 7: "Printed" was both the Z report's time of printing (打印时间) and the staff's
    "the job printed" (已打印); one msgid can carry one translation, so each meaning has its own context."""
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/kiosk.po"):
        keys, context = [], ""
        for line in po.read_text().splitlines():
            if line.startswith("msgctxt "):
                context = ast.literal_eval(line[8:])
            elif line.startswith("msgid ") and line != 'msgid ""':
                keys.append((context, ast.literal_eval(line[6:])))
                context = ""
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert twice == [], f"{po}: {twice}"
    assert tr("zh_CN", "Printed") == "已打印"
    assert tr("zh_CN", "Printed", context="time of printing") == "打印时间"
