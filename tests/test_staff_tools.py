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


# --- age-restricted items, badges, voids and price overrides -----------------------------------------------------
BEER, WATER = "6901234000184", "6901234000016"


def payload(row) -> dict:
    """An outbox event's data (what head office gets)."""
    import json

    return json.loads(row["payload"])["data"]


def test_beer_waits_for_staff_who_approve_with_the_pin(ui_for):
    from kiosk.checkout import Phase
    from tests.test_ui import events

    k, ui = ui_for(kiosk={"default_language": "en"})
    k.panel.scan(WATER)
    k.panel.scan(BEER)
    assert run_until(ui, lambda: k.checkout.cart.totals().items == 2)
    assert on_screen(ui, "Age check: staff are on the way")
    assert k.controller.light_state() == "help"  # the amber light flashes for staff
    assert run_until(ui, lambda: events(k, "age_check_requested"))
    assert [payload(r)["skus"] for r in events(k, "age_check_requested")] == [["P018"]]
    tap(ui, "pay")
    assert k.checkout.phase is Phase.CART and on_screen(ui, "Staff must check your age before you pay.")
    k.panel.show_payment_code("1")  # held up anyway: no payment starts
    end = time.monotonic() + 2.5 * SLACK
    while time.monotonic() < end:
        ui.frame()
        assert not k.checkout.paying
        time.sleep(0.05)
    sign_in(ui)
    assert on_screen(ui, "Approve age check")
    tap(ui, "approve_age")
    assert not k.controller.attendant.active and on_screen(ui, "Age check done. You can pay now.")
    assert run_until(ui, lambda: events(k, "age_check_approved"))
    (approved,) = events(k, "age_check_approved")
    assert payload(approved)["by"] == "pin" and payload(approved)["skus"] == ["P018"]
    k.panel.show_payment_code("1")
    assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT, 15)
    assert k.checkout.paid_total == 200 + 800


def test_head_offices_age_check_alert_follows_the_cart_when_the_beer_leaves_it_before_staff_come(ui_for):
    """The shopper takes the beer off, puts it back (Undo), then starts over: head office is told each time, so
    its alert does not stay open for a cart that is gone (nor closed while the beer waits again)."""
    from tests.test_ui import events

    k, ui = ui_for(kiosk={"default_language": "en"})
    k.panel.scan(WATER)
    k.panel.scan(BEER)
    assert run_until(ui, lambda: len(events(k, "age_check_requested")) == 1)
    tap(ui, "remove:P018")
    assert run_until(ui, lambda: len(events(k, "age_check_withdrawn")) == 1)
    assert k.controller.light_state() != "help"
    tap(ui, "undo")
    assert run_until(ui, lambda: len(events(k, "age_check_requested")) == 2)
    assert [payload(r)["skus"] for r in events(k, "age_check_requested")] == [["P018"], ["P018"]]
    tap(ui, "start_over")
    tap(ui, "confirm_start_over")
    assert run_until(ui, lambda: len(events(k, "age_check_withdrawn")) == 2)
    for _ in range(5):
        ui.frame()
    assert (len(events(k, "age_check_requested")), len(events(k, "age_check_withdrawn"))) == (2, 2)  # once each


def test_a_staff_badge_shown_to_the_camera_approves_and_an_unknown_one_is_refused(ui_for, caplog):
    from hardware.camera import qr_image
    from kiosk.attendant import make_badge
    from tests.test_ui import events

    caplog.set_level("DEBUG")
    badge, entry = make_badge("li-na")
    stranger, _ = make_badge("li-na")  # the same name, another secret: not this kiosk's badge
    k, ui = ui_for(kiosk={"default_language": "en"}, attendant={"badges": entry})
    k.panel.scan(BEER)
    assert run_until(ui, lambda: k.checkout.age_check_needed)
    k.panel.camera.show(qr_image(stranger), seconds=1.0)
    assert run_until(ui, lambda: events(k, "attendant_badge_refused"))
    assert k.checkout.age_check_needed and on_screen(ui, "This staff badge is not known here.")
    time.sleep(1.2)
    k.panel.camera.show(qr_image(badge), seconds=1.0)
    assert run_until(ui, lambda: not k.checkout.age_check_needed)
    assert run_until(ui, lambda: events(k, "age_check_approved"))
    (approved,) = events(k, "age_check_approved")
    assert payload(approved)["by"] == "li-na" and not k.controller.attendant.active
    signed_in = payload(events(k, "attendant_signed_in")[-1])
    assert (signed_in["by"], signed_in["method"]) == ("li-na", "badge")
    assert caplog.records and not [r for r in caplog.records if badge.split(":")[2] in r.getMessage()]
    assert not [r for r in k.store.pending_outbox() if badge.split(":")[2] in r["payload"]]  # nor sent anywhere


def test_staff_take_an_item_off_and_change_a_price_with_a_reason(ui_for):
    from tests.test_ui import events, overlaps

    k, ui = ui_for(kiosk={"default_language": "en"}, attendant={"removals_need_staff": True})
    for code in (WATER, WATER, "6901234000054"):
        k.panel.scan(code)
    assert run_until(ui, lambda: k.checkout.cart.totals().items == 3)
    tap(ui, "remove:P001")  # this store lets only staff take items off
    assert k.checkout.cart.totals().items == 3 and k.checkout.help_open
    assert on_screen(ui, "Staff will take Mineral water 550ml off for you.")
    tap(ui, "staff")
    for d in "1234":
        tap(ui, f"key:{d}")
    tap(ui, "key:OK")
    tap(ui, "void_pick")
    assert on_screen(ui, "Which item comes off?") and overlaps(ui) == []
    tap(ui, "void_one:P001")
    assert k.checkout.cart.line("P001").qty == 1
    assert run_until(ui, lambda: events(k, "line_voided"))
    (voided,) = events(k, "line_voided")
    assert {key: payload(voided)[key] for key in ("by", "sku", "qty", "amount")} == {
        "by": "pin",
        "sku": "P001",
        "qty": 1,
        "amount": 200,
    }
    tap(ui, "attendant_back")
    tap(ui, "price_pick")
    tap(ui, "price_for:P005")
    assert on_screen(ui, "Now ¥3.80") and overlaps(ui) == []
    tap(ui, "price_reason:damaged")  # nothing typed yet
    assert k.controller.attendant.message == "price_invalid" and k.checkout.totals().total == 580
    for key in "2.5":
        tap(ui, f"key:{key}")
    assert on_screen(ui, "¥2.50")
    tap(ui, "price_reason:damaged")
    assert k.checkout.totals().total == 200 + 250 and on_screen(ui, "Price changed")
    assert run_until(ui, lambda: events(k, "price_override"))
    (override,) = events(k, "price_override")
    assert {key: payload(override)[key] for key in ("by", "sku", "from", "to", "reason")} == {
        "by": "pin",
        "sku": "P005",
        "from": 380,
        "to": 250,
        "reason": "damaged",
    }
    tap(ui, "attendant_exit")
    k.panel.show_payment_code("1")
    assert run_until(ui, lambda: k.checkout.order_no is not None, 15)
    order = k.store.order(k.checkout.order_no)
    assert [(ln.sku, ln.qty, ln.unit_price) for ln in order.lines] == [("P001", 1, 200), ("P005", 1, 250)]
