"""Issue 11: a kiosk left with the example config took fake payments (the sandbox gateway) with real devices.  Real
devices with the sandbox gateway or the demo catalog are refused at start and by --check, naming both, unless
--demo is given; a kiosk started so says "DEMO — no real payments" on its screen, readably."""

from __future__ import annotations

import pytest

from kiosk.config import demo_problem, load
from kiosk.i18n import LANGUAGES, tr
from kiosk.runtime.wiring import Runtime
from kiosk.ui.loop import UI
from kiosk.ui.widgets import Drawn
from tests.conftest import kiosk_cli, write_config
from tests.test_shopper_screen import contrast
from tests.test_ui import overlaps


def shop_config(tmp_path, **payment):
    return write_config(
        tmp_path / "k.toml",
        {
            "kiosk": {"data_dir": str(tmp_path / "data")},
            "scanner": {"type": "serial", "url": "socket://127.0.0.1:9"},
            "camera": {"type": "none"},
            "mqtt": {"enabled": False},
            "gpio": {"pin_factory": "mock"},
            **({"payment": payment} if payment else {}),
        },
    )


def test_real_devices_with_the_sandbox_or_the_demo_catalog_are_refused_unless_demo(tmp_path):
    cfg = shop_config(tmp_path)
    problem = demo_problem(load(str(cfg)))
    assert 'payment.gateway = "sandbox" takes fake payments' in problem
    assert 'kiosk.catalog = "demo" sells the 32 demo products' in problem and "scanner.type = 'serial'" in problem
    for args in (("--check",), ()):
        run = kiosk_cli("--config", str(cfg), *args)
        assert run.returncode == 2 and run.stderr.startswith("config error: payment.gateway"), run.stderr
        assert "--demo" in run.stderr and "Traceback" not in run.stderr
    allowed = kiosk_cli("--config", str(cfg), "--check", "--demo")
    assert allowed.returncode == 0 and "config ok" in allowed.stdout, allowed.stderr
    simulator = write_config(tmp_path / "sim.toml", {"kiosk": {"data_dir": str(tmp_path / "sim")}})
    assert demo_problem(load(str(simulator))) == ""  # the simulator is what it says it is


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_a_demo_kiosk_says_so_on_its_screen(tmp_path, language):
    cfg = load(str(shop_config(tmp_path)))
    k = Runtime(cfg, demo=True)
    k.checkout.language = language
    ui = UI(k)
    try:
        ui.painter.audit = []
        ui.frame()
        texts = [d for d in ui.painter.audit if isinstance(d, Drawn)]
        want = tr(language, "DEMO — no real payments")
        assert want != "DEMO — no real payments" or language == "en"
        [banner] = [d for d in texts if d.text == want]
        assert contrast(banner.colour, banner.background) >= 4.5
        assert overlaps(ui) == []
    finally:
        ui.close()
        k.stop()
