"""Self-checkout kiosk firmware."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

RELEASE = "0.1.0"


def firmware_version(root: Path | None = None) -> str:
    """What this kiosk runs, as head office sees it in `birth`: the VERSION file an install writes (setup-pi.sh:
    `git describe` of what it installed), else `git describe` of this checkout, as RELEASE+commit."""
    root = root or Path(__file__).resolve().parent.parent
    try:
        return (root / "VERSION").read_text(encoding="utf-8").strip()[:32] or RELEASE
    except OSError:
        pass
    try:
        run = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=10"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return RELEASE
    described = run.stdout.strip()
    return f"{RELEASE}+{described}"[:32] if run.returncode == 0 and described else RELEASE


@functools.cache
def _installed_version() -> str:
    return firmware_version()


def __getattr__(name: str) -> str:
    """`kiosk.__version__`, found when first asked (it may run git): importing the kiosk costs nothing."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'kiosk' has no attribute {name!r}")


# The earliest the wall clock can truly be (this firmware did not exist before): a Pi without a battery-backed
# clock starts in the past until network time arrives, and a sale then would get the wrong day and number.
CLOCK_FLOOR = 1_764_547_200  # 2025-12-01T00:00:00Z

HEADLESS_ENV = {
    "SDL_VIDEODRIVER": "dummy",
    "SDL_AUDIODRIVER": "dummy",
    "GPIOZERO_PIN_FACTORY": "mock",
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",
}


def use_headless_drivers() -> None:
    """No screen, sound card or GPIO: SDL's dummy drivers and gpiozero's mock pins, unless already chosen."""
    for key, value in HEADLESS_ENV.items():
        os.environ.setdefault(key, value)
