"""A technician's figures (issue 11): how long a blank kiosk takes to show its pairing code, and from the code
typed at head office to the kiosk's `birth` under its new identity; and the kiosk unit's exposure as
`systemd-analyze security` scores it (`python -m bench pairing`).

Real parts as in tests/test_pairing.py: head office's HTTP API and `python -m headoffice pair` in a process of its
own, a mosquitto that takes the kiosk by the certificate head office signed, a kiosk process on simulated devices.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.figures import Row

RUNS = 5
UNIT = Path(__file__).resolve().parent.parent / "systemd" / "kiosk.service"


def bench_pairing() -> list[Row]:
    from tests.pairing_site import PairingSite

    kiosks = tuple(f"s001/kiosk-{n:02d}" for n in range(1, RUNS + 1))
    shown, paired = [], []
    with tempfile.TemporaryDirectory() as tmp, PairingSite(Path(tmp), kiosks) as site:
        for n, name in enumerate(kiosks):
            store, kiosk = name.split("/")
            a, b = site.time_pairing(f"k{n}", store, kiosk)
            print(f"{name}: code on screen after {a:.1f} s, birth {b:.1f} s after the code was typed")
            shown.append(a)
            paired.append(b)
    rows: list[Row] = [
        (f"pairing: a blank kiosk started -> its pairing code shown, median of {RUNS} (min-max)",
         f"{statistics.median(shown):.1f} s ({min(shown):.1f}-{max(shown):.1f})", "-", True),
        (f"pairing: the code typed at head office -> the kiosk's birth under its new identity, median of {RUNS}"
         " (min-max)", f"{statistics.median(paired):.1f} s ({min(paired):.1f}-{max(paired):.1f})", "<= 30 s",
         max(paired) <= 30),
    ]  # fmt: skip
    run = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    found = re.search(r"Overall exposure level for kiosk.service: ([\d.]+)", run.stdout)
    score = float(found.group(1)) if found else float("nan")
    rows.append(("the kiosk's systemd unit: `systemd-analyze security` exposure (0 safest, 10 exposed; was 8.9)",
                 f"{score:.1f}", "<= 3.0", score <= 3.0))  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in bench_pairing():
        print(row)
