"""The simulated devices behind the same seams as the real ones: the virtual ESC/POS printer (checked against
python-escpos's own reading of the status bytes), backends picked by name, the shared reconnecting reader, pin
factories handed to devices, and the simulator's panel running the printer out of paper."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from escpos.escpos import Escpos

from hardware import Paper, PrinterError
from hardware.gpio import Signals, pin_factory
from hardware.printer import PRINTERS, open_printer
from hardware.reader import ReconnectingReader
from hardware.registry import UnknownBackend
from hardware.virtual_printer import VirtualPrinter
from kiosk.config import GpioSection, PrinterSection
from tests.conftest import REPO, write_config
from tests.loopback import wait_until


class EscposProbe(Escpos):
    """python-escpos's own status queries (is_online, paper_status), over one virtual printer connection."""

    def __init__(self, connection) -> None:
        super().__init__()
        self.connection = connection

    def _raw(self, msg: bytes) -> None:
        self.connection._raw(msg)

    def _read(self) -> bytes:
        return self.connection._read()


@pytest.mark.parametrize(
    "flags, online, paper",
    [
        ({}, True, 2),
        ({"paper_near_end": True}, True, 1),
        ({"paper_out": True}, False, 0),
        ({"cover_open": True}, False, 2),
        ({"offline": True}, False, 2),
    ],
)
def test_the_virtual_printer_answers_as_python_escpos_reads_a_real_one(flags, online, paper):
    vp = VirtualPrinter()
    for name, value in flags.items():
        setattr(vp, name, value)
    probe = EscposProbe(vp.connect())
    assert probe.is_online() is online
    assert probe.paper_status() == paper


def simulated_printer(tmp_path):
    return open_printer(PrinterSection(type="simulated"), tmp_path)


def test_the_simulated_printer_goes_through_the_real_status_checks(tmp_path):
    printer = simulated_printer(tmp_path)
    vp = printer.virtual
    result = printer.send(b"\x1b@hello\x1dV\x00", "K01-1-123")
    assert result.before.paper is Paper.OK and list(vp.jobs) == [b"\x1b@hello\x1dV\x00"]
    assert (tmp_path / "receipts" / "K01-1-123.escpos").read_bytes() == b"\x1b@hello\x1dV\x00"
    vp.paper_near_end = True
    assert printer.send(b"x", "j2").after.paper is Paper.NEAR_END
    vp.paper_out = True
    with pytest.raises(PrinterError) as out:
        printer.send(b"y", "j3")
    assert out.value.reason == "printer_paper_out" and vp.jobs[-1] == b""  # nothing was printed
    vp.paper_out, vp.cover_open = False, True
    with pytest.raises(PrinterError) as cover:
        printer.send(b"z", "j4")
    assert cover.value.reason == "printer_cover_open"
    vp.cover_open, vp.silent = False, True  # it answered before and stops answering: offline, not "fine"
    with pytest.raises(PrinterError) as silent:
        printer.send(b"w", "j5")
    assert silent.value.reason == "printer_offline"


def test_backends_are_picked_by_name_and_the_environment_overrides_the_config(tmp_path, monkeypatch):
    assert {"network", "usb", "serial", "file", "simulated", "none"} <= set(PRINTERS.names)
    monkeypatch.setenv("KIOSK_PRINTER", "none")
    assert open_printer(PrinterSection(type="simulated"), tmp_path).kind == "none"
    monkeypatch.setenv("KIOSK_PRINTER", "laser")
    with pytest.raises(UnknownBackend, match=r"\$KIOSK_PRINTER: no printer backend 'laser'"):
        open_printer(PrinterSection(type="simulated"), tmp_path)


def test_the_config_offers_exactly_the_registered_backends():
    from dataclasses import fields

    from hardware.camera import SOURCES
    from hardware.scanner import SCANNERS
    from kiosk.config import CameraSection, ScannerSection

    def choices(section):
        return set(next(f for f in fields(section) if f.name == "type").metadata["choices"])

    assert choices(PrinterSection) == set(PRINTERS.names)
    assert choices(ScannerSection) == set(SCANNERS.names)
    assert choices(CameraSection) == set(SOURCES.names)


def test_a_bad_backend_in_the_environment_is_one_line_at_start(tmp_path):
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(tmp_path / "d")}, "mqtt": {"enabled": False}})
    run = subprocess.run(
        [sys.executable, "-m", "kiosk", "--config", str(cfg)],
        cwd=REPO,
        env={**os.environ, "KIOSK_SCANNER": "laser"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "$KIOSK_SCANNER: no scanner backend 'laser'" in run.stderr


def test_the_reconnecting_reader_reports_reopens_and_backs_off():
    statuses, opened = [], []
    fail_first = [True, True]

    def session(stop: threading.Event, connected) -> None:
        opened.append(1)
        if fail_first:
            fail_first.pop()
            raise OSError("device unplugged")
        connected("device ready")
        stop.wait()

    reader = ReconnectingReader("scanner", session, lambda *s: statuses.append(s), first_backoff_s=0.05)
    reader.start()
    try:
        assert wait_until(lambda: ("scanner", True, "device ready") in statuses, 5)
        assert statuses[:2] == [("scanner", False, "device unplugged")] * 2 and len(opened) == 3
        assert reader.sessions == 1
    finally:
        reader.stop()
    assert not reader._thread.is_alive()


def test_pin_factories_are_handed_to_devices_not_set_globally():
    from gpiozero import Device

    before = Device.pin_factory
    a = Signals(GpioSection(pin_factory="mock"), lambda: None)
    b = Signals(GpioSection(pin_factory="mock"), lambda: None)  # the same pins again: its own factory, no clash
    try:
        assert Device.pin_factory is before
        assert a.buzzer.pin_factory is not b.buzzer.pin_factory
        a.light("fault")
        assert [led.is_lit for led in a.leds.values()] == [False, False, True]
        assert [led.is_lit for led in b.leds.values()] == [False, False, False]
    finally:
        a.close()
        b.close()
    with pytest.raises(ValueError, match="no pin factory 'nonsense'"):
        pin_factory("nonsense")


def test_the_simulator_runs_out_of_paper_and_is_refilled(tmp_path):
    from kiosk.ui.loop import UI
    from tests.conftest import make_kiosk
    from tests.test_ui import buy, on_screen, run_until, sign_in, tap

    k = make_kiosk(tmp_path, kiosk={"default_language": "en"})
    ui = UI(k)
    k.start()
    try:
        ui.frame()
        assert ui.button_rect("sim:paper_in") is None
        tap(ui, "sim:paper_out")
        assert k.printer.virtual.paper_out and ui.button_rect("sim:paper_out") is None
        order_no = buy(ui, k)
        assert k.checkout.receipt == "failed"  # the e-receipt code instead, amber light
        assert on_screen(ui, "Your payment went through, but the receipt could not be printed.")
        assert k.controller.light_state() == "busy" and not k.store.order(order_no).receipt_printed
        tap(ui, "done")
        tap(ui, "sim:paper_in")
        sign_in(ui)
        tap(ui, "reprint_last")
        assert run_until(ui, lambda: k.controller.attendant.message == "printed", 10)
        assert k.store.order(order_no).receipt_printed
    finally:
        k.stop()
        ui.close()
