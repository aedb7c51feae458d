"""`python -m kiosk.ui.screenshots OUTDIR [SIZE]`: render every screen, in every language, to PNG (the README's
pictures are docs/screens, made by `python -m kiosk.ui.screenshots docs/screens`).

For the README, translators and layout reviews.  Runs headless on the simulator.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from kiosk import use_headless_drivers

use_headless_drivers()


def main(argv: list[str]) -> int:
    from PIL import Image

    from kiosk.attendant import Mode
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
            kiosk={"data_dir": tmp, "bag_barcode": "6901234000320"},
            mqtt={"enabled": False},
            display={"size": size},
            gpio={"pin_factory": "mock"},
            sound={"enabled": False},
        )
        k = Runtime(cfg)
        ui = UI(k)
        co = k.checkout
        from kiosk.i18n import LANGUAGES

        def shot(name: str, lang: str) -> None:
            for _ in range(80):  # the look-up worker's page and the pictures first, if they are asked for
                ui.frame()
                lu = k.controller.snapshot().look_up
                if (lu is None or not lu.loading) and not ui.screens.pictures.pending:
                    break
                time.sleep(0.02)
            ui.frame()
            path = out / f"{name}-{lang}.png"
            ui.screenshot(path)
            small = Image.open(path).convert("RGB").quantize(64, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            small.save(path, optimize=True)  # a third of the size, the same to the eye (flat colours, clear text)

        def tap(button: str) -> None:
            ui.frame()
            rect = ui.button_rect(button)
            assert rect is not None, f"no {button} on screen"
            ui.click(rect.center)

        for lang in LANGUAGES:
            co.tap_done(0)
            co.set_language(lang, 0)
            co.last_activity = float("inf")  # no idle countdown in the pictures
            shot("welcome", lang)
            for barcode in ("6901234000016", "6901234000054", "6901234000078", "6901234000016"):
                co.scan(barcode, 0)
            co.last_activity = float("inf")
            shot("cart", lang)
            tap("look_up:browse")
            co.last_activity = float("inf")
            shot("look-up", lang)
            tap("look_up_category:drinks")
            co.last_activity = float("inf")
            shot("look-up-drinks", lang)
            tap("look_up_tab:search")
            for key in "nn":
                tap(f"look_up_key:{key}")
            co.last_activity = float("inf")
            shot("look-up-search", lang)
            tap("look_up_tab:code")
            for key in "690123400003":
                tap(f"look_up_key:{key}")
            co.last_activity = float("inf")
            shot("type-barcode", lang)
            tap("look_up_close")
            now = k.clock()  # Undo is offered for a while from now
            co.tap_remove("P005", now)
            co.last_activity = float("inf")
            shot("removed-undo", lang)
            co.tap_undo(now)
            co.tap_start_over(now)
            co.last_activity = float("inf")
            shot("start-over", lang)
            co.keep_shopping(now)
            co.toggle_contrast(now)
            co.last_activity = float("inf")
            shot("cart-high-contrast", lang)
            co.toggle_contrast(now)
            co.toggle_large_text(now)
            co.last_activity = float("inf")
            shot("cart-large-text", lang)
            co.toggle_large_text(now)
            co.choose_language(now)
            co.last_activity = float("inf")
            shot("languages", lang)
            co.choose_language(now, open_=False)
            co.scan("6901234000184", now)  # beer: staff check the shopper's age
            co.last_activity = float("inf")
            shot("age-check", lang)
            k.controller.attendant.sign_in_badge("li-na", now)
            shot("staff-menu", lang)
            k.controller.attendant.pick(Mode.PRICE_PICK, now)
            k.controller.attendant.price_for("P001", now)
            for key in "1.5":
                k.controller.attendant.key(key, now)
            shot("staff-price", lang)
            k.controller.attendant.leave()
            co.approve_age(now)
            co.tap_pay(float("inf"))
            shot("payment", lang)
            co.tap_scan_to_pay(float("inf"))
            co.qr_ready(k.gateway.precreate("K0126112400000042", co.totals().total, "demo").qr, k.clock() + 119.5)
            shot("scan-to-pay", lang)
            co.payment_finished(Outcome.CANCELLED, float("inf"))
            co.scan("281234567890123457", float("inf"))
            co.payment_progress(PayStep.USER_PAYING)
            shot("confirm-on-phone", lang)
            co.payment_finished(Outcome.PAID, float("inf"), order=demo_order(k))
            co.receipt_done(co.order_no or "", True)
            shot("paid", lang)
            co.tap_done(0)
            co.set_language(lang, 0)
            co.scan("6901234000016", float("inf"))
            co.scan("281234567890123451", float("inf"))
            co.payment_finished(Outcome.PAID, float("inf"), order=demo_order(k))
            co.receipt_done(co.order_no or "", False)  # no paper receipt: the e-receipt code instead
            shot("paid-e-receipt", lang)
            co.tap_done(0)
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
