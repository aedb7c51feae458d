"""Every shopper text the screens use has a Chinese translation; English is the msgid itself."""

import ast
from pathlib import Path

from kiosk.i18n import LOCALE_DIR, tr
from kiosk.ui import screens

REPO = Path(__file__).resolve().parent.parent


def ui_messages() -> set[str]:
    """Literal strings passed to the screens' translation calls, plus the notice/reason/device tables."""
    found = set(screens.NOTICES.values()) | set(screens.REASONS.values()) | set(screens.DEVICE_TEXT.values())
    found |= set(screens.STEP_TEXT.values()) | set(screens.RECEIPT_TEXT.values())
    found |= {label for label, *_ in screens.SIM_BUTTONS} | set(screens.ATTENDANT_TEXT.values())
    tree = ast.parse((REPO / "kiosk" / "ui" / "screens.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_" and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def test_every_screen_text_is_translated():
    messages = ui_messages()
    assert len(messages) > 40
    missing = [m for m in sorted(messages) if tr("zh_CN", m) == m]
    assert missing == []


def test_placeholders_survive_translation():
    assert tr("zh_CN", "Pay {amount}", amount="¥1.00") == "支付 ¥1.00"
    assert tr("en", "Order {order_no}", order_no="K01-1") == "Order K01-1"


def test_catalogs_exist_for_every_language():
    assert sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/kiosk.po")) == ["en", "zh_CN"]
