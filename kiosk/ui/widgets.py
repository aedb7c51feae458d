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

NO_LINE_START = set("。，、！？；：）」』》〉】”’.,!?;:)")  # punctuation that never starts a line


@dataclass(frozen=True)
class Drawn:
    """One text of a frame as the shopper sees it (only when the Painter keeps an audit)."""

    text: str
    rect: pygame.Rect
    size: int  # the font size it was drawn at, in real pixels
    colour: tuple[int, int, int]
    background: tuple[int, int, int]  # the commonest colour under it before it was drawn


@dataclass(frozen=True)
class DrawnButton:
    name: str
    rect: pygame.Rect
    fill: tuple[int, int, int]
    edge: tuple[int, int, int] | None
    around: tuple[int, int, int]  # the commonest colour just outside it before it was drawn


@dataclass(frozen=True)
class DrawnPicture:
    """A product picture of a frame: which (its sha256) and where, in real pixels."""

    picture: str
    rect: pygame.Rect


@dataclass
class Button:
    rect: pygame.Rect  # in real pixels, where a touch lands
    action: Action  # what a touch on it asks the controller to do
    name: str  # a stable name tests and tools can find the button by


class Painter:
    """Draws in layout units: the screens lay out an 800x480 (or 720x1280) screen, and `scale` makes every
    position, size and font larger on a larger screen, so a 1280x720 screen shows the same screen bigger
    rather than the same sizes with empty space.  Text is rendered at the real size (sharp, not scaled up),
    with one CJK font, caching rendered surfaces (text rendering is the costly part).  Buttons and the texts
    list are kept in real pixels: what a touch and a test see."""

    def __init__(self, surface: pygame.Surface, font_path: str, scale: float = 1.0) -> None:
        self.surface = surface
        self.font_path = font_path
        self.scale = scale
        self.text_scale = 1.0  # 1.25 in the shopper's large-text mode: every text larger, the layout the same
        self._fonts: dict[int, pygame.font.Font] = {}
        self._cache: dict[tuple, pygame.Surface] = {}
        self.buttons: list[Button] = []
        self.texts: list[tuple[str, pygame.Rect]] = []  # what was written where this frame (layout checks)
        self.pictures: list[pygame.Rect] = []  # where product pictures were drawn this frame (layout checks)
        self.audit: list[Drawn | DrawnButton | DrawnPicture] | None = None  # set to [] to keep one (tests)

    def close(self) -> None:
        """Let go of the fonts (each keeps its file open) and the rendered texts."""
        self._fonts.clear()
        self._cache.clear()

    # -- units ----------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """The screen in layout units."""
        w, h = self.surface.get_size()
        return round(w / self.scale), round(h / self.scale)

    def px(self, v: float) -> int:
        return round(v * self.scale)

    def to_px(self, rect) -> pygame.Rect:
        r = pygame.Rect(rect)
        return pygame.Rect(
            self.px(r.left), self.px(r.top), self.px(r.right) - self.px(r.left), self.px(r.bottom) - self.px(r.top)
        )

    def to_layout(self, rect: pygame.Rect) -> pygame.Rect:
        s = self.scale
        left, top = round(rect.left / s), round(rect.top / s)
        return pygame.Rect(left, top, round(rect.right / s) - left, round(rect.bottom / s) - top)

    def _font(self, px_size: int) -> pygame.font.Font:
        f = self._fonts.get(px_size)
        if f is None:
            f = self._fonts[px_size] = pygame.font.Font(self.font_path, px_size)
        return f

    def font_px(self, size: float) -> int:
        """A text size in layout units as real pixels, larger in large-text mode."""
        return round(size * self.scale * self.text_scale)

    def width_of(self, text: str, size: int) -> float:
        return self._font(self.font_px(size)).size(text)[0] / self.scale

    def line_height(self, size: int) -> float:
        return self._font(self.font_px(size)).get_linesize() / self.scale

    # -- shapes -----------------------------------------------------------------------
    def fill_rect(self, colour, rect, radius: int = 0, width: int = 0) -> None:
        pygame.draw.rect(
            self.surface, colour, self.to_px(rect), width=self.px(width) if width else 0, border_radius=self.px(radius)
        )

    def circle(self, colour, centre: tuple[int, int], radius: int, width: int = 0) -> None:
        pygame.draw.circle(self.surface, colour, (self.px(centre[0]), self.px(centre[1])), self.px(radius),
                           max(1, self.px(width)) if width else 0)  # fmt: skip

    def half_disc(self, colour, centre: tuple[int, int], radius: int) -> None:
        """The left half of a disc (with an outline circle: ◐)."""
        pygame.draw.circle(self.surface, colour, (self.px(centre[0]), self.px(centre[1])), self.px(radius),
                           draw_top_left=True, draw_bottom_left=True)  # fmt: skip

    def polygon(self, colour, points: list[tuple[float, float]]) -> None:
        pygame.draw.polygon(self.surface, colour, [(self.px(x), self.px(y)) for x, y in points])

    def blit(self, picture: pygame.Surface, topleft: tuple[int, int]) -> None:
        """A picture made at real size (see px) placed at a layout position."""
        self.surface.blit(picture, (self.px(topleft[0]), self.px(topleft[1])))

    def picture(self, name: str, picture: pygame.Surface, rect) -> None:
        """A picture made at real size, centred in a layout rectangle; `name` says which (the audit's)."""
        at = picture.get_rect(center=self.to_px(rect).center)
        self.surface.blit(picture, at)
        self.pictures.append(at)
        if self.audit is not None:
            self.audit.append(DrawnPicture(name, at))

    # -- text -------------------------------------------------------------------------
    def text_surface(self, text: str, px_size: int, colour: tuple[int, int, int]) -> pygame.Surface:
        key = (text, px_size, colour)
        s = self._cache.get(key)
        if s is None:
            if len(self._cache) > 600:
                self._cache.clear()
            s = self._cache[key] = self._font(px_size).render(text, True, colour)
        return s

    def text(
        self,
        text: str,
        pos: tuple[int, int],
        size: int = 24,
        colour=None,
        anchor: str = "topleft",
        max_width: int | None = None,
    ) -> pygame.Rect:
        """One line; too wide for max_width, it is drawn smaller down to theme.MIN_TEXT, then shortened with …
        Returns where it went, in layout units.  Colours default to the palette in use (theme.use)."""
        if not text:  # nothing typed yet: nothing drawn (an empty line has no contrast to check)
            return pygame.Rect(pos, (0, 0))
        colour = colour or theme.INK
        px_size, smallest = self.font_px(size), min(self.font_px(size), self.px(theme.MIN_TEXT))
        limit = self.px(max_width) if max_width else 0
        s = self.text_surface(text, px_size, colour)
        while limit and s.get_width() > limit and px_size > smallest:
            px_size = max(smallest, px_size - 2)
            s = self.text_surface(text, px_size, colour)
        if limit and s.get_width() > limit:
            text = self._shorten(text, px_size, limit)
            s = self.text_surface(text, px_size, colour)
        rect = s.get_rect(**{anchor: (self.px(pos[0]), self.px(pos[1]))})
        self._record(text, rect, px_size, colour)
        self.surface.blit(s, rect)
        self.texts.append((text, rect))
        return self.to_layout(rect)

    def _shorten(self, text: str, px_size: int, px_width: int) -> str:
        """The longest start of `text` that fits `px_width` with an ellipsis after it."""
        font = self._font(px_size)
        while text and font.size(text + "…")[0] > px_width:
            text = text[:-1]
        return text.rstrip() + "…"

    def lines(self, text: str, size: int, width: int, max_lines: int) -> list[str]:
        """`text` wrapped to `width` (at spaces where there are any, else between characters; closing punctuation
        never starts a line), at most `max_lines` lines, the last shortened with … when the rest does not fit."""
        font, limit = self._font(self.font_px(size)), self.px(width)
        out, line = [], ""
        for ch in text:
            if font.size(line + ch)[0] > limit and line:
                cut = line.rfind(" ")
                if cut > 0:
                    out.append(line[:cut])
                    line = line[cut + 1 :] + ch
                elif ch in NO_LINE_START and len(line) > 1:  # the character before goes down with it
                    out.append(line[:-1])
                    line = line[-1] + ch
                else:
                    out.append(line)
                    line = ch
            else:
                line += ch
        out.append(line)
        out = [part.strip() for part in out]
        if len(out) > max_lines:
            rest = " ".join(out[max_lines - 1 :]) if " " in text else "".join(out[max_lines - 1 :])
            out = out[: max_lines - 1] + [self._shorten(rest, self.font_px(size), limit)]
        return out

    def two_lines(
        self,
        text: str,
        at: tuple[int, int],
        width: int,
        height: int,
        size: int = 22,
        colour=None,
        anchor: str = "midleft",
    ) -> None:
        """Text in a box (a product name, a label, a status): one line at `size` if it fits, else two lines
        (smaller, never below theme.MIN_TEXT, no word broken where a smaller size avoids it), the second
        shortened with … when even that is not enough.  `at` is the box's midleft, midright or center point,
        as `anchor` says."""
        colour = colour or theme.INK
        for s in range(size, max(theme.MIN_TEXT, size - 4) - 1, -2):  # one line, a little smaller if need be
            if self.width_of(text, s) <= width:
                self.text(text, at, s, colour, anchor=anchor)
                return
        words = set(text.split())
        sizes = [s for s in range(size, theme.MIN_TEXT - 1, -2) if 2 * self.line_height(s) <= height]
        for s in sizes or [theme.MIN_TEXT]:  # the largest size at which two lines hold it, no word broken
            parts = self.lines(text, s, width, 3)
            if len(parts) <= 2 and (" " not in text or all(w in words for part in parts for w in part.split())):
                break
        else:
            parts = self.lines(text, s, width, 2)
        step = self.line_height(s)
        y = at[1] - step * len(parts) / 2
        line_anchor = {"midleft": "topleft", "midright": "topright"}.get(anchor, "midtop")
        for part in parts:
            self.text(part, (at[0], round(y)), s, colour, anchor=line_anchor)
            y += step

    def paragraph(self, text: str, topleft: tuple[int, int], size: int, colour, width: int, max_lines: int = 6) -> int:
        """Text wrapped to `width`; returns the y under its last line."""
        x, y = topleft
        for part in self.lines(text, size, width, max_lines):
            self.text(part, (x, round(y)), size, colour)
            y += self.line_height(size)
        return round(y)

    def _record(self, text: str, rect: pygame.Rect, px_size: int, colour) -> None:
        if self.audit is not None:
            self.audit.append(Drawn(text, rect.copy(), px_size, tuple(colour), self._commonest(rect)))

    def _commonest(self, rect: pygame.Rect) -> tuple[int, int, int]:
        area = rect.clip(self.surface.get_rect())
        if area.width == 0 or area.height == 0:
            return tuple(self.surface.get_at((0, 0)))[:3]  # type: ignore[return-value]
        pixels = pygame.surfarray.array3d(self.surface.subsurface(area)).reshape(-1, 3)
        colours, counts = np.unique(pixels, axis=0, return_counts=True)
        return tuple(int(c) for c in colours[counts.argmax()])  # type: ignore[return-value]

    # -- buttons ------------------------------------------------------------------------
    def button(
        self,
        rect: pygame.Rect,
        label: str,
        action: Action,
        name: str,
        *,
        size: int = 24,
        fill=None,
        ink=None,
        edge: tuple[int, int, int] | None = None,
    ) -> None:
        """A touch target; a light one (theme.EDGES) gets an outline so it has a visible shape."""
        fill, ink = fill or theme.SECONDARY, ink or theme.INK
        assert rect.width >= theme.TOUCH and rect.height >= theme.TOUCH, f"touch target {name} too small"
        if edge is None:
            edge = theme.EDGES.get(tuple(fill))
        real = self.to_px(rect)
        if self.audit is not None:
            self.audit.append(DrawnButton(name, real.copy(), tuple(fill), edge, self._around(real)))
        self.fill_rect(fill, rect, radius=10)
        if edge is not None:
            self.fill_rect(edge, rect, radius=10, width=2)
        if label:
            self.two_lines(label, rect.center, rect.width - 12, rect.height - 4, size, ink, anchor="center")
        self.buttons.append(Button(real, action, name))

    def _around(self, rect: pygame.Rect) -> tuple[int, int, int]:
        """The commonest colour of a 3-pixel ring just outside `rect` (real pixels)."""
        outer = rect.inflate(6, 6).clip(self.surface.get_rect())
        pixels = pygame.surfarray.array3d(self.surface.subsurface(outer))
        ring = np.ones(pixels.shape[:2], dtype=bool)
        inner = rect.clip(outer).move(-outer.left, -outer.top)
        ring[inner.left : inner.right, inner.top : inner.bottom] = False
        colours, counts = np.unique(pixels[ring], axis=0, return_counts=True)
        return tuple(int(c) for c in colours[counts.argmax()])  # type: ignore[return-value]

    def hit(self, pos: tuple[int, int]) -> Button | None:
        """The button under a touch at `pos` (real pixels), the last drawn on top."""
        for b in reversed(self.buttons):
            if b.rect.collidepoint(pos):
                return b
        return None


def scale_for(size: tuple[int, int]) -> float:
    """How much larger than its layout a screen of `size` is drawn: the screens are laid out for 800x480
    (landscape) and 720x1280 (portrait); larger screens show the same layout larger, never smaller."""
    w, h = size
    base_w, base_h = (720, 1280) if h > w else (800, 480)
    return max(1.0, min(w / base_w, h / base_h))


def qr_surface(text: str, size: int) -> pygame.Surface:
    import qrcode

    qr = qrcode.QRCode(border=2, box_size=1)
    qr.add_data(text)
    qr.make(fit=True)
    arr = np.array(qr.make_image().convert("L"), dtype=np.uint8)
    rgb = np.repeat(arr[:, :, None], 3, axis=2).swapaxes(0, 1)
    return pygame.transform.scale(pygame.surfarray.make_surface(rgb), (size, size))
