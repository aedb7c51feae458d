"""Drawing helpers: cached text, buttons that remember the Action a touch on them sends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygame

from kiosk.runtime.view import Action
from kiosk.ui import theme


@dataclass
class Button:
    rect: pygame.Rect
    action: Action  # what a touch on it asks the controller to do
    name: str  # a stable name tests and tools can find the button by


class Painter:
    """Renders text with one CJK font, caching rendered surfaces (text rendering is the costly part)."""

    def __init__(self, surface: pygame.Surface, font_path: str) -> None:
        self.surface = surface
        self.font_path = font_path
        self._fonts: dict[int, pygame.font.Font] = {}
        self._cache: dict[tuple, pygame.Surface] = {}
        self.buttons: list[Button] = []
        self.texts: list[tuple[str, pygame.Rect]] = []  # what was written where this frame (layout checks)

    def font(self, size: int) -> pygame.font.Font:
        f = self._fonts.get(size)
        if f is None:
            f = self._fonts[size] = pygame.font.Font(self.font_path, size)
        return f

    def text_surface(self, text: str, size: int, colour: tuple[int, int, int]) -> pygame.Surface:
        key = (text, size, colour)
        s = self._cache.get(key)
        if s is None:
            if len(self._cache) > 600:
                self._cache.clear()
            s = self._cache[key] = self.font(size).render(text, True, colour)
        return s

    def text(
        self,
        text: str,
        pos: tuple[int, int],
        size: int = 24,
        colour=theme.INK,
        anchor: str = "topleft",
        max_width: int | None = None,
    ) -> pygame.Rect:
        s = self.text_surface(text, size, colour)
        while max_width and s.get_width() > max_width and size > 12:
            size -= 2
            s = self.text_surface(text, size, colour)
        rect = s.get_rect(**{anchor: pos})
        self.surface.blit(s, rect)
        self.texts.append((text, rect))
        return rect

    def paragraph(self, text: str, topleft: tuple[int, int], size: int, colour, width: int) -> None:
        """Text wrapped to `width` pixels: at spaces where there are any, else between characters (Chinese)."""
        font = self.font(size)
        lines, line = [], ""
        for ch in text:
            if font.size(line + ch)[0] > width and line:
                cut = line.rfind(" ")
                if cut > 0:
                    lines.append(line[:cut])
                    line = line[cut + 1 :] + ch
                else:
                    lines.append(line)
                    line = ch
            else:
                line += ch
        lines.append(line)
        x, y = topleft
        for part in lines:
            self.text(part.strip(), (x, y), size, colour)
            y += font.get_linesize()

    def button(
        self,
        rect: pygame.Rect,
        label: str,
        action: Action,
        name: str,
        *,
        size: int = 24,
        fill=theme.SECONDARY,
        ink=theme.INK,
    ) -> None:
        assert rect.width >= theme.TOUCH and rect.height >= theme.TOUCH, f"touch target {name} too small"
        pygame.draw.rect(self.surface, fill, rect, border_radius=10)
        self.text(label, rect.center, size, ink, anchor="center", max_width=rect.width - 12)
        self.buttons.append(Button(rect, action, name))

    def hit(self, pos: tuple[int, int]) -> Button | None:
        for b in reversed(self.buttons):  # the last drawn is on top
            if b.rect.collidepoint(pos):
                return b
        return None


def qr_surface(text: str, size: int) -> pygame.Surface:
    import qrcode

    qr = qrcode.QRCode(border=2, box_size=1)
    qr.add_data(text)
    qr.make(fit=True)
    arr = np.array(qr.make_image().convert("L"), dtype=np.uint8)
    rgb = np.repeat(arr[:, :, None], 3, axis=2).swapaxes(0, 1)
    return pygame.transform.scale(pygame.surfarray.make_surface(rgb), (size, size))
