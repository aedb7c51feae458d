"""The shopper's screens: welcome, cart, payment, result, help, out of service; and the frame around them.

They draw a `View` (a snapshot the controller makes each frame) and give each
button the `Action` a touch on it sends; nothing here changes state or waits.
Staff screens are in kiosk/ui/staff.py, every text in kiosk/ui/texts.py.
"""

from __future__ import annotations

import pygame

from kiosk.checkout import Phase
from kiosk.i18n import LANGUAGES
from kiosk.money import format_money
from kiosk.runtime.view import Action, View
from kiosk.ui import theme
from kiosk.ui.payment import PaymentScreens
from kiosk.ui.staff import StaffScreens
from kiosk.ui.texts import DEVICE_TEXT, NEEDS_STAFF
from kiosk.ui.widgets import Button


class Screens(PaymentScreens, StaffScreens):
    """Draws one frame from a View; every button carries the Action a touch on it sends."""

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
            p.buttons = []  # modal: nothing behind the help box answers a touch
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
