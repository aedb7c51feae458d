"""systemd's notify protocol (sd_notify(3)): the kiosk says it is ready, proves with every few frames that its
screen loop is alive, and says when it stops.

systemd passes `NOTIFY_SOCKET` (a unix datagram socket; "@..." is an abstract one) and, with `WatchdogSec=`,
`WATCHDOG_USEC`.  Only the UI loop pings the watchdog (`Watchdog.frame()`): a screen loop that freezes stops the
pings, and systemd restarts the kiosk, even while its other threads (MQTT, telemetry) go on as if all were well.
Without NOTIFY_SOCKET (a desktop, the tests) all of this does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


def notify(state: str, env: dict[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1") to systemd; False when not run by systemd or the socket is gone."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(state.encode())
        return True
    except OSError as exc:
        log.warning("systemd notify %r failed: %s", state.split("\n")[0], exc)
        return False


class JournalFormatter(logging.Formatter):
    """Under systemd (JOURNAL_STREAM set), each line starts with its syslog priority (<3> error, <4> warning,
    <6> info, <7> debug: sd-daemon(3)), so `journalctl -p warning -u kiosk` shows what needs a technician; the
    journal keeps its own time stamp."""

    PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in sorted(self.PRIORITY.items(), reverse=True) if record.levelno >= level), 7)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def configure_logging(level: str, env: dict[str, str] | None = None) -> None:
    """Journal priorities under systemd; time stamps and level names in a terminal."""
    if (env if env is not None else os.environ).get("JOURNAL_STREAM"):
        handler = logging.StreamHandler()
        handler.setFormatter(JournalFormatter())
        logging.basicConfig(level=level.upper(), handlers=[handler])
    else:
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from kiosk.services.logs import install

    install()  # the last lines also in memory: head office's `logs` reads them where there is no journal


class Watchdog:
    """Pings systemd's watchdog from the screen loop, at half its interval (WATCHDOG_USEC)."""

    def __init__(self, env: dict[str, str] | None = None, clock=time.monotonic) -> None:
        self.env = dict(env if env is not None else os.environ)
        pid = self.env.get("WATCHDOG_PID")
        usec = int(self.env.get("WATCHDOG_USEC", "0") or 0)
        mine = pid is None or pid == str(os.getpid())
        self.interval = usec / 2e6 if usec > 0 and mine and self.env.get("NOTIFY_SOCKET") else 0.0
        self.clock = clock
        self.ready = False
        self.status = "selling"  # what `systemctl status` shows once ready
        self.last_frame = clock()
        self._last_ping = 0.0

    def frame(self) -> None:
        """Called once a frame: the first says READY=1; then WATCHDOG=1 every half interval."""
        now = self.last_frame = self.clock()
        if not self.ready:
            self.ready = True
            notify(f"READY=1\nSTATUS={self.status}", self.env)
            self._last_ping = now
        elif self.interval and now - self._last_ping >= self.interval:
            notify("WATCHDOG=1", self.env)
            self._last_ping = now

    def frame_age(self) -> float:
        """Seconds since the screen loop's last frame (reported in telemetry)."""
        return self.clock() - self.last_frame

    def stopping(self) -> None:
        notify("STOPPING=1", self.env)
