"""What every screen shares: the painter, the View being drawn, translation, the shopper's notices."""

from __future__ import annotations

from datetime import datetime

import pygame

from kiosk.catalog import Product
from kiosk.checkout import Notice
from kiosk.i18n import tr, trn
from kiosk.money import format_money
from kiosk.runtime.view import Action, LineView, View
from kiosk.ui import theme
from kiosk.ui.pictures import PictureCache
from kiosk.ui.texts import NOTICES, ORDER_REFUSALS, REASONS
from kiosk.ui.widgets import Painter, qr_surface


class ScreenBase:
    def __init__(self, painter: Painter, pictures: PictureCache | None = None) -> None:
        self.p = painter
        self.pictures = pictures  # product pictures (None: drawn without)
        self.v: View | None = None
        self.w, self.h = painter.size  # layout units (see Painter): 800x480 or 720x1280 and up
        self.portrait = self.h > self.w
        self._qr_cache: dict[str, pygame.Surface] = {}

    def _(self, msg: str, **params: object) -> str:
        return tr(self.view.language, msg, **params)

    def _n(self, singular: str, plural: str, count: int, **params: object) -> str:
        return trn(self.view.language, singular, plural, count, **params)

    def _qr(self, text: str, size: int, topleft: tuple[int, int]) -> pygame.Rect:
        """A QR code `size` layout units square at `topleft`, made once at the screen's real size."""
        px = self.p.px(size)
        key = f"{px}:{text}"
        if key not in self._qr_cache:
            self._qr_cache.clear()
            self._qr_cache[key] = qr_surface(text, px)
        self.p.blit(self._qr_cache[key], topleft)
        return pygame.Rect(topleft, (size, size))

    def _product_picture(self, picture: str, rect: pygame.Rect) -> None:
        """A product's picture on white (product photos are shot on white), in `rect`; the white square is
        drawn while the picture is still being read, so nothing moves when it comes."""
        p = self.p
        p.fill_rect(theme.PICTURE_BG, rect, radius=6)
        shown = self.pictures.get(picture, p.px(min(rect.width, rect.height) - 4)) if self.pictures else None
        if shown is not None:
            p.picture(picture, shown, rect)

    def _modal_box(self, height: int) -> pygame.Rect:
        """Dim the frame and draw the box of a modal dialog on it; the caller empties p.buttons first."""
        shade = pygame.Surface(self.p.surface.get_size(), pygame.SRCALPHA)
        shade.fill((0, 0, 0, 140))
        self.p.surface.blit(shade, (0, 0))
        box = pygame.Rect(0, 0, min(560, self.w - 40), height)
        box.center = (self.w // 2, self.h // 2)
        self.p.fill_rect(theme.PANEL, box, radius=16)
        return box

    def _scroll_button(self, rect: pygame.Rect, name: str, to: int, enabled: bool) -> None:
        """▲ or ▼: a touch shows the lines from `to` on (the cart, and staff's list of its lines)."""
        p = self.p
        p.button(rect, "", Action("scroll", str(to)), f"scroll_{name}")
        cx, cy = rect.center
        tip, base = (cy - 10, cy + 8) if name == "up" else (cy + 10, cy - 8)
        colour = theme.INK if enabled else theme.EDGE
        p.polygon(colour, [(cx, tip), (cx - 12, base), (cx + 12, base)])

    def _line_rows(self, area: pygame.Rect, top: int | None) -> list[tuple[pygame.Rect, LineView]]:
        """The cart's lines that fit `area` from line `top` (None: the one in view the cart screen chooses), with
        a scroll column (▲, where we are, ▼) at the right when they do not all fit; returns each shown line's row."""
        p, lines = self.p, self.view.lines
        row_h, n = 60, len(lines)
        fits = max(1, (area.height - 8) // row_h)
        top = min(max(0, top), max(0, n - fits)) if top is not None else self._first_line_shown(fits)
        width = area.width - 16
        if n > fits:
            width -= theme.TOUCH + 8
            col = pygame.Rect(area.left + 8 + width + 8, area.top + 8, theme.TOUCH, area.height - 16)
            self._scroll_button(pygame.Rect(col.left, col.top, col.width, 56), "up", max(0, top - fits), top > 0)
            down = pygame.Rect(col.left, col.bottom - 56, col.width, 56)
            self._scroll_button(down, "down", min(n - fits, top + fits), top + fits < n)
            p.text(f"{top + 1}–{min(n, top + fits)}", (col.centerx, col.centery - 12), 16, theme.MUTED, "center")
            p.text(f"/ {n}", (col.centerx, col.centery + 12), 16, theme.MUTED, "center")
        return [
            (pygame.Rect(area.left + 8, area.top + 8 + i * row_h, width, row_h - 6), ln)
            for i, ln in enumerate(lines[top : top + fits])
        ]

    def _first_line_shown(self, fits: int) -> int:
        co = self.view
        n = len(co.lines)
        last_top = max(0, n - fits)
        if co.cart_top is not None:  # where the shopper scrolled to
            return min(max(0, co.cart_top), last_top)
        top = last_top  # the newest at the bottom, and the line that just changed in view
        where = next((i for i, ln in enumerate(co.lines) if ln.sku == co.changed_sku), None)
        return min(where, top) if where is not None else top

    @property
    def view(self) -> View:
        assert self.v is not None, "draw() first"
        return self.v

    def now(self) -> float:
        return self.view.now

    def _notice(self, n: Notice | None, pos: tuple[int, int], anchor: str = "midbottom", width: int = 0) -> None:
        """A notice on one line (shrunk, then shortened, to `width`)."""
        if n is None:
            return
        colour = theme.DANGER if n.error else theme.PRIMARY
        self.p.text(self._notice_text(n), pos, 24, colour, anchor=anchor, max_width=width or self.w - 40)

    def _notice_text(self, n: Notice) -> str:
        """A notice in the shopper's language: an item by its name, an amount as money, a reason in words."""
        params = dict(n.params)
        if "reason" in params:
            params["reason"] = self._(REASONS.get(str(params["reason"]), "The payment could not be completed"))
        if isinstance(params.get("item"), Product):
            item = params["item"]
            params["item"] = item.name(self.view.language)
        if isinstance(params.get("amount"), int):
            params["amount"] = format_money(params["amount"], self.view.currency)
        if "why" in params:  # an order code refused (kiosk.online_order.OrderQrError's key)
            params["why"] = self._(ORDER_REFUSALS.get(str(params["why"]), ORDER_REFUSALS["damaged"]))
        if "when" in params:  # an RFC 3339 time: local, to the minute
            when = datetime.fromisoformat(str(params["when"]).replace("Z", "+00:00")).astimezone()
            params["when"] = when.strftime("%Y-%m-%d %H:%M")
        return self._(NOTICES[n.key], **params)
