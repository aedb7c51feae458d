"""One reconnecting reader for every device read on its own thread (the scanners, the camera).

A session opens the device, says it is connected, and reads until it is
stopped or the device fails.  A failure is reported through `on_status`
(never raised: a device error does not end the kiosk), and the device is
reopened after a back-off that doubles up to `max_backoff_s` and starts again
from `first_backoff_s` once a session has connected.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hardware import StatusCallback

log = logging.getLogger(__name__)

# session(stop, connected): open the device, call connected("what it is") once it works, read until `stop`
Session = Callable[[threading.Event, Callable[[str], None]], None]


class ReconnectingReader:
    def __init__(
        self,
        name: str,
        session: Session,
        on_status: StatusCallback,
        *,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.name = name
        self.session = session
        self.on_status = on_status
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.sessions = 0  # how many times the device was opened (tests and the self-test read it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        backoff = self.first_backoff_s
        while not self._stop.is_set():
            connected = False

            def say_connected(message: str) -> None:
                nonlocal connected
                connected = True
                self.sessions += 1
                self.on_status(self.name, True, message)

            try:
                self.session(self._stop, say_connected)
            except Exception as exc:  # a device error never ends the kiosk: report, wait, reopen
                self.on_status(self.name, False, str(exc) or type(exc).__name__)
            if connected:
                backoff = self.first_backoff_s
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)
