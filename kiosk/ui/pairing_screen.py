"""The screen of a kiosk not paired with head office yet: its pairing code, its serial and how pairing goes, in
Chinese and English at once (a technician reads it, whichever language is theirs).

`PairingScreen.draw()` renders a `PairingState` (kiosk/pairing.py); `pair_on_screen()` runs the loop: pairing
on a worker thread, the screen at 10 frames a second pinging systemd's watchdog, until the kiosk is paired (True)
or stopped (False).  Nothing here waits on the network.
"""

from __future__ import annotations

import threading
import time

import pygame

from kiosk.i18n import tr
from kiosk.pairing import Pairing, PairingState
from kiosk.runtime.systemd import Watchdog
from kiosk.ui import theme
from kiosk.ui.widgets import Painter, scale_for

PAIRED_SHOWN_S = 2.0  # "Paired as …" stays this long before the kiosk starts selling


class PairingScreen:
    def __init__(self, painter: Painter, qr: bool = False) -> None:
        self.painter = painter
        self.qr = qr  # a camera watches for head office's provisioning QR

    def _(self, msg: str, **params: object) -> tuple[str, str]:
        """`msg` in Chinese and in English."""
        return tr("zh_CN", msg, **params), tr("en", msg, **params)

    def _pair(self, texts: tuple[str, str], y: int, size: int, colour=None) -> int:
        """The Chinese line, the English under it; returns the y below them."""
        p = self.painter
        w = p.size[0]
        for text in texts:
            p.text(text, (w // 2, y), size, colour, anchor="midtop", max_width=w - 2 * theme.PAD)
            y += round(p.line_height(size)) + 2
        return y

    def draw(self, s: PairingState) -> None:
        theme.use(False)
        p = self.painter
        p.buttons, p.texts = [], []
        w, h = p.size
        p.surface.fill(theme.BG)
        p.fill_rect(theme.TOPBAR, (0, 0, w, 56))
        top = self._("This kiosk is not paired with head office yet")
        p.text(top[0], (w // 2, 4), 22, theme.TOPBAR_INK, anchor="midtop", max_width=w - 24)
        p.text(top[1], (w // 2, 30), 18, theme.TOPBAR_INK, anchor="midtop", max_width=w - 24)
        y = 72
        if s.status == "paired":
            who = f"{s.identity.get('store_id', '')}/{s.identity.get('kiosk_id', '')}"
            y = self._pair(self._("Paired as {kiosk}. Starting…", kiosk=who), y + 60, 30, theme.PRIMARY)
            return
        y = self._pair(self._("Enter this code at head office:"), y, 22)
        code = s.shown_code or "…"
        rect = p.text(code, (w // 2, y + 4), 72, theme.INK, anchor="midtop", max_width=w - 2 * theme.PAD)
        y = rect.bottom + 8
        p.text(f"{self._('Serial')[0]} / {self._('Serial')[1]}: {s.serial}", (w // 2, y), 18, theme.MUTED,
               anchor="midtop", max_width=w - 2 * theme.PAD)  # fmt: skip
        y += 34
        if s.status == "unreachable":
            y = self._pair(self._("Head office cannot be reached; trying again"), y, 20, theme.DANGER)
            p.text(s.detail, (w // 2, y), 16, theme.MUTED, anchor="midtop", max_width=w - 2 * theme.PAD)
            y += 26
        elif s.status == "waiting":
            until = time.strftime("%H:%M", time.localtime(s.expires_at)) if s.expires_at else ""
            y = self._pair(self._("Waiting for head office (the code is good until {time})", time=until), y, 20)
        else:
            y = self._pair(self._("Asking head office for a code…"), y, 20)
        if s.qr_refused:
            y = self._pair(self._("The provisioning QR was not taken:"), y, 18, theme.DANGER)
            p.text(s.qr_refused, (w // 2, y), 16, theme.MUTED, anchor="midtop", max_width=w - 2 * theme.PAD)
            y += 26
        elif self.qr:
            y = self._pair(self._("Or show head office's provisioning QR to the camera"), y, 18, theme.MUTED)
        hint = f"python -m headoffice pair {s.shown_code or 'CODE'} --store STORE --kiosk KIOSK"
        p.text(hint, (w // 2, h - 12), 16, theme.MUTED, anchor="midbottom", max_width=w - 2 * theme.PAD)


def pair_on_screen(pairing: Pairing, surface: pygame.Surface, font_path: str, holder: dict | None = None,
                   watchdog: Watchdog | None = None, fps: int = 10, ready_file: str | None = None,
                   qr: bool = False) -> bool:  # fmt: skip
    """Show the pairing screen until paired (True) or stopped: a window closed, Ctrl+Q, or holder["stop"] set by
    SIGTERM (False)."""
    painter = Painter(surface, font_path, scale_for(surface.get_size()))
    screen = PairingScreen(painter, qr)
    watchdog = watchdog or Watchdog()
    watchdog.status = "waiting to be paired"
    stop = threading.Event()
    holder = holder if holder is not None else {}
    holder["stop"] = stop
    worker = threading.Thread(target=pairing.run, args=(stop,), name="pairing", daemon=True)
    worker.start()
    clock = pygame.time.Clock()
    paired_at = 0.0
    first = True
    try:
        while not stop.is_set():
            for event in pygame.event.get():
                if event.type == pygame.QUIT or (
                    event.type == pygame.KEYDOWN and event.key == pygame.K_q and event.mod & pygame.KMOD_CTRL
                ):
                    stop.set()
            state = pairing.snapshot()
            screen.draw(state)
            pygame.display.flip()
            watchdog.frame()
            if first and ready_file:
                open(ready_file, "w").close()
            first = False
            if state.status == "paired":
                paired_at = paired_at or time.monotonic()
                if time.monotonic() - paired_at >= PAIRED_SHOWN_S:
                    return True
            clock.tick(fps)
        return False
    finally:
        stop.set()
