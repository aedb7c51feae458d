"""Product scanners: serial (any pyserial URL), keyboard-wedge HID (evdev), simulated.

All three frame their input with `LineFramer`, which is where garbage stops:
noise, overlong lines, bytes that are not UTF-8 and control characters are
dropped with a logged reason and never reach the cart.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from typing import Any

import serial

from hardware import CodeCallback, StatusCallback
from hardware.reader import ReconnectingReader
from hardware.registry import Registry

log = logging.getLogger(__name__)

# the byte that ends a code; the other of CR / LF is dropped, so a scanner sending CRLF works as "cr" too
END_BYTE = {"cr": 0x0D, "lf": 0x0A, "crlf": 0x0A}


class LineFramer:
    """Bytes in, clean lines out, split on the configured terminator.

    The other of CR / LF is allowed only as half of a CRLF pair; anywhere else it
    means two scans ran together (or a scan was cut), and the whole line is
    dropped rather than joined into a different code.
    """

    MAX_REJECTED = 50  # reasons kept for the self-test; the count goes on

    def __init__(self, max_length: int = 64, terminator: str = "cr") -> None:
        self.max_length = max_length
        self.end = END_BYTE[terminator]
        self.skip = 0x0A if self.end == 0x0D else 0x0D
        self._buf = bytearray()
        self._overflow = False
        self._broken = False  # a stray CR/LF inside this line
        self._pending_cr = False  # LF-terminated: a CR is fine only if an LF follows at once
        self.rejected: deque[str] = deque(maxlen=self.MAX_REJECTED)  # latest reasons, for the self-test
        self.rejected_count = 0

    def feed(self, data: bytes) -> list[str]:
        lines: list[str] = []
        for b in data:
            if self._pending_cr:
                self._pending_cr = False
                if b != self.end:  # a CR not followed by LF: inside a code
                    self._broken = True
            if b == self.end:
                self._end_line(lines)
            elif b == self.skip:  # harmless between codes (a CRLF scanner); inside one, two pieces ran together
                if self._buf and self.skip == 0x0A:
                    self._broken = True
                elif self._buf:  # LF-terminated: fine only as the CR of a CRLF, i.e. if the LF comes next
                    self._pending_cr = True
            elif self._overflow:
                pass
            elif len(self._buf) >= self.max_length:
                self._overflow = True
                self._buf.clear()
            else:
                self._buf.append(b)
        return lines

    def _end_line(self, lines: list[str]) -> None:
        raw, overflow, broken = bytes(self._buf), self._overflow, self._broken
        self._buf.clear()
        self._overflow = self._broken = False
        if overflow:
            self._reject(f"line longer than {self.max_length} bytes")
            return
        if broken:
            self._reject("line break inside a code")
            return
        if not raw:
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._reject("not UTF-8")
            return
        # GS1 AIM prefixes and stray control bytes are not part of a code
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            self._reject("control characters")
            return
        text = text.strip(" \t")
        # no-break, ideographic and zero-width spaces, and other invisible characters, are no part of a code either
        if any(c.isspace() and c != " " or unicodedata.category(c) in ("Cf", "Zl", "Zp") for c in text):
            self._reject("unusual spaces or invisible characters")
            return
        if text:
            lines.append(text)

    def _reject(self, why: str) -> None:
        log.warning("scanner: dropped a line (%s)", why)
        self.rejected.append(why)
        self.rejected_count += 1


class _ThreadedScanner(abc.ABC):
    """A scanner read on its own thread by the shared ReconnectingReader; `_session` opens and reads it."""

    name = "scanner"

    def __init__(self, on_code: CodeCallback, on_status: StatusCallback) -> None:
        self.on_code = on_code
        self.on_status = on_status
        self.reader = ReconnectingReader(self.name, self._session, on_status)

    def start(self) -> None:
        self.reader.start()

    def stop(self) -> None:
        self.reader.stop(timeout=2)

    @abc.abstractmethod
    def _session(self, stop: threading.Event, connected: Callable[[str], None]) -> None:
        """Open the device, call connected(what) once it works, feed lines to on_code until `stop` is set."""


class SerialScanner(_ThreadedScanner):
    """A scanner on a serial line: /dev/ttyACM0, socket://host:port, loop://, rfc2217://..."""

    def __init__(
        self,
        url: str,
        baudrate: int,
        max_length: int,
        on_code: CodeCallback,
        on_status: StatusCallback,
        terminator: str = "cr",
    ):
        super().__init__(on_code, on_status)
        self.url = url
        self.baudrate = baudrate
        self.framer = LineFramer(max_length, terminator)

    def _session(self, stop: threading.Event, connected: Callable[[str], None]) -> None:
        port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.2)
        connected(f"connected to {self.url}")
        try:
            while not stop.is_set():
                data = port.read(256)
                if not data:
                    # socket:// reports a closed peer as an error on the next read; a tty just waits
                    continue
                for line in self.framer.feed(data):
                    self.on_code(line, "scanner", time.monotonic())
        finally:
            port.close()


# evdev key codes -> characters for a keyboard-wedge scanner (US layout, which scanners send)
_KEYS = {
    **{f"KEY_{d}": d for d in "0123456789"},
    **{f"KEY_{c}": c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    "KEY_MINUS": "-",
    "KEY_DOT": ".",
    "KEY_SLASH": "/",
    "KEY_SPACE": " ",
    "KEY_EQUAL": "=",
    "KEY_SEMICOLON": ";",
    "KEY_COMMA": ",",
    "KEY_APOSTROPHE": "'",
}
_SHIFTED = {
    "-": "_",
    "=": "+",
    ";": ":",
    "/": "?",
    ".": ">",
    ",": "<",
    "'": '"',
    "1": "!",
    "2": "@",
    "3": "#",
    "4": "$",
    "5": "%",
    "6": "^",
    "7": "&",
    "8": "*",
    "9": "(",
    "0": ")",
}


class KeyboardWedge:
    """Turns a keyboard-wedge scanner's evdev key events into the bytes it typed (Enter ends a code)."""

    def __init__(self) -> None:
        self.shift = False

    def key(self, event) -> bytes:
        import evdev

        if event.type != evdev.ecodes.EV_KEY:
            return b""
        key = evdev.categorize(event)
        name = key.keycode if isinstance(key.keycode, str) else key.keycode[0]
        if name in ("KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"):
            self.shift = key.keystate != key.key_up
            return b""
        if key.keystate != key.key_down:
            return b""
        if name in ("KEY_ENTER", "KEY_KPENTER"):
            return b"\r"
        c = _KEYS.get(name)
        if c is None:
            return b""
        return (_SHIFTED.get(c, c.upper()) if self.shift else c).encode()


class HidScanner(_ThreadedScanner):
    """A keyboard-wedge scanner read from its own input device, grabbed so its keys reach no one else."""

    def __init__(self, device: str, max_length: int, on_code: CodeCallback, on_status: StatusCallback):
        super().__init__(on_code, on_status)
        self.device = device
        self.framer = LineFramer(max_length)

    def _session(self, stop: threading.Event, connected: Callable[[str], None]) -> None:
        import evdev  # Linux only; imported here so other platforms can still run the simulator

        dev = evdev.InputDevice(self.device)
        dev.grab()
        connected(f"reading {dev.name}")
        wedge = KeyboardWedge()
        try:
            for event in dev.read_loop():
                if stop.is_set():
                    break
                for line in self.framer.feed(wedge.key(event)):
                    self.on_code(line, "scanner", time.monotonic())
        finally:
            dev.ungrab()


class SimulatedScanner:
    """The simulator's scanner: the on-screen panel or the keyboard types into it."""

    name = "scanner"

    def __init__(self, max_length: int, on_code: CodeCallback, on_status: StatusCallback):
        self.on_code = on_code
        self.on_status = on_status
        self.framer = LineFramer(max_length)

    def start(self) -> None:
        self.on_status(self.name, True, "simulated")

    def stop(self) -> None:
        pass

    def feed(self, data: bytes) -> None:
        for line in self.framer.feed(data):
            self.on_code(line, "scanner", time.monotonic())


SCANNERS: Registry[Any] = Registry("scanner", "KIOSK_SCANNER")


@SCANNERS.register("serial")
def _serial(cfg: Any, on_code: CodeCallback, on_status: StatusCallback) -> SerialScanner:
    return SerialScanner(cfg.url, cfg.baudrate, cfg.max_length, on_code, on_status, terminator=cfg.terminator)


@SCANNERS.register("hid")
def _hid(cfg: Any, on_code: CodeCallback, on_status: StatusCallback) -> HidScanner:
    return HidScanner(cfg.device, cfg.max_length, on_code, on_status)


@SCANNERS.register("simulated")
def _simulated(cfg: Any, on_code: CodeCallback, on_status: StatusCallback) -> SimulatedScanner:
    return SimulatedScanner(cfg.max_length, on_code, on_status)


@SCANNERS.register("none")
def _none(cfg: Any, on_code: CodeCallback, on_status: StatusCallback) -> None:
    return None


def open_scanner(cfg: Any, on_code: CodeCallback, on_status: StatusCallback) -> Any:
    """The scanner the [scanner] section names (or $KIOSK_SCANNER); None when there is none."""
    return SCANNERS.create(cfg.type, cfg, on_code, on_status)
