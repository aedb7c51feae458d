"""Drawing helpers: cached text, buttons that remember the Action a touch on them sends.

A Painter can also keep an audit of the frame (`audit = []`): every text with
its colour and the colour it was drawn on, every button with its fill, edge
and surroundings.  Tests measure contrast and sizes from it; the kiosk itself
leaves it off (sampling pixels costs time every frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygame

from kiosk.runtime.view import Action
from kiosk.ui import theme

NO_LINE_START = set("。，、！？；：）」』》〉】”’.,!?;:)")  # punctuation that stays at the end of its line


@dataclass(frozen=True)
class Drawn:
    """One text of a frame as the shopper sees it (only when the Painter keeps an audit)."""

    text: str
    rect: pygame.Rect
    size: int  # the font size it was drawn at
    colour: tuple[int, int, int]
    background: tuple[int, int, int]  # the commonest colour under it before it was drawn


@dataclass(frozen=True)
class DrawnButton:
    name: str
    rect: pygame.Rect
    fill: tuple[int, int, int]
    edge: tuple[int, int, int] | None
    around: tuple[int, int, int]  # the commonest colour just outside it before it was drawn


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
        self.audit: list[Drawn | DrawnButton] | None = None  # set to [] to keep one (tests)

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
        """One line; too wide for max_width, it is drawn smaller down to theme.MIN_TEXT, then shortened with …"""
        s = self.text_surface(text, size, colour)
        while max_width and s.get_width() > max_width and size > theme.MIN_TEXT:
            size -= 2
            s = self.text_surface(text, size, colour)
        if max_width and s.get_width() > max_width:
            text = self.shorten(text, size, max_width)
            s = self.text_surface(text, size, colour)
        rect = s.get_rect(**{anchor: pos})
        self._record(text, rect, size, colour)
        self.surface.blit(s, rect)
        self.texts.append((text, rect))
        return rect

    def shorten(self, text: str, size: int, width: int) -> str:
        """The longest start of `text` that fits `width` with an ellipsis after it."""
        font = self.font(size)
        while text and font.size(text + "…")[0] > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def lines(self, text: str, size: int, width: int, max_lines: int) -> list[str]:
        """`text` wrapped to `width` (at spaces where there are any, else between characters), at most
        `max_lines` lines, the last shortened with … when the rest does not fit."""
        font = self.font(size)
        out, line = [], ""
        for ch in text:
            if font.size(line + ch)[0] > width and line and ch not in NO_LINE_START:
                cut = line.rfind(" ")
                if cut > 0:
                    out.append(line[:cut])
                    line = line[cut + 1 :] + ch
                else:
                    out.append(line)
                    line = ch
            else:
                line += ch
        out.append(line)
        out = [part.strip() for part in out]
        if len(out) > max_lines:
            rest = " ".join(out[max_lines - 1 :]) if " " in text else "".join(out[max_lines - 1 :])
            out = out[: max_lines - 1] + [self.shorten(rest, size, width)]
        return out

    def two_lines(
        self,
        text: str,
        at: tuple[int, int],
        width: int,
        height: int,
        size: int = 22,
        colour=theme.INK,
        anchor: str = "midleft",
    ) -> None:
        """Text in a box (a product name, a status): one line at `size` if it fits, else two lines (smaller,
        never below theme.MIN_TEXT), the second shortened with … when even that is not enough.  `at` is the
        box's midleft, midright or center point, as `anchor` says."""
        if self.font(size).size(text)[0] <= width:
            self.text(text, at, size, colour, anchor=anchor)
            return
        words = set(text.split())
        sizes = [s for s in range(size, theme.MIN_TEXT - 1, -2) if 2 * self.font(s).get_linesize() <= height]
        for s in sizes or [theme.MIN_TEXT]:  # the largest size at which two lines hold it, no word broken
            parts = self.lines(text, s, width, 3)
            if len(parts) <= 2 and (" " not in text or all(w in words for part in parts for w in part.split())):
                break
        else:
            parts = self.lines(text, s, width, 2)
        step = self.font(s).get_linesize()
        y = at[1] - step * len(parts) // 2
        for part in parts:
            self.text(
                part, (at[0], y), s, colour, anchor={"midleft": "topleft", "midright": "topright"}.get(anchor, "midtop")
            )
            y += step

    def _record(self, text: str, rect: pygame.Rect, size: int, colour) -> None:
        if self.audit is not None:
            self.audit.append(Drawn(text, rect.copy(), size, tuple(colour), self._commonest(rect)))

    def _commonest(self, rect: pygame.Rect) -> tuple[int, int, int]:
        area = rect.clip(self.surface.get_rect())
        if area.width == 0 or area.height == 0:
            return tuple(self.surface.get_at((0, 0)))[:3]  # type: ignore[return-value]
        pixels = pygame.surfarray.array3d(self.surface.subsurface(area)).reshape(-1, 3)
        colours, counts = np.unique(pixels, axis=0, return_counts=True)
        return tuple(int(c) for c in colours[counts.argmax()])  # type: ignore[return-value]

    def paragraph(self, text: str, topleft: tuple[int, int], size: int, colour, width: int, max_lines: int = 6) -> int:
        """Text wrapped to `width` pixels; returns the y under its last line."""
        x, y = topleft
        for part in self.lines(text, size, width, max_lines):
            self.text(part, (x, y), size, colour)
            y += self.font(size).get_linesize()
        return y

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
        edge: tuple[int, int, int] | None = None,
    ) -> None:
        """A touch target; a light one (theme.EDGES) gets an outline so it has a visible shape."""
        assert rect.width >= theme.TOUCH and rect.height >= theme.TOUCH, f"touch target {name} too small"
        if edge is None:
            edge = theme.EDGES.get(tuple(fill))
        if self.audit is not None:
            self.audit.append(DrawnButton(name, rect.copy(), tuple(fill), edge, self._around(rect)))
        pygame.draw.rect(self.surface, fill, rect, border_radius=10)
        if edge is not None:
            pygame.draw.rect(self.surface, edge, rect, width=2, border_radius=10)
        if label:
            self.two_lines(label, rect.center, rect.width - 12, rect.height - 4, size, ink, anchor="center")
        self.buttons.append(Button(rect, action, name))

    def _around(self, rect: pygame.Rect) -> tuple[int, int, int]:
        """The commonest colour of a 3-pixel ring just outside `rect`."""
        outer = rect.inflate(6, 6).clip(self.surface.get_rect())
        pixels = pygame.surfarray.array3d(self.surface.subsurface(outer))
        ring = np.ones(pixels.shape[:2], dtype=bool)
        inner = rect.clip(outer).move(-outer.left, -outer.top)
        ring[inner.left : inner.right, inner.top : inner.bottom] = False
        colours, counts = np.unique(pixels[ring], axis=0, return_counts=True)
        return tuple(int(c) for c in colours[counts.argmax()])  # type: ignore[return-value]

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
