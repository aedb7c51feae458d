"""Self-checkout kiosk firmware."""

from __future__ import annotations

import os

__version__ = "0.1.0"
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
