"""The touchscreen, headless: screens as pictures, touches as clicks, faults shown and survived."""

import json
import time

import numpy as np
import pygame
import pytest

from kiosk.checkout import Phase
from kiosk.i18n import LANGUAGES, tr
from kiosk.receipts import sale_receipt
from kiosk.receipts.render import code128
from tests.loopback import SLACK, free_port, wait_until


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def run_until(ui, predicate, timeout=10.0):
    end = time.monotonic() + timeout * SLACK
    while time.monotonic() < end:
        ui.frame()
        if predicate():
            return True
        time.sleep(0.01)
    return False


def tap(ui, name):
    ui.frame()
    rect = ui.button_rect(name)
    assert rect is not None, f"no {name!r} button on screen; have {[b.name for b in ui.painter.buttons]}"
    assert rect.width >= 48 and rect.height >= 48
    assert ui.click(rect.center) == name
    ui.frame()


def on_screen(ui, text: str) -> bool:
    """`text` is on screen, whether on one line or wrapped over several (compared without spaces)."""
    flat = "".join(t for t, _ in ui.painter.texts).replace(" ", "")
    return text.replace(" ", "") in flat


def picture(ui) -> np.ndarray:
    return pygame.surfarray.array3d(ui.surface)


def test_buy_by_touch_in_the_simulator(ui_for, tmp_path):
    k, ui = ui_for()
    ui.frame()
    welcome = picture(ui)
    assert welcome.std() > 10  # not a blank screen
    tap(ui, "sim:scan")
    tap(ui, "sim:scan")
    assert run_until(ui, lambda: k.checkout.cart.totals().items == 2)
    assert k.checkout.phase is Phase.CART
    tap(ui, "pay")
    assert k.checkout.phase is Phase.PAYMENT
    tap(ui, "sim:pay_ok")
    assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT and k.checkout.receipt == "printed", 15)
    order_no = k.checkout.order_no
    assert (tmp_path / "data" / "receipts" / f"{order_no}.png").exists()
    assert list((tmp_path / "data" / "receipts").glob(f"{order_no}-*.escpos"))
    assert k.store.order(order_no).receipt_printed
    ui.screenshot(tmp_path / "result.png")
    tap(ui, "done")
    assert k.checkout.phase is Phase.IDLE


def test_phone_confirmation_and_decline(ui_for):
    k, ui = ui_for()
    tap(ui, "sim:scan")
    assert run_until(ui, lambda: k.checkout.cart)
    tap(ui, "sim:pay_decline")
    assert run_until(ui, lambda: k.checkout.notice and k.checkout.notice.key == "payment_declined")
    assert k.checkout.cart and k.checkout.phase is Phase.PAYMENT
    tap(ui, "sim:pay_confirm")
    assert run_until(ui, lambda: k.checkout.pay_step.value == "user_paying")
    assert ui.button_rect("cancel_payment") is not None
    assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT, 10)


def test_shopper_cancels_the_phone_confirmation(ui_for):
    k, ui = ui_for(sandbox={"user_paying_s": 60})
    tap(ui, "sim:scan")
    assert run_until(ui, lambda: k.checkout.cart)
    tap(ui, "sim:pay_confirm")
    assert run_until(ui, lambda: k.checkout.pay_step.value == "user_paying")
    tap(ui, "cancel_payment")
    assert run_until(ui, lambda: k.checkout.notice and k.checkout.notice.key == "payment_cancelled", 10)
    [p] = [dict(r) for r in k.store.conn().execute("SELECT state FROM payments")]
    assert p["state"] == "CANCELLED"


def test_language_button_switches_every_text(ui_for):
    k, ui = ui_for()
    ui.frame()
    zh = picture(ui)
    tap(ui, "language")  # the list, each language named in itself
    assert k.checkout.choosing_language and ui.button_rect("language:ko") is not None
    assert ui.button_rect("help") is None  # modal: nothing behind the list answers a touch
    tap(ui, "language:en")
    assert k.checkout.language == "en" and not k.checkout.choosing_language
    en = picture(ui)
    assert (zh != en).any(axis=2).mean() > 0.01
    for code, word in (("ja", "ヘルプ"), ("ko", "도움"), ("zh_TW", "幫助")):
        tap(ui, "language")
        tap(ui, f"language:{code}")
        assert on_screen(ui, word), code


@pytest.mark.parametrize("size", ["800x480", "1024x600", "1280x720", "720x1280"])
def test_every_screen_renders_at_every_size(ui_for, size, tmp_path):
    k, ui = ui_for(display={"size": size}, sandbox={"user_paying_s": 60})
    assert ui.surface.get_size() == tuple(int(v) for v in size.split("x"))
    for _ in range(12):  # more lines than fit: the list shows the newest
        k.panel.scan()
    assert run_until(ui, lambda: k.checkout.cart.totals().items == 12)
    tap(ui, "pay")
    tap(ui, "sim:pay_confirm")
    assert run_until(ui, lambda: k.checkout.pay_step.value == "user_paying")
    tap(ui, "help")
    assert k.checkout.help_open
    ui.screenshot(tmp_path / f"paying-help-{size}.png")
    tap(ui, "close_help")
    tap(ui, "cancel_payment")
    assert run_until(ui, lambda: not k.checkout.paying, 10)


def test_device_faults_show_on_screen_and_in_the_lights(ui_for):
    k, ui = ui_for(scanner={"type": "serial", "url": f"socket://127.0.0.1:{free_port()}"})
    assert run_until(ui, lambda: k.controller.devices.get("scanner", {}).get("ok") is False, 10)
    assert k.controller.light_state() == "fault"
    leds = k.signals.leds
    assert leds["fault"].is_lit and not leds["ready"].is_lit
    for _ in range(30):  # the loop keeps running while the scanner is away
        ui.frame()
    assert wait_until(lambda: any('"kind":"scanner_lost"' in r["payload"] for r in k.store.pending_outbox()), 5)


def test_help_button_on_gpio_raises_an_event(ui_for):
    k, ui = ui_for()
    ui.frame()
    k.signals.help_button.pin.drive_low()
    assert run_until(ui, lambda: k.checkout.help_open)
    assert k.controller.light_state() == "help"  # amber, flashing
    assert wait_until(
        lambda: any(r["topic"] == "events" and "help_pressed" in r["payload"] for r in k.store.pending_outbox()), 5
    )
    tap(ui, "close_help")
    assert not k.checkout.help_open


def test_idle_countdown_then_reset(ui_for):
    clock = FakeClock()
    k, ui = ui_for(clock=clock, kiosk={"idle_timeout_s": 30})
    tap(ui, "sim:scan")
    assert run_until(ui, lambda: k.checkout.cart)
    clock.t += 20
    ui.frame()
    assert k.checkout.idle_seconds_left(clock.t) == 10
    assert ui.button_rect("still_here") is not None  # the countdown banner is up
    tap(ui, "still_here")
    assert k.checkout.idle_seconds_left(clock.t) is None
    clock.t += 31
    ui.frame()
    assert k.checkout.phase is Phase.IDLE and not k.checkout.cart


def test_keyboard_wedge_typing_into_the_window(ui_for):
    k, ui = ui_for()
    for ch in "6901234000016":
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=ord(ch), unicode=ch, mod=0))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, unicode="\r", mod=0))
    assert run_until(ui, lambda: k.checkout.cart)
    assert k.checkout.cart.lines[0].product.barcode == "6901234000016"


def test_printer_out_shows_the_e_receipt_code(ui_for):
    k, ui = ui_for(printer={"type": "network", "port": free_port(), "timeout_s": 1})
    tap(ui, "sim:scan")
    assert run_until(ui, lambda: k.checkout.cart)
    tap(ui, "sim:pay_ok")
    assert run_until(ui, lambda: k.checkout.receipt == "failed", 15)
    order_no = k.checkout.order_no
    assert not k.store.order(order_no).receipt_printed
    assert k.controller.light_state() == "busy"
    assert any("printer_error" in r["payload"] for r in k.store.pending_outbox())


def test_camera_reads_products_only_when_no_scanner_is_fitted(ui_for):
    from hardware.camera import qr_image

    k, ui = ui_for(scanner={"type": "none"})
    k.panel.camera.show(qr_image("6901234000016"), seconds=0.5)
    assert run_until(ui, lambda: k.checkout.cart)
    k2, ui2 = ui_for()  # a scanner is fitted: the camera is for payment codes
    k2.panel.camera.show(qr_image("6901234000016"), seconds=0.5)
    assert wait_until(lambda: k2.camera.frames > 20, 5)
    for _ in range(10):
        ui2.frame()
    assert not k2.checkout.cart


def test_missing_font_stops_the_start_with_a_clear_message(tmp_path):
    from tests.conftest import kiosk_cli, write_config

    cfg = write_config(
        tmp_path / "k.toml",
        {"kiosk": {"data_dir": str(tmp_path)}, "display": {"font": "/nope.ttf"}, "mqtt": {"enabled": False}},
    )
    run = kiosk_cli("--config", str(cfg))
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == "cannot start: display.font: /nope.ttf does not exist"


def test_cart_line_buttons(ui_for):
    k, ui = ui_for()
    k.panel.scan("6901234000016")
    k.panel.scan("6901234000023")
    assert run_until(ui, lambda: k.checkout.cart.totals().items == 2)
    tap(ui, "plus:P001")
    tap(ui, "plus:P001")
    tap(ui, "minus:P001")
    assert [(ln.product.sku, ln.qty) for ln in k.checkout.cart.lines] == [("P001", 2), ("P002", 1)]
    tap(ui, "remove:P001")
    assert [ln.product.sku for ln in k.checkout.cart.lines] == ["P002"]
    rects = [b.rect for b in ui.painter.buttons]
    assert not any(a.colliderect(b) for i, a in enumerate(rects) for b in rects[i + 1 :])  # no overlapping targets


def overlaps(ui):
    """Texts that overlap a button they are not the label of (the label lies inside its button), another text
    (outside the simulator's own panel) or a product picture."""
    bad = []
    texts = ui.painter.texts
    for text, rect in texts:
        for b in ui.painter.buttons:
            if rect.colliderect(b.rect) and not b.rect.contains(rect) and b.name != "still_here":
                bad.append((text, b.name))
    sim_top = ui.surface.get_height() - (64 * ui.painter.scale if ui.controller.snapshot().sim_buttons else 0)
    for i, (text, rect) in enumerate(texts):
        for other, orect in texts[i + 1 :]:
            if rect.top < sim_top and rect.clip(orect).width > 1 and rect.clip(orect).height > 2:
                bad.append((text, other))
        bad += [(text, "a picture") for picture in ui.painter.pictures if rect.colliderect(picture)]
    return bad


@pytest.mark.parametrize("large_text", [False, True])
@pytest.mark.parametrize("size", ["800x480", "1024x600", "1280x720", "720x1280"])
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_no_text_hides_under_a_button(ui_for, size, language, large_text):
    k, ui = ui_for(display={"size": size}, sandbox={"user_paying_s": 60})
    k.checkout.set_language(language, k.clock())
    k.checkout.default_language = language
    k.checkout.large_text = large_text  # the shopper's A+ (this visit)
    ui.frame()
    assert overlaps(ui) == [], "welcome"
    for barcode in ("6901234000016", "6901234000092", "6901234000313"):
        k.panel.scan(barcode)
    assert run_until(ui, lambda: k.checkout.cart.totals().items == 3)
    assert overlaps(ui) == [], "cart"
    tap(ui, "pay")
    assert overlaps(ui) == [], "payment"
    from kiosk.checkout import Notice

    k.checkout.notice = Notice("code_used", error=True)  # the longest thing the payment screen says
    ui.frame()
    assert overlaps(ui) == [], "payment, with a notice"
    k.checkout.notice = None
    tap(ui, "sim:pay_confirm")
    assert run_until(ui, lambda: k.checkout.pay_step.value == "user_paying")
    assert overlaps(ui) == [], "confirm on phone"
    tap(ui, "cancel_payment")
    assert run_until(ui, lambda: not k.checkout.paying, 10)
    sign_in(ui, "1")
    assert overlaps(ui) == [], "staff keypad"
    k.controller.attendant.message = "locked"
    ui.frame()
    assert overlaps(ui) == [], "staff keypad with a message"
    k.controller.attendant.leave()
    sign_in(ui)
    assert overlaps(ui) == [], "staff menu"
    tap(ui, "reprint_scan")
    assert overlaps(ui) == [], "staff scan to reprint"
    tap(ui, "attendant_back")
    tap(ui, "attendant_exit")
    tap(ui, "back")
    k.panel.scan("6901234000184")  # beer: the age check's banner beside the totals
    assert run_until(ui, lambda: k.checkout.age_check_needed)
    assert overlaps(ui) == [], "cart waiting for an age check"
    sign_in(ui)
    assert overlaps(ui) == [], "staff menu with every cart tool"
    for pick, line in (("void_pick", "void_line:P001"), ("price_pick", "price_for:P009")):
        tap(ui, pick)
        assert overlaps(ui) == [] and ui.button_rect(line) is not None, pick
        tap(ui, "attendant_back")
    tap(ui, "price_pick")
    tap(ui, "price_for:P031")
    tap(ui, "price_reason:damaged")
    assert overlaps(ui) == [], "staff typing a price, with a message"


def events(k, kind):
    return [r for r in k.store.pending_outbox() if r["topic"] == "events" and f'"kind":"{kind}"' in r["payload"]]


def buy(ui, k, code_digit="1"):
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    k.panel.show_payment_code(code_digit)
    assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT and k.checkout.receipt in ("printed", "failed"), 15)
    return k.checkout.order_no


def sign_in(ui, pin="1234"):
    tap(ui, "help")
    tap(ui, "staff")
    for d in pin:
        tap(ui, f"key:{d}")
    tap(ui, "key:OK")


def test_paper_out_falls_back_to_the_e_receipt_then_an_attendant_reprints(ui_for, printer_listener):
    lp = printer_listener
    lp.paper_out = True
    k, ui = ui_for(printer={"type": "network", "port": lp.port, "timeout_s": 2})
    order_no = buy(ui, k)
    # the order is complete; the shopper is shown the e-receipt QR instead; amber light; head office is told
    assert k.checkout.receipt == "failed" and not k.store.order(order_no).receipt_printed
    assert on_screen(ui, "付款已成功，但小票未能打印。")
    assert k.controller.light_state() == "busy" and k.signals.leds["busy"].is_lit
    assert wait_until(lambda: events(k, "printer_paper_out"), 5)
    assert f'"order_no":"{order_no}"' in events(k, "printer_paper_out")[0]["payload"]
    # paper is back: staff reprint the receipt it missed
    lp.paper_out = False
    tap(ui, "done")
    sign_in(ui)
    assert k.controller.attendant.mode.value == "menu"
    tap(ui, "reprint_last")
    assert run_until(ui, lambda: k.store.order(order_no).receipt_printed, 10)
    assert run_until(ui, lambda: k.controller.attendant.message == "printed")
    assert any(code128(order_no) in job for job in lp.jobs)
    fates = lambda: [json.loads(r["payload"])["data"] for r in k.store.pending_outbox() if r["topic"] == "receipts"]  # noqa: E731
    assert wait_until(lambda: [f["outcome"] for f in fates()] == ["not_printed", "reprinted"], 5)
    assert fates()[0]["reason"] == "printer_paper_out"
    assert k.controller.light_state() == "busy"  # still in staff mode
    tap(ui, "attendant_exit")
    ui.frame()
    assert k.controller.light_state() == "ready"


def test_paper_near_end_prints_and_raises_one_alert(ui_for, printer_listener):
    lp = printer_listener
    lp.paper_near_end = True
    k, ui = ui_for(printer={"type": "network", "port": lp.port, "timeout_s": 2})
    buy(ui, k)
    assert k.checkout.receipt == "printed"
    tap(ui, "done")
    buy(ui, k)
    assert wait_until(lambda: len(events(k, "printer_paper_near_end")) == 1, 5)
    ui.frame()
    assert k.controller.light_state() == "busy"  # amber: attention


def test_staff_reprint_by_scanning_z_report_and_test_page(ui_for, printer_listener):
    lp = printer_listener
    k, ui = ui_for(printer={"type": "network", "port": lp.port, "timeout_s": 2})
    order_no = buy(ui, k)
    tap(ui, "done")
    sign_in(ui)
    tap(ui, "reprint_scan")
    assert k.controller.attendant.mode.value == "scan_reprint"
    k.panel.scan(order_no)  # the CODE128 on the receipt
    assert run_until(ui, lambda: len(lp.jobs) == 2 and k.controller.attendant.message == "printed", 10)
    assert code128(order_no) in lp.jobs[1]
    tap(ui, "reprint_scan")
    k.panel.scan("K01-000000-9999")
    assert run_until(ui, lambda: k.controller.attendant.message == "unknown_order")
    tap(ui, "z_report")
    assert run_until(ui, lambda: len(lp.jobs) == 3, 10)
    assert b"{BZ{C" + bytes([20, 26]) in lp.jobs[2]  # Z and the date, digits packed in code set C
    assert wait_until(lambda: events(k, "z_report"), 5)
    assert '"orders":1' in events(k, "z_report")[0]["payload"]
    tap(ui, "test_page")
    assert run_until(ui, lambda: len(lp.jobs) == 4, 10) and b"{BTEST-kiosk-01" in lp.jobs[3]
    assert k.checkout.cart.totals().items == 0  # nothing staff scanned went into a cart


def test_wrong_pins_lock_out_and_are_reported(ui_for):
    k, ui = ui_for()
    for _ in range(3):
        sign_in(ui, "9999")
        tap(ui, "attendant_exit")
    assert wait_until(lambda: len(events(k, "attendant_wrong_pin")) == 2 and events(k, "attendant_locked_out"), 5)
    sign_in(ui, "1234")
    assert k.controller.attendant.mode.value == "pin" and k.controller.attendant.message == "locked"


def test_no_staff_button_without_a_pin(ui_for):
    k, ui = ui_for(attendant={"pin_hash": ""})
    tap(ui, "help")
    assert ui.button_rect("staff") is None


@pytest.mark.parametrize("size", ["800x480", "720x1280"])
def test_scan_to_pay_on_screen(ui_for, size, tmp_path):
    from hardware.decoder import Decoder

    k, ui = ui_for(display={"size": size})
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    tap(ui, "pay")
    tap(ui, "scan_to_pay")
    assert run_until(ui, lambda: k.checkout.pay_step.value == "showing_qr")
    ui.frame()
    assert overlaps(ui) == []
    # the QR on screen is what the gateway made, readable by a phone's camera (our decoder stands in)
    shot = np.ascontiguousarray(pygame.surfarray.array3d(ui.surface).swapaxes(0, 1))
    assert k.checkout.qr_text in [s.text for s in Decoder().decode(shot)]
    assert any(t.startswith("4:") or t.startswith("1:") or "后失效" in t for t, _ in ui.painter.texts)
    tap(ui, "sim:wallet_scan")
    assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT, 10)
    # recorded under the wallet the gateway's QR is for (the sandbox's is an EMVCo code), never as "qr", so the
    # receipt names it (issue 13, defect 7)
    order = k.store.order(k.checkout.order_no)
    assert order.payment.channel == k.gateway.qr_channel == "emvco"
    paid_by = [b.right for b in sale_receipt(order, k.printing.settings).blocks if getattr(b, "left", "") == "支付方式"]
    assert paid_by == ["EMV"]


def test_scan_to_pay_cancelled_on_screen(ui_for):
    k, ui = ui_for()
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    tap(ui, "pay")
    tap(ui, "scan_to_pay")
    assert run_until(ui, lambda: k.checkout.pay_step.value == "showing_qr")
    tap(ui, "cancel_payment")
    assert run_until(ui, lambda: k.checkout.notice and k.checkout.notice.key == "payment_cancelled", 10)
    assert [r["state"] for r in k.store.conn().execute("SELECT state FROM payments")] == ["CANCELLED"]


def test_staff_refund_a_receipt_by_scanning_it(ui_for, printer_listener):
    lp = printer_listener
    k, ui = ui_for(printer={"type": "network", "port": lp.port, "timeout_s": 2})
    order_no = buy(ui, k)
    tap(ui, "done")
    sign_in(ui)
    tap(ui, "refund_scan")
    k.panel.scan(order_no)
    assert run_until(ui, lambda: k.controller.attendant.mode.value == "confirm_refund")
    assert k.controller.attendant.refund_amount == 200
    assert overlaps(ui) == []
    for key in ("5", "key_dot", "0"):  # staff type more than is left: refused, nothing sent
        tap(ui, "key:." if key == "key_dot" else f"key:{key}")
    tap(ui, "confirm_refund")
    assert k.controller.attendant.message == "amount_invalid" and k.controller.attendant.mode.value == "confirm_refund"
    tap(ui, "key:C")
    for key in ("1", ".", "5"):  # a partial refund of ¥1.50
        tap(ui, f"key:{key}")
    tap(ui, "confirm_refund")
    assert run_until(ui, lambda: k.controller.attendant.message == "refunded", 10)
    assert k.store.order(order_no).payment.state == "PARTIALLY_REFUNDED"
    assert run_until(ui, lambda: len(lp.jobs) == 2, 10)
    tap(ui, "refund_scan")
    k.panel.scan(order_no)
    assert run_until(ui, lambda: k.controller.attendant.mode.value == "confirm_refund")
    assert k.controller.attendant.refund_amount == 50  # what is left
    lp.jobs.clear()
    tap(ui, "confirm_refund")
    assert run_until(ui, lambda: k.controller.attendant.message == "refunded", 10)
    assert k.store.order(order_no).payment.state == "REFUNDED"
    assert run_until(ui, lambda: len(lp.jobs) == 1, 10)  # the second refund's slip
    assert code128(order_no) in lp.jobs[0]
    assert wait_until(lambda: events(k, "attendant_refund"), 5)
    tap(ui, "refund_scan")
    k.panel.scan(order_no)
    assert run_until(ui, lambda: k.controller.attendant.message == "nothing_to_refund")


def test_gateway_down_no_wallet_payments_until_it_is_back(ui_for, tmp_path):
    import tomllib

    from cryptography.hazmat.primitives.asymmetric import rsa

    from hardware.camera import qr_image
    from tests.fake_alipay import FakeAlipay
    from tests.test_alipay import alipay_config

    port = free_port()
    keys = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    alipay = tomllib.loads(alipay_config(tmp_path, keys, url=f"http://127.0.0.1:{port}/gateway.do").read_text())
    k, ui = ui_for(
        payment={"gateway": "alipay", "request_timeout_s": 1, "recovery_interval_s": 30}, alipay=alipay["alipay"]
    )
    assert run_until(ui, lambda: k.controller.devices.get("gateway", {}).get("ok") is False, 10)
    assert "支付暂不可用" in [t for t, _ in ui.painter.texts]  # the top bar says so
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    k.panel.camera.show(qr_image("281234567890123451"), 1)
    assert run_until(ui, lambda: k.checkout.notice and k.checkout.notice.key == "payments_unavailable", 10)
    assert k.store.open_payments() == [] and not k.store.conn().execute("SELECT 1 FROM payments").fetchone()
    fake = FakeAlipay(keys[0].public_key(), keys[1], port=port)  # the gateway is back
    try:
        assert run_until(ui, lambda: k.controller.devices["gateway"]["ok"] is True, 15)
        assert k.checkout.payments_available
    finally:
        fake.close()


def test_back_office_work_never_holds_up_a_shopper(ui_for, monkeypatch):
    """A slow reconciliation from head office runs beside the shopper's payment, not in front of it."""
    import threading as th

    k, ui = ui_for()
    started, release = th.Event(), th.Event()

    def slow_statement(day):
        started.set()
        release.wait(10)
        return []

    monkeypatch.setattr(k.gateway, "statement", slow_statement)
    assert k.commands.handle("reconcile", {"date": "2026-11-24"}, "z9") is None
    assert started.wait(5)
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    k.panel.show_payment_code("1")
    try:
        assert run_until(ui, lambda: k.checkout.phase is Phase.RESULT, 5)
    finally:
        release.set()


@pytest.mark.parametrize("size", ["800x480", "1024x600", "1280x720", "720x1280"])
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_out_of_service_and_paid_but_not_recorded_screens(ui_for, size, language, tmp_path):
    from kiosk.checkout import Outcome
    from kiosk.payments.driver import Result
    from kiosk.services.events import PaymentDone

    k, ui = ui_for(display={"size": size})
    k.recovery.min_free_bytes = 2**62  # the disk stays too full: recovery keeps it out of service
    co = k.checkout
    co.set_language(language, k.clock())
    co.default_language = language
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: co.cart.totals().items == 1)
    # the gateway took the money, the disk refused the order: the worker's result, through the UI thread's queue
    k.events.put(PaymentDone(Result(Outcome.PAID, "K01X", reason="NOT_RECORDED", settled=False)))
    assert run_until(ui, lambda: co.phase is Phase.RESULT)
    shown = [t for t, _ in ui.painter.texts]
    assert tr(language, "Please wait here: staff will bring your receipt.") in shown
    assert overlaps(ui) == [], "paid, not recorded"
    ui.screenshot(tmp_path / "paid-not-recorded.png")
    co.tap_start_over(k.clock())
    ui.frame()
    assert tr(language, "Out of service") in [t for t, _ in ui.painter.texts]
    assert not any(b.name == "pay" for b in ui.painter.buttons) and overlaps(ui) == []
    k.panel.scan("6901234000016")  # nothing can be bought meanwhile
    assert run_until(ui, lambda: co.notice is not None and co.notice.key == "out_of_service")
    assert not co.cart


def test_head_office_lock_and_settings_reach_the_screen(ui_for):
    from kiosk.services.events import LockChanged, SettingsChanged

    k, ui = ui_for(kiosk={"default_language": "en"})
    k.events.put(LockChanged("till audit"))
    ui.frame()
    assert "Out of service" in [t for t, _ in ui.painter.texts]
    assert k.controller.light_state() == "fault" and "till audit" in k.controller.out_of_service
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.notice is not None and k.checkout.notice.key == "out_of_service")
    assert not k.checkout.cart  # nothing can be sold meanwhile
    k.events.put(LockChanged(None))
    k.events.put(SettingsChanged({"idle_timeout_s": 45.0, "default_language": "zh_CN"}))
    ui.frame()
    assert k.controller.out_of_service is None and k.controller.light_state() == "ready"
    assert k.checkout.idle_timeout_s == 45.0 and k.checkout.language == "zh_CN"  # on the welcome screen: at once


def test_the_help_box_is_modal(ui_for):
    """Issue 13, defect 2: taps on the dimmed cart behind the help box do nothing."""
    k, ui = ui_for(attendant={"pin_hash": ""})
    k.panel.scan("6901234000016")
    assert run_until(ui, lambda: k.checkout.cart)
    ui.frame()
    plus, start_over = ui.button_rect("plus:P001"), ui.button_rect("start_over")
    tap(ui, "help")
    for rect in (plus, start_over):
        ui.click(rect.center)
        ui.frame()
    assert k.checkout.cart.totals().items == 1 and k.checkout.help_open
    assert {b.name for b in ui.painter.buttons} == {"close_help"}
    tap(ui, "close_help")
    ui.click(ui.button_rect("plus:P001").center)
    assert k.checkout.cart.totals().items == 2
