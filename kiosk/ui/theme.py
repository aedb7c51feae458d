"""Colours and sizes of the kiosk screen, in two palettes: the standard one and a high-contrast one a shopper
can switch on (top bar).

Standard: every text reaches 4.5:1 against the fill it is drawn on, and every button's edge 3:1 against what
is around it (WCAG 2.1, 1.4.3 and 1.4.11).  High contrast: light on black, every text 7:1 (WCAG AAA).
tests/test_shopper_screen.py measures both on every screen from what is actually drawn.  `use()` switches the
palette for the frame being drawn (the screens read these names as they draw).
"""

from __future__ import annotations

STANDARD = {
    "BG": (246, 247, 249),
    "PANEL": (255, 255, 255),
    "INK": (28, 32, 40),
    "MUTED": (96, 103, 116),  # secondary text: 5.3:1 on BG, 4.6:1 on SECONDARY
    "PRIMARY": (0, 122, 94),  # pay, ok: white on it 5.3:1
    "PRIMARY_INK": (255, 255, 255),
    "SECONDARY": (226, 231, 238),  # a plain button's fill; its EDGE gives it a shape on BG
    "EDGE": (112, 120, 133),  # 4.2:1 on BG: the outline that makes a light button visible
    "DANGER": (196, 43, 28),
    "WARN": (214, 135, 0),  # amber fills (help, the idle banner): ON_WARN on it, 5.7:1 (white would be 2.9:1)
    "ON_WARN": (28, 32, 40),
    "WARN_INK": (156, 86, 0),  # amber as text on BG or PANEL: 5.2:1
    "HIGHLIGHT": (222, 242, 233),  # the cart line that just changed
    "TOPBAR": (22, 60, 92),
    "TOPBAR_INK": (255, 255, 255),
}
HIGH_CONTRAST = {
    "BG": (0, 0, 0),
    "PANEL": (18, 18, 18),
    "INK": (255, 255, 255),
    "MUTED": (215, 215, 215),
    "PRIMARY": (110, 240, 170),  # light fills with black ink: PRIMARY_INK
    "PRIMARY_INK": (0, 0, 0),
    "SECONDARY": (38, 38, 38),
    "EDGE": (255, 255, 255),
    "DANGER": (255, 120, 110),  # as text on black and as a fill under black ink: both over 7:1
    "WARN": (255, 214, 0),
    "ON_WARN": (0, 0, 0),
    "WARN_INK": (255, 214, 0),
    "HIGHLIGHT": (0, 64, 44),
    "TOPBAR": (0, 0, 0),
    "TOPBAR_INK": (255, 255, 255),
}

BG = PANEL = INK = MUTED = PRIMARY = PRIMARY_INK = SECONDARY = EDGE = (0, 0, 0)
DANGER = WARN = ON_WARN = WARN_INK = HIGHLIGHT = TOPBAR = TOPBAR_INK = (0, 0, 0)
EDGES: dict[tuple[int, int, int], tuple[int, int, int]] = {}  # light fills get an outline: a shape on BG
SIM = (60, 60, 70)  # the simulator's own panel, the same in both
PICTURE_BG = (255, 255, 255)  # product pictures sit on white (as product photos are shot), in both

TOUCH = 48  # the smallest touch target, in pixels
PAD = 12
MIN_TEXT = 16  # no shopper text is drawn smaller: it is wrapped or shortened instead
LARGE_TEXT = 1.25  # the shopper's large-text mode: every text this much larger where it fits
UNDO_BAR = 56  # the "Removed: … Undo" bar under the cart

_in_use: dict[str, tuple[int, int, int]] | None = None


def use(high_contrast: bool) -> None:
    """Draw with the high-contrast palette, or the standard one."""
    global _in_use, EDGES
    palette = HIGH_CONTRAST if high_contrast else STANDARD
    if palette is _in_use:
        return
    globals().update(palette)
    EDGES = {palette["SECONDARY"]: palette["EDGE"], palette["WARN"]: palette["WARN_INK"]}
    if high_contrast:
        EDGES[palette["PRIMARY"]] = palette["EDGE"]
        EDGES[palette["DANGER"]] = palette["EDGE"]
    _in_use = palette


use(False)
