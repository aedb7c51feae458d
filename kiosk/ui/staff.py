"""The attendant's screens: PIN keypad, menu, scan a receipt, confirm a refund amount, take a cart line off,
change a price (with a reason), approve an age check.

Like the shopper's screens they draw the `View` and give every button an
`Action`; `Screens` (kiosk/ui/screens.py) mixes them in.
"""

from __future__ import annotations

import pygame

from kiosk.attendant import Mode
from kiosk.checkout import PRICE_REASONS, Phase
from kiosk.money import format_money
from kiosk.runtime.view import Action, LineView
from kiosk.ui import theme
from kiosk.ui.base import ScreenBase
from kiosk.ui.texts import ATTENDANT_TEXT, JOB_FAILED, PRICE_REASON_TEXT


class StaffScreens(ScreenBase):
    def _attendant(self, body: pygame.Rect) -> None:
        p, a = self.p, self.view.attendant
        cx = body.centerx
        own = {
            Mode.PIN: self._keypad,
            Mode.CONFIRM_REFUND: self._refund_amount,
            Mode.VOID: self._line_picker,
            Mode.PRICE_PICK: self._line_picker,
            Mode.PRICE_ENTRY: self._price_entry,
        }.get(a.mode)
        if own is not None:  # screens that say their own messages where they fit
            own(body)
            return
        if a.message:
            colour = theme.PRIMARY if a.message in ("printed", "refunded", "refunding") else theme.DANGER
            p.text(self._(ATTENDANT_TEXT.get(a.message, a.message)), (cx, body.top + 28), 24, colour, anchor="center")
        elif self.view.failure and a.mode is Mode.MENU:  # what failed in the background, until staff leave
            failed = self._(JOB_FAILED, what=self.view.failure)
            p.text(failed, (cx, body.top + 28), 22, theme.DANGER, anchor="center", max_width=self.w - 40)
        if a.mode in (Mode.SCAN_REPRINT, Mode.SCAN_REFUND):
            prompt = (
                "Scan the barcode on the receipt"
                if a.mode is Mode.SCAN_REPRINT
                else "Scan the barcode on the receipt to refund"
            )
            p.text(self._(prompt), (cx, body.top + 120), 32, anchor="center", max_width=self.w - 40)
            p.button(
                pygame.Rect(cx - 100, body.bottom - 80, 200, 60),
                self._("Back"),
                Action("attendant_back"),
                "attendant_back",
            )
            return
        v = self.view
        items = []
        if v.age_check_needed:
            items += [("Approve age check", "approve_age"), ("Take off age-restricted items", "decline_age")]
        if v.lines and v.phase is Phase.CART and not v.online_order and not v.paying:
            items += [("Take an item off", "void_pick"), ("Change a price", "price_pick")]
        items += [
            ("Reprint last receipt", "reprint_last"),
            ("Reprint a receipt by scanning it", "reprint_scan"),
            ("Refund a receipt by scanning it", "refund_scan"),
            ("End-of-day report (Z)", "z_report"),
            ("Printer test page", "test_page"),
            ("Exit staff mode", "attendant_exit"),
        ]
        # one column of large buttons where they fit, else two columns (a third where two do not)
        cols = next(c for c in (1, 2, 3) if -(-len(items) // c) * (theme.TOUCH + 8) <= body.height - 60 or c == 3)
        rows = -(-len(items) // cols)
        bh = max(theme.TOUCH, min(64, (body.height - 60) // rows - 8))
        bw = 440 if cols == 1 else min(360, (self.w - 20 - cols * 12) // cols)
        left = cx - (cols * bw + (cols - 1) * 12) // 2
        for n, (label, name) in enumerate(items):
            exit_ = name == "attendant_exit"
            row, col = n % rows, n // rows
            r = pygame.Rect(left + col * (bw + 12), body.top + 52 + row * (bh + 8), bw, bh)
            p.button(
                r,
                self._(label),
                Action(name),
                name,
                size=24,
                fill=theme.WARN if exit_ else theme.SECONDARY,
                ink=theme.ON_WARN if exit_ else theme.INK,
            )

    def _line_picker(self, body: pygame.Rect) -> None:
        """The cart's lines for staff: take one (or one of it) off, or pick the one whose price changes."""
        p, v = self.p, self.view
        void = v.attendant.mode is Mode.VOID
        prompt = "Which item comes off?" if void else "Which item's price changes?"
        p.text(self._(prompt), (theme.PAD, body.top + 28), 24, anchor="midleft", max_width=self.w - 200)
        p.button(
            pygame.Rect(self.w - theme.PAD - 150, body.top + 4, 150, theme.TOUCH),
            self._("Back"),
            Action("attendant_back"),
            "attendant_back",
        )
        area = pygame.Rect(body.left, body.top + 56, body.width, body.height - 56)
        for row, ln in self._line_rows(area, v.cart_top or 0):
            self._picker_line(row, ln, void)

    def _picker_line(self, r: pygame.Rect, ln: LineView, void: bool) -> None:
        p, cur = self.p, self.view.currency
        p.fill_rect(theme.PANEL, r, radius=8)
        right = r.right - 4
        if void:
            off = pygame.Rect(right - 150, r.top + 3, 150, 48)
            p.button(
                off,
                self._("Take off"),
                Action("void_line", ln.sku),
                f"void_line:{ln.sku}",
                size=20,
                fill=theme.DANGER,
                ink=theme.PRIMARY_INK,
            )
            if ln.qty > 1:
                one = pygame.Rect(off.left - 8 - 80, r.top + 3, 80, 48)
                p.button(one, "−1", Action("void_one", ln.sku), f"void_one:{ln.sku}", size=24)
                right = one.left - 8
            else:
                right = off.left - 8
        else:
            change = pygame.Rect(right - 150, r.top + 3, 150, 48)
            p.button(change, self._("Change"), Action("price_for", ln.sku), f"price_for:{ln.sku}", size=20)
            right = change.left - 8
        amount = p.text(format_money(ln.amount, cur), (right - 4, r.centery), 22, anchor="midright")
        qty = p.text(f"×{ln.qty}", (amount.left - 12, r.centery), 22, theme.MUTED, anchor="midright")
        p.two_lines(ln.name, (r.left + 12, r.centery), qty.left - r.left - 24, r.height - 4, 20)

    def _price_entry(self, body: pygame.Rect) -> None:
        """Staff type the new unit price, then tap why (the reason sets it)."""
        p, v, a = self.p, self.view, self.view.attendant
        cur = v.currency
        line = next((ln for ln in v.lines if ln.sku == a.price_sku), None)
        x = body.centerx - 230
        if line is not None:
            p.two_lines(line.name, (x, body.top + 36), 160, 60, 20, anchor="midleft")
            was = format_money(line.unit_price, cur)
            p.text(self._("Now {amount}", amount=was), (x, body.top + 80), 18, theme.MUTED, max_width=160)
        p.text(self._("New price"), (x, body.top + 110), 22)
        shown = format_money(a.new_price, cur) if a.new_price is not None else a.price_entry
        p.text(shown, (x, body.top + 140), 32, max_width=160)
        if a.message:
            p.paragraph(self._(ATTENDANT_TEXT.get(a.message, a.message)), (x, body.top + 190), 18, theme.DANGER, 160)
        self._digit_keys(body, ".")
        keys_right = body.centerx - 60 + 3 * self._key_size(body) + 2 * 8
        left = keys_right + 16
        width = max(theme.TOUCH, self.w - theme.PAD - left)
        p.text(self._("Why?"), (left, body.top + 6), 18, theme.MUTED)
        for n, reason in enumerate(PRICE_REASONS):
            r = pygame.Rect(left, body.top + 42 + n * 64, width, 56)
            p.button(
                r,
                self._(PRICE_REASON_TEXT[reason]),
                Action("price_reason", reason),
                f"price_reason:{reason}",
                size=20,
                fill=theme.PRIMARY,
                ink=theme.PRIMARY_INK,
            )
        p.button(
            pygame.Rect(x, body.bottom - 70, 150, 56),
            self._("Back"),
            Action("attendant_back"),
            "attendant_back",
        )

    def _key_size(self, body: pygame.Rect) -> int:
        return max(theme.TOUCH, min(64, (body.height - 16) // 4 - 8))

    def _refund_amount(self, body: pygame.Rect) -> None:
        """Staff confirm, or type, how much of the scanned order goes back."""
        p, a = self.p, self.view.attendant
        cur = self.view.currency
        x = body.centerx - 230
        amount = a.refund_amount
        shown = format_money(amount, cur) if amount is not None else a.refund_entry
        p.text(self._("Order {order_no}", order_no=a.refund_order), (x, body.top + 30), 18, theme.MUTED, max_width=160)
        p.text(self._("Refund"), (x, body.top + 70), 24)
        p.text(shown, (x, body.top + 102), 36, theme.DANGER if amount is None else theme.INK, max_width=160)
        p.text(
            self._("At most {amount}", amount=format_money(a.refund_left, cur)),
            (x, body.top + 150),
            18,
            theme.MUTED,
            max_width=160,
        )
        if a.message:
            p.paragraph(
                self._(ATTENDANT_TEXT.get(a.message, a.message)), (x, body.top + 180), 18, theme.DANGER, width=160
            )
        self._digit_keys(body, ".")
        p.button(
            pygame.Rect(x, body.bottom - 70, 76, 56),
            self._("Back"),
            Action("attendant_back"),
            "attendant_back",
        )
        p.button(
            pygame.Rect(x + 84, body.bottom - 70, 80, 56),
            self._("Refund"),
            Action("confirm_refund"),
            "confirm_refund",
            fill=theme.DANGER,
            ink=theme.PRIMARY_INK,
        )

    def _digit_keys(self, body: pygame.Rect, extra: str) -> None:
        """0-9, C and `extra` ("OK" submits a PIN, "." types an amount) in a 3x4 grid right of centre."""
        p = self.p
        gap = 8
        size = self._key_size(body)
        left, top = body.centerx - 60, body.top + 8
        for n, key in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", extra]):
            r = pygame.Rect(left + (n % 3) * (size + gap), top + (n // 3) * (size + gap), size, size)
            if key == "C":
                action = Action("clear")
            elif key == "OK":
                action = Action("submit_pin")
            else:
                action = Action("key", key)
            ok = key == "OK"
            p.button(
                r,
                key,
                action,
                f"key:{key}",
                size=28,
                fill=theme.PRIMARY if ok else theme.SECONDARY,
                ink=theme.PRIMARY_INK if ok else theme.INK,
            )

    def _keypad(self, body: pygame.Rect) -> None:
        p, a = self.p, self.view.attendant
        cx = body.centerx
        p.text(self._("Staff PIN"), (cx - 230, body.top + 60), 24, theme.MUTED, anchor="midleft")
        p.text("●" * a.pin_digits, (cx - 230, body.top + 100), 28, anchor="midleft")
        if a.message:
            said = self._(ATTENDANT_TEXT.get(a.message, a.message))
            if a.message == "wrong_pin":  # how many tries before the keypad locks
                said = self._n("Wrong PIN: {n} try left", "Wrong PIN: {n} tries left", a.tries_left, n=a.tries_left)
            room = body.bottom - 70 - 8 - (body.top + 140)  # down to the Cancel button
            p.paragraph(
                said,
                (cx - 230, body.top + 140),
                20,
                theme.DANGER,
                width=160,
                max_lines=max(1, int(room // p.line_height(20))),
            )
        self._digit_keys(body, "OK")
        p.button(
            pygame.Rect(cx - 230, body.bottom - 70, 150, 56),
            self._("Cancel"),
            Action("attendant_exit"),
            "attendant_exit",
        )
