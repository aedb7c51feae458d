"""Product pictures for the screens: read from the kiosk's pictures folder (kiosk.services.pictures fills it) and
decoded off the UI thread, scaled once to the size a screen asks for, the most recently drawn kept.

`get()` never waits: a picture not decoded yet is asked for and the screen draws without it this frame (the
next frame has it); a picture not on disk yet (still being fetched) is asked for again after RETRY_S.  A file
that does not decode is treated the same way, so a bad file costs nothing but its picture.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pygame

from kiosk.services.jobs import Worker
from kiosk.services.pictures import MAX_PICTURE

log = logging.getLogger(__name__)

RETRY_S = 30.0


class PictureCache:
    def __init__(self, folder: Path | None, worker: Worker | None = None, capacity: int = 96) -> None:
        """`worker`: where files are decoded (None: at once, for tools that draw one frame and save it)."""
        self.folder, self.worker, self.capacity = folder, worker, capacity
        self._ready: OrderedDict[tuple[str, int], pygame.Surface] = OrderedDict()
        self._asked: set[tuple[str, int]] = set()
        self._absent_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        """Pictures asked for and not read yet (tools that save a frame wait for them)."""
        with self._lock:
            return bool(self._asked)

    def get(self, sha256: str, px: int) -> pygame.Surface | None:
        """The picture fitted into px x px real pixels, or None while it is being read (or there is none)."""
        if not sha256 or self.folder is None or px <= 0:
            return None
        key = (sha256, px)
        with self._lock:
            found = self._ready.get(key)
            if found is not None:
                self._ready.move_to_end(key)
                return found
            if key in self._asked or self._absent_until.get(sha256, 0.0) > time.monotonic():
                return None
            self._asked.add(key)
        if self.worker is None:
            self._load(sha256, px)
        else:
            self.worker.submit("picture", sha256[:12], self._load, sha256, px)
        with self._lock:
            return self._ready.get(key)

    def _load(self, sha256: str, px: int) -> None:
        key = (sha256, px)
        try:
            path = self.folder / sha256  # type: ignore[operator]
            if path.stat().st_size > MAX_PICTURE:
                raise ValueError("too large")
            picture = fit(pygame.image.load(io.BytesIO(path.read_bytes())), px)
        except (OSError, ValueError, pygame.error) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("product picture %s… not shown: %s", sha256[:12], exc)
            with self._lock:
                self._asked.discard(key)
                self._absent_until[sha256] = time.monotonic() + RETRY_S
            return
        with self._lock:
            self._asked.discard(key)
            self._ready[key] = picture
            while len(self._ready) > self.capacity:
                self._ready.popitem(last=False)


def fit(picture: pygame.Surface, px: int) -> pygame.Surface:
    """Scaled (smoothly, keeping its shape) to fit a px x px square."""
    w, h = picture.get_size()
    if w <= 0 or h <= 0:
        raise ValueError("empty picture")
    if picture.get_bitsize() < 24:  # smoothscale needs 24 or 32 bits a pixel
        full = pygame.Surface((w, h), pygame.SRCALPHA)
        full.blit(picture, (0, 0))
        picture = full
    scale = px / max(w, h)
    return pygame.transform.smoothscale(picture, (max(1, round(w * scale)), max(1, round(h * scale))))
