"""The pay / query / cancel loop against the sandbox gateway, every branch, and recovery."""

import json
import sqlite3
import threading
import time

import pytest

from kiosk.cart import Cart
from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import Outcome, PayStep, StartPayment
from kiosk.codes import Scheme
from kiosk.payments import Answer, PaymentState, PayRequest, Status
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.sandbox import SandboxGateway
from kiosk.store import Identity, Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    s.seed_catalog(DEMO_PRODUCTS)
    return s


@pytest.fixture
def gateway(tmp_path):
    return SandboxGateway(tmp_path / "sandbox.sqlite", latency_s=0, user_paying_s=0.4, request_timeout_s=0.2)


def driver(gateway, store, **kw):
    return PaymentDriver(gateway, store, poll_interval_s=0.05, paying_limit_s=kw.pop("limit", 5.0), **kw)


def start(store, code):
    cart = Cart()
    cat = store.catalog()
    cart.add(cat["6901234000016"])
    cart.add(cat["6901234000023"])
    return StartPayment(code, Scheme.ALIPAY, cart.snapshot(), cart.totals())


def outbox_states(store):
    import json

    return [json.loads(r["payload"])["data"]["state"] for r in store.pending_outbox() if r["topic"] == "payments"]


def test_approved_at_once(gateway, store):
    r = driver(gateway, store).pay(start(store, "281234567890123451"), language="zh_CN", subject="t")
    assert r.outcome is Outcome.PAID and r.order.total == 550
    assert store.payment(r.out_trade_no)["state"] == "PAID"
    assert store.payment(r.out_trade_no)["code_masked"] == "2812********3451"
    assert outbox_states(store) == ["SUBMITTING", "PAID"]


def test_user_paying_then_paid(gateway, store):
    steps = []
    r = driver(gateway, store).pay(
        start(store, "281234567890123457"), language="en", subject="t", progress=steps.append
    )
    assert r.outcome is Outcome.PAID
    assert steps and steps[0] is PayStep.USER_PAYING
    assert outbox_states(store) == ["SUBMITTING", "USER_PAYING", "PAID"]


def test_declined(gateway, store):
    r = driver(gateway, store).pay(start(store, "281234567890123458"), language="en", subject="t")
    assert r.outcome is Outcome.FAILED and r.reason == "NOTENOUGH"
    assert store.payment(r.out_trade_no)["state"] == "FAILED"
    assert store.conn().execute("SELECT count(*) FROM orders").fetchone()[0] == 0


def test_never_answers_is_queried_then_cancelled(gateway, store):
    r = driver(gateway, store).pay(start(store, "281234567890123459"), language="en", subject="t")
    assert r.outcome is Outcome.CANCELLED
    assert outbox_states(store) == ["SUBMITTING", "UNKNOWN", "CANCELLING", "CANCELLED"]


def test_shopper_cancels_while_confirming(gateway, store):
    gateway.user_paying_s = 30
    cancel = threading.Event()
    steps = []

    def progress(step):
        steps.append(step)
        if step is PayStep.USER_PAYING:
            cancel.set()

    r = driver(gateway, store).pay(
        start(store, "281234567890123457"), language="en", subject="t", progress=progress, cancel=cancel
    )
    assert r.outcome is Outcome.CANCELLED and PayStep.CANCELLING in steps
    assert gateway.query(r.out_trade_no).status is Status.CLOSED


def test_waiting_too_long_cancels(gateway, store):
    gateway.user_paying_s = 30
    r = driver(gateway, store, limit=0.2).pay(start(store, "281234567890123457"), language="en", subject="t")
    assert r.outcome is Outcome.CANCELLED


def test_code_reused_at_the_gateway_is_refused(gateway, store):
    d = driver(gateway, store)
    d.pay(start(store, "281234567890123451"), language="en", subject="t")
    r = d.pay(start(store, "281234567890123451"), language="en", subject="t")
    assert r.outcome is Outcome.FAILED and r.reason == "AUTH_CODE_INVALID"


def test_recovery_completes_a_payment_paid_before_a_crash(gateway, store):
    """Killed after the gateway took the money but before the kiosk wrote PAID: recovery makes the order."""
    req = start(store, "281234567890123451")
    otn = store.begin_payment(
        gateway="sandbox",
        channel="alipay",
        code_masked="2812********3451",
        lines=req.lines,
        totals=req.totals,
        language="en",
    )
    assert gateway.pay(PayRequest(otn, req.code, 550, "CNY", "t")).status is Status.PAID
    [r] = driver(gateway, store).recover_all()
    assert r.outcome is Outcome.PAID and r.order.out_trade_no == otn
    assert store.payment(otn)["recovered"] == 1
    assert store.open_payments() == []


def test_recovery_cancels_what_was_never_sent(gateway, store):
    req = start(store, "281234567890123451")
    otn = store.begin_payment(
        gateway="sandbox", channel="alipay", code_masked="x", lines=req.lines, totals=req.totals, language="en"
    )
    [r] = driver(gateway, store).recover_all()
    assert r.outcome is Outcome.CANCELLED and store.payment(otn)["state"] == PaymentState.CANCELLED.value


def test_recovery_reverses_a_payment_left_waiting(gateway, store):
    gateway.user_paying_s = 30
    req = start(store, "281234567890123457")
    otn = store.begin_payment(
        gateway="sandbox", channel="alipay", code_masked="x", lines=req.lines, totals=req.totals, language="en"
    )
    gateway.pay(PayRequest(otn, req.code, 550, "CNY", "t"))
    [r] = driver(gateway, store).recover_all()
    assert r.outcome is Outcome.CANCELLED and gateway.query(otn).status is Status.CLOSED


class FlakyCancel:
    """A gateway whose cancel keeps answering 'try again' (like Alipay's retry_flag=Y)."""

    name = "flaky"

    def pay(self, req):
        return Answer(Status.UNKNOWN)

    def query(self, otn):
        return Answer(Status.UNKNOWN)

    def cancel(self, otn):
        return Answer(Status.UNKNOWN, retry=True)


def test_unconfirmed_cancel_stays_open_for_recovery(store, monkeypatch):
    monkeypatch.setattr("kiosk.payments.driver.time.sleep", lambda s: None)
    r = driver(FlakyCancel(), store, cancel_attempts=3).pay(
        start(store, "281234567890123451"), language="en", subject="t"
    )
    assert r.outcome is Outcome.FAILED and not r.settled
    assert [p["state"] for p in store.open_payments()] == ["CANCELLING"]


class SlowGateway(SandboxGateway):
    """A sandbox whose pay() waits until the test lets it answer."""

    def __init__(self, path):
        super().__init__(path, latency_s=0, user_paying_s=0, request_timeout_s=1)
        self.sent = threading.Event()
        self.answer = threading.Event()

    def pay(self, req):
        self.sent.set()
        self.answer.wait(10)
        return super().pay(req)


def test_recovery_never_touches_a_payment_still_in_flight(tmp_path, store):
    gateway = SlowGateway(tmp_path / "slow.sqlite")
    d = driver(gateway, store)
    results = []
    worker = threading.Thread(
        target=lambda: results.append(d.pay(start(store, "281234567890123451"), language="en", subject="t"))
    )
    worker.start()
    assert gateway.sent.wait(5)
    assert [p["state"] for p in store.open_payments()] == ["SUBMITTING"]
    assert d.recover_all() == []  # the live payment is the worker's, not recovery's
    gateway.answer.set()
    worker.join(10)
    assert results[0].outcome is Outcome.PAID
    assert store.open_payments() == []


def test_a_shoppers_payment_never_waits_on_recoverys_reading_of_the_journal(gateway, store, monkeypatch):
    """Issue 14: recovery read the open payments while holding the lock a new payment needs, so a shopper's
    payment waited for that read (a full scan, on a year of history).  The read now happens outside the lock;
    a payment that finishes meanwhile is left alone."""
    d = driver(gateway, store)
    reading, release = threading.Event(), threading.Event()
    real = store.open_payments

    def slow_read():
        found = real()
        reading.set()
        release.wait(10)  # a long read of the journal
        return found

    store.begin_payment(  # an orphan from before a restart, for recovery to find
        gateway="sandbox",
        channel="alipay",
        code_masked="-",
        lines=start(store, "1").lines,
        totals=start(store, "1").totals,
        language="en",
    )
    monkeypatch.setattr(store, "open_payments", slow_read)
    recovery = threading.Thread(target=d.recover_all)
    recovery.start()
    assert reading.wait(5)
    began = time.monotonic()
    r = d.pay(start(store, "281234567890123451"), language="en", subject="t")  # while recovery reads
    assert r.outcome is Outcome.PAID and time.monotonic() - began < 5 and recovery.is_alive()
    release.set()
    recovery.join(10)
    assert store.payment(r.out_trade_no)["state"] == "PAID"
    assert [p["state"] for p in real()] == []  # the orphan was driven to its end too
    assert d.recover(r.out_trade_no).reason == "already final"  # found open, finished since: left alone


@pytest.mark.parametrize(
    ("fault", "outcome", "states"),
    [
        ("decline", Outcome.FAILED, ["SUBMITTING", "FAILED"]),
        ("user_paying", Outcome.PAID, ["SUBMITTING", "USER_PAYING", "PAID"]),
        ("5xx", Outcome.CANCELLED, ["SUBMITTING", "UNKNOWN", "CANCELLING", "CANCELLED"]),
        ("timeout", Outcome.CANCELLED, ["SUBMITTING", "UNKNOWN", "CANCELLING", "CANCELLED"]),
        ("drop", Outcome.PAID, ["SUBMITTING", "UNKNOWN", "PAID"]),
        ("success_after_timeout", Outcome.PAID, ["SUBMITTING", "UNKNOWN", "PAID"]),
    ],
)
def test_sandbox_fault_injection(tmp_path, store, fault, outcome, states):
    gateway = SandboxGateway(
        tmp_path / "faulty.sqlite", latency_s=0, user_paying_s=0.2, request_timeout_s=0.2, fault=fault
    )
    r = driver(gateway, store).pay(start(store, "281234567890123451"), language="en", subject="t")
    assert r.outcome is outcome
    assert outbox_states(store) == states


def present(gateway, store, *, expires_s=5.0, cancel=None, on_qr=None):
    cart = Cart()
    cart.add(store.catalog()["6901234000016"])
    shown = []

    def show(qr, deadline):
        shown.append(qr)
        if on_qr:
            on_qr(qr)

    r = driver(gateway, store).present(
        cart.snapshot(), cart.totals(), language="en", subject="t", show_qr=show, expires_s=expires_s, cancel=cancel
    )
    return r, shown


def test_scan_to_pay_with_an_emvco_qr(gateway, store):
    from kiosk.payments import emvqr

    def wallet(qr):
        bill = dict(emvqr.split(dict(emvqr.parse(qr))["62"]))["01"]
        threading.Timer(0.2, gateway.wallet_scans, args=(bill,)).start()

    r, shown = present(gateway, store, on_qr=wallet)
    assert r.outcome is Outcome.PAID and r.order.total == 200
    objects = dict(emvqr.parse(shown[0]))  # a valid payload: CRC checked
    assert objects["54"] == "2.00" and objects["01"] == "12" and objects["53"] == "156"
    assert store.payment(r.out_trade_no)["channel"] == "emvco"  # the wallet the QR is for, not "qr"


def test_scan_to_pay_expires_and_is_closed(gateway, store):
    r, shown = present(gateway, store, expires_s=0.3)
    assert r.outcome is Outcome.CANCELLED and shown
    assert gateway.wallet_scans(r.out_trade_no) is False  # closed: a late scan cannot pay it any more


def test_scan_to_pay_cancelled_by_the_shopper(gateway, store):
    cancel = threading.Event()
    r, _ = present(gateway, store, cancel=cancel, on_qr=lambda qr: threading.Timer(0.1, cancel.set).start())
    assert r.outcome is Outcome.CANCELLED


def test_paid_at_the_last_moment_is_a_sale(gateway, store, monkeypatch):
    """The wallet pays just as the kiosk closes the trade: the close fails, the final query finds it paid."""
    real_close = gateway.close

    def close_after_scan(otn):
        gateway.wallet_scans(otn)
        return real_close(otn)

    monkeypatch.setattr(gateway, "close", close_after_scan)
    r, _ = present(gateway, store, expires_s=0.2)
    assert r.outcome is Outcome.PAID and store.payment(r.out_trade_no)["state"] == "PAID"


def quiet_kiosk_config(tmp_path, **sections):
    """A kiosk with no devices, no MQTT and an instant sandbox, its data in tmp_path."""
    from kiosk.config import Config, replace

    base = {
        "kiosk": {"data_dir": str(tmp_path / "data")},
        "mqtt": {"enabled": False},
        "sandbox": {"latency_ms": 0},
        "gpio": {"enabled": False},
        "camera": {"type": "none"},
        "scanner": {"type": "none"},
    }
    return replace(Config(), **{**base, **sections})


def test_a_wallet_code_is_never_charged_again_after_a_restart(tmp_path):
    from kiosk.checkout import Phase
    from kiosk.runtime.wiring import Runtime

    cfg = quiet_kiosk_config(tmp_path)
    code = "281234567890123451"
    first = Runtime(cfg)
    first.checkout.scan("6901234000016", 0.0)
    [start] = [e for e in first.checkout.scan(code, 0.0) if type(e).__name__ == "StartPayment"]
    assert first.driver.pay(start, language="en", subject="t").order is not None
    first.stop()
    first.store.close()

    again = Runtime(cfg)  # a restart: the same code held up again
    try:
        again.checkout.scan("6901234000016", 0.0)
        assert again.checkout.scan(code, 0.0)[0].kind == "error"
        assert again.checkout.notice.key == "code_used" and again.checkout.phase is Phase.CART
    finally:
        again.stop()


def test_the_recovery_loop_survives_any_error_and_reports_it_once(tmp_path):
    from kiosk.runtime.wiring import Runtime
    from tests.loopback import wait_until

    cfg = quiet_kiosk_config(tmp_path, payment={"recovery_interval_s": 1.0})
    k = Runtime(cfg)
    rounds = []
    real = k.driver.recover_refunds

    def broken_then_fine():
        rounds.append(1)
        if len(rounds) <= 3:  # e.g. a journal row the code did not expect
            raise sqlite3.IntegrityError("UNIQUE constraint failed: outbox.id")
        return real()

    k.driver.recover_refunds = broken_then_fine
    k.start()
    try:
        assert wait_until(lambda: len(rounds) >= 5, 15)  # it went on after each failure
        events = [json.loads(r["payload"])["data"] for r in k.store.pending_outbox() if r["topic"] == "events"]
        failed = [e for e in events if e["kind"] == "recovery_failed"]
        assert len(failed) == 1 and "UNIQUE constraint failed" in failed[0]["message"]
    finally:
        k.stop()


def test_a_code_the_camera_saw_more_than_a_second_ago_is_never_acted_on(tmp_path):
    import time

    from kiosk.checkout import Phase
    from kiosk.runtime.wiring import Runtime
    from kiosk.services.events import CodeRead

    k = Runtime(quiet_kiosk_config(tmp_path))
    try:
        k.checkout.scan("6901234000016", k.clock())
        k.events.put(CodeRead("281234567890123451", "camera", time.monotonic() - 1.5))  # the UI thread was behind
        k.controller.pump()
        assert k.checkout.phase is Phase.CART and not k.checkout.paying
        k.events.put(CodeRead("281234567890123452", "camera", time.monotonic()))
        k.controller.pump()
        assert k.checkout.paying
    finally:
        k.stop()


def test_a_wallet_code_read_by_the_product_scanner_pays(tmp_path):
    """Decided: as at most Chinese self-checkouts, the shopper may hold the phone to the product scanner."""
    from kiosk.runtime.wiring import Runtime
    from kiosk.services.events import CodeRead

    k = Runtime(quiet_kiosk_config(tmp_path))
    try:
        k.events.put(CodeRead("6901234000016", "scanner"))
        k.events.put(CodeRead("281234567890123451", "scanner"))
        k.controller.pump()
        assert k.checkout.paying and k.checkout.masked_code == "2812********3451"
    finally:
        k.stop()


def test_recovery_hands_over_the_order_made_elsewhere_its_payment_paid(gateway, store):
    """Killed after the gateway took a guest's money for their online order, before the kiosk wrote PAID: the
    recovered sale hands the order over too, in the same transaction, so nobody asks the guest to pay again."""
    req = start(store, "281234567890123451")
    otn = store.begin_payment(
        gateway="sandbox",
        channel="alipay",
        code_masked="2812********3451",
        lines=req.lines,
        totals=req.totals,
        language="en",
        online_order="W-261204000007",
    )
    assert store.online_collected("W-261204000007") is None  # nothing handed over before it is paid
    assert gateway.pay(PayRequest(otn, req.code, 550, "CNY", "t")).status is Status.PAID
    [r] = driver(gateway, store).recover_all()
    assert r.outcome is Outcome.PAID
    assert store.online_collected("W-261204000007")["kiosk_order_no"] == r.order.order_no
    events = [json.loads(m["payload"])["data"] for m in store.pending_outbox(limit=100) if m["topic"] == "events"]
    assert {"kind": "online_order_collected", "order_no": "W-261204000007", "paid_here": r.order.order_no} in events
