"""Receipt printers through python-escpos: usb, serial, network (9100), file, simulated (the virtual
printer in hardware.virtual_printer), none.

A Printer moves bytes and reads the printer's real-time status; what is
printed is built in kiosk.receipts.  Each job opens the device, asks its status
(DLE EOT 1, 2 and 4), refuses to print when it is offline, its cover is open
or its paper is out, writes, asks again, and closes, so a printer that was
switched off and on works on the next job.  A printer that does not answer a
status query is "unknown", never "out of paper": many don't answer at all.

A job is printed only when the printer took it: every write has a deadline
(`timeout_s`); a network printer must acknowledge every byte (the socket's
send queue drains) within it, so one that accepts the connection and then
hangs fails the job; and a printer that has answered status queries and stops
answering, before or after a job, is offline.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from escpos import printer as escpos_printer

from hardware import UNKNOWN, JobResult, Paper, PrinterError, Status
from hardware.registry import Registry
from hardware.virtual_printer import VirtualPrinter

__all__ = ["JobResult", "Paper", "Printer", "PrinterError", "Status", "open_printer", "query_status"]

DLE_EOT = b"\x10\x04"
QUERY_TIMEOUT_S = 0.5
REPROBE_EVERY = 20  # jobs between status queries to a printer that did not answer them


def _status_byte(data: bytes | None) -> int | None:
    """The last byte, if it is an ESC/POS real-time status byte (bits 1 and 4 set, 0 and 7 clear)."""
    if not data:
        return None
    b = data[-1]
    return b if b & 0x93 == 0x12 else None


@contextlib.contextmanager
def _short_reads(device: Any) -> Iterator[None]:
    """Status answers come at once or never: don't wait the whole job timeout for one."""
    sock = getattr(device, "device", None)
    if isinstance(sock, socket.socket):
        old = sock.gettimeout()
        sock.settimeout(QUERY_TIMEOUT_S)
        try:
            yield
        finally:
            sock.settimeout(old)
    elif hasattr(sock, "timeout") and not isinstance(sock, socket.socket):  # pyserial
        old = sock.timeout
        sock.timeout = QUERY_TIMEOUT_S
        try:
            yield
        finally:
            sock.timeout = old
    else:
        yield


def query_status(device: Any) -> Status:
    """Ask DLE EOT 1, 2 and 4; whatever is not answered stays unknown."""

    def ask(n: int) -> int | None:
        try:
            with _short_reads(device):
                device._raw(DLE_EOT + bytes([n]))
                return _status_byte(device._read())
        except (NotImplementedError, OSError, TimeoutError, AttributeError, ValueError):
            return None
        except Exception:  # pyusb's USBTimeoutError and friends: no answer
            return None

    s1 = ask(1)
    if s1 is None:  # a printer that ignores one real-time query ignores them all: don't wait for the others
        return UNKNOWN
    s2, s4 = ask(2), ask(4)
    paper = Paper.UNKNOWN
    if s4 is not None:
        paper = Paper.OUT if s4 & 0x60 == 0x60 else Paper.NEAR_END if s4 & 0x0C == 0x0C else Paper.OK
    if s2 is not None and s2 & 0x20:  # printing stopped: paper end
        paper = Paper.OUT
    return Status(
        online=None if s1 is None else not (s1 & 0x08),
        cover_open=None if s2 is None else bool(s2 & 0x04),
        paper=paper,
    )


class Printer:
    """One receipt printer: each job opens the device `make_device` builds, checks, writes, checks, closes."""

    name = "printer"

    def __init__(
        self,
        kind: str,
        make_device: Callable[[], Any] | None = None,
        timeout_s: float = 5.0,
        virtual: VirtualPrinter | None = None,
    ):
        self.kind = kind
        self._make_device = make_device
        self.timeout_s = timeout_s
        self.virtual = virtual  # the simulator's printer, whose paper and cover its panel controls
        self.keeps_previews = virtual is not None
        self.answers_status: bool | None = None  # learnt on the first job
        self._jobs = 0

    def send(self, data: bytes, job_name: str) -> JobResult:
        """Print one job; raises PrinterError when it was not (or not wholly) delivered."""
        if self._make_device is None:
            raise PrinterError("no printer fitted", "printer_missing")
        assert self._make_device is not None
        device = None
        try:
            device = self._make_device()
            if hasattr(device, "job_name"):  # the virtual printer spools each job under its name
                device.job_name = job_name
            device.open()
            _bound_writes(device, self.timeout_s)
            self._jobs += 1
            ask = self.answers_status is not False or self._jobs % REPROBE_EVERY == 0
            before = query_status(device) if ask else UNKNOWN
            if ask and before.online is None and self.answers_status:
                raise PrinterError(f"{self.kind} printer: does not answer any more", "printer_offline")
            if ask:
                self.answers_status = before.online is not None
            if before.blocked:
                raise PrinterError(
                    f"{self.kind} printer: {before.blocked.replace('_', ' ')}", f"printer_{before.blocked}", before
                )
            device._raw(data)
            _drain(device, self.timeout_s, self.kind)
            after = query_status(device) if self.answers_status else UNKNOWN
            if self.answers_status and after.online is None:
                raise PrinterError(f"{self.kind} printer: stopped answering during the job", "printer_offline")
        except PrinterError:
            raise
        except Exception as exc:  # escpos raises many kinds (USBNotFound, OSError, DeviceNotFound...)
            raise PrinterError(f"{self.kind} printer: {exc}".strip()) from exc
        finally:
            if device is not None:
                with contextlib.suppress(Exception):
                    device.close()
        if after.paper is Paper.OUT:  # it ran out during this job: the receipt is cut short
            raise PrinterError(f"{self.kind} printer: paper ran out while printing", "printer_paper_out", after)
        return JobResult(before, after)


class UsbPrinter(escpos_printer.Usb):
    """python-escpos's USB printer on a configurable interface (it assumes 0) as well as endpoints."""

    def __init__(self, *args: Any, interface: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interface = interface

    def _check_driver(self) -> None:
        """Detach the kernel's usblp driver from the printer's own interface, so the kiosk can write to it."""
        import usb.core

        if not self.device:
            return
        try:
            if self.device.is_kernel_driver_active(self.interface):
                self.device.detach_kernel_driver(self.interface)
        except NotImplementedError:  # backends other than libusb1
            pass
        except usb.core.USBError as exc:
            raise PrinterError(f"usb printer: interface {self.interface} is busy ({exc})") from exc


def _bound_writes(device: Any, timeout_s: float) -> None:
    """No write may block for ever: a serial port gets a write timeout (sockets and USB have theirs)."""
    port = getattr(device, "device", None)
    if port is not None and hasattr(port, "write_timeout"):
        port.write_timeout = timeout_s


def _drain(device: Any, timeout_s: float, kind: str) -> None:
    """Wait until a network printer has acknowledged every byte (TIOCOUTQ: bytes sent but not yet acked)."""
    sock = getattr(device, "device", None)
    if not isinstance(sock, socket.socket):
        return
    deadline = time.monotonic() + timeout_s
    while True:
        left = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        if left == 0:
            return
        if time.monotonic() >= deadline:
            raise PrinterError(
                f"{kind} printer: took no data for {timeout_s:.0f} s ({left} bytes not taken)", "printer_offline"
            )
        time.sleep(0.02)


PRINTERS: Registry[Printer] = Registry("printer", "KIOSK_PRINTER")


@PRINTERS.register("network")
def _network(cfg: Any, data_dir: Path) -> Printer:
    return Printer(
        "network",
        lambda: escpos_printer.Network(cfg.host, cfg.port, timeout=cfg.timeout_s),
        timeout_s=cfg.timeout_s,
    )


@PRINTERS.register("usb")
def _usb(cfg: Any, data_dir: Path) -> Printer:
    return Printer(
        "usb",
        lambda: UsbPrinter(
            cfg.vendor_id,
            cfg.product_id,
            timeout=int(cfg.timeout_s * 1000),
            in_ep=cfg.in_ep,
            out_ep=cfg.out_ep,
            interface=cfg.interface,
        ),
        timeout_s=cfg.timeout_s,
    )


@PRINTERS.register("serial")
def _serial(cfg: Any, data_dir: Path) -> Printer:
    return Printer(
        "serial",
        lambda: escpos_printer.Serial(cfg.device, baudrate=cfg.baudrate, timeout=cfg.timeout_s),
        timeout_s=cfg.timeout_s,
    )


@PRINTERS.register("file")
def _file(cfg: Any, data_dir: Path) -> Printer:
    return Printer("file", lambda: escpos_printer.File(cfg.path))


@PRINTERS.register("simulated")
def _simulated(cfg: Any, data_dir: Path) -> Printer:
    virtual = VirtualPrinter(data_dir / "receipts")
    return Printer("simulated", virtual.connect, virtual=virtual)


@PRINTERS.register("none")
def _none(cfg: Any, data_dir: Path) -> Printer:
    return Printer("none")


def open_printer(cfg: Any, data_dir: Path) -> Printer:
    """The printer the [printer] section names (`cfg` is a PrinterSection), or $KIOSK_PRINTER."""
    return PRINTERS.create(cfg.type, cfg, data_dir)


def job_name(label: str) -> str:
    return f"{label}-{int(time.time() * 1000)}"
