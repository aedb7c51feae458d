"""Receipt printers through python-escpos: usb, serial, network (9100), file, simulated, none.

A Printer only moves bytes; what is printed is built in kiosk.receipts.  Each
job opens the device, writes and closes it, so a printer that was switched off
and on again works on the next job.  Errors come out as PrinterError with a
message a technician understands.
"""

from __future__ import annotations

import time
from pathlib import Path

from escpos import printer as escpos_printer


class PrinterError(Exception):
    pass


class Printer:
    name = "printer"

    def __init__(self, kind: str, make_device=None, spool_dir: Path | None = None) -> None:
        self.kind = kind
        self._make_device = make_device
        self.spool_dir = spool_dir

    @property
    def fitted(self) -> bool:
        return self.kind != "none"

    def send(self, data: bytes, job_name: str) -> None:
        """Write one job; raises PrinterError when it could not be delivered."""
        if self.kind == "none":
            raise PrinterError("no printer fitted")
        if self.kind == "simulated":
            assert self.spool_dir is not None
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            (self.spool_dir / f"{job_name}.escpos").write_bytes(data)
            return
        device = None
        try:
            device = self._make_device()
            device.open()
            device._raw(data)
        except Exception as exc:  # escpos raises many kinds (USBNotFound, OSError, DeviceNotFound...)
            raise PrinterError(f"{self.kind} printer: {exc}".strip()) from exc
        finally:
            if device is not None:
                try:
                    device.close()
                except Exception:
                    pass


def open_printer(cfg, data_dir: Path) -> Printer:
    """The printer the [printer] section names (`cfg` is a PrinterSection)."""
    kind = cfg.type
    if kind == "network":
        return Printer(kind, lambda: escpos_printer.Network(cfg.host, cfg.port, timeout=cfg.timeout_s))
    if kind == "usb":
        return Printer(
            kind, lambda: escpos_printer.Usb(cfg.vendor_id, cfg.product_id, timeout=int(cfg.timeout_s * 1000))
        )
    if kind == "serial":
        return Printer(kind, lambda: escpos_printer.Serial(cfg.device, baudrate=cfg.baudrate, timeout=cfg.timeout_s))
    if kind == "file":
        return Printer(kind, lambda: escpos_printer.File(cfg.path))
    if kind == "simulated":
        return Printer(kind, spool_dir=data_dir / "receipts")
    return Printer("none")


def job_name(order_no: str) -> str:
    return f"{order_no}-{int(time.time())}"
