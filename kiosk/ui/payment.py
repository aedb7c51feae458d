"""The payment screens: waiting for a wallet code, the kiosk's QR for the wallet to scan, paying, paid."""

from __future__ import annotations

import pygame

from kiosk.checkout import PayStep
from kiosk.money import format_money
from kiosk.runtime.view import Action
from kiosk.ui import theme
from kiosk.ui.base import ScreenBase
from kiosk.ui.texts import E_RECEIPT, E_RECEIPT_CHOSEN, NOTICES, RECEIPT_TEXT, STEP_TEXT


class PaymentScreens(ScreenBase):
    def _payment(self, body: pygame.Rect) -> None:
        p, co = self.p, self.view
        total = format_money(co.totals.total, co.currency)
        cx = body.centerx
        p.text(self._("Pay {amount}", amount=total), (cx, body.top + 50), 48, anchor="center")
        step = co.pay_step
        if step is PayStep.WAITING_CODE:
            p.text(
                self._("Hold your payment code to the camera"),
                (cx, body.top + 130),
                32,
                anchor="center",
                max_width=self.w - 40,
            )
            if co.notice is None:
                p.text(self._("Alipay · WeChat Pay · UnionPay"), (cx, body.top + 180), 22, theme.MUTED, anchor="center")
            else:  # what just happened matters more than the list of wallets
                self._notice(co.notice, (cx, body.top + 180), anchor="center")
            wanted = "Paper receipt: yes" if co.paper_receipt else "Paper receipt: no, e-receipt only"
            p.button(
                pygame.Rect(cx - 200, body.bottom - 148, 400, 52),
                self._(wanted),
                Action("paper_receipt"),
                "paper_receipt",
                size=22,
            )
            p.button(
                pygame.Rect(cx - 230, body.bottom - 80, 220, 64),
                self._("Back"),
                Action("back"),
                "back",
            )
            p.button(
                pygame.Rect(cx + 10, body.bottom - 80, 220, 64),
                self._("Scan to pay"),
                Action("scan_to_pay"),
                "scan_to_pay",
                fill=theme.PRIMARY,
                ink=theme.PRIMARY_INK,
            )
            return
        if step is PayStep.SHOWING_QR:
            self._qr_to_scan(body)
            return
        p.text(
            self._(STEP_TEXT[step]),
            (cx, body.top + 140),
            34,
            theme.WARN_INK if step is PayStep.USER_PAYING else theme.INK,
            anchor="center",
            max_width=self.w - 40,
        )
        dots = "•" * (1 + int(self.now() * 2) % 3)
        p.text(dots, (cx, body.top + 190), 34, theme.MUTED, anchor="center")
        p.text(co.masked_code, (cx, body.top + 240), 20, theme.MUTED, anchor="center")
        if step in (PayStep.SUBMITTING, PayStep.USER_PAYING):
            self._cancel_button(pygame.Rect(cx - 130, body.bottom - 80, 260, 64))

    def _cancel_button(self, rect: pygame.Rect) -> None:
        self.p.button(
            rect,
            self._("Cancel payment"),
            Action("cancel_payment"),
            "cancel_payment",
            fill=theme.DANGER,
            ink=theme.PRIMARY_INK,
        )

    def _qr_to_scan(self, body: pygame.Rect) -> None:
        """The kiosk's QR for the shopper's wallet, with the time left; the amount stays above it."""
        p, co = self.p, self.view
        # as large as the screen allows: below the amount, beside (or above, in portrait) the words and the button
        size = max(120, min(body.height - 200, self.w - 80, 420)) if self.portrait else max(120, body.height - 95)
        left = max(0, int(co.qr_deadline - self.now() + 0.999))
        expires = self._("Expires in {time}", time=f"{left // 60}:{left % 60:02d}")
        if self.portrait:
            at = self._qr(co.qr_text, size, (body.centerx - size // 2, body.top + 90))
            p.text(
                self._("Scan this code with your wallet app"),
                (body.centerx, at.bottom + 30),
                28,
                anchor="center",
                max_width=self.w - 40,
            )
            p.text(expires, (body.centerx, at.bottom + 75), 24, theme.MUTED, anchor="center")
            self._cancel_button(pygame.Rect(body.centerx - 130, body.bottom - 80, 260, 64))
            return
        at = self._qr(co.qr_text, size, (body.left + 40, body.top + 86))
        x = at.right + 30
        p.paragraph(
            self._("Scan this code with your wallet app"), (x, at.top + 10), 28, theme.INK, width=self.w - x - 20
        )
        p.text(expires, (x, at.top + 120), 24, theme.MUTED)
        self._cancel_button(pygame.Rect(self.w - 300, body.bottom - 80, 260, 64))

    def _result(self, body: pygame.Rect) -> None:
        p, co = self.p, self.view
        if co.receipt in ("failed", "declined") and co.order_no and co.receipt_url:
            self._paid_with_e_receipt(body)
            return
        cx = body.centerx
        p.text(self._("Payment successful"), (cx, body.top + 50), 48, theme.PRIMARY, anchor="center")
        p.text(format_money(co.paid_total, co.currency), (cx, body.top + 110), 40, anchor="center")
        if co.order_no:
            p.text(
                self._("Order {order_no}", order_no=co.order_no), (cx, body.top + 160), 26, theme.MUTED, anchor="center"
            )
        if co.order_no is None and co.notice is not None:  # paid, but not recorded yet: staff will help
            p.text(
                self._(NOTICES[co.notice.key]),
                (cx, body.top + 200),
                26,
                theme.DANGER,
                anchor="center",
                max_width=self.w - 40,
            )
        else:
            p.text(
                self._(RECEIPT_TEXT["printing" if co.receipt == "printing" else "printed"]),
                (cx, body.top + 220),
                30,
                anchor="center",
            )
        self._done_button(pygame.Rect(cx - 110, body.bottom - 70, 220, 60))

    def _paid_with_e_receipt(self, body: pygame.Rect) -> None:
        """Paid, but no paper receipt: the e-receipt's QR as large as the screen allows, beside (landscape) or
        under (portrait) what happened; it stays until the shopper taps Done."""
        p, co = self.p, self.view
        url = co.receipt_url
        if self.portrait:
            size = min(body.width - 80, body.height - 420, 360)
            words = pygame.Rect(body.left + 30, body.top + 20, body.width - 60, 300)
            qr_at = (body.centerx - size // 2, words.bottom)
        else:
            size = min(body.height - 40, body.width // 2 - 40, 360)
            qr_at = (body.right - 30 - size, body.top + 20)
            words = pygame.Rect(body.left + 30, body.top + 20, qr_at[0] - body.left - 60, body.height - 40)
        self._qr(url, size, qr_at)
        x, y = words.left, words.top
        y = p.text(self._("Payment successful"), (x, y), 36, theme.PRIMARY, max_width=words.width).bottom + 4
        y = p.text(format_money(co.paid_total, co.currency), (x, y), 36, max_width=words.width).bottom + 4
        y = p.text(self._("Order {order_no}", order_no=co.order_no), (x, y), 20, theme.MUTED).bottom + 12
        if co.receipt == "declined":  # as the shopper chose: no apology, no alarm
            y = p.paragraph(self._(E_RECEIPT_CHOSEN), (x, y), 22, theme.INK, words.width, 4)
        else:
            y = p.paragraph(self._(E_RECEIPT), (x, y), 22, theme.DANGER, words.width, 4)
        done = pygame.Rect(x, max(y + 12, words.bottom - 60), min(220, words.width), 60)
        if self.portrait:
            done = pygame.Rect(body.centerx - 110, body.bottom - 70, 220, 60)
        self._done_button(done)

    def _done_button(self, rect: pygame.Rect) -> None:
        self.p.button(rect, self._("Done"), Action("done"), "done", fill=theme.PRIMARY, ink=theme.PRIMARY_INK)
