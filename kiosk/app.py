"""The kiosk runtime: wires devices, the checkout domain, storage, payments, printer and MQTT.

Data flows one way: devices and workers post events to a queue; `pump()`
(called by the UI loop every frame) hands them to the Checkout and carries out
the effects it returns by submitting work to worker threads.  Nothing in
`pump()` waits on a device, the network or a disk flush, so the screen never
freezes; a device error becomes a status the screen and the lights show.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware import MAX_CODE_AGE_S
from hardware.camera import CameraService, OpenCVSource, SimulatedSource, qr_image
from hardware.gpio import Signals
from hardware.printer import Paper, PrinterError, job_name, open_printer
from hardware.scanner import HidScanner, SerialScanner, SimulatedScanner
from kiosk.attendant import Attendant, Mode
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Beep, CallHelp, CancelPayment, Checkout, Outcome, PayStep, StartPayment, StartQrPayment
from kiosk.codes import CodeKind, CodeMemory, classify
from kiosk.config import Config, ConfigError
from kiosk.fonts import find_cjk_font
from kiosk.payments.driver import NOT_RECORDED, OUT_OF_SERVICE, PaymentDriver, Result
from kiosk.payments.gateways import make_gateway
from kiosk.receipts import (
    Receipt,
    ReceiptSettings,
    escpos_job,
    preview_image,
    printer_test_page,
    reconciliation_summary,
    refund_slip,
    sale_receipt,
    z_report,
)
from kiosk.signing import load_public_key
from kiosk.store import RefundRefused, StoreError, describe, open_store
from kiosk.telemetry import MqttLink

log = logging.getLogger(__name__)


# --- events posted to the UI thread --------------------------------------------
@dataclass(frozen=True)
class CodeRead:
    text: str
    source: str  # "scanner" or "camera"
    seen_at: float = 0.0  # time.monotonic() when the frame (or line) holding it arrived; 0: now


@dataclass(frozen=True)
class DeviceStatus:
    device: str
    ok: bool
    message: str


@dataclass(frozen=True)
class PaymentStep:
    step: PayStep


@dataclass(frozen=True)
class QrShown:
    qr: str
    deadline: float  # on the kiosk's clock


@dataclass(frozen=True)
class PaymentDone:
    result: Result


@dataclass(frozen=True)
class PrintDone:
    label: str  # the order number, or what else was printed
    ok: bool
    reason: str = ""  # the events kind when it was not printed
    paper: Paper = Paper.UNKNOWN
    for_shopper: bool = False  # the receipt of the sale on screen now
    for_staff: bool = False  # a print staff asked for (reprint, report, test page): they are told how it went


@dataclass(frozen=True)
class AttendantNotice:
    key: str  # an attendant message: printed, unknown_order, print_failed...
    detail: str = ""


@dataclass(frozen=True)
class HelpPressed:
    pass


@dataclass(frozen=True)
class ServiceState:
    problem: str | None  # why the kiosk cannot record a sale now; None: it can
    observed_at: float  # time.monotonic() of the check: an older "fine" never undoes a newer failure


Event = (
    CodeRead
    | DeviceStatus
    | PaymentStep
    | QrShown
    | PaymentDone
    | PrintDone
    | HelpPressed
    | AttendantNotice
    | ServiceState
)


def check_runtime(cfg: Config) -> str:
    """What `--check` and the start verify beyond the file itself: head office's key loads (ConfigError), the
    font draws Chinese (FontMissing).  Returns the font's path."""
    try:
        load_public_key(cfg.mqtt.hq_public_key_file)
    except ValueError as exc:
        raise ConfigError(f"mqtt.hq_public_key_file: {exc}") from None
    return find_cjk_font(cfg.display.font)


class Kiosk:
    def __init__(self, cfg: Config, *, clock=time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.data_dir = Path(cfg.kiosk.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.events: queue.Queue[Event] = queue.Queue()
        self.store = open_store(cfg)
        self.min_free_bytes = cfg.kiosk.min_free_mb * 2**20
        problem = self.store.storage_problem(self.min_free_bytes)
        if problem:
            raise StoreError(problem)
        try:
            self.store.seed_catalog(DEMO_PRODUCTS)
            for order_no in self.store.interrupted_receipts():
                log.warning("%s: its receipt was not printed before the kiosk stopped", order_no)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.store.path}: {describe(exc, self.store.path)}") from None
        self.font_path = check_runtime(cfg)
        self.gateway = make_gateway(cfg)
        self.checkout = Checkout(
            self.store.catalog(),
            idle_timeout_s=cfg.kiosk.idle_timeout_s,
            result_timeout_s=cfg.kiosk.result_timeout_s,
            language=cfg.kiosk.default_language,
            now=clock(),
            accepted=self.gateway.schemes,
            used_codes=CodeMemory(self.store.code_key, self.store.recent_code_digests()),
        )
        self.driver = PaymentDriver(
            self.gateway,
            self.store,
            poll_interval_s=cfg.payment.poll_interval_s or self.gateway.poll_interval_s,
            paying_limit_s=cfg.payment.paying_limit_s or self.gateway.paying_limit_s,
            min_free_bytes=self.min_free_bytes,
        )
        self.out_of_service: str | None = None  # why no sale can be recorded now (the disk), shown and reported
        self._out_of_service_since = 0.0
        self.devices: dict[str, dict[str, Any]] = {}
        self.receipt_state: str | None = None  # printing / printed / failed, for the result screen
        self.last_order: dict[str, Any] | None = None
        self._cancel = threading.Event()
        self._pay_pool = ThreadPoolExecutor(1, thread_name_prefix="payment")  # the shopper's payment, only
        self._office_pool = ThreadPoolExecutor(1, thread_name_prefix="back-office")  # refunds, reconciliation
        self._print_pool = ThreadPoolExecutor(1, thread_name_prefix="printer")
        self._io_pool = ThreadPoolExecutor(1, thread_name_prefix="store-io")
        self._stop = threading.Event()
        self._probe = threading.Event()  # wakes the recovery loop: check the gateway now
        self.receipt_settings = ReceiptSettings.from_config(cfg, self.font_path)
        self.paper = Paper.UNKNOWN
        self.printer_attention = False  # the last job failed, or the paper is nearly out: amber light
        a = cfg.attendant
        self.attendant = Attendant(a.pin_hash, a.max_attempts, a.lockout_s, a.session_s)
        failures, locked_until = self.store.lockout()  # a restart does not lift a PIN lockout
        self.attendant.failures = failures
        self.attendant.locked_until = clock() + max(0.0, locked_until - time.time())
        self._build_devices()

    # -- devices -----------------------------------------------------------------
    def _on_code(self, text: str, source: str, seen_at: float = 0.0) -> None:
        self.events.put(CodeRead(text, source, seen_at or time.monotonic()))

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
        source: OpenCVSource | SimulatedSource | None = None
        if c.camera.type == "opencv":
            source = OpenCVSource(c.camera.source, c.camera.width, c.camera.height, c.camera.read_timeout_s)
        elif c.camera.type == "simulated":
            source = self.sim_camera = SimulatedSource(c.camera.width, c.camera.height)
        if source is not None:
            # no frame within camera.read_timeout_s: the camera is lost, whether or not its backend times out itself
            self.camera = CameraService(
                source, self._on_code, self._on_status, fps=c.camera.fps, read_timeout_s=c.camera.read_timeout_s
            )
        self.printer = open_printer(c.printer, self.data_dir)
        self.signals = Signals(c.gpio, lambda: self.events.put(HelpPressed())) if c.gpio.enabled else None
        self.mqtt = (
            MqttLink(
                c, self.store, devices=self.device_summary, on_status=self._mqtt_status, on_command=self.on_command
            )
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
        from kiosk.config import warnings

        for line in warnings(self.cfg):
            log.warning("%s", line)
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
        self._probe.set()
        self._cancel.set()
        for dev in (self.scanner, self.camera):
            if dev is not None:
                dev.stop()
        for pool in (self._pay_pool, self._office_pool, self._print_pool, self._io_pool):
            pool.shutdown(wait=True, cancel_futures=False)
        if self.mqtt:
            self.mqtt.stop()
        if self.signals:
            self.signals.close()

    def _recovery_loop(self) -> None:
        """On start and then periodically: drive every open payment no live payment owns to a final state.

        Nothing ends this loop but stop(): an unexpected error is logged, reported to head office once per
        kind of error, and the next round tries again.
        """
        reported: set[str] = set()
        while not self._stop.is_set():
            try:
                wait = self._recover_once()
            except Exception as exc:
                log.exception("recovery round failed; trying again in %.0f s", self.cfg.payment.recovery_interval_s)
                kind = f"{type(exc).__name__}: {exc}"[:200]
                if kind not in reported:
                    reported.add(kind)
                    with contextlib.suppress(Exception):  # the store itself may be what fails
                        self._io(self.store.add_event, "recovery_failed", message=kind)
                wait = min(self.cfg.payment.recovery_interval_s, 30.0)
            self._probe.wait(wait)
            self._probe.clear()

    def _recover_once(self) -> float:
        """One round of recovery; returns how long to wait before the next."""
        observed_at = time.monotonic()
        problem = self.store.storage_problem(self.min_free_bytes)
        self.events.put(ServiceState(problem, observed_at))
        if problem:  # nothing can be recorded: look again soon
            return min(5.0, self.cfg.payment.recovery_interval_s)
        reachable = self.driver.reachable()
        self._on_status(
            "gateway",
            reachable,
            f"{self.gateway.name} answers" if reachable else f"{self.gateway.name} does not answer",
        )
        if not reachable:  # nothing to recover through a gateway that cannot be reached; ask again soon
            return min(5.0, self.cfg.payment.recovery_interval_s)
        for result in self.driver.recover_all():
            # a recovered order is reported; its receipt is printed when an attendant asks for it
            log.info("recovered %s -> %s", result.out_trade_no, result.outcome.value)
        for refund in self.driver.recover_refunds():
            log.info("recovered refund %s -> %s", refund["out_request_no"], refund["state"])
        if self.mqtt:
            self.mqtt.notify()
        return self.cfg.payment.recovery_interval_s

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
        self.attendant.tick(now)
        if self.signals:
            self.signals.light(self.light_state())

    def light_state(self) -> str:
        if any(not d["ok"] for name, d in self.devices.items() if name in ("scanner", "camera")):
            return "fault"
        if self.out_of_service:
            return "fault"
        if self.checkout.paying or self.checkout.help_open or self.attendant.active or self.printer_attention:
            return "busy"
        return "ready"

    def _handle(self, event: Event, now: float) -> None:
        co = self.checkout
        if isinstance(event, CodeRead) and self.attendant.active:
            if self.attendant.mode is Mode.SCAN_REPRINT:  # the code on a receipt is its order number
                self.attendant.back_to_menu(now)
                self._print_pool.submit(self._reprint_job, event.text.strip())
            elif self.attendant.mode is Mode.SCAN_REFUND:
                self._io_pool.submit(self._refund_lookup, event.text.strip())
        elif isinstance(event, CodeRead):
            age = time.monotonic() - event.seen_at if event.seen_at else 0.0
            if event.source == "camera" and age > MAX_CODE_AGE_S:  # whoever showed it may have gone
                log.warning("camera: dropped a code seen %.1f s ago", age)
                return
            if event.source == "camera" and self.scanner is not None and classify(event.text).kind is CodeKind.PRODUCT:
                return  # with a scanner fitted, the camera is for payment codes only
            self.run_effects(co.scan(event.text, now))
            if co.notice is not None and co.notice.key == "added":
                log.info("cart: %s added, %d items", co.notice.params.get("sku"), co.cart.totals().items)
        elif isinstance(event, DeviceStatus):
            was = self.devices.get(event.device, {}).get("ok")
            self.devices[event.device] = {"ok": event.ok, "message": event.message}
            if was != event.ok:
                log.log(logging.INFO if event.ok else logging.WARNING, "%s: %s", event.device, event.message)
            if event.device == "gateway":
                co.payments_available = event.ok
            # head office hears of every loss (a device missing at boot too) and of each recovery after one
            if event.device != "mqtt" and was != event.ok and (was is not None or not event.ok):
                kind = f"{event.device}_{'back' if event.ok else 'lost'}"
                self._io(self.store.add_event, kind, message=event.message)
        elif isinstance(event, PaymentStep):
            co.payment_progress(event.step)
        elif isinstance(event, QrShown):
            co.qr_ready(event.qr, event.deadline)
        elif isinstance(event, PaymentDone):
            r = event.result
            self.run_effects(
                co.payment_finished(r.outcome, now, order_no=r.order["order_no"] if r.order else None, reason=r.reason)
            )
            if r.order is not None:
                self._print(r.order)
            if r.reason in (OUT_OF_SERVICE, NOT_RECORDED):
                self._set_service(r.reason if self.out_of_service is None else self.out_of_service)
            if not r.settled or r.reason in ("NO_ANSWER", "TIMEOUT", "HTTP_502"):
                self._probe.set()  # the gateway may be down: find out now, and stop taking codes if it is
            if self.mqtt:
                self.mqtt.notify()
        elif isinstance(event, PrintDone):
            self._print_done(event)
        elif isinstance(event, AttendantNotice):
            if event.key == "confirm_refund":
                order_no, amount = event.detail.split("|")
                self.attendant.confirm_refund(order_no, int(amount), now)
            else:
                self.attendant.message = event.key
        elif isinstance(event, HelpPressed):
            self.run_effects(co.open_help(now))
        elif isinstance(event, ServiceState):
            if event.problem is not None or event.observed_at > self._out_of_service_since:
                self._set_service(event.problem)

    def _set_service(self, problem: str | None) -> None:
        """In or out of service; head office hears of it at once, over MQTT directly (the disk may be full)."""
        self.checkout.out_of_service = problem is not None
        if problem:
            self._out_of_service_since = time.monotonic()  # a "fine" observed before this never undoes it
        changed = (problem is None) != (self.out_of_service is None)
        self.out_of_service = problem
        if not changed:
            return
        if problem:
            log.error("out of service: %s", problem)
        else:
            log.info("back in service")
        if self.mqtt:
            self.mqtt.set_out_of_service(problem)

    def run_effects(self, effects: list) -> None:
        for e in effects:
            if isinstance(e, Beep):
                if self.signals:
                    self.signals.beep(e.kind)
            elif isinstance(e, StartPayment):
                self._cancel = threading.Event()
                self._pay_pool.submit(self._pay, e, self.checkout.language, self._cancel)
            elif isinstance(e, StartQrPayment):
                self._cancel = threading.Event()
                self._pay_pool.submit(self._present, e, self.checkout.language, self._cancel)
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
                subject=f"{self.cfg.receipt.store_name} {self.cfg.kiosk.kiosk_id}",
                progress=lambda step: self.events.put(PaymentStep(step)),
                cancel=cancel,
            )
        except Exception as exc:  # the store or gateway failed in a way the driver did not expect
            log.exception("payment failed unexpectedly")
            result = Result(Outcome.FAILED, "", reason=f"ERROR:{type(exc).__name__}", settled=False)
        self.events.put(PaymentDone(result))

    def _present(self, req: StartQrPayment, language: str, cancel: threading.Event) -> None:
        try:
            result = self.driver.present(
                req.lines,
                req.totals,
                language=language,
                subject=f"{self.cfg.receipt.store_name} {self.cfg.kiosk.kiosk_id}",
                show_qr=lambda qr, deadline: self.events.put(QrShown(qr, deadline)),
                expires_s=self.cfg.payment.qr_expiry_s,
                cancel=cancel,
            )
        except Exception as exc:  # the store or gateway failed in a way the driver did not expect
            log.exception("scan-to-pay failed unexpectedly")
            result = Result(Outcome.FAILED, "", reason=f"ERROR:{type(exc).__name__}", settled=False)
        self.events.put(PaymentDone(result))

    def _print(self, order: dict[str, Any]) -> None:
        """The receipt of the sale just paid, on the shopper's screen."""
        self.last_order = order
        self.receipt_state = "printing"
        receipt = sale_receipt(order, self.receipt_settings)
        self._print_pool.submit(self._print_job, receipt, order["order_no"], order["order_no"], True)

    def _print_job(
        self, receipt: Receipt, label: str, order_no: str | None, for_shopper: bool, for_staff: bool = False
    ) -> bool:
        """Render and print on the printer thread; the outcome comes back as a PrintDone event."""
        s = self.receipt_settings
        try:
            data = escpos_job(receipt, s)
            if self.printer.kind == "simulated":  # the simulator keeps a picture of every receipt
                previews = self.data_dir / "receipts"
                previews.mkdir(parents=True, exist_ok=True)
                preview_image(receipt, s).save(previews / f"{label}.png")
            result = self.printer.send(data, job_name(label))
        except (PrinterError, OSError) as exc:
            reason = getattr(exc, "reason", "printer_error")
            paper = exc.status.paper if isinstance(exc, PrinterError) else Paper.UNKNOWN
            log.warning("%s not printed: %s", label, exc)
            if order_no:
                self.store.mark_receipt(order_no, False)
            self.store.add_event(reason, order_no=order_no, message=str(exc))
            self.events.put(PrintDone(label, False, reason, paper, for_shopper, for_staff))
            ok = False
        else:
            if order_no:
                self.store.mark_receipt(order_no, True)
            paper = result.after.paper if result.after.paper is not Paper.UNKNOWN else result.before.paper
            self.events.put(PrintDone(label, True, "", paper, for_shopper, for_staff))
            ok = True
        if self.mqtt:
            self.mqtt.notify()
        return ok

    def _print_done(self, e: PrintDone) -> None:
        if e.for_shopper and self.last_order and self.last_order["order_no"] == e.label:
            self.receipt_state = "printed" if e.ok else "failed"
        if e.paper is Paper.NEAR_END and self.paper is not Paper.NEAR_END:
            self._io(self.store.add_event, "printer_paper_near_end")
        if e.paper is not Paper.UNKNOWN or not e.ok:
            self.paper = e.paper
        self.printer_attention = not e.ok or self.paper is Paper.NEAR_END
        self.devices["printer"] = {"ok": e.ok, "message": e.reason or "printed"}
        if e.for_staff and self.attendant.active:
            self.attendant.message = "printed" if e.ok else "print_failed"

    # -- attendant mode (all printing work runs on the printer thread) -------------------
    def attendant_submit_pin(self) -> None:
        now = self.clock()
        a = self.attendant
        if a.submit(now):
            kind = "attendant_signed_in"
        else:
            kind = "attendant_locked_out" if a.message == "locked" else "attendant_wrong_pin"
        self._io(self.store.save_lockout, a.failures, time.time() + max(0.0, a.locked_until - now))
        self._io(self.store.add_event, kind)

    def attendant_reprint_last(self) -> None:
        self._print_pool.submit(self._reprint_job, None)

    def _reprint_job(self, order_no: str | None) -> None:
        order_no = order_no or self.store.last_order_no()
        order = self.store.find_order(order_no) if order_no else None
        if order is None:
            self.events.put(AttendantNotice("unknown_order", order_no or ""))
            return
        receipt = sale_receipt(order, self.receipt_settings, reprint=True)
        if self._print_job(receipt, order["order_no"], order["order_no"], False, for_staff=True):
            self.store.add_event("receipt_reprinted", order_no=order["order_no"])

    def attendant_z_report(self, day: str | None = None) -> None:
        from datetime import date

        def job() -> None:
            summary = self.store.day_summary(day or date.today().isoformat())
            lang = self.checkout.language
            if self._print_job(
                z_report(summary, self.receipt_settings, lang, self.cfg.kiosk.currency),
                "Z" + summary["date"].replace("-", ""),
                None,
                False,
                for_staff=True,
            ):
                self.store.add_event("z_report", **summary)

        self._print_pool.submit(job)

    # -- refunds ---------------------------------------------------------------------------
    def on_command(self, name: str, body: dict[str, Any], command_id: str) -> dict[str, Any] | None:
        """Head office's commands (on the MQTT thread, already authenticated and claimed); `body` is the
        envelope's `data`.  The answer goes to `cmd-result`; None: the job writes it when it is done."""
        if name == "ping":
            return {"ok": True}
        if name == "refund":
            order_no, amount, reason = body.get("order_no"), body.get("amount"), body.get("reason", "")
            if not isinstance(order_no, str) or not order_no:
                return {"ok": False, "error": "refund needs 'order_no' (a string)"}
            if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
                return {"ok": False, "error": "'amount' must be a positive whole number of minor units, or absent"}
            if not isinstance(reason, str):
                return {"ok": False, "error": "'reason' must be a string"}
            try:
                refund = self.store.begin_refund(
                    order_no, amount, requested_by="hq", command_id=command_id, reason=reason[:200]
                )
            except RefundRefused as exc:
                return {"ok": False, "error": str(exc)}
            if refund["state"] == "SUBMITTING":
                self._office_pool.submit(self._refund_job, refund)
            return {
                "ok": True,
                "out_request_no": refund["out_request_no"],
                "amount": refund["amount"],
                "state": refund["state"],
            }
        if name == "reconcile":
            from datetime import date, timedelta

            from kiosk.reconcile import parse_day

            day = body.get("date", (date.today() - timedelta(days=1)).isoformat())
            if parse_day(day) is None:
                return {"ok": False, "error": "'date' must be a real date, YYYY-MM-DD"}
            self._office_pool.submit(self._reconcile_job, day, command_id)
            return None  # answered on cmd-result when the statement has been compared
        return {"ok": False, "error": f"unknown command {name!r}"}

    def _reconcile_job(self, day: str, command_id: str | None = None) -> dict[str, Any]:
        from kiosk.reconcile import finish, run

        try:
            report = run(self.store, self.gateway, day)
        except (OSError, ValueError) as exc:
            result: dict[str, Any] = {"ok": False, "error": f"cannot reconcile {day}: {exc}"}
        else:
            path = finish(report, self.store, self.data_dir)
            summary = reconciliation_summary(
                report.as_dict(), self.receipt_settings, self.cfg.kiosk.default_language, self.cfg.kiosk.currency
            )
            self._print_pool.submit(self._print_job, summary, f"reconcile-{day}", None, False)
            result = {
                "ok": True,
                "date": day,
                "clean": report.clean,
                "differences": len(report.differences),
                "report": str(path),
            }
        if command_id is not None:
            self.store.add_command_result(command_id, "reconcile", result)
        if self.mqtt:
            self.mqtt.notify()
        return result

    def _refund_job(self, refund: dict[str, Any]) -> None:
        try:
            done = self.driver.refund(refund)
        except Exception:
            log.exception("refund %s failed unexpectedly; recovery will retry", refund["out_request_no"])
            return
        finally:
            if self.mqtt:
                self.mqtt.notify()
        if refund["requested_by"] == "attendant":
            self.events.put(AttendantNotice("refunded" if done["state"] == "REFUNDED" else "refund_failed"))
        if done["state"] == "REFUNDED":
            order = self.store.find_order(done["order_no"])
            slip = refund_slip(order, done, self.receipt_settings)
            self._print_pool.submit(self._print_job, slip, f"refund-{done['out_request_no']}", None, False)

    def _refund_lookup(self, order_no: str) -> None:
        """Staff scanned a receipt to refund: how much is left (on the store thread)."""
        try:
            order, left = self.store.refundable(self.store.conn(), order_no)
        except RefundRefused:
            self.events.put(AttendantNotice("unknown_order"))
            return
        if left <= 0 or order["state"] not in ("PAID", "PARTIALLY_REFUNDED"):
            self.events.put(AttendantNotice("nothing_to_refund"))
            return
        self.events.put(AttendantNotice("confirm_refund", f"{order_no}|{left}"))

    def attendant_refund(self) -> None:
        """Staff confirmed: refund what is left of the scanned order."""
        a = self.attendant
        order_no, amount = a.refund_order, a.refund_amount
        if amount is None:
            a.message = "amount_invalid"
            return
        a.back_to_menu(self.clock())
        a.message = "refunding"

        def job() -> None:
            try:
                refund = self.store.begin_refund(order_no, amount, requested_by="attendant")
            except RefundRefused:
                self.events.put(AttendantNotice("nothing_to_refund"))
                return
            self._io(self.store.add_event, "attendant_refund", order_no=order_no, amount=amount)
            self._refund_job(refund)

        self._office_pool.submit(job)

    def attendant_test_page(self) -> None:
        self._print_pool.submit(
            self._print_job, printer_test_page(self.receipt_settings), "test-page", None, False, True
        )

    # -- the simulator ---------------------------------------------------------------------
    def simulate_scan(self, text: str | None = None) -> None:
        if self.sim_scanner is not None:
            text = text or random.choice(list(self.checkout.catalog))
            self.sim_scanner.feed(text.encode() + b"\r")

    def simulate_wallet_scan(self, _: object = None) -> None:
        """The shopper's wallet scans the QR on screen and pays (sandbox only)."""
        from kiosk.payments import emvqr

        qr = self.checkout.qr_text
        scan = getattr(self.gateway, "wallet_scans", None)
        if qr and scan:
            bill = dict(emvqr.split(dict(emvqr.parse(qr))["62"]))["01"]
            self._io(scan, bill)

    def simulate_payment_code(self, last_digit: str) -> None:
        """Hold a fresh Alipay-style code, ending in `last_digit`, in front of the simulated camera."""
        if self.sim_camera is not None:
            code = "28" + "".join(random.choice("0123456789") for _ in range(15)) + last_digit
            self.sim_camera.show(qr_image(code), seconds=1.5)
