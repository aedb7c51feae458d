"""Colours and sizes of the kiosk screen.

Every text colour here reaches 4.5:1 against the fill it is drawn on, and every
button's edge 3:1 against what is around it (WCAG 2.1, 1.4.3 and 1.4.11);
tests/test_ui.py measures both on every screen from what is actually drawn.
"""

from __future__ import annotations

BG = (246, 247, 249)
PANEL = (255, 255, 255)
INK = (28, 32, 40)
MUTED = (96, 103, 116)  # secondary text: 5.3:1 on BG, 4.6:1 on SECONDARY
PRIMARY = (0, 122, 94)  # pay, ok: white on it 5.3:1
PRIMARY_INK = (255, 255, 255)
SECONDARY = (226, 231, 238)  # a plain button's fill; its EDGE gives it a shape on BG
EDGE = (112, 120, 133)  # 4.2:1 on BG: the outline that makes a light button visible
DANGER = (196, 43, 28)
WARN = (214, 135, 0)  # amber fills (help, the idle banner): INK on it, 5.7:1 (white would be 2.9:1)
WARN_INK = (156, 86, 0)  # amber as text on BG or PANEL: 5.2:1
EDGES = {SECONDARY: EDGE, WARN: WARN_INK}  # light fills get an outline, so a button has a shape on BG
HIGHLIGHT = (222, 242, 233)  # the cart line that just changed
TOPBAR = (22, 60, 92)
TOPBAR_INK = (255, 255, 255)
SIM = (60, 60, 70)

TOUCH = 48  # the smallest touch target, in pixels
PAD = 12
MIN_TEXT = 16  # no shopper text is drawn smaller: it is wrapped or shortened instead
UNDO_BAR = 56  # the "Removed: … Undo" bar under the cart
