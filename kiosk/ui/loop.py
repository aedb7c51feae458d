"""The pygame frame loop: touches in, `Controller.pump()`, draw the snapshot, flip.  Nothing here waits.

Touches arrive as mouse events (SDL turns touchscreen taps into them).  Keys
typed into the window act as a keyboard-wedge scanner in the simulator (through
the simulator panel), so a USB scanner plugged into a desktop works too.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque

import pygame

from kiosk.runtime.view import Action
from kiosk.runtime.wiring import Runtime
from kiosk.ui.pictures import PictureCache
from kiosk.ui.screens import Screens
from kiosk.ui.widgets import Painter, scale_for

log = logging.getLogger(__name__)
CONSOLE_DRIVERS = ("kmsdrm", "fbcon", "directfb")


class UI:
    def __init__(self, kiosk: Runtime) -> None:
        self.kiosk = kiosk
        self.controller = kiosk.controller
        cfg = kiosk.cfg
        pygame.display.init()
        pygame.font.init()
        # On a console display (a Pi without a desktop) there are no windows: always full screen.
        fullscreen = cfg.display.fullscreen or pygame.display.get_driver() in CONSOLE_DRIVERS
        self.surface = pygame.display.set_mode(cfg.screen_size, pygame.FULLSCREEN if fullscreen else 0)
        pygame.display.set_caption("Kiosk")
        if fullscreen:
            pygame.mouse.set_visible(False)
        self.painter = Painter(self.surface, kiosk.font_path, scale_for(self.surface.get_size()))
        self.screens = Screens(self.painter, PictureCache(kiosk.pictures.folder, kiosk.workers["look-up"]))
        self.clock = pygame.time.Clock()
        self.frame_ms: deque[float] = deque(maxlen=10000)  # work per frame, for the benchmark
        self.running = True
        self.typed = bytearray()

    def click(self, pos: tuple[int, int]) -> str | None:
        """A touch at pos: run the button there, if any; returns its name."""
        self.controller.touch()
        button = self.painter.hit(pos)
        if button is None:
            return None
        try:
            self.controller.act(button.action)
        except Exception:  # a bug behind one button must not end the kiosk
            log.exception("button %s failed", button.name)
        return button.name

    def button_rect(self, name: str) -> pygame.Rect | None:
        return next((b.rect for b in self.painter.buttons if b.name == name), None)

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            self.click(event.pos)
        elif event.type == pygame.KEYDOWN:
            if event.key == pygame.K_q and event.mod & pygame.KMOD_CTRL:
                self.running = False
            elif event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
                if self.typed:
                    self.controller.act(Action("sim_type", self.typed.decode(errors="replace")))
                self.typed.clear()
            elif event.unicode and event.unicode.isprintable() and len(self.typed) < 256:
                self.typed += event.unicode.encode()

    def frame(self) -> None:
        start = time.perf_counter()
        for event in pygame.event.get():
            self.handle(event)
        self.controller.pump()
        self.screens.draw(self.controller.snapshot())
        pygame.display.flip()
        self.kiosk.watchdog.frame()  # only this loop pings systemd's watchdog: if it freezes, systemd restarts
        self.frame_ms.append((time.perf_counter() - start) * 1000)

    def run(self, max_frames: int | None = None, ready_file: str | None = None) -> None:
        fps = self.kiosk.cfg.display.fps
        n = 0
        while self.running and (max_frames is None or n < max_frames):
            self.frame()
            if n == 0 and ready_file:
                open(ready_file, "w").close()
            n += 1
            self.clock.tick(fps)
        self.kiosk.watchdog.stopping()

    def screenshot(self, path: str | os.PathLike) -> None:
        pygame.image.save(self.surface, str(path))

    def close(self) -> None:
        self.painter.close()
        pygame.quit()
