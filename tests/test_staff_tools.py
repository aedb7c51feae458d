"""Issue 13's attendant tools: staff see they are in staff mode, how many PIN tries are left, what exactly is
wrong with the printer, and which kiosk calls for help (its amber light flashes)."""

from __future__ import annotations

import time

from tests.loopback import SLACK
from tests.test_ui import buy, on_screen, run_until, sign_in, tap


def test_a_wrong_pin_says_how_many_tries_are_left(ui_for):
    k, ui = ui_for(kiosk={"default_language": "en"})
    sign_in(ui, "9999")
    assert on_screen(ui, "Wrong PIN: 2 tries left") and on_screen(ui, "Staff mode")
    for key in "9999":
        tap(ui, f"key:{key}")
    tap(ui, "key:OK")
    assert on_screen(ui, "Wrong PIN: 1 try left")
    for key in "9999":
        tap(ui, f"key:{key}")
    tap(ui, "key:OK")
    assert on_screen(ui, "Too many wrong PINs. Try again later.")


def test_staff_see_what_is_wrong_with_the_printer(ui_for, printer_listener):
    printer_listener.paper_out = True
    k, ui = ui_for(printer={"type": "network", "port": printer_listener.port, "timeout_s": 2})
    buy(ui, k)
    ui.frame()
    assert on_screen(ui, "打印机离线") and not on_screen(ui, "打印机：缺纸")  # the shopper: it is offline
    tap(ui, "done")
    sign_in(ui)
    assert on_screen(ui, "店员模式") and on_screen(ui, "打印机：缺纸")  # staff: it is out of paper
    tap(ui, "attendant_exit")
    assert on_screen(ui, "自助结账") and not on_screen(ui, "店员模式")


def test_help_makes_the_amber_light_flash_until_it_is_answered(ui_for):
    k, ui = ui_for()
    amber = k.signals.leds["busy"]
    ui.frame()
    k.signals.help_button.pin.drive_low()
    assert run_until(ui, lambda: k.checkout.help_open)
    assert k.controller.light_state() == "help"
    before = len(amber.pin.states)
    end = time.monotonic() + 1.0 * SLACK
    while time.monotonic() < end:
        ui.frame()
        time.sleep(0.02)
    assert len(amber.pin.states) - before >= 2  # on and off again: flashing, not lit
    assert not k.signals.leds["ready"].is_lit and not k.signals.leds["fault"].is_lit
    tap(ui, "close_help")
    ui.frame()
    assert k.controller.light_state() == "ready" and k.signals.leds["ready"].is_lit and not amber.is_lit
