"""Issue 11: `systemd-analyze security` scored the kiosk's unit 8.9 (exposed).  The unit is read offline by
systemd's own analyzer and must stay well under 3 (its figure today: 1.8), a notify service with a watchdog."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "kiosk.service"


def test_the_unit_is_hardened_as_systemd_measures_it():
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for kiosk.service: ([\d.]+)", run.stdout)
    assert found, run.stdout[-2000:] + run.stderr
    assert float(found.group(1)) <= 3.0, run.stdout[-3000:]


def test_the_unit_waits_for_ready_and_restarts_a_frozen_screen():
    text = UNIT.read_text()
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=10", "Restart=always", "ProtectSystem=strict"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
