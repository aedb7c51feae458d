"""The attendant's screens: PIN keypad, menu, scan a receipt, confirm a refund amount.

Like the shopper's screens they draw the `View` and give every button an
`Action`; `Screens` (kiosk/ui/screens.py) mixes them in.
"""

from __future__ import annotations

import pygame

from kiosk.attendant import Mode
from kiosk.money import format_money
from kiosk.runtime.view import Action
from kiosk.ui import theme
from kiosk.ui.base import ScreenBase
from kiosk.ui.texts import ATTENDANT_TEXT, JOB_FAILED


class StaffScreens(ScreenBase):
    def _attendant(self, body: pygame.Rect) -> None:
        p, a = self.p, self.view.attendant
        cx = body.centerx
        if a.mode is Mode.PIN:
            self._keypad(body)
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
        if a.mode is Mode.CONFIRM_REFUND:
            self._refund_amount(body)
            return
        items = [
            ("Reprint last receipt", "reprint_last"),
            ("Reprint a receipt by scanning it", "reprint_scan"),
            ("Refund a receipt by scanning it", "refund_scan"),
            ("End-of-day report (Z)", "z_report"),
            ("Printer test page", "test_page"),
            ("Exit staff mode", "attendant_exit"),
        ]
        # one column of large buttons where they fit, else two columns
        cols = 1 if len(items) * (theme.TOUCH + 8) <= body.height - 60 else 2
        rows = -(-len(items) // cols)
        bh = max(theme.TOUCH, min(64, (body.height - 60) // rows - 8))
        bw = 440 if cols == 1 else min(360, (self.w - 60) // 2)
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
        size = max(theme.TOUCH, min(64, (body.height - 16) // 4 - gap))
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
            p.paragraph(
                said,
                (cx - 230, body.top + 140),
                20,
                theme.DANGER,
                width=160,
            )
        self._digit_keys(body, "OK")
        p.button(
            pygame.Rect(cx - 230, body.bottom - 70, 150, 56),
            self._("Cancel"),
            Action("attendant_exit"),
            "attendant_exit",
        )
