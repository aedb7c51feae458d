"""Colours and sizes of the kiosk screen."""

from __future__ import annotations

BG = (246, 247, 249)
PANEL = (255, 255, 255)
INK = (28, 32, 40)
MUTED = (105, 112, 125)
PRIMARY = (0, 122, 94)  # pay, ok
PRIMARY_INK = (255, 255, 255)
SECONDARY = (226, 231, 238)
DANGER = (196, 43, 28)
WARN = (214, 135, 0)
TOPBAR = (22, 60, 92)
TOPBAR_INK = (255, 255, 255)
SIM = (60, 60, 70)

TOUCH = 48  # the smallest touch target, in pixels
PAD = 12
