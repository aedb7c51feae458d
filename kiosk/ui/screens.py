"""The shopper's screens: welcome, cart, payment, result, help, out of service; and the frame around them.

They draw a `View` (a snapshot the controller makes each frame) and give each
button the `Action` a touch on it sends; nothing here changes state or waits.
Staff screens are in kiosk/ui/staff.py, every text in kiosk/ui/texts.py.
"""

from __future__ import annotations

import pygame

from kiosk.catalog import Product
from kiosk.checkout import Phase
from kiosk.i18n import LANGUAGES
from kiosk.money import format_money
from kiosk.runtime.view import Action, LineView, View
from kiosk.ui import theme
from kiosk.ui.look_up import LookUpScreens
from kiosk.ui.payment import PaymentScreens
from kiosk.ui.staff import StaffScreens
from kiosk.ui.texts import AGE_CHECK_BANNER, DEVICE_TEXT, NEEDS_STAFF, NO_PAPER_RECEIPT, PRINTER_FAULTS
from kiosk.ui.widgets import Button


class Screens(PaymentScreens, StaffScreens, LookUpScreens):
    """Draws one frame from a View; every button carries the Action a touch on it sends."""

    # -- the frame ---------------------------------------------------------------
    def draw(self, view: View) -> None:
        self.v = co = view
        theme.use(view.high_contrast)  # the shopper's choices, for this frame
        p = self.p
        p.text_scale = theme.LARGE_TEXT if view.large_text else 1.0
        self.sim = bool(view.sim_buttons)
        p.buttons = []
        p.texts = []
        p.pictures = []
        p.surface.fill(theme.BG)
        top = self._topbar()
        bottom = self.h - (64 if self.sim else 0)
        body = pygame.Rect(0, top, self.w, bottom - top)
        if co.attendant.active:
            self._attendant(body)
        elif co.out_of_service and co.phase is not Phase.RESULT and not co.paying:
            self._out_of_service(body)
        elif co.look_up is not None:
            self._look_up(body)
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
        if co.help_open or (co.confirming_start_over and co.phase is Phase.CART and not co.attendant.active):
            p.buttons = []  # modal: nothing behind the box answers a touch
            self._help() if co.help_open else self._confirm_start_over()
        elif co.choosing_language:
            p.buttons = []
            self._languages()

    def _topbar(self) -> int:
        p, co = self.p, self.view
        h = 64
        p.fill_rect(theme.TOPBAR, (0, 0, self.w, h))
        demo = co.demo and not co.attendant.active
        heading = "Staff mode" if co.attendant.active else "DEMO — no real payments" if demo else "Self-checkout"
        # from the right: Help, the language, high contrast (◐), large text (A+)
        help_ = pygame.Rect(self.w - theme.PAD - 110, 8, 110, 48)
        language = pygame.Rect(help_.left - theme.PAD - 110, 8, 110, 48)
        contrast = pygame.Rect(language.left - theme.PAD - 64, 8, 64, 48)
        large = pygame.Rect(contrast.left - theme.PAD - 64, 8, 64, 48)
        buttons_left = large.left - theme.PAD
        if demo:  # a show kiosk: nobody may take it for a working till
            p.fill_rect(theme.WARN, (0, 0, buttons_left, h))
        ink = theme.ON_WARN if demo else theme.TOPBAR_INK
        title = p.text(self._(heading), (theme.PAD, h // 2), 26, ink, anchor="midleft", max_width=buttons_left - 24)
        p.button(help_, self._("Help"), Action("help"), "help", fill=theme.WARN, ink=theme.ON_WARN)
        p.button(  # the language in use; a touch lists them all, each in its own script
            language, f"{LANGUAGES.get(co.language, co.language)} ▼", Action("languages"), "language", size=20
        )
        p.button(contrast, "", Action("contrast"), "contrast")  # ◐, the sign for contrast, drawn
        cx, cy, r = contrast.centerx, contrast.centery, 13
        p.circle(theme.INK, (cx, cy), r, width=2)
        p.half_disc(theme.INK, (cx, cy), r)
        p.button(  # A+ / A−: larger text for this shopper (a sign kiosks and phones share)
            large, "A−" if co.large_text else "A+", Action("large_text"), "large_text", size=24
        )
        fault = co.printer_fault if co.attendant.active else ""  # staff see what is wrong with the printer
        down = [
            self._(PRINTER_FAULTS.get(fault, DEVICE_TEXT[n]) if n == "printer" else DEVICE_TEXT[n])
            for n in co.devices_down
        ]
        if co.needs_staff:
            down.append(self._(NEEDS_STAFF))
        if down:  # what is offline: on one line, or one per line, never smaller than theme.MIN_TEXT
            right, ink = buttons_left, (255, 200, 120)
            width, items = right - title.right - 2 * theme.PAD, list(dict.fromkeys(down))
            joined = " · ".join(items)
            if len(items) > 1 and p.width_of(joined, 18) > width:
                for n, item in enumerate([items[0], " · ".join(items[1:])]):
                    p.text(item, (right, h // 2 + (n * 2 - 1) * 14), 18, ink, anchor="midright", max_width=width)
            else:
                p.two_lines(joined, (right, h // 2), width, h - 8, 18, ink, "midright")
        return h

    # -- screens ------------------------------------------------------------------
    def _welcome(self, body: pygame.Rect) -> None:
        p = self.p
        y = body.top + body.height // 4
        p.text(self._("Welcome"), (body.centerx, y), 64, theme.INK, anchor="center")
        p.text(self._("Scan an item to start"), (body.centerx, y + 70), 32, theme.MUTED, anchor="center")
        for n, (label, tab) in enumerate((("Look up item", "browse"), ("Type barcode", "code"))):
            r = pygame.Rect(body.centerx + (n - 1) * 228 + (8 if n else -8), y + 110, 228, 52)
            p.button(r, self._(label), Action("look_up", tab), f"look_up:{tab}", size=22)  # no barcode, or unreadable
        p.text(
            self._("Alipay · WeChat Pay · UnionPay"), (body.centerx, body.bottom - 70), 22, theme.MUTED, anchor="center"
        )
        self._notice(self.view.notice, (body.centerx, body.bottom - 20))

    def _cart(self, body: pygame.Rect) -> None:
        if self.portrait:
            summary = pygame.Rect(body.left, body.bottom - 300, body.width, 300)  # totals above, buttons below
            listing = pygame.Rect(body.left, body.top, body.width, body.height - 300)
        else:
            summary = pygame.Rect(body.right - 280, body.top, 280, body.height)
            listing = pygame.Rect(body.left, body.top, body.width - 280, body.height)
        notice = pygame.Rect(listing.left, listing.bottom - theme.UNDO_BAR, listing.width, theme.UNDO_BAR)
        tools = 0 if self.view.online_order else 60
        if tools:
            self._cart_tools(pygame.Rect(listing.left, listing.top, listing.width, tools))
        lines_h = listing.height - theme.UNDO_BAR - tools
        self._cart_lines(pygame.Rect(listing.left, listing.top + tools, listing.width, lines_h))
        self._cart_notice(notice)
        self._cart_summary(summary)

    def _cart_tools(self, row: pygame.Rect) -> None:
        """Above the lines: look up an item without a barcode, type one that will not scan, add a bag."""
        p, co = self.p, self.view
        buttons = [("Look up item", Action("look_up", "browse"), "look_up:browse")]
        buttons.append(("Type barcode", Action("look_up", "code"), "look_up:code"))
        if co.bag_price is not None:
            label = self._("Bag {amount}", amount=format_money(co.bag_price, co.currency))
            buttons.append((label, Action("bag"), "bag"))
        gap = 8
        width = min(220, (row.width - 16 - gap * (len(buttons) - 1)) // len(buttons))
        for n, (label, action, name) in enumerate(buttons):
            r = pygame.Rect(row.left + 8 + n * (width + gap), row.top + 6, width, 50)
            p.button(r, self._(label) if name != "bag" else label, action, name, size=20)

    def _cart_lines(self, area: pygame.Rect) -> None:
        """Every line can be reached: as many as fit, the changed one in view and highlighted, ▲ ▼ to scroll."""
        if not self.view.lines:
            self.p.text(self._("Your cart is empty"), area.center, 28, theme.MUTED, anchor="center")
        for row, ln in self._line_rows(area, None):
            self._cart_line(row, ln)

    def _cart_line(self, r: pygame.Rect, ln: LineView) -> None:
        """name | − qty + | amount | ×   (every touch target 48 px)."""
        p, co = self.p, self.view
        changed = ln.sku == co.changed_sku
        p.fill_rect(theme.HIGHLIGHT if changed else theme.PANEL, r, radius=8)
        if changed:
            p.fill_rect(theme.PRIMARY, (r.left, r.top, 6, r.height), radius=3)
        sku, right = ln.sku, r.right - 4
        if co.online_order:  # an order made elsewhere is paid as it was ordered: no − + ×, just its lines
            p.text(format_money(ln.amount, co.currency), (right - 56, r.centery), 24, anchor="midright")
            qty = pygame.Rect(right - 200, r.top + 3, 48, 48)
            p.text(f"×{ln.qty}", qty.center, 26, anchor="center")
            p.two_lines(ln.name, (r.left + 12, r.centery), qty.left - r.left - 20, r.height - 4)
            return
        p.button(
            pygame.Rect(right - 48, r.top + 3, 48, 48),
            "×",
            Action("remove", sku),
            f"remove:{sku}",
            size=30,
            fill=theme.PANEL,
            ink=theme.DANGER,
            edge=theme.DANGER,
        )
        p.text(format_money(ln.amount, co.currency), (right - 56, r.centery), 24, anchor="midright")
        plus = pygame.Rect(right - 200, r.top + 3, 48, 48)
        minus = pygame.Rect(plus.left - 96, r.top + 3, 48, 48)
        p.button(minus, "−", Action("minus", sku), f"minus:{sku}", size=30)
        p.text(str(ln.qty), (minus.right + 24, r.centery), 26, anchor="center")
        p.button(plus, "+", Action("plus", sku), f"plus:{sku}", size=30)
        p.two_lines(ln.name, (r.left + 12, r.centery), minus.left - r.left - 20, r.height - 4)

    def _cart_notice(self, area: pygame.Rect) -> None:
        """What just happened to the cart, with Undo while a removed line can be put back."""
        co = self.view
        if co.can_undo:
            undo = pygame.Rect(area.right - 8 - 140, area.top + 4, 140, theme.TOUCH)
            self.p.button(undo, self._("Undo"), Action("undo"), "undo", fill=theme.PRIMARY, ink=theme.PRIMARY_INK)
            self._notice(co.notice, (area.left + 16, area.centery), anchor="midleft", width=undo.left - area.left - 24)
        elif co.notice is not None and co.notice.key in ("added", "age_restricted_added"):
            self._last_scanned(area)
        else:
            self._notice(co.notice, (area.centerx, area.centery), anchor="center", width=area.width - 24)

    def _last_scanned(self, area: pygame.Rect) -> None:
        """The item just scanned, large: its picture (when the catalog has one), its name and its price, on the
        changed line's colour."""
        p, n = self.p, self.view.notice
        assert n is not None
        item, amount = n.params.get("item"), n.params.get("amount")
        card = area.inflate(-16, -6)
        p.fill_rect(theme.HIGHLIGHT, card, radius=8)
        p.fill_rect(theme.PRIMARY, (card.left, card.top, 6, card.height), radius=3)
        price = format_money(amount, self.view.currency) if isinstance(amount, int) else ""
        name = item.name(self.view.language) if isinstance(item, Product) else ""
        left = card.left + 16
        if isinstance(item, Product) and item.picture and card.height >= 40:
            side = card.height - 6
            self._product_picture(item.picture, pygame.Rect(left, card.centery - side // 2, side, side))
            left += side + 10
        label = p.text(self._("Added"), (left, card.centery), 18, theme.MUTED, anchor="midleft")
        price_left = card.right - 12 - p.width_of(price, 30)
        p.two_lines(name, (label.right + 12, card.centery), int(price_left - label.right - 36), card.height - 4, 26)
        p.text(price, (card.right - 12, card.centery), 30, anchor="midright")

    def _cart_summary(self, summary: pygame.Rect) -> None:
        p, co = self.p, self.view
        cur, t = co.currency, co.totals
        p.fill_rect(theme.PANEL, summary)
        x = summary.left + theme.PAD
        p.text(self._("Your cart"), (x, summary.top + 10), 24, theme.MUTED)
        p.text(
            self._n("{n} item", "{n} items", t.items, n=t.items),
            (summary.right - theme.PAD, summary.top + 12),
            22,
            theme.MUTED,
            anchor="topright",
        )
        p.text(self._("Total"), (x, summary.top + 50), 24)
        total = p.text(
            format_money(t.total, cur),
            (summary.right - theme.PAD, summary.top + 44),
            44,
            anchor="topright",
            max_width=summary.width - 80,
        )
        tax = p.text(
            self._("incl. tax {tax}", tax=format_money(t.tax, cur)),
            (summary.right - theme.PAD, max(summary.top + 100, total.bottom + 2)),  # under the total, at any size
            18,
            theme.MUTED,
            anchor="topright",
        )
        if co.age_check_needed:  # the shopper knows before tapping Pay why it will wait
            if self.portrait:  # left of the tax line, above Pay
                banner = pygame.Rect(summary.left + 8, summary.top + 88, summary.width // 2 - 16, 56)
            else:  # under the tax line, above Pay
                top = max(summary.top + 126, tax.bottom + 4)
                banner = pygame.Rect(summary.left + 8, top, summary.width - 16, min(60, summary.bottom - 156 - top))
            p.fill_rect(theme.WARN, banner, radius=8)
            p.two_lines(
                self._(AGE_CHECK_BANNER),
                banner.center,
                banner.width - 16,
                banner.height - 4,
                20,
                theme.ON_WARN,
                "center",
            )
        elif "printer" in co.devices_down:  # said before paying, not after
            p.paragraph(self._(NO_PAPER_RECEIPT), (x, summary.top + 128), 16, theme.DANGER, summary.width - 24, 3)
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

    def _confirm_start_over(self) -> None:
        """A modal question: "Remove all items and start over?"."""
        p = self.p
        box = self._modal_box(240)
        p.text(
            self._("Remove all items and start over?"),
            (box.centerx, box.top + 60),
            30,
            anchor="center",
            max_width=box.width - 32,
        )
        n = self.view.totals.items
        p.text(
            self._n("{n} item will be removed", "{n} items will be removed", n, n=n),
            (box.centerx, box.top + 110),
            22,
            theme.MUTED,
            anchor="center",
            max_width=box.width - 32,
        )
        half = (box.width - 60) // 2
        p.button(
            pygame.Rect(box.left + 20, box.bottom - 80, half, 60),
            self._("Keep shopping"),
            Action("keep_shopping"),
            "keep_shopping",
            fill=theme.PRIMARY,
            ink=theme.PRIMARY_INK,
        )
        p.button(
            pygame.Rect(box.right - 20 - half, box.bottom - 80, half, 60),
            self._("Start over"),
            Action("confirm_start_over"),
            "confirm_start_over",
            fill=theme.DANGER,
            ink=theme.PRIMARY_INK,
        )

    def _out_of_service(self, body: pygame.Rect) -> None:
        p, cx = self.p, body.centerx
        if self.view.not_ready:  # a new kiosk waiting for its store's catalog
            heading = self._("Not ready yet")
            line = self._("This checkout is being set up. Please use another checkout.")
        else:
            heading = self._("Out of service")
            line = self._("This checkout cannot take payments right now. Please use another checkout or ask staff.")
        p.text(heading, (cx, body.top + body.height // 3), 48, theme.DANGER, anchor="center")
        p.text(
            line,
            (cx, body.top + body.height // 3 + 70),
            24,
            anchor="center",
            max_width=self.w - 60,
        )

    def _languages(self) -> None:
        """Every language, each named in itself, two to a row; the one in use marked."""
        p, co = self.p, self.view
        rows = -(-len(LANGUAGES) // 2)
        box = self._modal_box(rows * 68 + 100)
        half = (box.width - 60) // 2
        for n, (code, name) in enumerate(LANGUAGES.items()):
            r = pygame.Rect(box.left + 20 + (n % 2) * (half + 20), box.top + 20 + (n // 2) * 68, half, 60)
            on = code == co.language
            p.button(
                r,
                name,
                Action("language", code),
                f"language:{code}",
                size=26,
                fill=theme.PRIMARY if on else theme.SECONDARY,
                ink=theme.PRIMARY_INK if on else theme.INK,
            )
        close = pygame.Rect(box.centerx - 100, box.bottom - 72, 200, 56)
        p.button(close, self._("Close"), Action("close_languages"), "close_languages")

    def _help(self) -> None:
        p = self.p
        box = self._modal_box(260)
        p.text(
            self._("Help is on the way"),
            (box.centerx, box.top + 60),
            38,
            theme.WARN_INK,
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
        p.fill_rect(theme.WARN, bar)
        p.text(
            self._("Are you still there? Starting over in {s} s", s=left),
            (bar.centerx, bar.top + 45),
            32,
            theme.ON_WARN,
            anchor="center",
            max_width=self.w - 20,
        )
        p.text(self._("Touch the screen to continue"), (bar.centerx, bar.top + 100), 22, theme.ON_WARN, anchor="center")
        p.buttons.append(Button(p.to_px(bar), Action("still_here"), "still_here"))

    def _sim_panel(self, area: pygame.Rect) -> None:
        p, buttons = self.p, self.view.sim_buttons
        p.fill_rect(theme.SIM, area)
        w = (area.width - theme.PAD * (len(buttons) + 1)) // len(buttons)
        for i, (label, name) in enumerate(buttons):
            r = pygame.Rect(area.left + theme.PAD + i * (w + theme.PAD), area.top + 8, w, 48)
            p.button(
                r, self._(label), Action("sim", name), f"sim:{name}", size=18, fill=(90, 90, 104), ink=(255, 255, 255)
            )
