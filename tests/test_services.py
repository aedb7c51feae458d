"""Each service on its own: built from a real store, the sandbox gateway and the virtual printer, reporting into
a plain list instead of the UI thread's queue.  No runtime, no screen."""

from __future__ import annotations

import json
import time

import pytest

from hardware.printer import open_printer
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Outcome, PayStep, StartPayment
from kiosk.config import PrinterSection
from kiosk.fonts import find_cjk_font
from kiosk.orders import RefundOffer
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.sandbox import SandboxGateway
from kiosk.receipts import ReceiptSettings
from kiosk.services.events import (
    AttendantNotice,
    DeviceStatus,
    JobFailed,
    PaymentDone,
    PaymentStep,
    PrintDone,
    RefundOffered,
    ServiceState,
)
from kiosk.services.jobs import Worker
from kiosk.services.office import HeadOfficeCommands
from kiosk.services.paying import PaymentService
from kiosk.services.printing import PrintService
from kiosk.services.recovery import RecoveryLoop
from kiosk.services.refunds import RefundService
from kiosk.store import Identity, Store
from tests.factories import begin_payment
from tests.loopback import wait_until
from tests.test_refunds import paid_order


class Posted(list):
    """The events a service posted, in order (what the UI thread's queue would get)."""

    def of(self, kind):
        return [e for e in self if isinstance(e, kind)]


@pytest.fixture
def parts(tmp_path):
    store = Store(tmp_path / "kiosk.sqlite", Identity("s1", "k1", "K01", "CNY"))
    store.seed_catalog(DEMO_PRODUCTS)
    gateway = SandboxGateway(tmp_path / "sandbox.sqlite", latency_s=0, user_paying_s=0.2)
    posted = Posted()
    workers = {name: Worker(name, posted.append) for name in ("payment", "back-office", "printer")}
    printer = open_printer(PrinterSection(type="simulated"), tmp_path)
    settings = ReceiptSettings(find_cjk_font(), 80)
    printing = PrintService(
        printer, store, settings, workers["printer"], posted.append, currency="CNY", previews_dir=tmp_path / "png"
    )
    driver = PaymentDriver(gateway, store, poll_interval_s=0.05)
    yield store, gateway, driver, printing, workers, posted, printer.virtual
    for w in workers.values():
        w.shutdown()


def paid(store, n=2):
    return store.complete_payment(begin_payment(store, DEMO_PRODUCTS[:n]), trade_id="T1")


def events(store, kind):
    rows = [json.loads(r["payload"])["data"] for r in store.pending_outbox() if r["topic"] == "events"]
    return [d for d in rows if d["kind"] == kind]


def test_worker_reports_a_job_that_raises_and_keeps_going():
    posted = Posted()
    w = Worker("printer", posted.append)
    try:
        assert w.submit("receipt", "K01-1", lambda: 1 / 0).result(5) is None
        assert w.submit("receipt", "K01-2", lambda: "fine").result(5) == "fine"  # the thread survived
    finally:
        w.shutdown()
    [failed] = posted.of(JobFailed)
    assert (failed.pool, failed.job, failed.key) == ("printer", "receipt", "K01-1")
    assert failed.error.startswith("ZeroDivisionError")


def test_printing_a_sale_records_and_reports_it(parts, tmp_path):
    store, _, _, printing, workers, posted, virtual = parts
    order = paid(store)
    printing.sale(order)
    assert wait_until(lambda: posted.of(PrintDone), 10)
    [done] = posted.of(PrintDone)
    assert done.ok and done.for_shopper and done.label == order.order_no
    assert store.order(order.order_no).receipt_printed and len(virtual.jobs) == 1
    assert (tmp_path / "png" / f"{order.order_no}.png").exists()  # the simulator keeps a picture


def test_printing_without_paper_records_not_printed_and_tells_head_office(parts):
    store, _, _, printing, _, posted, virtual = parts
    virtual.paper_out = True
    order = paid(store)
    printing.sale(order)
    assert wait_until(lambda: posted.of(PrintDone), 10)
    [done] = posted.of(PrintDone)
    assert not done.ok and done.reason == "printer_paper_out"
    assert store.order(order.order_no).receipt_status == "not_printed"
    assert events(store, "printer_paper_out")[0]["order_no"] == order.order_no


def test_reprint_of_an_unknown_order_tells_staff(parts):
    _, _, _, printing, _, posted, _ = parts
    printing.reprint("K01-000000-9999")
    assert wait_until(lambda: posted.of(AttendantNotice), 10)
    assert posted.of(AttendantNotice) == [AttendantNotice("unknown_order")]


def test_refunds_look_up_offer_and_refund_with_a_slip(parts):
    store, gateway, driver, printing, workers, posted, virtual = parts
    order = paid_order(gateway, store)  # paid through the sandbox: it knows the trade
    refunds = RefundService(store, driver, printing, workers["back-office"], posted.append)
    refunds.look_up(order.order_no)
    assert wait_until(lambda: posted.of(RefundOffered), 10)
    assert posted.of(RefundOffered)[0].offer == RefundOffer(order.order_no, order.total)
    refunds.by_attendant(order.order_no, 100)
    assert wait_until(lambda: posted.of(AttendantNotice) and posted.of(PrintDone), 10)
    assert posted.of(AttendantNotice) == [AttendantNotice("refunded")]
    assert posted.of(PrintDone)[0].label.startswith("refund-") and len(virtual.jobs) == 1  # the slip
    assert events(store, "attendant_refund")[0]["amount"] == 100
    refunds.look_up(order.order_no)  # what is left
    assert wait_until(lambda: len(posted.of(RefundOffered)) == 2, 10)
    assert posted.of(RefundOffered)[1].offer.left == order.total - 100


def test_head_office_refund_is_checked_before_anything_is_recorded(parts):
    store, gateway, driver, printing, workers, posted, _ = parts
    refunds = RefundService(store, driver, printing, workers["back-office"], posted.append)
    office = HeadOfficeCommands(
        store, gateway, refunds, printing, workers["back-office"], data_dir=store.path.parent, language="en"
    )
    assert office.handle("ping", {}, "c0") == {"ok": True}
    assert office.handle("refund", {"order_no": 7}, "c1")["error"] == "refund needs 'order_no' (a string)"
    assert "positive whole number" in office.handle("refund", {"order_no": "X", "amount": True}, "c2")["error"]
    assert office.handle("refund", {"order_no": "K01-nope"}, "c3") == {"ok": False, "error": "no order K01-nope"}
    assert office.handle("reconcile", {"date": "2026-02-30"}, "c4")["ok"] is False
    assert office.handle("dance", {}, "c5") == {"ok": False, "error": "unknown command 'dance'"}
    assert store.conn().execute("SELECT count(*) FROM refunds").fetchone()[0] == 0


def test_a_reconciliation_that_blows_up_still_answers_head_office(parts, monkeypatch):
    store, gateway, driver, printing, workers, posted, _ = parts
    refunds = RefundService(store, driver, printing, workers["back-office"], posted.append)
    office = HeadOfficeCommands(
        store, gateway, refunds, printing, workers["back-office"], data_dir=store.path.parent, language="en"
    )

    def broken(*a, **k):
        raise KeyError("statement column")

    monkeypatch.setattr("kiosk.services.office.run", broken)
    assert office.handle("reconcile", {"date": "2026-11-24"}, "cmd-9") is None
    assert wait_until(lambda: posted.of(JobFailed), 10)
    rows = [json.loads(r["payload"])["data"] for r in store.pending_outbox() if r["topic"] == "cmd-result"]
    assert rows and rows[-1]["ok"] is False and "statement column" in rows[-1]["error"]


def test_payment_service_reports_progress_and_the_last_word(parts):
    store, _, driver, _, workers, posted, _ = parts
    payments = PaymentService(driver, workers["payment"], posted.append, subject="t", qr_expiry_s=60)
    from kiosk.cart import Cart

    cart = Cart()
    cart.add(DEMO_PRODUCTS[0])
    from kiosk.codes import classify

    code = classify("281234567890123457")  # the sandbox asks the shopper to confirm on the phone
    payments.pay(StartPayment(code.text, code.scheme, cart.snapshot(), cart.totals()), "en")
    assert wait_until(lambda: posted.of(PaymentDone), 10)
    assert PaymentStep(PayStep.USER_PAYING) in posted
    assert posted.of(PaymentDone)[0].result.outcome is Outcome.PAID


def test_recovery_reports_the_disk_and_the_gateway_and_finishes_open_payments(parts):
    store, gateway, driver, _, _, posted, _ = parts
    otn = begin_payment(store, DEMO_PRODUCTS[:1])  # left open, as after a crash before the request went out
    loop = RecoveryLoop(store, driver, "sandbox", posted.append, interval_s=60, min_free_bytes=0)
    assert loop.once() == 60
    assert posted.of(ServiceState)[0].problem is None
    assert posted.of(DeviceStatus) == [DeviceStatus("gateway", True, "sandbox answers")]
    assert store.payment(otn)["state"] in ("FAILED", "CANCELLED")  # the gateway never saw it: closed, not paid
    loop.min_free_bytes = 2**62
    assert loop.once() <= 5 and "MB free" in posted.of(ServiceState)[-1].problem


def test_recovery_loop_survives_an_error_and_reports_it_once(parts, monkeypatch):
    store, _, driver, _, _, posted, _ = parts
    loop = RecoveryLoop(store, driver, "sandbox", posted.append, interval_s=0.05, min_free_bytes=0)
    calls = []

    def broken():
        calls.append(time.monotonic())
        raise RuntimeError("gateway library bug")

    monkeypatch.setattr(driver, "reachable", broken)
    loop.start()
    try:
        assert wait_until(lambda: len(calls) >= 3, 10)  # it keeps trying
    finally:
        loop.stop()
    assert len(events(store, "recovery_failed")) == 1  # the same error, reported once


def office_for(parts):
    store, gateway, driver, printing, workers, posted, _ = parts
    refunds = RefundService(store, driver, printing, workers["back-office"], posted.append)
    return HeadOfficeCommands(
        store,
        gateway,
        refunds,
        printing,
        workers["back-office"],
        data_dir=store.path.parent,
        language="en",
        post=posted.append,
    )


def test_resend_sends_every_unacknowledged_message_again_from_a_seq(parts):
    store = parts[0]
    office = office_for(parts)
    for _ in range(4):
        store.add_event("help_pressed")
    rows = store.pending_outbox()
    store.mark_sent([r["seq"] for r in rows])
    store.mark_acked([rows[2]["id"]])
    assert office.handle("resend", {"from_seq": rows[1]["seq"]}, "c1") == {
        "ok": True,
        "from_seq": rows[1]["seq"],
        "messages": 2,  # the second and the fourth: the third was acknowledged
    }
    assert [r["seq"] for r in store.pending_outbox()] == [rows[1]["seq"], rows[3]["seq"]]
    assert office.handle("resend", {"from_seq": 0}, "c2")["ok"] is False


def test_lock_and_settings_persist_and_come_back_at_start(parts):
    from kiosk.services.events import LockChanged, SettingsChanged

    store, _, _, printing, _, posted, _ = parts
    office = office_for(parts)
    assert office.handle("lock", {"reason": "till audit"}, "c1") == {"ok": True, "locked": True}
    assert posted.of(LockChanged) == [LockChanged("till audit")]
    bad = office.handle("config", {"idle_timeout_s": 3}, "c2")
    assert bad == {"ok": False, "error": "idle_timeout_s: must be a number of seconds from 10 to 3600"}
    assert "cannot be changed remotely" in office.handle("config", {"gateway": "alipay"}, "c3")["error"]
    ok = office.handle("config", {"idle_timeout_s": 45, "receipt_footer": "Danke"}, "c4")
    assert ok["ok"] and printing.settings.footer == "Danke"
    posted.clear()
    again = office_for(parts)  # a restart
    again.restore()
    assert posted.of(LockChanged) == [LockChanged("till audit")]
    assert posted.of(SettingsChanged)[0].settings == {"idle_timeout_s": 45, "receipt_footer": "Danke"}
    assert again.settings() == {"idle_timeout_s": 45, "receipt_footer": "Danke"}  # reported in birth
    assert office.handle("unlock", {}, "c5") == {"ok": True, "locked": False}
    posted.clear()
    office_for(parts).restore()
    assert posted.of(LockChanged) == []


def test_report_and_reprint_commands(parts):
    store, _, _, _, _, posted, virtual = parts
    office = office_for(parts)
    order = paid(store)
    report = office.handle("report", {"date": order.paid_at[:10]}, "c1")
    assert report["ok"] and report["date"] == order.paid_at[:10]
    assert office.handle("report", {"date": "yesterday"}, "c2")["ok"] is False
    assert office.handle("reprint", {"order_no": "K01-nope"}, "c3")["ok"] is False
    assert office.handle("reprint", {"order_no": order.order_no}, "c4") == {
        "ok": True,
        "order_no": order.order_no,
        "queued": True,
    }
    assert wait_until(lambda: posted.of(PrintDone), 10) and len(virtual.jobs) == 1
