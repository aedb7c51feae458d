"""The screens: welcome, cart, payment, result, help.  They only read state and register buttons.

Every button's action is a call into the Checkout (or the simulator); nothing
here changes state directly or waits on anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame

from kiosk.attendant import Mode
from kiosk.checkout import Notice, PayStep, Phase
from kiosk.i18n import LANGUAGES, tr
from kiosk.money import format_money
from kiosk.ui import theme
from kiosk.ui.widgets import Button, Painter, qr_surface

if TYPE_CHECKING:
    from kiosk.app import Kiosk

NOTICES = {
    "added": "Added",
    "unknown_barcode": "Unknown barcode {code}",
    "not_a_product": "This is not a product barcode",
    "not_a_payment_code": "This is not a payment code",
    "scan_products_first": "Scan your items first",
    "code_used": "This payment code was already used. Refresh it in your wallet app.",
    "payment_cancelled": "Payment cancelled",
    "payment_failed": "Payment failed: {reason}",
    "max_qty": "At most {max} of one item",
    "payments_unavailable": "Payments are unavailable right now. Please ask staff for help.",
    "wallet_not_accepted": "This wallet is not accepted here. Please use another one.",
    "out_of_service": "This checkout is out of service. Nothing was charged.",
    "paid_not_recorded": "Please wait here: staff will bring your receipt.",
}
REASONS = {
    "NOTENOUGH": "Insufficient balance",
    "ACQ.BUYER_BALANCE_NOT_ENOUGH": "Insufficient balance",
    "AUTH_CODE_INVALID": "This payment code has expired. Refresh it and try again.",
    "ACQ.PAYMENT_AUTH_CODE_INVALID": "This payment code has expired. Refresh it and try again.",
    "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR": "Your wallet's payment limit has been reached",
    "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR": "Your wallet's payment limit has been reached",
    "ACQ.PAYMENT_FAIL": "The payment was declined",
    "PAYERROR": "The payment was declined",
    "BANKERROR": "The payment was declined",
    "PAYER_ACCOUNT_ABNORMAL": "The payment was declined",
    "CANCEL_PENDING": "The payment is being reversed. You will not be charged.",
}
STEP_TEXT = {
    PayStep.SUBMITTING: "Processing payment…",
    PayStep.USER_PAYING: "Confirm the payment on your phone",
    PayStep.CANCELLING: "Cancelling…",
}
RECEIPT_TEXT = {"printing": "Printing your receipt…", "printed": "Please take your receipt"}
# the simulator's panel: label, button name, what it does (a Kiosk method and its argument)
SIM_BUTTONS = [
    ("Scan item", "sim:scan", "simulate_scan", None),
    ("Unknown item", "sim:unknown", "simulate_scan", "6900000000007"),
    ("Code: approve", "sim:pay_ok", "simulate_payment_code", "1"),
    ("Code: confirm", "sim:pay_confirm", "simulate_payment_code", "7"),
    ("Code: decline", "sim:pay_decline", "simulate_payment_code", "8"),
    ("Wallet scans", "sim:wallet_scan", "simulate_wallet_scan", None),
]
# what the shopper is told about devices (head office being unreachable is not their concern: orders queue)
ATTENDANT_TEXT = {
    "wrong_pin": "Wrong PIN",
    "locked": "Too many wrong PINs. Try again later.",
    "printed": "Printed",
    "print_failed": "The printer is unavailable",
    "unknown_order": "No order with this number",
    "refunding": "Refunding…",
    "refunded": "Refunded",
    "refund_failed": "The refund did not go through",
    "nothing_to_refund": "Nothing left to refund on this order",
    "amount_invalid": "Type an amount up to what is left",
}
DEVICE_TEXT = {
    "scanner": "Scanner offline",
    "camera": "Camera offline",
    "printer": "Printer offline",
    "gateway": "Payments unavailable",
}


class Screens:
    def __init__(self, painter: Painter, kiosk: Kiosk) -> None:
        self.p = painter
        self.k = kiosk
        self.w, self.h = painter.surface.get_size()
        self.portrait = self.h > self.w
        self.sim = kiosk.cfg.simulator.panel and (kiosk.sim_scanner is not None or kiosk.sim_camera is not None)
        self._qr_cache: dict[str, pygame.Surface] = {}

    def _(self, msg: str, **params: object) -> str:
        return tr(self.k.checkout.language, msg, **params)

    def now(self) -> float:
        return self.k.clock()

    # -- the frame ---------------------------------------------------------------
    def draw(self) -> None:
        p, co = self.p, self.k.checkout
        p.buttons = []
        p.texts = []
        p.surface.fill(theme.BG)
        top = self._topbar()
        bottom = self.h - (64 if self.sim else 0)
        body = pygame.Rect(0, top, self.w, bottom - top)
        if self.k.attendant.active:
            self._attendant(body)
        elif co.out_of_service and co.phase is not Phase.RESULT and not co.paying:
            self._out_of_service(body)
        else:
            {
                Phase.IDLE: self._welcome,
                Phase.CART: self._cart,
                Phase.PAYMENT: self._payment,
                Phase.RESULT: self._result,
            }[co.phase](body)
        if self.sim:
            self._sim_panel(pygame.Rect(0, bottom, self.w, self.h - bottom))
        left = co.idle_seconds_left(self.now())
        if left is not None and not self.k.attendant.active:
            self._countdown(left)
        if co.help_open:
            self._help()

    def _topbar(self) -> int:
        p, co = self.p, self.k.checkout
        h = 64
        pygame.draw.rect(p.surface, theme.TOPBAR, (0, 0, self.w, h))
        p.text(self._("Self-checkout"), (theme.PAD, h // 2), 26, theme.TOPBAR_INK, anchor="midleft")
        other = next(code for code in LANGUAGES if code != co.language)
        bw = 120
        p.button(
            pygame.Rect(self.w - bw - theme.PAD, 8, bw, 48),
            self._("Help"),
            lambda: self.k.run_effects(co.open_help(self.now())),
            "help",
            fill=theme.WARN,
            ink=theme.PRIMARY_INK,
        )
        p.button(
            pygame.Rect(self.w - 2 * bw - 2 * theme.PAD, 8, bw, 48),
            LANGUAGES[other],
            lambda: co.set_language(other, self.now()),
            "language",
        )
        down = [self._(DEVICE_TEXT[n]) for n, d in sorted(self.k.devices.items()) if not d["ok"] and n in DEVICE_TEXT]
        if self.k.receipt_state == "failed":
            down.append(self._("Printer offline"))
        if down:
            p.text(
                " · ".join(dict.fromkeys(down)),
                (self.w - 2 * bw - 3 * theme.PAD, h // 2),
                18,
                (255, 200, 120),
                anchor="midright",
                max_width=self.w // 3,
            )
        return h

    def _notice(self, n: Notice | None, pos: tuple[int, int], anchor: str = "midbottom") -> None:
        if n is None:
            return
        params = dict(n.params)
        if "reason" in params:
            params["reason"] = self._(REASONS.get(str(params["reason"]), "The payment could not be completed"))
        text = self._(NOTICES[n.key], **params)
        self.p.text(text, pos, 24, theme.DANGER if n.error else theme.PRIMARY, anchor=anchor, max_width=self.w - 40)

    # -- screens ------------------------------------------------------------------
    def _welcome(self, body: pygame.Rect) -> None:
        p = self.p
        p.text(self._("Welcome"), (body.centerx, body.top + body.height // 3), 64, theme.INK, anchor="center")
        p.text(
            self._("Scan an item to start"),
            (body.centerx, body.top + body.height // 3 + 70),
            32,
            theme.MUTED,
            anchor="center",
        )
        p.text(
            self._("Alipay · WeChat Pay · UnionPay"), (body.centerx, body.bottom - 70), 22, theme.MUTED, anchor="center"
        )
        self._notice(self.k.checkout.notice, (body.centerx, body.bottom - 20))

    def _cart(self, body: pygame.Rect) -> None:
        p, co = self.p, self.k.checkout
        cur = self.k.cfg.kiosk.currency
        t = co.totals()
        if self.portrait:
            summary = pygame.Rect(body.left, body.bottom - 300, body.width, 300)  # totals above, buttons below
            listing = pygame.Rect(body.left, body.top, body.width, body.height - 300)
        else:
            summary = pygame.Rect(body.right - 280, body.top, 280, body.height)
            listing = pygame.Rect(body.left, body.top, body.width - 280, body.height)
        # the lines, newest at the bottom; as many as fit
        row_h = 60
        fits = max(1, (listing.height - 40) // row_h)
        lines = co.cart.lines[-fits:]
        y = listing.top + 8
        for ln in lines:
            r = pygame.Rect(listing.left + 8, y, listing.width - 16, row_h - 6)
            pygame.draw.rect(p.surface, theme.PANEL, r, border_radius=8)
            sku = ln.product.sku
            # name | − qty + | amount | ×   (every touch target 48 px)
            right = r.right - 4
            p.button(
                pygame.Rect(right - 48, r.top + 3, 48, 48),
                "×",
                lambda s=sku: co.tap_remove(s, self.now()),
                f"remove:{sku}",
                size=28,
                fill=theme.PANEL,
                ink=theme.DANGER,
            )
            p.text(format_money(ln.amount, cur), (right - 56, r.centery), 24, anchor="midright")
            plus = pygame.Rect(right - 200, r.top + 3, 48, 48)
            minus = pygame.Rect(plus.left - 96, r.top + 3, 48, 48)
            p.button(minus, "−", lambda s=sku: co.tap_minus(s, self.now()), f"minus:{sku}", size=30)
            p.text(str(ln.qty), (minus.right + 24, r.centery), 26, anchor="center")
            p.button(plus, "+", lambda s=sku: co.tap_plus(s, self.now()), f"plus:{sku}", size=30)
            p.text(
                ln.product.name(co.language),
                (r.left + 10, r.centery),
                22,
                anchor="midleft",
                max_width=minus.left - r.left - 16,
            )
            y += row_h
        if len(co.cart.lines) > fits:
            p.text(f"+{len(co.cart.lines) - fits} …", (listing.left + 16, listing.bottom - 30), 18, theme.MUTED)
        self._notice(co.notice, (listing.centerx, listing.bottom - 4))
        # the summary
        pygame.draw.rect(p.surface, theme.PANEL, summary)
        x = summary.left + theme.PAD
        p.text(self._("Your cart"), (x, summary.top + 10), 24, theme.MUTED)
        p.text(
            self._("{n} items", n=t.items),
            (summary.right - theme.PAD, summary.top + 12),
            22,
            theme.MUTED,
            anchor="topright",
        )
        p.text(self._("Total"), (x, summary.top + 50), 24)
        p.text(
            format_money(t.total, cur),
            (summary.right - theme.PAD, summary.top + 44),
            44,
            anchor="topright",
            max_width=summary.width - 80,
        )
        p.text(
            self._("incl. tax {tax}", tax=format_money(t.tax, cur)),
            (summary.right - theme.PAD, summary.top + 100),
            18,
            theme.MUTED,
            anchor="topright",
        )
        bw = summary.width - 2 * theme.PAD
        p.button(
            pygame.Rect(x, summary.bottom - 150, bw, 76),
            self._("Pay"),
            lambda: co.tap_pay(self.now()),
            "pay",
            size=34,
            fill=theme.PRIMARY,
            ink=theme.PRIMARY_INK,
        )
        p.button(
            pygame.Rect(x, summary.bottom - 62, bw, 52),
            self._("Start over"),
            lambda: co.tap_start_over(self.now()),
            "start_over",
        )

    def _payment(self, body: pygame.Rect) -> None:
        p, co = self.p, self.k.checkout
        total = format_money(co.totals().total, self.k.cfg.kiosk.currency)
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
            p.text(self._("Alipay · WeChat Pay · UnionPay"), (cx, body.top + 180), 22, theme.MUTED, anchor="center")
            self._notice(co.notice, (cx, body.top + 235), anchor="center")
            p.button(
                pygame.Rect(cx - 230, body.bottom - 80, 220, 64),
                self._("Back"),
                lambda: co.tap_back(self.now()),
                "back",
            )
            p.button(
                pygame.Rect(cx + 10, body.bottom - 80, 220, 64),
                self._("Scan to pay"),
                lambda: self.k.run_effects(co.tap_scan_to_pay(self.now())),
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
            theme.WARN if step is PayStep.USER_PAYING else theme.INK,
            anchor="center",
            max_width=self.w - 40,
        )
        dots = "•" * (1 + int(self.now() * 2) % 3)
        p.text(dots, (cx, body.top + 190), 34, theme.MUTED, anchor="center")
        p.text(co.masked_code, (cx, body.top + 240), 20, theme.MUTED, anchor="center")
        if step in (PayStep.SUBMITTING, PayStep.USER_PAYING):
            self._cancel_button(pygame.Rect(cx - 130, body.bottom - 80, 260, 64))

    def _cancel_button(self, rect: pygame.Rect) -> None:
        co = self.k.checkout
        self.p.button(
            rect,
            self._("Cancel payment"),
            lambda: self.k.run_effects(co.tap_cancel_payment(self.now())),
            "cancel_payment",
            fill=theme.DANGER,
            ink=theme.PRIMARY_INK,
        )

    def _qr_to_scan(self, body: pygame.Rect) -> None:
        """The kiosk's QR for the shopper's wallet, with the time left; the amount stays above it."""
        p, co = self.p, self.k.checkout
        # as large as the screen allows: below the amount, beside (or above, in portrait) the words and the button
        size = max(120, min(body.height - 200, self.w - 80, 420)) if self.portrait else max(120, body.height - 95)
        if co.qr_text not in self._qr_cache:
            self._qr_cache.clear()
            self._qr_cache[co.qr_text] = qr_surface(co.qr_text, size)
        qr = self._qr_cache[co.qr_text]
        left = max(0, int(co.qr_deadline - self.now() + 0.999))
        expires = self._("Expires in {time}", time=f"{left // 60}:{left % 60:02d}")
        if self.portrait:
            at = qr.get_rect(midtop=(body.centerx, body.top + 90))
            p.surface.blit(qr, at)
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
        at = qr.get_rect(topleft=(body.left + 40, body.top + 86))
        p.surface.blit(qr, at)
        x = at.right + 30
        p.paragraph(
            self._("Scan this code with your wallet app"), (x, at.top + 10), 28, theme.INK, width=self.w - x - 20
        )
        p.text(expires, (x, at.top + 120), 24, theme.MUTED)
        self._cancel_button(pygame.Rect(self.w - 300, body.bottom - 80, 260, 64))

    def _result(self, body: pygame.Rect) -> None:
        p, co, k = self.p, self.k.checkout, self.k
        cx = body.centerx
        p.text(self._("Payment successful"), (cx, body.top + 50), 48, theme.PRIMARY, anchor="center")
        p.text(format_money(co.paid_total, k.cfg.kiosk.currency), (cx, body.top + 110), 40, anchor="center")
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
        elif k.receipt_state == "failed" and co.order_no:
            url = k.cfg.receipt.url.format(order_no=co.order_no)
            size = min(180, body.height - 280)
            if size >= 80:
                qr = self._qr_cache.get(url) or self._qr_cache.setdefault(url, qr_surface(url, size))
                p.surface.blit(qr, qr.get_rect(midtop=(cx, body.top + 190)))
            p.text(
                self._("The printer is unavailable. Photograph this code for your e-receipt."),
                (cx, body.bottom - 90),
                20,
                theme.DANGER,
                anchor="center",
                max_width=self.w - 40,
            )
        else:
            p.text(
                self._(RECEIPT_TEXT["printing" if k.receipt_state == "printing" else "printed"]),
                (cx, body.top + 220),
                30,
                anchor="center",
            )
        p.button(
            pygame.Rect(cx - 110, body.bottom - 70, 220, 60),
            self._("Done"),
            lambda: co.tap_start_over(self.now()),
            "done",
            fill=theme.PRIMARY,
            ink=theme.PRIMARY_INK,
        )

    def _out_of_service(self, body: pygame.Rect) -> None:
        p, cx = self.p, body.centerx
        p.text(self._("Out of service"), (cx, body.top + body.height // 3), 48, theme.DANGER, anchor="center")
        p.text(
            self._("This checkout cannot take payments right now. Please use another checkout or ask staff."),
            (cx, body.top + body.height // 3 + 70),
            24,
            anchor="center",
            max_width=self.w - 60,
        )

    def _help(self) -> None:
        p, co = self.p, self.k.checkout
        shade = pygame.Surface((self.w, self.h), pygame.SRCALPHA)
        shade.fill((0, 0, 0, 140))
        p.surface.blit(shade, (0, 0))
        box = pygame.Rect(0, 0, min(560, self.w - 40), 260)
        box.center = (self.w // 2, self.h // 2)
        pygame.draw.rect(p.surface, theme.PANEL, box, border_radius=16)
        p.text(
            self._("Help is on the way"),
            (box.centerx, box.top + 60),
            38,
            theme.WARN,
            anchor="center",
            max_width=box.width - 20,
        )
        p.text(
            self._("A staff member has been called."),
            (box.centerx, box.top + 115),
            24,
            theme.MUTED,
            anchor="center",
            max_width=box.width - 20,
        )
        if self.k.attendant.enabled:
            p.button(pygame.Rect(box.left + 20, box.bottom - 80, 160, 60), self._("Staff"), self._staff, "staff")
            close = pygame.Rect(box.right - 220, box.bottom - 80, 200, 60)
        else:
            close = pygame.Rect(box.centerx - 100, box.bottom - 80, 200, 60)
        p.button(close, self._("Close"), lambda: co.close_help(self.now()), "close_help")

    def _staff(self) -> None:
        self.k.checkout.close_help(self.now())
        self.k.attendant.open_keypad(self.now())

    def _countdown(self, left: int) -> None:
        p, co = self.p, self.k.checkout
        bar = pygame.Rect(0, self.h // 2 - 70, self.w, 140)
        pygame.draw.rect(p.surface, theme.WARN, bar)
        p.text(
            self._("Are you still there? Starting over in {s} s", s=left),
            (bar.centerx, bar.top + 45),
            32,
            theme.PRIMARY_INK,
            anchor="center",
            max_width=self.w - 20,
        )
        p.text(
            self._("Touch the screen to continue"), (bar.centerx, bar.top + 100), 22, theme.PRIMARY_INK, anchor="center"
        )
        p.buttons.append(Button(bar, lambda: co.touch(self.now()), "still_here"))

    def _attendant(self, body: pygame.Rect) -> None:
        p, a, k = self.p, self.k.attendant, self.k
        now = self.now
        cx = body.centerx
        if a.mode is Mode.PIN:
            self._keypad(body)
            return
        if a.message:
            colour = theme.PRIMARY if a.message in ("printed", "refunded", "refunding") else theme.DANGER
            p.text(self._(ATTENDANT_TEXT.get(a.message, a.message)), (cx, body.top + 28), 24, colour, anchor="center")
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
                lambda: a.back_to_menu(now()),
                "attendant_back",
            )
            return
        if a.mode is Mode.CONFIRM_REFUND:
            self._refund_amount(body)
            return
        items = [
            ("Reprint last receipt", k.attendant_reprint_last, "reprint_last"),
            ("Reprint a receipt by scanning it", lambda: a.scan_to_reprint(now()), "reprint_scan"),
            ("Refund a receipt by scanning it", lambda: a.scan_to_refund(now()), "refund_scan"),
            ("End-of-day report (Z)", k.attendant_z_report, "z_report"),
            ("Printer test page", k.attendant_test_page, "test_page"),
            ("Exit staff mode", a.leave, "attendant_exit"),
        ]
        # one column of large buttons where they fit, else two columns
        cols = 1 if len(items) * (theme.TOUCH + 8) <= body.height - 60 else 2
        rows = -(-len(items) // cols)
        bh = max(theme.TOUCH, min(64, (body.height - 60) // rows - 8))
        bw = 440 if cols == 1 else min(360, (self.w - 60) // 2)
        left = cx - (cols * bw + (cols - 1) * 12) // 2
        for n, (label, action, name) in enumerate(items):
            exit_ = name == "attendant_exit"
            row, col = n % rows, n // rows
            r = pygame.Rect(left + col * (bw + 12), body.top + 52 + row * (bh + 8), bw, bh)
            p.button(
                r,
                self._(label),
                action,
                name,
                size=24,
                fill=theme.WARN if exit_ else theme.SECONDARY,
                ink=theme.PRIMARY_INK if exit_ else theme.INK,
            )

    def _refund_amount(self, body: pygame.Rect) -> None:
        """Staff confirm, or type, how much of the scanned order goes back."""
        p, a, k = self.p, self.k.attendant, self.k
        cur = self.k.cfg.kiosk.currency
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
            lambda: a.back_to_menu(self.now()),
            "attendant_back",
        )
        p.button(
            pygame.Rect(x + 84, body.bottom - 70, 80, 56),
            self._("Refund"),
            k.attendant_refund,
            "confirm_refund",
            fill=theme.DANGER,
            ink=theme.PRIMARY_INK,
        )

    def _digit_keys(self, body: pygame.Rect, extra: str) -> None:
        """0-9, C and `extra` ("OK" submits a PIN, "." types an amount) in a 3x4 grid right of centre."""
        p, a, k = self.p, self.k.attendant, self.k
        now = self.now
        gap = 8
        size = max(theme.TOUCH, min(64, (body.height - 16) // 4 - gap))
        left, top = body.centerx - 60, body.top + 8
        for n, key in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", extra]):
            r = pygame.Rect(left + (n % 3) * (size + gap), top + (n // 3) * (size + gap), size, size)
            if key == "C":
                action = lambda: a.clear(now())  # noqa: E731
            elif key == "OK":
                action = k.attendant_submit_pin
            else:
                action = lambda d=key: a.key(d, now())  # noqa: E731
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
        p, a = self.p, self.k.attendant
        cx = body.centerx
        p.text(self._("Staff PIN"), (cx - 230, body.top + 60), 24, theme.MUTED, anchor="midleft")
        p.text("●" * len(a.entered), (cx - 230, body.top + 100), 28, anchor="midleft")
        if a.message:
            p.paragraph(
                self._(ATTENDANT_TEXT.get(a.message, a.message)),
                (cx - 230, body.top + 140),
                20,
                theme.DANGER,
                width=160,
            )
        self._digit_keys(body, "OK")
        p.button(pygame.Rect(cx - 230, body.bottom - 70, 150, 56), self._("Cancel"), a.leave, "attendant_exit")

    def _sim_panel(self, area: pygame.Rect) -> None:
        p, k = self.p, self.k
        pygame.draw.rect(p.surface, theme.SIM, area)
        n = len(SIM_BUTTONS)
        w = (area.width - theme.PAD * (n + 1)) // n
        for i, (label, name, method, arg) in enumerate(SIM_BUTTONS):
            r = pygame.Rect(area.left + theme.PAD + i * (w + theme.PAD), area.top + 8, w, 48)
            action = getattr(k, method)
            p.button(
                r, self._(label), (lambda a=action, v=arg: a(v)), name, size=18, fill=(90, 90, 104), ink=(255, 255, 255)
            )
