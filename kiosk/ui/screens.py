"""The shopper's screens: welcome, cart, payment, result, help, out of service; and the frame around them.

They draw a `View` (a snapshot the controller makes each frame) and give each
button the `Action` a touch on it sends; nothing here changes state or waits.
Staff screens are in kiosk/ui/staff.py, every text in kiosk/ui/texts.py.
"""

from __future__ import annotations

import pygame

from kiosk.checkout import Notice, PayStep, Phase
from kiosk.i18n import LANGUAGES, tr
from kiosk.money import format_money
from kiosk.runtime.view import Action, View
from kiosk.ui import theme
from kiosk.ui.staff import StaffScreens
from kiosk.ui.texts import DEVICE_TEXT, NEEDS_STAFF, NOTICES, REASONS, RECEIPT_TEXT, STEP_TEXT
from kiosk.ui.widgets import Button, Painter, qr_surface


class Screens(StaffScreens):
    """Draws one frame from a View; every button carries the Action a touch on it sends."""

    def __init__(self, painter: Painter) -> None:
        self.p = painter
        self.v: View | None = None
        self.w, self.h = painter.surface.get_size()
        self.portrait = self.h > self.w
        self._qr_cache: dict[str, pygame.Surface] = {}

    def _(self, msg: str, **params: object) -> str:
        return tr(self.view.language, msg, **params)

    @property
    def view(self) -> View:
        assert self.v is not None, "draw() first"
        return self.v

    def now(self) -> float:
        return self.view.now

    # -- the frame ---------------------------------------------------------------
    def draw(self, view: View) -> None:
        self.v = co = view
        p = self.p
        self.sim = bool(view.sim_buttons)
        p.buttons = []
        p.texts = []
        p.surface.fill(theme.BG)
        top = self._topbar()
        bottom = self.h - (64 if self.sim else 0)
        body = pygame.Rect(0, top, self.w, bottom - top)
        if co.attendant.active:
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
        left = co.idle_seconds_left
        if left is not None and not co.attendant.active:
            self._countdown(left)
        if co.help_open:
            self._help()

    def _topbar(self) -> int:
        p, co = self.p, self.view
        h = 64
        pygame.draw.rect(p.surface, theme.TOPBAR, (0, 0, self.w, h))
        p.text(self._("Self-checkout"), (theme.PAD, h // 2), 26, theme.TOPBAR_INK, anchor="midleft")
        other = next(code for code in LANGUAGES if code != co.language)
        bw = 120
        p.button(
            pygame.Rect(self.w - bw - theme.PAD, 8, bw, 48),
            self._("Help"),
            Action("help"),
            "help",
            fill=theme.WARN,
            ink=theme.PRIMARY_INK,
        )
        p.button(
            pygame.Rect(self.w - 2 * bw - 2 * theme.PAD, 8, bw, 48),
            LANGUAGES[other],
            Action("language", other),
            "language",
        )
        down = [self._(DEVICE_TEXT[n]) for n in co.devices_down]
        if co.needs_staff:
            down.append(self._(NEEDS_STAFF))
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
        self._notice(self.view.notice, (body.centerx, body.bottom - 20))

    def _cart(self, body: pygame.Rect) -> None:
        p, co = self.p, self.view
        cur = co.currency
        t = co.totals
        if self.portrait:
            summary = pygame.Rect(body.left, body.bottom - 300, body.width, 300)  # totals above, buttons below
            listing = pygame.Rect(body.left, body.top, body.width, body.height - 300)
        else:
            summary = pygame.Rect(body.right - 280, body.top, 280, body.height)
            listing = pygame.Rect(body.left, body.top, body.width - 280, body.height)
        # the lines, newest at the bottom; as many as fit
        row_h = 60
        fits = max(1, (listing.height - 40) // row_h)
        lines = co.lines[-fits:]
        y = listing.top + 8
        for ln in lines:
            r = pygame.Rect(listing.left + 8, y, listing.width - 16, row_h - 6)
            pygame.draw.rect(p.surface, theme.PANEL, r, border_radius=8)
            sku = ln.sku
            # name | − qty + | amount | ×   (every touch target 48 px)
            right = r.right - 4
            p.button(
                pygame.Rect(right - 48, r.top + 3, 48, 48),
                "×",
                Action("remove", sku),
                f"remove:{sku}",
                size=28,
                fill=theme.PANEL,
                ink=theme.DANGER,
            )
            p.text(format_money(ln.amount, cur), (right - 56, r.centery), 24, anchor="midright")
            plus = pygame.Rect(right - 200, r.top + 3, 48, 48)
            minus = pygame.Rect(plus.left - 96, r.top + 3, 48, 48)
            p.button(minus, "−", Action("minus", sku), f"minus:{sku}", size=30)
            p.text(str(ln.qty), (minus.right + 24, r.centery), 26, anchor="center")
            p.button(plus, "+", Action("plus", sku), f"plus:{sku}", size=30)
            p.text(
                ln.name,
                (r.left + 10, r.centery),
                22,
                anchor="midleft",
                max_width=minus.left - r.left - 16,
            )
            y += row_h
        if len(co.lines) > fits:
            p.text(f"+{len(co.lines) - fits} …", (listing.left + 16, listing.bottom - 30), 18, theme.MUTED)
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
            Action("pay"),
            "pay",
            size=34,
            fill=theme.PRIMARY,
            ink=theme.PRIMARY_INK,
        )
        p.button(
            pygame.Rect(x, summary.bottom - 62, bw, 52),
            self._("Start over"),
            Action("start_over"),
            "start_over",
        )

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
            p.text(self._("Alipay · WeChat Pay · UnionPay"), (cx, body.top + 180), 22, theme.MUTED, anchor="center")
            self._notice(co.notice, (cx, body.top + 235), anchor="center")
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
        p, co = self.p, self.view
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
        elif co.receipt == "failed" and co.order_no:
            url = co.receipt_url
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
                self._(RECEIPT_TEXT["printing" if co.receipt == "printing" else "printed"]),
                (cx, body.top + 220),
                30,
                anchor="center",
            )
        p.button(
            pygame.Rect(cx - 110, body.bottom - 70, 220, 60),
            self._("Done"),
            Action("start_over"),
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
        p = self.p
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
        if self.view.attendant.enabled:
            p.button(pygame.Rect(box.left + 20, box.bottom - 80, 160, 60), self._("Staff"), Action("staff"), "staff")
            close = pygame.Rect(box.right - 220, box.bottom - 80, 200, 60)
        else:
            close = pygame.Rect(box.centerx - 100, box.bottom - 80, 200, 60)
        p.button(close, self._("Close"), Action("close_help"), "close_help")

    def _countdown(self, left: int) -> None:
        p = self.p
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
        p.buttons.append(Button(bar, Action("still_here"), "still_here"))

    def _sim_panel(self, area: pygame.Rect) -> None:
        p, buttons = self.p, self.view.sim_buttons
        pygame.draw.rect(p.surface, theme.SIM, area)
        w = (area.width - theme.PAD * (len(buttons) + 1)) // len(buttons)
        for i, (label, name) in enumerate(buttons):
            r = pygame.Rect(area.left + theme.PAD + i * (w + theme.PAD), area.top + 8, w, 48)
            p.button(
                r, self._(label), Action("sim", name), f"sim:{name}", size=18, fill=(90, 90, 104), ink=(255, 255, 255)
            )
