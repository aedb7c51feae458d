"""The look-up screen: items without a barcode by category or by search (pinyin initials, pinyin, English),
and a keypad for a barcode that will not scan.

It draws the View's `look_up` (a page the look-up worker read) and gives every
tile and key an `Action`; `Screens` (kiosk/ui/screens.py) mixes it in.
"""

from __future__ import annotations

import pygame

from kiosk.money import format_money
from kiosk.runtime.view import Action, LookUpItem, LookUpView
from kiosk.ui import theme
from kiosk.ui.base import ScreenBase
from kiosk.ui.texts import CATEGORY_TEXT

TABS = (("browse", "By category"), ("search", "Search"), ("code", "Type barcode"))
KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm⌫")
KEY_LABEL = {"⌫": "←"}  # delete: an arrow every CJK font has


class LookUpScreens(ScreenBase):
    def _look_up(self, body: pygame.Rect) -> None:
        p, lu = self.p, self.view.look_up
        assert lu is not None
        tab_w = min(200, (body.width - 3 * 8 - 140 - 2 * theme.PAD) // 3)
        for n, (tab, label) in enumerate(TABS):
            r = pygame.Rect(body.left + theme.PAD + n * (tab_w + 8), body.top + 8, tab_w, 52)
            on = tab == lu.tab
            p.button(
                r,
                self._(label),
                Action("look_up_tab", tab),
                f"look_up_tab:{tab}",
                size=22,
                fill=theme.PRIMARY if on else theme.SECONDARY,
                ink=theme.PRIMARY_INK if on else theme.INK,
            )
        close = pygame.Rect(body.right - theme.PAD - 140, body.top + 8, 140, 52)
        p.button(close, self._("Close"), Action("look_up_close"), "look_up_close", size=22)
        area = pygame.Rect(body.left + theme.PAD, body.top + 68, body.width - 2 * theme.PAD, body.height - 76)
        {"browse": self._browse, "search": self._search, "code": self._type_code}[lu.tab](area, lu)

    # -- by category ------------------------------------------------------------------------------
    def _browse(self, area: pygame.Rect, lu: LookUpView) -> None:
        p = self.p
        header = pygame.Rect(area.left, area.top, area.width, 48)
        pager_left = self._pager(header, lu)
        if lu.category is not None:
            back = pygame.Rect(header.left, header.top, 200, 48)
            p.button(back, "‹ " + self._("All categories"), Action("look_up_categories"), "look_up_categories", size=20)
            title, left = self._category(lu.category), back.right + 12
        else:
            title, left = self._("Choose a category"), header.left
        n = self.view.notice
        if n is not None and n.error:  # e.g. "weigh it first": said where the shopper looks
            self._notice(n, (left, header.centery), anchor="midleft", width=pager_left - left - 8)
        else:
            p.text(title, (left, header.centery), 24, anchor="midleft", max_width=pager_left - left - 8)
        grid = pygame.Rect(area.left, header.bottom + 8, area.width, area.bottom - header.bottom - 8)
        if lu.category is None:
            tiles = [(self._category(c), Action("look_up_category", c), f"look_up_category:{c}") for c in lu.categories]
            self._tiles(grid, [(label, None, a, name) for label, a, name in tiles], lu)
        else:
            self._tiles(
                grid,
                [(it.name, it, Action("look_up_add", it.barcode), f"look_up_add:{it.barcode}") for it in lu.items],
                lu,
            )

    def _category(self, key: str) -> str:
        return self._(CATEGORY_TEXT[key]) if key in CATEGORY_TEXT else key

    def _tiles(
        self, grid: pygame.Rect, tiles: list[tuple[str, LookUpItem | None, Action, str]], lu: LookUpView
    ) -> None:
        """Up to 9 tiles, 3 by 3: a category's name, or an item's name over its price (its picture beside them
        when the catalog has one)."""
        p = self.p
        if not tiles:
            said = "Reading…" if lu.loading else "Nothing here"
            p.text(self._(said), grid.center, 24, theme.MUTED, anchor="center")
            return
        cols, rows, gap = 3, 3, 8
        tw, th = (grid.width - (cols - 1) * gap) // cols, max(theme.TOUCH, (grid.height - (rows - 1) * gap) // rows)
        for i, (label, item, action, name) in enumerate(tiles[: cols * rows]):
            r = pygame.Rect(grid.left + (i % cols) * (tw + gap), grid.top + (i // cols) * (th + gap), tw, th)
            if item is None:
                p.button(r, label, action, name, size=22)
                continue
            p.button(r, "", action, name)
            price = format_money(item.price, self.view.currency) + (" /kg" if item.by_weight else "")
            side = min(th - 12, tw // 3)
            if item.picture and side >= 40:  # its picture at the left, the name over the price beside it
                picture = pygame.Rect(r.left + 6, r.centery - side // 2, side, side)
                self._product_picture(item.picture, picture)
                text_w = r.right - picture.right - 16
                if th >= 64:
                    p.two_lines(label, (picture.right + 8, r.top + (th - 24) // 2), text_w, th - 32, 20)
                    p.text(
                        price, (picture.right + 8, r.bottom - 14), 18, theme.MUTED, anchor="midleft", max_width=text_w
                    )
                else:
                    p.two_lines(label, (picture.right + 8, r.centery - 9), text_w, th // 2, 18)
                    p.text(
                        price, (picture.right + 8, r.bottom - 11), 16, theme.MUTED, anchor="midleft", max_width=text_w
                    )
            elif th >= 64:
                p.two_lines(label, (r.centerx, r.top + (th - 24) // 2), r.width - 16, th - 32, 20, anchor="center")
                p.text(price, (r.centerx, r.bottom - 14), 18, theme.MUTED, anchor="center", max_width=r.width - 16)
            else:
                p.text(price, (r.right - 8, r.centery), 18, theme.MUTED, anchor="midright")
                p.two_lines(label, (r.left + 8, r.centery), r.width - 100, th - 4, 18)

    def _pager(self, row: pygame.Rect, lu: LookUpView) -> int:
        """◀ ▶ at the right of `row` when there is more than one page; returns where they start."""
        if lu.page == 0 and not lu.more:
            return row.right
        nxt = pygame.Rect(row.right - 56, row.top, 56, row.height)
        prev = pygame.Rect(nxt.left - 8 - 56, row.top, 56, row.height)
        self.p.button(prev, "◀", Action("look_up_page", str(max(0, lu.page - 1))), "look_up_prev", size=22)
        self.p.button(nxt, "▶", Action("look_up_page", str(lu.page + (1 if lu.more else 0))), "look_up_next", size=22)
        return prev.left

    # -- search ---------------------------------------------------------------------------------------
    def _search(self, area: pygame.Rect, lu: LookUpView) -> None:
        p = self.p
        line = pygame.Rect(area.left, area.top, area.width, 40)
        p.fill_rect(theme.PANEL, line, radius=8)
        pager_left = self._pager(pygame.Rect(line.left, line.bottom + 6, line.width, 56), lu)
        if lu.query:
            shown = p.text(lu.query, (line.left + 12, line.centery), 26, anchor="midleft", max_width=line.width // 2)
        else:
            hint = self._("Type pinyin initials or English, like nn or milk")
            shown = p.text(
                hint, (line.left + 12, line.centery), 18, theme.MUTED, anchor="midleft", max_width=line.width - 24
            )
        n = self.view.notice
        if n is not None and n.error:
            self._notice(n, (line.right - 8, line.centery), anchor="midright", width=line.right - shown.right - 24)
        results = pygame.Rect(line.left, line.bottom + 6, pager_left - 8 - line.left, 56)
        if lu.query:
            self._result_row(results, lu)
        keys_top = results.bottom + 8
        key_h = max(theme.TOUCH, min(56, (area.bottom - keys_top) // 3 - 6))
        key_w = max(theme.TOUCH, min(72, (area.width - 9 * 6) // 10))
        for r_i, row in enumerate(KEY_ROWS):
            width = len(row) * key_w + (len(row) - 1) * 6
            x = area.centerx - width // 2
            for k_i, key in enumerate(row):
                r = pygame.Rect(x + k_i * (key_w + 6), keys_top + r_i * (key_h + 6), key_w, key_h)
                p.button(r, KEY_LABEL.get(key, key), Action("look_up_key", key), f"look_up_key:{key}", size=24)

    def _result_row(self, row: pygame.Rect, lu: LookUpView) -> None:
        p = self.p
        if not lu.items:
            said = "Reading…" if lu.loading else "No item found"
            p.text(self._(said), (row.left + 12, row.centery), 22, theme.MUTED, anchor="midleft")
            return
        gap = 8
        tw = (row.width - 2 * gap) // 3
        for i, it in enumerate(lu.items[:3]):
            r = pygame.Rect(row.left + i * (tw + gap), row.top, tw, row.height)
            p.button(r, "", Action("look_up_add", it.barcode), f"look_up_add:{it.barcode}")
            price = format_money(it.price, self.view.currency) + (" /kg" if it.by_weight else "")
            right = p.text(price, (r.right - 8, r.centery), 18, theme.MUTED, anchor="midright")
            p.two_lines(it.name, (r.left + 8, r.centery), right.left - r.left - 16, r.height - 4, 18)

    # -- a barcode typed --------------------------------------------------------------------------------
    def _type_code(self, area: pygame.Rect, lu: LookUpView) -> None:
        p = self.p
        key_h = max(theme.TOUCH, min(60, (area.height - 3 * 6) // 4))
        key_w = max(theme.TOUCH, min(96, key_h + 24))
        pad_w = 3 * key_w + 2 * 6
        left = area.right - pad_w
        for n, key in enumerate("123456789⌫0"):
            r = pygame.Rect(left + (n % 3) * (key_w + 6), area.top + (n // 3) * (key_h + 6), key_w, key_h)
            p.button(r, KEY_LABEL.get(key, key), Action("look_up_key", key), f"look_up_key:{key}", size=28)
        ok = pygame.Rect(left + 2 * (key_w + 6), area.top + 3 * (key_h + 6), key_w, key_h)
        p.button(
            ok,
            self._("OK"),
            Action("look_up_code_ok"),
            "look_up_code_ok",
            size=24,
            fill=theme.PRIMARY,
            ink=theme.PRIMARY_INK,
        )
        width = left - area.left - 24
        p.paragraph(self._("Type the numbers under the barcode"), (area.left, area.top + 4), 22, theme.MUTED, width, 2)
        box = pygame.Rect(area.left, area.top + 70, width, 56)
        p.fill_rect(theme.PANEL, box, radius=8)
        p.fill_rect(theme.EDGE, box, radius=8, width=2)
        p.text(lu.code, (box.left + 12, box.centery), 32, anchor="midleft", max_width=box.width - 24)
        n = self.view.notice
        if n is not None and n.error:
            text = self._notice_text(n)
            p.paragraph(text, (area.left, box.bottom + 12), 20, theme.DANGER, width, 4)
