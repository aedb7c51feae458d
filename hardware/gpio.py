"""Lights, buzzer and help button on the Pi's GPIO, through gpiozero.

The pin factory comes from gpio.pin_factory, else GPIOZERO_PIN_FACTORY, else
gpiozero's mock pins (the simulator).  Mock pins keep a history of their states
that tests read.  Lights: green = ready, amber = busy/attention, red = fault,
as three LEDs or one RGB LED.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gpiozero import LED, RGBLED, Button, Buzzer, Device

COLOURS = {"ready": (0.0, 1.0, 0.0), "busy": (1.0, 0.5, 0.0), "fault": (1.0, 0.0, 0.0), "off": (0.0, 0.0, 0.0)}
# (on seconds, off seconds, times)
BEEPS = {"ok": (0.08, 0.05, 1), "error": (0.12, 0.08, 3), "paid": (0.25, 0.1, 2), "help": (0.5, 0.2, 1)}


def choose_pin_factory(name: str) -> str:
    """Set gpiozero's pin factory; returns the name in use."""
    name = name or os.environ.get("GPIOZERO_PIN_FACTORY", "") or "mock"
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    else:
        os.environ["GPIOZERO_PIN_FACTORY"] = name
        Device.pin_factory = None  # gpiozero builds it from the environment on first use
    return name


class Signals:
    def __init__(self, cfg, on_help: Callable[[], None]) -> None:
        self.factory = choose_pin_factory(cfg.pin_factory)
        self.state = "off"
        if cfg.light == "rgb":
            self.rgb: RGBLED | None = RGBLED(cfg.red_pin, cfg.green_pin, cfg.blue_pin)
            self.leds: dict[str, LED] = {}
        else:
            self.rgb = None
            self.leds = {"ready": LED(cfg.green_pin), "busy": LED(cfg.amber_pin), "fault": LED(cfg.red_pin)}
        self.buzzer = Buzzer(cfg.buzzer_pin)
        self.help_button = Button(cfg.help_button_pin, bounce_time=0.05)
        self.help_button.when_pressed = lambda: on_help()

    def light(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self.rgb is not None:
            self.rgb.color = COLOURS[state]
            return
        for name, led in self.leds.items():
            led.value = name == state

    def beep(self, pattern: str) -> None:
        on, off, n = BEEPS[pattern]
        self.buzzer.beep(on_time=on, off_time=off, n=n, background=True)

    def close(self) -> None:
        for dev in [*self.leds.values(), self.rgb, self.buzzer, self.help_button]:
            if dev is not None:
                dev.close()
