"""What each touch does: the table from an Action's name to the domain call it stands for.

Mixed into the Controller (kiosk.runtime.controller), which runs the effects
the call returns.  The shopper's buttons go to the Checkout, the staff's to the
Attendant and the services (printing, refunds), the simulator's to its panel.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.attendant import Attendant, Mode
from kiosk.cart import MAX_QTY
from kiosk.checkout import Checkout, Effect
from kiosk.i18n import LANGUAGES
from kiosk.runtime.ports import Wiring


class Actions:
    checkout: Checkout
    attendant: Attendant
    w: Wiring
    failed: object
    run_effects: Callable[[list[Effect]], None]
    cart_scroll: tuple[int, int] | None  # (first line shown, the cart change it was chosen at)

    def _action_table(self) -> dict[str, Callable[[str, float], list[Effect] | None]]:
        co, a = self.checkout, self.attendant
        return {
            # the shopper
            "help": lambda _, now: co.open_help(now),
            "close_help": lambda _, now: co.close_help(now),
            "languages": lambda _, now: co.choose_language(now),
            "close_languages": lambda _, now: co.choose_language(now, open_=False),
            "language": lambda lang, now: co.set_language(lang, now) if lang in LANGUAGES else None,
            "plus": lambda sku, now: co.tap_plus(sku, now),
            "minus": lambda sku, now: co.tap_minus(sku, now),
            "remove": lambda sku, now: co.tap_remove(sku, now),
            "pay": lambda _, now: co.tap_pay(now),
            "back": lambda _, now: co.tap_back(now),
            "scan_to_pay": lambda _, now: co.tap_scan_to_pay(now),
            "cancel_payment": lambda _, now: co.tap_cancel_payment(now),
            "start_over": lambda _, now: co.tap_start_over(now),
            "confirm_start_over": lambda _, now: co.confirm_start_over(now),
            "keep_shopping": lambda _, now: co.keep_shopping(now),
            "undo": lambda _, now: co.tap_undo(now),
            "paper_receipt": lambda _, now: co.toggle_paper_receipt(now),
            "contrast": lambda _, now: co.toggle_contrast(now),
            "large_text": lambda _, now: co.toggle_large_text(now),
            "done": lambda _, now: co.tap_done(now),
            "look_up": lambda tab, now: co.open_look_up(now, tab or "browse"),
            "look_up_close": lambda _, now: co.close_look_up(now),
            "look_up_tab": lambda tab, now: co.look_up_tab(tab, now),
            "look_up_category": lambda name, now: co.look_up_category(name, now),
            "look_up_categories": lambda _, now: co.look_up_category(None, now),
            "look_up_page": lambda page, now: co.look_up_page(int(page), now),
            "look_up_key": lambda key, now: co.look_up_key(key, now),
            "look_up_add": lambda barcode, now: co.add_looked_up(co.catalog.get(barcode), now),
            "look_up_code_ok": lambda _, now: co.submit_typed_code(now),
            "bag": lambda _, now: co.add_bag(co.catalog.get(self.w.bag_barcode) if self.w.bag_barcode else None, now),
            "scroll": self._scroll,
            "still_here": lambda _, now: co.touch(now),
            # staff
            "staff": self._staff,
            "key": lambda digit, now: a.key(digit, now),
            "clear": lambda _, now: a.clear(now),
            "submit_pin": self._submit_pin,
            "attendant_back": lambda _, now: a.back_to_menu(now),
            "attendant_exit": self._leave_attendant,
            "reprint_last": lambda _, now: self.w.printing.reprint(None),
            "reprint_scan": lambda _, now: a.scan_to_reprint(now),
            "refund_scan": lambda _, now: a.scan_to_refund(now),
            "confirm_refund": self._confirm_refund,
            "approve_age": self._approve_age,
            "decline_age": lambda _, now: self._staff_change(co.decline_age(now), now),
            "void_pick": lambda _, now: a.pick(Mode.VOID, now),
            "void_one": lambda sku, now: co.staff_void(sku, 1, now),
            "void_line": lambda sku, now: co.staff_void(sku, MAX_QTY, now),
            "price_pick": lambda _, now: a.pick(Mode.PRICE_PICK, now),
            "price_for": lambda sku, now: a.price_for(sku, now),
            "price_reason": self._price_reason,
            "z_report": lambda _, now: self.w.printing.z_report(co.language),
            "test_page": lambda _, now: self.w.printing.test_page(),
            # the simulator's panel
            "sim": lambda name, now: self.w.press_sim(name) if self.w.press_sim else None,
            "sim_type": lambda text, now: self.w.type_sim(text) if self.w.type_sim else None,
        }

    def _scroll(self, top: str, now: float) -> None:
        """The shopper scrolled the cart: `top` is the first line to show (until the cart changes again)."""
        self.checkout.touch(now)
        self.cart_scroll = (int(top), self.checkout.changed.seq if self.checkout.changed else 0)

    def _staff(self, _: str, now: float) -> None:
        self.checkout.close_help(now)
        self.attendant.open_keypad(now)

    def _submit_pin(self, _: str, now: float) -> None:
        a = self.attendant
        if a.submit(now):
            kind = "attendant_signed_in"
        else:
            kind = "attendant_locked_out" if a.message == "locked" else "attendant_wrong_pin"
        self.w.save_lockout(a.failures, time.time() + max(0.0, a.locked_until - now))
        self.w.record(kind)

    def _leave_attendant(self, _: str, now: float) -> None:
        if self.attendant.mode is not Mode.PIN:
            self.failed = None  # staff were signed in: they have seen what failed
        self.attendant.leave()

    def _approve_age(self, _: str, now: float) -> list[Effect]:
        """Staff checked the shopper's age: approved, and staff mode closes so the shopper can pay."""
        effects = self.checkout.approve_age(now)
        self.run_effects(effects)  # recorded while the attendant is still signed in (who approved)
        if effects:
            self.attendant.leave()
        return []

    def _staff_change(self, effects: list[Effect], now: float) -> list[Effect]:
        self.attendant.back_to_menu(now)
        return effects

    def _price_reason(self, reason: str, now: float) -> list[Effect]:
        """Staff chose why: the typed price is set on the line, or they are told the amount is not valid."""
        a = self.attendant
        price = a.new_price
        if price is None:
            a.message = "price_invalid"
            return []
        effects = self.checkout.staff_price(a.price_sku, price, reason, now)
        a.back_to_menu(now)
        a.message = "repriced" if effects else ""
        return effects

    def _confirm_refund(self, _: str, now: float) -> None:
        """Staff confirmed: refund what they typed (or all that is left) of the scanned order."""
        a = self.attendant
        order_no, amount = a.refund_order, a.refund_amount
        if amount is None:
            a.message = "amount_invalid"
            return
        a.back_to_menu(now)
        a.message = "refunding"
        self.w.refunds.by_attendant(order_no, amount)
