"""`python -m kiosk.ui.screenshots OUTDIR [SIZE]`: render every screen, in every language, to PNG.

For the README, translators and layout reviews.  Runs headless on the simulator.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from kiosk import use_headless_drivers

use_headless_drivers()


def main(argv: list[str]) -> int:
    from kiosk.checkout import Outcome, PayStep
    from kiosk.config import Config, replace
    from kiosk.runtime.wiring import Runtime
    from kiosk.ui.loop import UI

    if not argv:
        print("usage: python -m kiosk.ui.screenshots OUTDIR [SIZE]", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    size = argv[1] if len(argv) > 1 else "800x480"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = replace(
            Config(),
            kiosk={"data_dir": tmp},
            mqtt={"enabled": False},
            display={"size": size},
            gpio={"pin_factory": "mock"},
        )
        k = Runtime(cfg)
        ui = UI(k)
        co = k.checkout
        for lang in ("zh_CN", "en"):
            co.tap_done(0)
            co.set_language(lang, 0)
            co.last_activity = float("inf")  # no idle countdown in the pictures
            for barcode in ("6901234000016", "6901234000054", "6901234000078", "6901234000016"):
                co.scan(barcode, 0)
            co.last_activity = float("inf")
            ui.frame()
            ui.screenshot(out / f"cart-{lang}.png")
            now = k.clock()  # Undo is offered for a while from now
            co.tap_remove("P005", now)
            co.last_activity = float("inf")
            ui.frame()
            ui.screenshot(out / f"removed-undo-{lang}.png")
            co.tap_undo(now)
            co.tap_start_over(now)
            co.last_activity = float("inf")
            ui.frame()
            ui.screenshot(out / f"start-over-{lang}.png")
            co.keep_shopping(now)
            co.toggle_contrast(now)
            co.last_activity = float("inf")
            ui.frame()
            ui.screenshot(out / f"cart-high-contrast-{lang}.png")
            co.toggle_contrast(now)
            co.last_activity = float("inf")
            co.tap_pay(float("inf"))
            ui.frame()
            ui.screenshot(out / f"payment-{lang}.png")
            co.tap_scan_to_pay(float("inf"))
            co.qr_ready(k.gateway.precreate("K0126112400000042", co.totals().total, "demo").qr, k.clock() + 119.5)
            ui.frame()
            ui.screenshot(out / f"scan-to-pay-{lang}.png")
            co.payment_finished(Outcome.CANCELLED, float("inf"))
            co.scan("281234567890123457", float("inf"))
            co.payment_progress(PayStep.USER_PAYING)
            ui.frame()
            ui.screenshot(out / f"confirm-on-phone-{lang}.png")
            co.payment_finished(Outcome.PAID, float("inf"), order=demo_order(k))
            co.receipt_done(co.order_no or "", True)
            ui.frame()
            ui.screenshot(out / f"paid-{lang}.png")
            co.tap_done(0)
            co.set_language(lang, 0)
            co.scan("6901234000016", float("inf"))
            co.scan("281234567890123451", float("inf"))
            co.payment_finished(Outcome.PAID, float("inf"), order=demo_order(k))
            co.receipt_done(co.order_no or "", False)  # no paper receipt: the e-receipt code instead
            ui.frame()
            ui.screenshot(out / f"paid-e-receipt-{lang}.png")
            co.tap_done(0)
            co.set_language(lang, 0)
            co.last_activity = float("inf")
            ui.frame()
            ui.screenshot(out / f"welcome-{lang}.png")
        ui.close()
    print(f"screens written to {out}")
    return 0


def demo_order(k):
    """A paid order in the screenshot kiosk's own (temporary) store, for the result screen."""
    from kiosk.cart import Cart
    from kiosk.catalog import DEMO_PRODUCTS

    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    otn = k.store.begin_payment(
        gateway="sandbox",
        channel="alipay",
        code_masked="2812********3451",
        lines=cart.snapshot(),
        totals=cart.totals(),
        language="en",
    )
    return k.store.complete_payment(otn, trade_id="2026112422001400001234567890")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
