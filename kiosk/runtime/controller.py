"""The UI thread's controller: events in, domain calls, effects out; one action path; one snapshot.

Devices, workers and links `post()` events from their threads; `pump()` (once
a frame, on the UI thread) hands each to the Checkout or the Attendant and
carries out the effects they return by giving work to the services.  A touch
arrives as an `Action` through `act()`, which does the same.  `snapshot()` is
all the screens read.  Nothing here waits on a device, the network or a disk:
work goes to a worker; a failure comes back as an event.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Mapping
from typing import Any

from hardware import MAX_CODE_AGE_S, Paper
from kiosk.attendant import Attendant, Mode, is_badge
from kiosk.checkout import (
    AgeCheckNeeded,
    Beep,
    CallHelp,
    CancelPayment,
    Checkout,
    CollectOnlineOrder,
    Effect,
    NoPaperReceipt,
    Notice,
    Outcome,
    PayStep,
    Phase,
    PrintReceipt,
    StaffChange,
    StartPayment,
    StartQrPayment,
)
from kiosk.codes import CodeKind, classify
from kiosk.online_order import OrderQrError
from kiosk.payments.driver import NOT_RECORDED, OUT_OF_SERVICE
from kiosk.runtime.actions import Actions
from kiosk.runtime.ports import Wiring
from kiosk.runtime.view import Action, AttendantView, LineView, LookUpItem, LookUpView, View
from kiosk.services.events import (
    AttendantNotice,
    CatalogStaged,
    CodeRead,
    DeviceStatus,
    Event,
    HelpPressed,
    JobFailed,
    LockChanged,
    LookUpRead,
    OnlineOrderChecked,
    PaymentDone,
    PaymentStep,
    PrintDone,
    QrShown,
    RefundOffered,
    ServiceState,
    SettingsChanged,
    UpdateStaged,
)

log = logging.getLogger(__name__)


SHOPPER_DEVICES = ("scanner", "camera", "printer", "gateway")  # what the top bar tells the shopper is offline
STAFF_PRINTS = ("reprint", "z_report", "test_page")
UNSETTLED = ("NO_ANSWER", "TIMEOUT", "HTTP_502")  # answers that suggest the gateway is down
NOT_CHARGED = ("payment_cancelled", "payment_timed_out", "payment_declined")  # said: "you have not been charged"


LINK_ATTENTION_S = 60.0  # head office's link down this long: amber light, and a report when it is back


class Controller(Actions):
    def __init__(
        self,
        checkout: Checkout,
        attendant: Attendant,
        wiring: Wiring,
        *,
        events: queue.Queue[Event] | None = None,
        clock=time.monotonic,
    ) -> None:
        self.checkout = checkout
        self.attendant = attendant
        self.w = wiring
        self.clock = clock
        self.events: queue.Queue[Event] = events if events is not None else queue.Queue()
        self.devices: dict[str, dict[str, Any]] = {}  # name -> {"ok": bool, "message": str}
        self.out_of_service: str | None = None  # why no sale can be made now, shown and reported
        self.storage_problem: str | None = None  # the disk cannot record a sale
        self.hq_lock: str | None = None  # head office locked this kiosk (`lock`), and why
        self.no_catalog = False  # a kiosk that sells head office's catalog has none yet: not ready
        self._next_catalog: CatalogStaged | None = None  # loaded, sold from when the kiosk is free
        self._next_update: UpdateStaged | None = None  # a release fetched, installed when the kiosk is free
        self._link_down: tuple[float, str] | None = None  # head office's link lost since (clock), and why
        self._order_checking: str | None = None  # an order made elsewhere head office is being asked about
        self._out_of_service_since = 0.0
        self.paper = Paper.UNKNOWN
        self.printer_attention = False  # the last job failed, or the paper is nearly out: amber light
        self.failed: JobFailed | None = None  # the latest background job that failed, until staff have seen it
        self.cart_scroll: tuple[int, int] | None = None  # where the shopper scrolled the cart to (screen state)
        self._look_up_asked: tuple[str, str | None, str, int] | None = None  # the page the look-up screen wants
        self._look_up_read: LookUpRead | None = None  # the last page the look-up worker read
        self._said: str | None = None  # the prompt said last (said again only after another)
        self._age_check_told = False  # head office was told an age check waits (its alert is open)
        self._actions: dict[str, Callable[[str, float], list[Effect] | None]] = self._action_table()

    # -- from any thread ------------------------------------------------------------
    def post(self, event: Event) -> None:
        self.events.put(event)

    def device_health(self) -> dict[str, bool]:
        return {name: d["ok"] for name, d in dict(self.devices).items()}

    # -- the UI thread ------------------------------------------------------------------
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
        self._age_check_follow()
        self._ask_look_up()
        self._prompt()
        if self._next_catalog is not None:
            self._switch_catalog()
        if self._next_update is not None and self._free():
            staged, self._next_update = self._next_update, None
            self.w.install_update(staged)
        if self.w.signals:
            self.w.signals.light(self.light_state())

    def _prompt(self) -> None:
        """Say the prompt of what the shopper sees now, once, when it changes (PROMPTS: kiosk/sounds)."""
        key = self._prompt_key()
        if key != self._said:
            self._said = key
            if key is not None and self.w.speaker:
                self.w.speaker.say(key, self.checkout.language)

    def _prompt_key(self) -> str | None:
        co = self.checkout
        if self.attendant.active:
            return None
        if co.help_open:
            return "help"
        if co.phase is Phase.RESULT and co.outcome is Outcome.PAID:
            return "paid"
        if co.notice is not None and co.notice.key in NOT_CHARGED:
            return "not_charged"
        if co.age_check_needed:
            return "age_check"
        if co.phase is Phase.PAYMENT and co.pay_step is PayStep.WAITING_CODE:
            return "hold_code"
        return None

    def _ask_look_up(self) -> None:
        """The look-up screen shows a page not read yet: ask the look-up worker (LookUpRead comes back)."""
        lu = self.checkout.look_up
        key = (lu.tab, lu.category, lu.query, lu.page) if lu is not None else None
        if key != self._look_up_asked:
            self._look_up_asked = key
            if key is not None:
                self.w.look_up(key)

    def light_state(self) -> str:
        if any(not d["ok"] for name, d in self.devices.items() if name in ("scanner", "camera")):
            return "fault"
        if self.out_of_service:
            return "fault"
        co = self.checkout
        if (co.help_open or co.age_check_needed) and not self.attendant.active:
            return "help"  # amber, flashing: staff see which kiosk calls them from across the store
        if co.paying or self.attendant.active or self.printer_attention or self.failed or self.link_needs_attention():
            return "busy"
        return "ready"

    def act(self, action: Action) -> None:
        """A touch on a button: the domain call it stands for, then the effects that call returned."""
        now = self.clock()
        handler = self._actions.get(action.name)
        if handler is None:
            log.warning("no action %r", action.name)
            return
        self.run_effects(handler(action.arg, now) or [])

    def touch(self) -> None:
        """Any touch on the screen: the shopper is still there."""
        self.checkout.touch(self.clock())

    def run_effects(self, effects: list[Effect]) -> None:
        co = self.checkout
        for e in effects:
            if isinstance(e, Beep):
                if self.w.signals:
                    self.w.signals.beep(e.kind)
                if self.w.speaker:
                    self.w.speaker.play(e.kind)
            elif isinstance(e, StartPayment):
                self.w.payments.pay(e, co.language)
            elif isinstance(e, StartQrPayment):
                self.w.payments.present(e, co.language)
            elif isinstance(e, CancelPayment):
                self.w.payments.cancel()
            elif isinstance(e, CallHelp):
                if self.w.signals:
                    self.w.signals.beep("help")
                if self.w.speaker:
                    self.w.speaker.play("help")
                self.w.record("help_pressed", screen=e.phase.value)
            elif isinstance(e, AgeCheckNeeded):
                if self.w.signals:
                    self.w.signals.beep("help")
                if self.w.speaker:
                    self.w.speaker.play("help")
                self.w.record("age_check_requested", skus=list(e.skus))
                self._age_check_told = True
            elif isinstance(e, StaffChange):  # who: the badge's staff id, or "pin"
                self.w.record(e.kind, by=self.attendant.staff or "unknown", **e.data)
                if e.kind in ("age_check_approved", "age_check_declined"):  # head office closes its alert
                    self._age_check_told = False
                log.info("staff %s: %s %s", self.attendant.staff, e.kind, dict(e.data))
            elif isinstance(e, PrintReceipt):
                self.w.printing.sale(e.order)
            elif isinstance(e, NoPaperReceipt):
                self.w.printing.no_paper(e.order)
            elif isinstance(e, CollectOnlineOrder):
                self.w.collect_online(e)

    # -- events ----------------------------------------------------------------------------
    def _handle(self, event: Event, now: float) -> None:
        co = self.checkout
        if isinstance(event, CodeRead):
            self._code(event, now)
        elif isinstance(event, DeviceStatus):
            self._device(event)
        elif isinstance(event, PaymentStep):
            co.payment_progress(event.step)
        elif isinstance(event, QrShown):
            co.qr_ready(event.qr, event.deadline)
        elif isinstance(event, PaymentDone):
            r = event.result
            self.run_effects(co.payment_finished(r.outcome, now, order=r.order, reason=r.reason, settled=r.settled))
            if r.reason in (OUT_OF_SERVICE, NOT_RECORDED):
                self._set_service(r.reason if self.storage_problem is None else self.storage_problem)
            if not r.settled or r.reason in UNSETTLED:
                self.w.probe_gateway()  # the gateway may be down: find out now, and stop taking codes if it is
        elif isinstance(event, PrintDone):
            self._print_done(event)
        elif isinstance(event, AttendantNotice):
            self.attendant.message = event.key
        elif isinstance(event, RefundOffered):
            self.attendant.confirm_refund(event.offer.order_no, event.offer.left, now)
        elif isinstance(event, HelpPressed):
            self.run_effects(co.open_help(now))
        elif isinstance(event, ServiceState):
            if event.problem is not None or event.observed_at > self._out_of_service_since:
                self._set_service(event.problem)
        elif isinstance(event, JobFailed):
            self._job_failed(event)
        elif isinstance(event, LockChanged):
            self.hq_lock = event.reason
            self._update_service()
        elif isinstance(event, SettingsChanged):
            self._settings(event.settings)
        elif isinstance(event, CatalogStaged):
            self._next_catalog = event
        elif isinstance(event, UpdateStaged):
            self._next_update = event
        elif isinstance(event, OnlineOrderChecked):
            self._order_checked(event, now)
        elif isinstance(event, LookUpRead):
            if event.key == self._look_up_asked:
                self._look_up_read = event

    def _age_check_follow(self) -> None:
        """Head office's age-check alert follows the cart: the restricted items left it before staff came
        (taken off, start over, the idle reset) -> `age_check_withdrawn`; put back by Undo -> asked again."""
        needed = self.checkout.age_check_needed
        if needed and not self._age_check_told:
            self.w.record("age_check_requested", skus=[ln.product.key for ln in self.checkout.cart.lines
                                                        if ln.product.age_restricted])  # fmt: skip
        elif self._age_check_told and not needed:
            self.w.record("age_check_withdrawn")
        self._age_check_told = needed

    def _free(self) -> bool:
        """No shopper and no staff are using the kiosk (RESULT: paid, the cart done)."""
        co = self.checkout
        return co.phase in (Phase.IDLE, Phase.RESULT) and not co.cart and not co.paying and not self.attendant.active

    def _switch_catalog(self) -> None:
        """Between shoppers only: a cart keeps the prices it was scanned at, and a payment its cart."""
        nxt = self._next_catalog
        if nxt is None or not self._free():
            return
        self._next_catalog = None
        self.w.switch_catalog(nxt.gen, nxt.version)
        self._look_up_asked = None  # the look-up screen reads the new catalog
        log.info("selling from catalog %s", nxt.version)
        if self.no_catalog:
            self.no_catalog = False
            self._update_service()

    def _settings(self, settings: Mapping[str, Any]) -> None:
        """Head office changed a setting (kiosk.services.office.SETTINGS): applied to the next shopper."""
        co = self.checkout
        if "idle_timeout_s" in settings:
            co.idle_timeout_s = float(settings["idle_timeout_s"])
        if "default_language" in settings:
            co.default_language = str(settings["default_language"])
            if co.phase is Phase.IDLE:
                co.language = co.default_language

    def _code(self, event: CodeRead, now: float) -> None:
        a, co = self.attendant, self.checkout
        if is_badge(event.text):
            if not a.active:
                self._badge(event.text.strip(), now)
            return
        if a.active:
            if a.mode is Mode.SCAN_REPRINT:  # the code on a receipt is its order number
                a.back_to_menu(now)
                self.w.printing.reprint(event.text.strip())
            elif a.mode is Mode.SCAN_REFUND:
                self.w.refunds.look_up(event.text.strip())
            return
        age = time.monotonic() - event.seen_at if event.seen_at else 0.0
        if event.source == "camera" and age > MAX_CODE_AGE_S:  # whoever showed it may have gone
            log.warning("camera: dropped a code seen %.1f s ago", age)
            return
        if event.source == "camera" and self.w.has_scanner and classify(event.text).kind is CodeKind.PRODUCT:
            return  # with a scanner fitted, the camera is for payment codes only
        if classify(event.text).kind is CodeKind.ONLINE_ORDER and self.w.online_orders is not None:
            self._online_order(event.text, now)
            return
        self.run_effects(co.scan(event.text, now))
        if co.notice is not None and co.notice.key == "added":
            log.info("cart: %s added, %d items", co.notice.params.get("sku"), co.cart.totals().items)

    def _badge(self, text: str, now: float) -> None:
        """A staff badge shown to the camera or scanner: it approves a waiting age check at once, else signs the
        staff member in; a badge this kiosk does not know is refused and reported."""
        a, co = self.attendant, self.checkout
        staff = a.badge(text)
        if staff is None:
            co.notice = Notice("badge_refused", error=True)
            self.run_effects([Beep("error")])
            self.w.record("attendant_badge_refused")
            return
        co.close_help(now)
        a.sign_in_badge(staff, now)
        self.w.record("attendant_signed_in", by=staff, method="badge")
        if co.age_check_needed and not co.paying:
            self.run_effects(co.approve_age(now))
            a.leave()  # the shopper pays now

    def _online_order(self, text: str, now: float) -> None:
        """An order made elsewhere, scanned: checked (head office's signature, this store, not expired, not
        handed over here before), then the checkout shows it (kiosk.services.online_orders)."""
        co, orders = self.checkout, self.w.online_orders
        assert orders is not None
        if co.out_of_service and not co.paying:
            co.notice = Notice("out_of_service", error=True)
            return
        try:
            order = orders.read(text)
        except OrderQrError as exc:
            log.warning("order code refused: %s", exc)
            co.notice = Notice("order_refused", error=True, params={"why": str(exc)})
            self.run_effects([Beep("error")])
            return
        if self._order_checking == order.order_no:
            return  # the same QR again (the camera sees it many times) while head office is asked
        if orders.check(text, order):  # head office is asked on a worker: OnlineOrderChecked follows
            self._order_checking = order.order_no
            co.last_activity = now
            co.notice = Notice("order_checking", params={"order_no": order.order_no})
            return
        self.run_effects(co.open_online_order(order, orders.collected(order.order_no), now))

    def _order_checked(self, event: OnlineOrderChecked, now: float) -> None:
        """Head office answered (or did not) about a scanned order: hand it over, take payment, or say where it
        was collected."""
        assert self.w.online_orders is not None
        self._order_checking = None
        order, collected = self.w.online_orders.decide(event.order, event.status)
        self.run_effects(self.checkout.open_online_order(order, collected, now))

    def _device(self, event: DeviceStatus) -> None:
        was = self.devices.get(event.device, {}).get("ok")
        self.devices[event.device] = {"ok": event.ok, "message": event.message}
        if was != event.ok:
            log.log(logging.INFO if event.ok else logging.WARNING, "%s: %s", event.device, event.message)
        if event.device == "gateway":
            self.checkout.payments_available = event.ok
        if event.device == "mqtt":
            self._link(event)
        # head office hears of every loss (a device missing at boot too) and of each recovery after one
        if event.device != "mqtt" and was != event.ok and (was is not None or not event.ok):
            self.w.record(f"{event.device}_{'back' if event.ok else 'lost'}", message=event.message)

    def _link(self, event: DeviceStatus) -> None:
        """Head office's link: lost for LINK_ATTENTION_S, the light turns amber (a technician looks: a wrong
        certificate, a broker refusing); back after that long, head office hears how long and why."""
        now = self.clock()
        if not event.ok:
            since = self._link_down[0] if self._link_down else now
            self._link_down = (since, event.message)
        elif self._link_down is not None:
            since, why = self._link_down
            self._link_down = None
            if now - since >= LINK_ATTENTION_S:
                self.w.record("link_restored", down_s=round(now - since), reason=why[:200])

    def link_needs_attention(self) -> bool:
        return self._link_down is not None and self.clock() - self._link_down[0] >= LINK_ATTENTION_S

    def _print_done(self, e: PrintDone) -> None:
        if e.for_shopper:
            self.checkout.receipt_done(e.label, e.ok)
        if e.paper is Paper.NEAR_END and self.paper is not Paper.NEAR_END:
            self.w.record("printer_paper_near_end")
        if e.paper is not Paper.UNKNOWN or not e.ok:
            self.paper = e.paper
        self.printer_attention = not e.ok or self.paper is Paper.NEAR_END
        self.devices["printer"] = {"ok": e.ok, "message": e.reason or "printed"}
        if e.for_staff and self.attendant.active:
            self.attendant.message = "printed" if e.ok else "print_failed"

    def _job_failed(self, e: JobFailed) -> None:
        """A background job raised: whoever waits on it is told, the light turns amber, head office hears."""
        log.error("%s job %s %s failed: %s", e.pool, e.job, e.key, e.error)
        self.failed = e
        if e.job == "receipt":
            self.checkout.receipt_done(e.key, False)  # the shopper gets the e-receipt code instead
        elif e.job in STAFF_PRINTS and self.attendant.active:
            self.attendant.message = "print_failed"
        elif e.job in ("refund", "refund_lookup") and self.attendant.active:
            self.attendant.message = "refund_failed"
        report = {"pool": e.pool, "job": e.job, "key": e.key, "error": e.error}
        if e.pool != "store-io":
            self.w.record("job_failed", **report)
        elif self.w.link:  # the store is what failed: it cannot record that it failed; tell head office directly
            self.w.link.alert("job_failed", **report)

    def _set_service(self, problem: str | None) -> None:
        """The disk's word: it can record sales, or why not."""
        if problem:
            self._out_of_service_since = time.monotonic()  # a "fine" observed before this never undoes it
        self.storage_problem = problem
        self._update_service()

    def _update_service(self) -> None:
        """In or out of service (the disk, or head office's lock); head office hears of it at once, over MQTT
        directly (the disk may be full)."""
        problem = (
            self.storage_problem
            or (f"locked by head office: {self.hq_lock}" if self.hq_lock else None)
            or ("not ready: no catalog from head office yet" if self.no_catalog else None)
        )
        self.checkout.out_of_service = problem is not None
        changed = (problem is None) != (self.out_of_service is None)
        self.out_of_service = problem
        if not changed:
            return
        if problem:
            log.error("out of service: %s", problem)
        else:
            log.info("back in service")
        if self.w.link:
            self.w.link.set_out_of_service(problem)

    # -- the screens' view ------------------------------------------------------------------------
    def _look_up_view(self) -> LookUpView | None:
        lu, lang = self.checkout.look_up, self.checkout.language
        if lu is None:
            return None
        read = self._look_up_read
        fresh = read is not None and read.key == (lu.tab, lu.category, lu.query, lu.page)
        found = read.items if read is not None and fresh else ()
        items = tuple(LookUpItem(p.barcode, p.name(lang), p.price, p.unit == "kg", p.picture) for p in found)
        return LookUpView(
            tab=lu.tab,
            category=lu.category,
            query=lu.query,
            code=lu.code,
            page=lu.page,
            categories=read.categories if fresh else (),
            items=items,
            more=read.more if fresh else False,
            loading=not fresh,
        )

    def _bag_price(self) -> int | None:
        co = self.checkout
        if not self.w.bag_barcode or co.phase is not Phase.CART:
            return None
        bag = co.catalog.get(self.w.bag_barcode)
        return bag.price if bag is not None else None

    def snapshot(self) -> View:
        co, a, now = self.checkout, self.attendant, self.clock()
        down = [n for n in sorted(SHOPPER_DEVICES) if not self.devices.get(n, {}).get("ok", True)]
        if co.receipt == "failed" and "printer" not in down:
            down.append("printer")
        order_no = co.order_no
        seq = co.changed.seq if co.changed else 0
        cart_top = self.cart_scroll[0] if self.cart_scroll and self.cart_scroll[1] == seq else None
        return View(
            now=now,
            language=co.language,
            currency=self.w.currency,
            phase=co.phase,
            pay_step=co.pay_step,
            paying=co.paying,
            notice=co.notice,
            help_open=co.help_open,
            idle_seconds_left=co.idle_seconds_left(now),
            lines=tuple(
                LineView(
                    ln.product.key,
                    ln.product.name(co.language),
                    ln.qty,
                    ln.amount,
                    ln.product.price,
                    ln.product.age_restricted,
                )
                for ln in co.cart.lines
            ),
            changed_sku=co.changed.sku if co.changed and co.changed.kind != "removed" else None,
            cart_top=cart_top,
            can_undo=co.can_undo(now),
            confirming_start_over=co.confirming_start_over,
            paper_receipt=co.paper_receipt,
            high_contrast=co.high_contrast,
            large_text=co.large_text,
            choosing_language=co.choosing_language,
            totals=co.totals(),
            paid_total=co.paid_total,
            order_no=order_no,
            receipt=co.receipt,
            receipt_url=self.w.receipt_url.format(order_no=order_no) if order_no and self.w.receipt_url else "",
            masked_code=co.masked_code,
            qr_text=co.qr_text,
            qr_deadline=co.qr_deadline,
            out_of_service=co.out_of_service,
            not_ready=self.no_catalog,
            demo=self.w.demo,
            online_order=co.online_order.order_no if co.online_order is not None else "",
            age_check_needed=co.age_check_needed,
            look_up=self._look_up_view(),
            bag_price=self._bag_price(),
            devices_down=tuple(down),
            printer_fault="" if self.devices.get("printer", {}).get("ok", True) else self.devices["printer"]["message"],
            needs_staff=self.failed is not None,
            failure=f"{self.failed.job} {self.failed.key}".strip() if self.failed else "",
            attendant=AttendantView(
                enabled=a.enabled,
                active=a.active,
                mode=a.mode,
                message=a.message,
                pin_digits=len(a.entered),
                tries_left=max(0, a.max_attempts - a.failures),
                refund_order=a.refund_order,
                refund_left=a.refund_left,
                refund_amount=a.refund_amount if a.mode is Mode.CONFIRM_REFUND else None,
                refund_entry=a.refund_entry,
                staff=a.staff,
                price_sku=a.price_sku,
                price_entry=a.price_entry,
                new_price=a.new_price,
            ),
            sim_buttons=self.w.sim_buttons(),
        )
