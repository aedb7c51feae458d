"""The kiosk runtime: wires devices, the checkout domain, storage, payments, printer and MQTT.

Data flows one way: devices and workers post events to a queue; `pump()`
(called by the UI loop every frame) hands them to the Checkout and carries out
the effects it returns by submitting work to worker threads.  Nothing in
`pump()` waits on a device, the network or a disk flush, so the screen never
freezes; a device error becomes a status the screen and the lights show.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware.camera import CameraService, OpenCVSource, SimulatedSource, qr_image
from hardware.gpio import Signals
from hardware.printer import PrinterError, job_name, open_printer
from hardware.scanner import HidScanner, SerialScanner, SimulatedScanner
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Beep, CallHelp, CancelPayment, Checkout, Outcome, PayStep, StartPayment
from kiosk.codes import CodeKind, classify
from kiosk.config import Config
from kiosk.fonts import find_cjk_font
from kiosk.payments import make_gateway
from kiosk.payments.driver import PaymentDriver, Result
from kiosk.receipts import ReceiptStyle, escpos_bytes, render_image
from kiosk.store import Identity, Store
from kiosk.telemetry import MqttLink

log = logging.getLogger(__name__)


# --- events posted to the UI thread --------------------------------------------
@dataclass(frozen=True)
class CodeRead:
    text: str
    source: str  # "scanner" or "camera"


@dataclass(frozen=True)
class DeviceStatus:
    device: str
    ok: bool
    message: str


@dataclass(frozen=True)
class PaymentStep:
    step: PayStep


@dataclass(frozen=True)
class PaymentDone:
    result: Result


@dataclass(frozen=True)
class PrintDone:
    order_no: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class HelpPressed:
    pass


Event = CodeRead | DeviceStatus | PaymentStep | PaymentDone | PrintDone | HelpPressed


def open_store(cfg: Config) -> Store:
    k = cfg.kiosk
    return Store(Path(k.data_dir) / "kiosk.sqlite", Identity(k.store_id, k.kiosk_id, k.order_prefix, k.currency))


class Kiosk:
    def __init__(self, cfg: Config, *, clock=time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.data_dir = Path(cfg.kiosk.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.events: queue.Queue[Event] = queue.Queue()
        self.store = open_store(cfg)
        self.store.seed_catalog(DEMO_PRODUCTS)
        self.font_path = find_cjk_font(cfg.display.font)
        self.checkout = Checkout(
            self.store.catalog(),
            idle_timeout_s=cfg.kiosk.idle_timeout_s,
            result_timeout_s=cfg.kiosk.result_timeout_s,
            language=cfg.kiosk.default_language,
            now=clock(),
        )
        self.gateway = make_gateway(cfg)
        self.driver = PaymentDriver(
            self.gateway,
            self.store,
            poll_interval_s=cfg.payment.poll_interval_s,
            paying_limit_s=cfg.payment.paying_limit_s,
        )
        self.devices: dict[str, dict[str, Any]] = {}
        self.receipt_state: str | None = None  # printing / printed / failed, for the result screen
        self.last_order: dict[str, Any] | None = None
        self._cancel = threading.Event()
        self._pay_pool = ThreadPoolExecutor(1, thread_name_prefix="payment")
        self._print_pool = ThreadPoolExecutor(1, thread_name_prefix="printer")
        self._io_pool = ThreadPoolExecutor(1, thread_name_prefix="store-io")
        self._stop = threading.Event()
        self.receipt_style = ReceiptStyle(
            self.font_path, cfg.printer.paper_width_mm, cfg.kiosk.store_name, cfg.kiosk.kiosk_id, cfg.kiosk.receipt_url
        )
        self._build_devices()

    # -- devices -----------------------------------------------------------------
    def _on_code(self, text: str, source: str) -> None:
        self.events.put(CodeRead(text, source))

    def _on_status(self, device: str, ok: bool, message: str) -> None:
        self.events.put(DeviceStatus(device, ok, message))

    def _build_devices(self) -> None:
        c = self.cfg
        self.sim_scanner: SimulatedScanner | None = None
        self.sim_camera: SimulatedSource | None = None
        if c.scanner.type == "serial":
            self.scanner = SerialScanner(
                c.scanner.url,
                c.scanner.baudrate,
                c.scanner.max_length,
                self._on_code,
                self._on_status,
                terminator=c.scanner.terminator,
            )
        elif c.scanner.type == "hid":
            self.scanner = HidScanner(c.scanner.device, c.scanner.max_length, self._on_code, self._on_status)
        elif c.scanner.type == "simulated":
            self.scanner = self.sim_scanner = SimulatedScanner(c.scanner.max_length, self._on_code, self._on_status)
        else:
            self.scanner = None
        self.camera: CameraService | None = None
        if c.camera.type == "opencv":
            source = OpenCVSource(c.camera.source, c.camera.width, c.camera.height, c.camera.read_timeout_s)
            self.camera = CameraService(source, self._on_code, self._on_status, fps=c.camera.fps)
        elif c.camera.type == "simulated":
            self.sim_camera = SimulatedSource(c.camera.width, c.camera.height)
            self.camera = CameraService(self.sim_camera, self._on_code, self._on_status, fps=c.camera.fps)
        self.printer = open_printer(c.printer, self.data_dir)
        self.signals = Signals(c.gpio, lambda: self.events.put(HelpPressed())) if c.gpio.enabled else None
        self.mqtt = (
            MqttLink(c, self.store, devices=self.device_summary, on_status=self._mqtt_status)
            if c.mqtt.enabled
            else None
        )

    def _mqtt_status(self, ok: bool, message: str) -> None:
        self._on_status("mqtt", ok, message)

    def device_summary(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "scanner": c.scanner.type,
            "camera": c.camera.type,
            "printer": c.printer.type,
            "gpio": self.signals.factory if self.signals else "off",
            "health": {name: d["ok"] for name, d in dict(self.devices).items()},
        }

    def start(self) -> None:
        for dev in (self.scanner, self.camera, self.mqtt):
            if dev is not None:
                dev.start()
        threading.Thread(target=self._recovery_loop, name="recovery", daemon=True).start()
        if self.signals:
            self.signals.light("ready")
        c = self.cfg
        log.info(
            "kiosk %s/%s ready: scanner %s, camera %s, printer %s, gateway %s, data in %s",
            c.kiosk.store_id,
            c.kiosk.kiosk_id,
            c.scanner.type,
            c.camera.type,
            c.printer.type,
            self.gateway.name,
            self.data_dir,
        )

    def stop(self) -> None:
        self._stop.set()
        self._cancel.set()
        for dev in (self.scanner, self.camera):
            if dev is not None:
                dev.stop()
        for pool in (self._pay_pool, self._print_pool, self._io_pool):
            pool.shutdown(wait=True, cancel_futures=False)
        if self.mqtt:
            self.mqtt.stop()
        if self.signals:
            self.signals.close()

    def _recovery_loop(self) -> None:
        """On start and then periodically: drive every open payment no live payment owns to a final state."""
        while not self._stop.is_set():
            for result in self.driver.recover_all():
                # a recovered order is reported; its receipt is printed when an attendant asks for it
                log.info("recovered %s -> %s", result.out_trade_no, result.outcome.value)
            if self.mqtt:
                self.mqtt.notify()
            self._stop.wait(self.cfg.payment.recovery_interval_s)

    # -- the UI thread's work -----------------------------------------------------
    def pump(self) -> None:
        """Handle what happened since the last frame; never blocks."""
        now = self.clock()
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            try:
                self._handle(event, now)
            except Exception:  # one bad event never ends the loop
                log.exception("while handling %r", event)
        self.checkout.tick(now)
        if self.signals:
            self.signals.light(self.light_state())

    def light_state(self) -> str:
        if any(not d["ok"] for name, d in self.devices.items() if name in ("scanner", "camera")):
            return "fault"
        if self.checkout.paying or self.checkout.help_open or self.receipt_state == "failed":
            return "busy"
        return "ready"

    def _handle(self, event: Event, now: float) -> None:
        co = self.checkout
        if isinstance(event, CodeRead):
            if event.source == "camera" and self.scanner is not None and classify(event.text).kind is CodeKind.PRODUCT:
                return  # with a scanner fitted, the camera is for payment codes only
            self.run_effects(co.scan(event.text, now))
        elif isinstance(event, DeviceStatus):
            was = self.devices.get(event.device, {}).get("ok")
            self.devices[event.device] = {"ok": event.ok, "message": event.message}
            if was != event.ok:
                log.log(logging.INFO if event.ok else logging.WARNING, "%s: %s", event.device, event.message)
            # head office hears of every loss (a device missing at boot too) and of each recovery after one
            if event.device != "mqtt" and was != event.ok and (was is not None or not event.ok):
                kind = f"{event.device}_{'back' if event.ok else 'lost'}"
                self._io(self.store.add_event, kind, message=event.message)
        elif isinstance(event, PaymentStep):
            co.payment_progress(event.step)
        elif isinstance(event, PaymentDone):
            r = event.result
            self.run_effects(
                co.payment_finished(r.outcome, now, order_no=r.order["order_no"] if r.order else None, reason=r.reason)
            )
            if r.order is not None:
                self._print(r.order)
            if self.mqtt:
                self.mqtt.notify()
        elif isinstance(event, PrintDone):
            if self.last_order and self.last_order["order_no"] == event.order_no:
                self.receipt_state = "printed" if event.ok else "failed"
        elif isinstance(event, HelpPressed):
            self.run_effects(co.open_help(now))

    def run_effects(self, effects: list) -> None:
        for e in effects:
            if isinstance(e, Beep):
                if self.signals:
                    self.signals.beep(e.kind)
            elif isinstance(e, StartPayment):
                self._cancel = threading.Event()
                self._pay_pool.submit(self._pay, e, self.checkout.language, self._cancel)
            elif isinstance(e, CancelPayment):
                self._cancel.set()
            elif isinstance(e, CallHelp):
                if self.signals:
                    self.signals.beep("help")
                self._io(self.store.add_event, "help_pressed", screen=e.phase.value)

    def _io(self, fn, *args, **kwargs) -> None:
        def job() -> None:
            try:
                fn(*args, **kwargs)
            finally:
                if self.mqtt:
                    self.mqtt.notify()

        self._io_pool.submit(job)

    # -- worker threads ---------------------------------------------------------------
    def _pay(self, req: StartPayment, language: str, cancel: threading.Event) -> None:
        try:
            result = self.driver.pay(
                req,
                language=language,
                subject=f"{self.cfg.kiosk.store_name} {self.cfg.kiosk.kiosk_id}",
                progress=lambda step: self.events.put(PaymentStep(step)),
                cancel=cancel,
            )
        except Exception as exc:  # the store or gateway failed in a way the driver did not expect
            log.exception("payment failed unexpectedly")
            result = Result(Outcome.FAILED, "", reason=f"ERROR:{type(exc).__name__}", settled=False)
        self.events.put(PaymentDone(result))

    def _print(self, order: dict[str, Any]) -> None:
        self.last_order = order
        self.receipt_state = "printing"
        self._print_pool.submit(self._print_job, order)

    def _print_job(self, order: dict[str, Any]) -> None:
        order_no = order["order_no"]
        try:
            if self.printer.kind == "simulated":  # the simulator keeps a picture of every receipt
                previews = self.data_dir / "receipts"
                previews.mkdir(parents=True, exist_ok=True)
                render_image(order, self.receipt_style).save(previews / f"{order_no}.png")
            self.printer.send(escpos_bytes(order, self.receipt_style), job_name(order_no))
        except (PrinterError, OSError) as exc:
            log.warning("receipt %s not printed: %s", order_no, exc)
            self.store.add_event("printer_error", order_no=order_no, message=str(exc))
            self.events.put(PrintDone(order_no, False, str(exc)))
        else:
            self.store.mark_receipt(order_no, True)
            self.events.put(PrintDone(order_no, True))
        if self.mqtt:
            self.mqtt.notify()

    # -- the simulator ---------------------------------------------------------------------
    def simulate_scan(self, text: str | None = None) -> None:
        if self.sim_scanner is not None:
            text = text or random.choice(list(self.checkout.catalog))
            self.sim_scanner.feed(text.encode() + b"\r")

    def simulate_payment_code(self, last_digit: str) -> None:
        """Hold a fresh Alipay-style code, ending in `last_digit`, in front of the simulated camera."""
        if self.sim_camera is not None:
            code = "28" + "".join(random.choice("0123456789") for _ in range(15)) + last_digit
            self.sim_camera.show(qr_image(code), seconds=1.5)
