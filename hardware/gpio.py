"""Lights, buzzer and help button on the Pi's GPIO, through gpiozero.

The pin factory (gpio.pin_factory, else GPIOZERO_PIN_FACTORY, else gpiozero's
mock pins for the simulator) is built by `pin_factory()` and passed to each
device, as gpiozero's own examples do for remote pins.  Mock pins keep a history of their states
that tests read.  Lights: green = ready, amber = busy/attention, red = fault, amber flashing = a shopper
asked for help, as three LEDs or one RGB LED.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import entry_points

from gpiozero import LED, RGBLED, Button, Buzzer, Factory

COLOURS = {"ready": (0.0, 1.0, 0.0), "busy": (1.0, 0.5, 0.0), "fault": (1.0, 0.0, 0.0), "off": (0.0, 0.0, 0.0)}
HELP_FLASH_S = 0.4  # help pressed: the amber light flashes this fast until staff come
# (on seconds, off seconds, times)
BEEPS = {"ok": (0.08, 0.05, 1), "error": (0.12, 0.08, 3), "paid": (0.25, 0.1, 2), "help": (0.5, 0.2, 1)}


def pin_factory(name: str) -> tuple[str, Factory]:
    """A gpiozero pin factory by name (gpio.pin_factory, else GPIOZERO_PIN_FACTORY, else mock), and its name.

    Built here and handed to each device, never set as gpiozero's global default: two kiosks in one process
    (the tests) each get their own pins, and nothing else in the process is switched to mock pins.
    """
    name = name or os.environ.get("GPIOZERO_PIN_FACTORY", "") or "mock"
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return name, MockFactory(pin_class=MockPWMPin)
    found = [e for e in entry_points(group="gpiozero_pin_factories") if e.name == name]
    if not found:
        raise ValueError(f"gpio.pin_factory: gpiozero has no pin factory {name!r}")
    return name, found[0].load()()


class Signals:
    def __init__(self, cfg, on_help: Callable[[], None], pins: tuple[str, Factory] | None = None) -> None:
        """`pins`: (name, factory) from `pin_factory()`; by default the one `cfg.pin_factory` names."""
        self.factory, factory = pins or pin_factory(cfg.pin_factory)
        self.state = "off"
        on = {"pin_factory": factory}
        if cfg.light == "rgb":
            self.rgb: RGBLED | None = RGBLED(cfg.red_pin, cfg.green_pin, cfg.blue_pin, **on)
            self.leds: dict[str, LED] = {}
        else:
            self.rgb = None
            self.leds = {
                "ready": LED(cfg.green_pin, **on),
                "busy": LED(cfg.amber_pin, **on),
                "fault": LED(cfg.red_pin, **on),
            }
        self.buzzer = Buzzer(cfg.buzzer_pin, **on)
        self.help_button = Button(cfg.help_button_pin, bounce_time=0.05, **on)
        self.help_button.when_pressed = lambda: on_help()

    def light(self, state: str) -> None:
        """ready (green), busy (amber), fault (red), help (amber, flashing), off."""
        if state == self.state:
            return
        self.state = state
        if self.rgb is not None:
            if state == "help":
                self.rgb.blink(on_time=HELP_FLASH_S, off_time=HELP_FLASH_S, on_color=COLOURS["busy"], background=True)
            else:
                self.rgb.color = COLOURS[state]
            return
        for name, led in self.leds.items():
            if state == "help" and name == "busy":
                led.blink(on_time=HELP_FLASH_S, off_time=HELP_FLASH_S, background=True)
            else:
                led.value = name == state

    def beep(self, pattern: str) -> None:
        on, off, n = BEEPS[pattern]
        self.buzzer.beep(on_time=on, off_time=off, n=n, background=True)

    def close(self) -> None:
        for dev in [*self.leds.values(), self.rgb, self.buzzer, self.help_button]:
            if dev is not None:
                dev.close()
