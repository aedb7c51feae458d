"""What every screen shares: the painter, the View being drawn, translation, the shopper's notices."""

from __future__ import annotations

import pygame

from kiosk.checkout import Notice
from kiosk.i18n import tr
from kiosk.runtime.view import View
from kiosk.ui import theme
from kiosk.ui.texts import NOTICES, REASONS
from kiosk.ui.widgets import Painter


class ScreenBase:
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

    def _notice(self, n: Notice | None, pos: tuple[int, int], anchor: str = "midbottom") -> None:
        if n is None:
            return
        params = dict(n.params)
        if "reason" in params:
            params["reason"] = self._(REASONS.get(str(params["reason"]), "The payment could not be completed"))
        text = self._(NOTICES[n.key], **params)
        self.p.text(text, pos, 24, theme.DANGER if n.error else theme.PRIMARY, anchor=anchor, max_width=self.w - 40)
