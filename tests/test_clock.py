"""Issue 11: a Pi without a battery-backed clock starts in the past until network time arrives; a sale then got
the wrong business day and order number (and TLS and WeChat Pay's signatures fail).  The kiosk sells nothing
until its clock is past the day this firmware was made, says why, and sells again once time is synced."""

from __future__ import annotations

import time

from kiosk import CLOCK_FLOOR
from tests.conftest import REPO, make_kiosk

WATER = "6901234000016"


def test_a_kiosk_whose_clock_is_not_set_sells_nothing_until_it_is(tmp_path):
    k = make_kiosk(tmp_path)
    wall = [1_577_836_800.0]  # 2020-01-01: the clock a Pi starts with before network time
    k.recovery.wall = lambda: wall[0]
    try:
        k.recovery.once()
        k.controller.pump()
        assert k.controller.snapshot().out_of_service
        assert "the clock says 2020-01-01 00:00 UTC: not set yet" in k.controller.out_of_service
        k.controller.run_effects(k.checkout.scan(WATER, time.monotonic()))
        assert not k.checkout.cart and k.checkout.notice.key == "out_of_service"
        wall[0] = CLOCK_FLOOR + 86400  # time sync arrived
        time.sleep(0.01)  # a later observation than the failure
        k.recovery.once()
        k.controller.pump()
        assert not k.controller.snapshot().out_of_service
        k.controller.run_effects(k.checkout.scan(WATER, time.monotonic()))
        assert k.checkout.cart
    finally:
        k.stop()


def test_the_firmware_version_names_the_commit_installed(tmp_path):
    """Issue 11: the firmware version was a constant "0.1.0" whatever was installed; head office could not tell
    which kiosks ran what.  A checkout reports its commit; an install (setup-pi.sh) its VERSION file."""
    import subprocess

    import kiosk

    head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True, cwd=REPO)
    assert kiosk.__version__.startswith(f"{kiosk.RELEASE}+{head.stdout.strip()}")
    installed = tmp_path / "opt-kiosk"  # no .git: setup-pi.sh copies without it
    installed.mkdir()
    assert kiosk.firmware_version(installed) == kiosk.RELEASE
    (installed / "VERSION").write_text("0.1.0+4f2a9c1e0d\n")
    assert kiosk.firmware_version(installed) == "0.1.0+4f2a9c1e0d"
