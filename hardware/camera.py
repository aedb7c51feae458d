"""The camera: frame sources (OpenCV or simulated) and the decoding loop.

`CameraService` runs two threads per open camera: a grabber that reads frames
as fast as the source delivers them and keeps only the newest (with the time it
arrived), and a decoder that takes the newest frame at up to `fps`, decodes it,
and reports each new text once (the same code seen on the next frames is not
reported again until it has left the picture for `repeat_after_s`).  So a
stream faster than the decoder never backs up: old frames are dropped, never
queued, and a frame older than MAX_CODE_AGE_S is not decoded at all.  A source
that stops giving frames is reported lost and reopened with backoff; the kiosk
carries on.  Sources that would deliver instantly (a video file, the
simulator) pace themselves like a camera.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import cv2
import numpy as np

from hardware import MAX_CODE_AGE_S, CodeCallback, StatusCallback
from hardware.decoder import Decoder
from hardware.reader import ReconnectingReader
from hardware.registry import Registry

log = logging.getLogger(__name__)


class FrameSource(Protocol):
    def open(self) -> None: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class OpenCVSource:
    """Any cv2.VideoCapture source: a camera index, a video file, http://... MJPEG, rtsp://..."""

    def __init__(self, source: str, width: int, height: int, read_timeout_s: float, loop_file: bool = False) -> None:
        self.source: int | str = int(source) if source.isdigit() else source
        self.width, self.height = width, height
        self.timeout_ms = int(read_timeout_s * 1000)
        self.loop_file = loop_file
        self.cap: cv2.VideoCapture | None = None
        # a camera or a stream blocks until its next frame; a file would not: it is paced at its own frame rate
        self.is_file = isinstance(self.source, str) and "://" not in self.source and not self.source.startswith("/dev/")
        self._pace = _Pacer(30.0)

    def open(self) -> None:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms]
        cap = cv2.VideoCapture(self.source, cv2.CAP_ANY, params)
        if not cap.isOpened():
            raise OSError(f"cannot open camera source {self.source!r}")
        if isinstance(self.source, int):
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.is_file:
            self._pace = _Pacer(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self.cap = cap

    def read(self) -> np.ndarray | None:
        assert self.cap is not None
        if self.is_file:
            self._pace.wait()
        ok, frame = self.cap.read()
        if not ok and self.loop_file:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class SimulatedSource:
    """A camera that sees an empty counter, or whatever image the simulator holds up to it."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        self.width, self.height = width, height
        self._pace = _Pacer(fps)
        self._blank = np.full((height, width), 200, np.uint8)
        self._shown: np.ndarray | None = None
        self._until = 0.0
        self._lock = threading.Lock()

    def show(self, image: np.ndarray, seconds: float = 2.0) -> None:
        """Hold a grayscale image (a phone showing a payment code) in front of the camera."""
        frame = self._blank.copy()
        h, w = image.shape[:2]
        scale = min(1.0, (self.height - 40) / h, (self.width - 40) / w)
        if scale < 1.0:
            image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
            h, w = image.shape[:2]
        y, x = (self.height - h) // 2, (self.width - w) // 2
        frame[y : y + h, x : x + w] = image
        with self._lock:
            self._shown, self._until = frame, time.monotonic() + seconds

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray | None:
        self._pace.wait()  # a camera delivers a frame per period, not as fast as it is asked
        with self._lock:
            if self._shown is not None and time.monotonic() < self._until:
                return self._shown
        return self._blank

    def close(self) -> None:
        pass


class _Pacer:
    """Blocks until the next frame period: what a real camera's read() does."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / max(1.0, fps)
        self.next_at = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = max(self.next_at + self.period, now)


class _Grabber:
    """Reads a source on its own thread as fast as it delivers, keeping only the newest frame."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.error: Exception | None = None
        self._latest: tuple[np.ndarray, int, float] | None = None  # frame, number, when it arrived
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-grab", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    raise OSError("camera stopped sending frames")
                n += 1
                with self._cond:
                    self._latest = (frame, n, time.monotonic())
                    self._cond.notify_all()
        except Exception as exc:  # a lost camera: the decoder raises it and the service reopens
            with self._cond:
                self.error = exc
                self._cond.notify_all()

    def newest(self, after: int, timeout: float) -> tuple[np.ndarray, int, float] | None:
        """The newest frame numbered above `after`, waiting up to `timeout`; raises the grabber's error."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.error is not None or (self._latest is not None and self._latest[1] > after), timeout
            )
            if self.error is not None:
                raise self.error
            return self._latest if self._latest is not None and self._latest[1] > after else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def qr_image(text: str, box: int = 6) -> np.ndarray:
    """A grayscale QR code image of `text` (what a wallet app shows)."""
    import qrcode

    qr = qrcode.QRCode(border=4, box_size=box)
    qr.add_data(text)
    return np.array(qr.make_image().convert("L"), dtype=np.uint8)


class CameraService:
    name = "camera"

    def __init__(
        self,
        source: FrameSource,
        on_code: CodeCallback,
        on_status: StatusCallback,
        *,
        fps: int = 15,
        decoder: Decoder | None = None,
        repeat_after_s: float = 2.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        self.source = source
        self.on_code = on_code
        self.on_status = on_status
        self.period = 1.0 / fps
        self.decoder = decoder or Decoder()
        self.repeat_after_s = repeat_after_s
        self._last_seen: dict[str, float] = {}
        self.reader = ReconnectingReader(self.name, self._session, on_status)
        self.read_timeout_s = read_timeout_s
        self.frames = 0  # decoded
        self.dropped = 0  # arrived while the decoder was busy with a newer one
        self.stale = 0  # the newest frame was already older than MAX_CODE_AGE_S

    def start(self) -> None:
        self.reader.start()

    def stop(self) -> None:
        self.reader.stop(timeout=3)

    def _session(self, stop: threading.Event, connected: Callable[[str], None]) -> None:
        """Open the source, decode until stopped or lost; a lost camera is reported and reopened."""
        try:
            self.source.open()
            connected("camera ready")
            self._loop(stop)
        finally:
            self.source.close()

    def _loop(self, stop: threading.Event) -> None:
        grabber = _Grabber(self.source)
        try:
            last = 0
            next_at = time.monotonic()
            while not stop.is_set():
                got = grabber.newest(last, timeout=self.read_timeout_s)
                if got is None:
                    raise OSError("camera stopped sending frames")
                frame, number, arrived = got
                self.dropped += number - last - 1  # arrived while the decoder was busy: never decoded
                last = number
                if time.monotonic() - arrived > MAX_CODE_AGE_S:
                    self.stale += 1  # the decoder fell behind: a code in it may belong to someone gone
                    continue
                self.frames += 1
                self.process(frame, arrived)
                next_at += self.period
                delay = next_at - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                else:
                    next_at = time.monotonic()
        finally:
            grabber.stop()

    def process(self, frame: np.ndarray, now: float) -> list[str]:
        """Decode one frame (which arrived at `now`); report and return the texts not seen in the last
        `repeat_after_s`."""
        new = []
        for sym in self.decoder.decode(frame):
            last = self._last_seen.get(sym.text)
            self._last_seen[sym.text] = now
            if last is None or now - last > self.repeat_after_s:
                new.append(sym.text)
                self.on_code(sym.text, "camera", now)
        if len(self._last_seen) > 64:
            self._last_seen = {t: s for t, s in self._last_seen.items() if now - s <= self.repeat_after_s}
        return new


SOURCES: Registry[Any] = Registry("camera", "KIOSK_CAMERA")


@SOURCES.register("opencv")
def _opencv(cfg: Any) -> OpenCVSource:
    return OpenCVSource(cfg.source, cfg.width, cfg.height, cfg.read_timeout_s)


@SOURCES.register("simulated")
def _simulated(cfg: Any) -> SimulatedSource:
    return SimulatedSource(cfg.width, cfg.height)


@SOURCES.register("none")
def _none(cfg: Any) -> None:
    return None


def open_camera(cfg: Any, on_code: CodeCallback, on_status: StatusCallback) -> CameraService | None:
    """The camera the [camera] section names (or $KIOSK_CAMERA), decoding at camera.fps; None: no camera.

    No frame within camera.read_timeout_s: the camera is lost, whether or not its backend times out itself.
    """
    source = SOURCES.create(cfg.type, cfg)
    if source is None:
        return None
    return CameraService(source, on_code, on_status, fps=cfg.fps, read_timeout_s=cfg.read_timeout_s)
