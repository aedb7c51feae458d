"""A virtual ESC/POS printer: what the simulator prints to, through the same `Printer` as a real one.

Like OctoPrint's virtual printer, it speaks the protocol rather than faking the
driver: each job's connection takes the bytes a real printer would, answers the
real-time status queries DLE EOT 1, 2 and 4 with Epson's status bits (online,
cover open, paper near its end, paper out), and spools every job to
`spool_dir/<job name>.escpos`.  The simulator's panel opens the cover or takes
the paper out; tests use it (and `status_byte`, which the loopback 9100 printer
in tests/ answers with too) to drive the kiosk's printer handling.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

DLE_EOT = b"\x10\x04"
KEEP_JOBS = 20


def status_byte(n: int, *, offline: bool, cover_open: bool, paper_near_end: bool, paper_out: bool) -> int:
    """The byte an Epson-compatible printer answers to DLE EOT n (1: printer, 2: offline cause, 4: paper)."""
    if n == 1:
        return 0x12 | (0x08 if offline or cover_open or paper_out else 0)
    if n == 2:
        return 0x12 | (0x04 if cover_open else 0) | (0x20 if paper_out else 0)
    return 0x12 | (0x0C if paper_near_end or paper_out else 0) | (0x60 if paper_out else 0)


class VirtualPrinter:
    def __init__(self, spool_dir: Path | None = None) -> None:
        self.spool_dir = spool_dir
        self.offline = False
        self.cover_open = False
        self.paper_near_end = False
        self.paper_out = False
        self.silent = False  # answers no status query, like many cheap printers
        # print data of the latest jobs, status queries taken out (bounded: a simulator runs for days)
        self.jobs: deque[bytes] = deque(maxlen=KEEP_JOBS)
        self._lock = threading.Lock()

    def answer(self, n: int) -> bytes:
        return bytes(
            [
                status_byte(
                    n,
                    offline=self.offline,
                    cover_open=self.cover_open,
                    paper_near_end=self.paper_near_end,
                    paper_out=self.paper_out,
                )
            ]
        )

    def connect(self) -> Connection:
        """One job's connection, opened and closed by `hardware.printer.Printer` like a python-escpos device."""
        return Connection(self)

    def _finish(self, name: str, data: bytes) -> None:
        with self._lock:
            self.jobs.append(data)
        if self.spool_dir is not None and data:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            (self.spool_dir / f"{name}.escpos").write_bytes(data)


class Connection:
    """The python-escpos device surface `Printer` uses: open, _raw, _read, close (and a job name)."""

    def __init__(self, printer: VirtualPrinter) -> None:
        self.printer = printer
        self.job_name = "job"
        self._data = bytearray()
        self._answers = bytearray()

    def open(self) -> None:
        pass

    def _raw(self, data: bytes) -> None:
        if len(data) == 3 and data[:2] == DLE_EOT and data[2] in (1, 2, 4):
            if not self.printer.silent:
                self._answers += self.printer.answer(data[2])
            return
        if self.printer.paper_out or self.printer.cover_open:
            return  # a stopped printer prints nothing
        self._data += data

    def _read(self) -> bytes:
        answer, self._answers = bytes(self._answers), bytearray()
        return answer

    def close(self) -> None:
        self.printer._finish(self.job_name, bytes(self._data))
        self._data.clear()
