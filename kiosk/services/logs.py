"""Head office's `logs {since?, lines?}`: an excerpt of the kiosk's log, without a visit.

Under systemd the journal is read (`journalctl -t kiosk`: the unit's SyslogIdentifier; in the journal namespace
KIOSK_JOURNAL_NAMESPACE names when the unit sets LogNamespace=; the kiosk user is in `systemd-journal`); the
kiosk also keeps its last RING_SIZE log lines in memory (`RECENT`, filled by a handler `install()` adds to the
root logger), which answer when there is no journal to read (a desktop, the tests, a journal the kiosk may not
read).  `since`: seconds ago (default 3600); `lines`: at most MAX_LINES (default 200); the answer is at most
MAX_BYTES.  Payment codes are masked where they are logged, so an excerpt holds none whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from typing import Any

IDENTIFIER = "kiosk"  # the unit's SyslogIdentifier: every line the kiosk's process writes carries it
RING_SIZE = 2000
MAX_LINES = 500
MAX_BYTES = 60_000


class Recent(logging.Handler):
    """The last RING_SIZE log lines, with their times."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[tuple[float, str]] = deque(maxlen=RING_SIZE)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a log line that cannot be formatted is not worth failing for
            return
        with self._guard:
            self.lines.append((record.created, text))

    def since(self, when: float) -> list[str]:
        with self._guard:
            found = [(t, line) for t, line in self.lines if t >= when]
        stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))  # noqa: E731
        return [f"{stamp(t)} {line}" for t, line in found]


RECENT = Recent()


def install() -> None:
    """Keep the log's last lines in memory (called once, with the logging set up)."""
    root = logging.getLogger()
    if RECENT not in root.handlers:
        root.addHandler(RECENT)


def excerpt(body: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    env = env if env is not None else dict(os.environ)
    since, lines = body.get("since", 3600), body.get("lines", 200)
    for name, value, top in (("since", since, 30 * 86400), ("lines", lines, MAX_LINES)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            return {"ok": False, "error": f"'{name}' must be a whole number from 1 to {top}"}
    found, source = None, "memory"
    namespace = [f"--namespace={env['KIOSK_JOURNAL_NAMESPACE']}"] if env.get("KIOSK_JOURNAL_NAMESPACE") else []
    if env.get("JOURNAL_STREAM") and shutil.which("journalctl"):  # run by systemd: its journal has everything
        try:
            run = subprocess.run(
                ["journalctl", *namespace, "-t", IDENTIFIER, "--since", f"-{since}s", "--reverse", "-n", str(lines),
                 "-o", "short-iso", "--no-pager", "-q"],
                capture_output=True, text=True, timeout=10,
            )  # fmt: skip
            if run.returncode == 0 and run.stdout.strip():  # an empty or unreadable journal: the memory's lines
                found, source = run.stdout.splitlines()[::-1], "journal"  # the newest `lines`, oldest first
                # (--reverse: with --since, -n alone would count from the oldest line of the period)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if found is None:
        found = RECENT.since(time.time() - since)
    found = found[-lines:]
    while found and sum(len(x) + 1 for x in found) > MAX_BYTES:
        found = found[1:]  # the newest kept
    return {"ok": True, "source": source, "lines": found}
