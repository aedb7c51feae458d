"""Every shopper text the screens use has a Chinese translation; English is the msgid itself."""

import ast
from pathlib import Path

from hardware.simulator import BUTTONS
from kiosk.i18n import LOCALE_DIR, tr
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
