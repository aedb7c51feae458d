"""The kiosk's wiring: build the store, the gateway, the devices, the workers, the services, the head-office link
and the UI-thread controller from the config; start them; stop them.  Nothing else.

This is the one module that picks hardware backends (each device module's
registry, by the config's name or an environment variable) and the one place
that knows which service talks to which.  Who owns which thread is written
down in kiosk/runtime/__init__.py.
"""

from __future__ import annotations

import logging
import queue
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import kiosk
from hardware.camera import SimulatedSource, open_camera
from hardware.gpio import Signals, pin_factory
from hardware.printer import open_printer
from hardware.scanner import SimulatedScanner, open_scanner
from hardware.simulator import SimulatorPanel
from hardware.speaker import Speaker
from kiosk import CLOCK_FLOOR, demo_pictures
from kiosk.attendant import Attendant, parse_badges
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Checkout, CollectOnlineOrder
from kiosk.codes import CodeMemory
from kiosk.config import Config, ConfigError, enrolling, warnings
from kiosk.fonts import find_cjk_font
from kiosk.pairing import Enrollment
from kiosk.payments import emvqr
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.gateways import make_gateway
from kiosk.receipts import ReceiptSettings
from kiosk.runtime.controller import Controller
from kiosk.runtime.ports import Wiring
from kiosk.runtime.systemd import Watchdog
from kiosk.services.catalog_updates import CatalogUpdates
from kiosk.services.certificates import CertificateRotation
from kiosk.services.events import CodeRead, DeviceStatus, Event, HelpPressed
from kiosk.services.housekeeping import Housekeeping
from kiosk.services.hq_http import HqHttp
from kiosk.services.jobs import Worker
from kiosk.services.look_up import LookUpService
from kiosk.services.office import HeadOfficeCommands
from kiosk.services.online_orders import OnlineOrders
from kiosk.services.paying import PaymentService
from kiosk.services.pictures import ProductPictures
from kiosk.services.printing import PrintService
from kiosk.services.recovery import RecoveryLoop
from kiosk.services.refunds import RefundService
from kiosk.services.updates import FirmwareUpdates
from kiosk.signing import load_public_key
from kiosk.sounds import PROMPTS, TONES, prompt_path, tone_path
from kiosk.store import StoreError, describe, open_store
from kiosk.telemetry import MqttLink, cert_days_left, link_files_problem
from kiosk.weighed import parse_layouts

log = logging.getLogger(__name__)


def check_runtime(cfg: Config) -> str:
    """What `--check` and the start verify beyond the file itself: head office's key loads (ConfigError), the
    font draws Chinese (FontMissing).  Returns the font's path."""
    for section, key in (("mqtt", "hq_public_key_file"), ("pairing", "hq_public_key_file")):
        try:
            load_public_key(getattr(getattr(cfg, section), key))
        except ValueError as exc:
            raise ConfigError(f"{section}.{key}: {exc}") from None
    return find_cjk_font(cfg.display.font)


def check_link(cfg: Config) -> None:
    """`--check`: the broker's TLS and password files load (ConfigError naming the key and the file).  At a start
    they are not fatal: the kiosk sells, and the link says what is wrong and tries again."""
    problem = link_files_problem(cfg)
    if problem and not enrolling(cfg):  # provisioned by QR: the files come from head office later
        raise ConfigError(problem)


class Runtime:
    """Everything one kiosk runs, built and connected; `controller` is what the UI talks to."""

    def __init__(self, cfg: Config, *, clock=time.monotonic, demo: bool = False) -> None:
        """`demo`: a kiosk with real devices started with --demo on the sandbox or the demo catalog: DEMO shows."""
        self.cfg = cfg
        self.clock = clock
        self.data_dir = Path(cfg.kiosk.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = self._open_store()
        self.font_path = check_runtime(cfg)
        self.gateway = make_gateway(cfg)
        min_free = cfg.kiosk.min_free_mb * 2**20
        self.driver = PaymentDriver(
            self.gateway,
            self.store,
            poll_interval_s=cfg.payment.poll_interval_s or self.gateway.poll_interval_s,
            paying_limit_s=cfg.payment.paying_limit_s or self.gateway.paying_limit_s,
            min_free_bytes=min_free,
        )
        self.catalog = self.store.catalog()
        checkout = Checkout(
            self.catalog,
            idle_timeout_s=cfg.kiosk.idle_timeout_s,
            result_timeout_s=cfg.kiosk.result_timeout_s,
            language=cfg.kiosk.default_language,
            now=clock(),
            accepted=self.gateway.schemes,
            used_codes=CodeMemory(self.store.code_key, self.store.recent_code_digests()),
            layouts=parse_layouts(cfg.weighed.layouts),
            removals_need_staff=cfg.attendant.removals_need_staff,
        )
        attendant = self._attendant()

        # the UI thread's queue: every device, worker, loop and link reports there (workers their failures too)
        self.events: queue.Queue[Event] = queue.Queue()
        post = self.events.put
        self.checkout = checkout
        self.workers = {
            name: Worker(name, post)
            for name in ("payment", "back-office", "printer", "store-io", "head-office", "look-up", "pictures")
        }  # payment: the shopper's, only; back-office: refunds, reconciliation, refund look-ups; look-up: its screen
        # (and decoding product pictures for the screens); pictures: fetching them from head office
        self.printer = open_printer(cfg.printer, self.data_dir)
        self.printing = PrintService(
            self.printer,
            self.store,
            ReceiptSettings.from_config(cfg, self.font_path),
            self.workers["printer"],
            post,
            currency=cfg.kiosk.currency,
            previews_dir=self.data_dir / "receipts",
        )
        self.refunds = RefundService(self.store, self.driver, self.printing, self.workers["back-office"], post)
        # downloads and questions, on workers; head office's HTTPS checked against pairing.ca_file, else the broker's CA
        self.hq_http = HqHttp(cfg.mqtt.hq_url, cfg.pairing.ca_file or cfg.mqtt.ca_file)
        hq_key = load_public_key(cfg.mqtt.hq_public_key_file)  # head office's signature on catalogs and orders
        self.pictures = ProductPictures(
            self.store, self.data_dir / "pictures", self.hq_http, self.workers["pictures"], 2 * min_free
        )
        self.catalog_updates = CatalogUpdates(
            self.store,
            self.workers["back-office"],
            post,
            key=hq_key,
            fetch=self.hq_http.download,
            store_id=cfg.kiosk.store_id,
            pictures=self.pictures,
        )
        self.updates = FirmwareUpdates(self.store, self.workers["back-office"], hq_key, self.data_dir,
                                       kiosk.__version__, self.hq_http.download, post)  # fmt: skip
        self.rotation = CertificateRotation(
            cfg.mqtt.cert_file if cfg.mqtt.tls else "",
            cfg.mqtt.key_file,
            self.data_dir,
            reconnect=lambda: self.mqtt.reconnect() if self.mqtt else None,
            event=lambda kind, **data: self.store.add_event(kind, **data),
        )
        self.commands = HeadOfficeCommands(
            self.store,
            self.gateway,
            self.refunds,
            self.printing,
            self.workers["back-office"],
            data_dir=self.data_dir,
            language=cfg.kiosk.default_language,
            post=post,
            catalog=self.catalog_updates.receive,
            selftest=self._selftest,
            rotate_cert=self.rotation.handle,
            update=self.updates.receive,
        )
        self.payments = PaymentService(
            self.driver,
            self.workers["payment"],
            post,
            subject=f"{cfg.receipt.store_name} {cfg.kiosk.kiosk_id}",
            qr_expiry_s=cfg.payment.qr_expiry_s,
        )
        self.recovery = RecoveryLoop(
            self.store,
            self.driver,
            self.gateway.name,
            post,
            interval_s=cfg.payment.recovery_interval_s,
            min_free_bytes=min_free,
        )
        self.housekeeping = Housekeeping(
            self.store,
            self.data_dir / "receipts",
            outbox_retention_s=cfg.mqtt.outbox_retention_days * 86400,
            preview_retention_s=cfg.kiosk.preview_retention_days * 86400,
            warn_free_bytes=cfg.kiosk.disk_warn_mb * 2**20,
        )
        self.watchdog = Watchdog()  # the screen loop proves it is alive: to systemd, and in telemetry
        self._build_devices()
        self._autopilot = threading.Event()  # set at stop: ends the simulator's autopilot shopper and the enrollment

        def link_status(ok: bool, message: str) -> None:
            self.rotation.link_status(ok, message)  # a rotated certificate is kept, or the old one put back
            post(DeviceStatus("mqtt", ok, message))

        self.mqtt = (
            MqttLink(
                cfg,
                self.store,
                devices=self.device_summary,
                on_status=link_status,
                on_command=self.commands.handle,
                settings=self.commands.settings,
                frame_age=self.watchdog.frame_age,
            )
            if cfg.mqtt.enabled
            else None
        )
        if self.mqtt:
            self.store.on_outbox(self.mqtt.notify)  # every commit with a message for head office wakes the link
        wiring = Wiring(
            payments=self.payments,
            printing=self.printing,
            refunds=self.refunds,
            record=self._record,
            save_lockout=self._save_lockout,
            probe_gateway=self.recovery.probe,
            signals=self.signals,
            speaker=self.speaker,
            link=self.mqtt,
            press_sim=self.panel.press if self.panel else None,
            type_sim=self.panel.scan if self.panel else None,
            sim_buttons=self._sim_buttons,
            has_scanner=self.scanner is not None,
            receipt_url=cfg.receipt.url,
            currency=cfg.kiosk.currency,
            install_update=self.updates.request,
            switch_catalog=self._switch_catalog,
            demo=demo,
            online_orders=OnlineOrders(
                self.store, hq_key, cfg.kiosk.store_id, hq=self.hq_http, worker=self.workers["head-office"], post=post
            ),
            collect_online=self._collect_online,
            look_up=LookUpService(self.store, self.workers["look-up"], post).request,
            bag_barcode=cfg.kiosk.bag_barcode,
        )
        self.controller = Controller(checkout, attendant, wiring, events=self.events, clock=clock)
        self.controller.no_catalog = not self.store.has_catalog()
        if self.controller.no_catalog:
            self.controller._update_service()

    def _open_store(self):
        store = open_store(self.cfg)
        problem = store.storage_problem(self.cfg.kiosk.min_free_mb * 2**20)
        if problem:
            raise StoreError(problem)
        try:
            if store.switch_catalog():  # loaded before the last stop, not yet sold from: no shopper is here now
                log.info("selling from catalog %s", store.catalog_version())
            store.drop_unused_catalogs()
            if self.cfg.kiosk.catalog == "demo" and not store.has_headoffice_catalog():
                store.seed_catalog(DEMO_PRODUCTS)
                demo_pictures.install(store, self.data_dir / "pictures")
            for order_no in store.interrupted_receipts():
                log.warning("%s: its receipt was not printed before the kiosk stopped", order_no)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{store.path}: {describe(exc, store.path)}") from None
        return store

    def _attendant(self) -> Attendant:
        a = self.cfg.attendant
        attendant = Attendant(a.pin_hash, a.max_attempts, a.lockout_s, a.session_s, parse_badges(a.badges))
        failures, locked_until = self.store.lockout()  # a restart does not lift a PIN lockout
        attendant.failures = failures
        attendant.locked_until = self.clock() + max(0.0, locked_until - time.time())
        return attendant

    def _build_devices(self) -> None:
        c, post = self.cfg, self.events.put

        def on_code(text: str, source: str, seen_at: float = 0.0) -> None:
            post(CodeRead(text, source, seen_at or time.monotonic()))

        def on_status(device: str, ok: bool, message: str) -> None:
            post(DeviceStatus(device, ok, message))

        try:
            self.scanner = open_scanner(c.scanner, on_code, on_status)
            self.camera = open_camera(c.camera, on_code, on_status)
            pins = pin_factory(c.gpio.pin_factory) if c.gpio.enabled else None
        except ValueError as exc:  # a backend named in the environment that does not exist
            raise ConfigError(str(exc)) from None
        self.signals = Signals(c.gpio, lambda: post(HelpPressed()), pins) if pins else None
        self.speaker = Speaker(
            tone_path, prompt_path, enabled=c.sound.enabled, volume=c.sound.volume, prompts=c.sound.prompts
        )
        sim_scanner = self.scanner if isinstance(self.scanner, SimulatedScanner) else None
        sim_camera = self.camera.source if self.camera and isinstance(self.camera.source, SimulatedSource) else None
        panel = SimulatorPanel(
            scanner=sim_scanner,
            camera=sim_camera,
            printer=self.printer.virtual,
            product_codes=self.store.product_codes,
            wallet_scan=self._wallet_scan if hasattr(self.gateway, "wallet_scans") else None,
        )
        self.panel = panel if panel.useful else None

    def _sim_buttons(self) -> tuple[tuple[str, str], ...]:
        if not (self.cfg.simulator.panel and self.panel):
            return ()
        return tuple((b.label, b.name) for b in self.panel.buttons())

    def _wallet_scan(self) -> None:
        """The shopper's wallet scans the QR on screen and pays (the sandbox gateway only)."""
        qr = self.checkout.qr_text
        if qr:
            bill = dict(emvqr.split(dict(emvqr.parse(qr))["62"]))["01"]
            self.workers["store-io"].submit("wallet_scan", bill, self.gateway.wallet_scans, bill)

    def _switch_catalog(self, gen: int, version: str) -> None:
        """The controller found the kiosk free: look products up in the new catalog from now on; the store
        records the switch (and drops the old catalog) on its worker, and head office hears of it."""
        self.catalog.use(gen)
        self.workers["store-io"].submit("catalog_switch", version, self._catalog_switched, gen, version)

    def _catalog_switched(self, gen: int, version: str) -> None:
        self.store.switch_catalog(gen, version)
        self.store.add_event("catalog_switched", version=version)
        self.store.drop_unused_catalogs()
        self.pictures.prune_soon()

    def _collect_online(self, e: CollectOnlineOrder) -> None:
        """Hand an order made elsewhere over: recorded once and reported, then its ticket printed."""

        def job() -> None:
            # paid here: recorded with its sale (Store.complete_payment); paid online: recorded now, once
            if e.kiosk_order_no is not None or self.store.collect_online_order(e.order.order_no):
                self.printing.collection_ticket(e.order, e.kiosk_order_no, e.language)

        self.workers["store-io"].submit("collect", e.order.order_no, job)

    def _record(self, kind: str, **data: Any) -> None:
        self.workers["store-io"].submit("event", kind, self.store.add_event, kind, **data)

    def _save_lockout(self, failures: int, locked_until: float) -> None:
        self.workers["store-io"].submit("lockout", "", self.store.save_lockout, failures, locked_until)

    def _selftest(self) -> dict[str, dict[str, Any]]:
        """Head office's `selftest`, on the back-office worker: what a technician's self-test checks, without taking
        the devices from the running screen (provisioning/selftest.py opens them itself, with the kiosk stopped)."""
        checks: dict[str, dict[str, Any]] = {
            device: {"ok": bool(h.get("ok")), "message": str(h.get("message", ""))}
            for device, h in dict(self.controller.devices).items()
            if device != "mqtt"
        }
        problem = self.store.storage_problem(self.cfg.kiosk.min_free_mb * 2**20)
        free = shutil.disk_usage(self.data_dir).free // 2**20
        checks["storage"] = {"ok": problem is None, "message": problem or f"{free} MB free"}
        quick = self.store.integrity()
        checks["database"] = {"ok": quick == "ok", "message": quick}
        checks["clock"] = {
            "ok": time.time() > CLOCK_FLOOR,
            "message": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        days = cert_days_left(self.cfg)
        if days is not None:
            checks["certificate"] = {"ok": days > 14, "message": f"{days} days left"}
        return checks

    def device_summary(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "scanner": c.scanner.type,
            "camera": c.camera.type,
            "printer": c.printer.type,
            "gpio": self.signals.factory if self.signals else "off",
            "health": self.controller.device_health(),  # asked by the link, which starts after the controller
        }

    # -- life ------------------------------------------------------------------------------
    def start(self) -> None:
        for line in warnings(self.cfg):
            log.warning("%s", line)
        for dev in (self.scanner, self.camera, self.mqtt):
            if dev is not None:
                dev.start()
        self.recovery.start()
        self.housekeeping.start()
        self.pictures.fetch_soon()  # what a stop cut short, or a catalog loaded before this version
        self.speaker.preload(list(TONES), [(key, lang) for key, said in PROMPTS.items() for lang in said])
        enrollment = Enrollment(str(self.data_dir), self.cfg.pairing.ca_file)
        if enrollment.needed():  # provisioned by QR: sell now, the MQTT certificate comes when head office answers
            threading.Thread(target=enrollment.run, args=(self._autopilot,), name="enrollment", daemon=True).start()
        self.commands.restore()  # head office's lock and settings survive restarts
        self.updates.report()  # the root updater's outcome, if it just ran
        if self.panel and self.cfg.simulator.autopilot_s:
            self.panel.autopilot(self.cfg.simulator.autopilot_s, self._autopilot)
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
        self._autopilot.set()
        self.recovery.stop()
        self.housekeeping.stop()
        self.payments.cancel()
        for dev in (self.scanner, self.camera):
            if dev is not None:
                dev.stop()
        for worker in self.workers.values():
            worker.shutdown()
        if self.mqtt:
            self.mqtt.stop()
        if self.signals:
            self.signals.close()
        self.store.close()  # this thread's connection (the workers' went with their threads)
