"""Device drivers, and the seams the rest of the kiosk sees them through.

One module per device kind (scanner, camera, printer, gpio), each with real
backends and a simulated one registered by name (`hardware.registry`); the
runtime's wiring is the only part of the kiosk that picks and builds them.
This module holds what everybody else may know about a device: the callbacks
devices report through, and the printer's status and error types.  Nothing here
knows about carts or payments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

# on_status(device, ok, message): a device came up, went away, or failed
StatusCallback = Callable[[str, bool, str], None]
# on_code(text, source, seen_at): a barcode or QR text read by the scanner or the camera; `seen_at` is the
# time.monotonic() at which the frame holding it arrived (the scanner: when the line ended)
CodeCallback = Callable[[str, str, float], None]
# a code older than this when it would be acted on is dropped: the shopper who showed it may have left
MAX_CODE_AGE_S = 1.0


class Paper(Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Status:
    """A printer's real-time status (DLE EOT); None / UNKNOWN: the printer did not say."""

    online: bool | None = None
    cover_open: bool | None = None
    paper: Paper = Paper.UNKNOWN

    @property
    def blocked(self) -> str | None:
        """Why nothing can be printed now, or None (unknown counts as 'try')."""
        if self.paper is Paper.OUT:
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if self.online is False:
            return "offline"
        return None


UNKNOWN = Status()


class PrinterError(Exception):
    """The job did not reach the printer; `reason` is an events kind."""

    def __init__(self, message: str, reason: str = "printer_error", status: Status = UNKNOWN) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class JobResult:
    before: Status
    after: Status


class ReceiptPrinter(Protocol):
    """What the kiosk prints through: bytes in, the printer's status out, PrinterError when not printed."""

    kind: str
    keeps_previews: bool  # the simulator's printer: keep a picture of every receipt

    def send(self, data: bytes, job_name: str) -> JobResult: ...
