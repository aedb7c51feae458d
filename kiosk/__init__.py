"""Self-checkout kiosk firmware."""

from __future__ import annotations

import os

__version__ = "0.1.0"

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
