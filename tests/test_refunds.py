"""Refunds: the journal's rules, never paid out twice, sandbox and Alipay, recovery."""

from __future__ import annotations

import json
from datetime import date

import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.payments import Answer, Status
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.sandbox import SandboxGateway
from kiosk.store import Identity, RefundRefused, Store
from tests.test_alipay import fake, gateway, keys  # noqa: F401  (fixtures)
from tests.test_alipay import pay as alipay_pay


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", Identity("s1", "k1", "K01", "CNY"))
    s.seed_catalog(DEMO_PRODUCTS)
    return s


@pytest.fixture
def sandbox(tmp_path):
    return SandboxGateway(tmp_path / "sandbox.sqlite", latency_s=0)


def paid_order(gw, store):
    from tests.test_payments import start

    r = PaymentDriver(gw, store, poll_interval_s=0.05).pay(
        start(store, "281234567890123451"), language="en", subject="t"
    )
    assert r.order is not None
    return r.order  # ¥5.50


def messages(store, topic):
    return [json.loads(r["payload"])["data"] for r in store.pending_outbox() if r["topic"] == topic]


def test_partial_then_full_refund(sandbox, store):
    order = paid_order(sandbox, store)
    d = PaymentDriver(sandbox, store)
    r1 = d.refund(store.begin_refund(order.order_no, 200, requested_by="hq"))
    assert r1["state"] == "REFUNDED" and store.payment(order.out_trade_no)["state"] == "PARTIALLY_REFUNDED"
    r2 = d.refund(store.begin_refund(order.order_no, None, requested_by="attendant"))  # what is left
    assert r2["amount"] == 350 and r2["state"] == "REFUNDED"
    assert store.payment(order.out_trade_no)["state"] == "REFUNDED"
    assert [m["state"] for m in messages(store, "refunds")] == ["SUBMITTING", "REFUNDED", "SUBMITTING", "REFUNDED"]
    assert [m["state"] for m in messages(store, "payments")][-2:] == ["PARTIALLY_REFUNDED", "REFUNDED"]
    with pytest.raises(RefundRefused, match="is refunded"):
        store.begin_refund(order.order_no, 1, requested_by="hq")


def test_refusals(sandbox, store):
    order = paid_order(sandbox, store)
    with pytest.raises(RefundRefused, match="no order"):
        store.begin_refund("K01-000000-0000", None, requested_by="hq")
    with pytest.raises(RefundRefused, match="outside 1..550"):
        store.begin_refund(order.order_no, 551, requested_by="hq")
    with pytest.raises(RefundRefused, match="outside"):
        store.begin_refund(order.order_no, 0, requested_by="hq")
    assert store.open_refunds() == []


def test_a_redelivered_command_makes_no_second_refund(sandbox, store):
    order = paid_order(sandbox, store)
    a = store.begin_refund(order.order_no, 100, requested_by="hq", command_id="cmd-1")
    b = store.begin_refund(order.order_no, 100, requested_by="hq", command_id="cmd-1")
    assert a["out_request_no"] == b["out_request_no"] and len(store.open_refunds()) == 1


class LosesAnswers:
    """Wraps a gateway: the first refund answers are lost, either after the gateway acted or before it heard."""

    def __init__(self, inner, lose_after_acting: bool, times: int = 1):
        self.inner, self.after, self.times = inner, lose_after_acting, times
        self.name = inner.name
        self.sent = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def refund(self, otn, orn, amount, total=None):
        self.sent += 1
        if self.times > 0:
            self.times -= 1
            if self.after:
                self.inner.refund(otn, orn, amount, total)
            return Answer(Status.UNKNOWN, reason="TIMEOUT")
        return self.inner.refund(otn, orn, amount, total)


@pytest.mark.parametrize("after", [True, False])
def test_a_lost_answer_is_queried_never_refunded_twice(sandbox, store, after, monkeypatch):
    monkeypatch.setattr("kiosk.payments.driver.time.sleep", lambda s: None)
    order = paid_order(sandbox, store)
    gw = LosesAnswers(sandbox, lose_after_acting=after)
    r = PaymentDriver(gw, store).refund(store.begin_refund(order.order_no, None, requested_by="hq"))
    assert r["state"] == "REFUNDED"
    assert gw.sent == (1 if after else 2)  # found by the query / sent again with the same out_request_no
    rows = sandbox._db().execute("SELECT out_request_no, amount FROM refunds").fetchall()
    assert rows == [(r["out_request_no"], 550)]  # one refund at the acquirer


def test_unclear_refund_is_recovered(sandbox, store, monkeypatch):
    monkeypatch.setattr("kiosk.payments.driver.time.sleep", lambda s: None)
    order = paid_order(sandbox, store)

    class Silent(LosesAnswers):
        def refund_query(self, otn, orn):
            return Answer(Status.UNKNOWN)

    gw = Silent(sandbox, lose_after_acting=True)
    r = PaymentDriver(gw, store).refund(store.begin_refund(order.order_no, None, requested_by="hq"))
    assert r["state"] == "UNKNOWN"
    [done] = PaymentDriver(sandbox, store).recover_refunds()
    assert done["state"] == "REFUNDED" and store.open_refunds() == []


def test_alipay_refund_with_a_slow_answer(gateway, fake, store):  # noqa: F811
    r, _ = alipay_pay(gateway, store, "281234567890123451")
    fake.fault("alipay.trade.refund", "slow")
    refund = PaymentDriver(gateway, store).refund(store.begin_refund(r.order.order_no, 150, requested_by="hq"))
    assert refund["state"] == "REFUNDED"
    assert fake.methods()[-2:] == ["alipay.trade.refund", "alipay.trade.fastpay.refund.query"]
    assert list(fake.refunds.values()) == [(r.out_trade_no, "1.50")]
    assert store.payment(r.out_trade_no)["state"] == "PARTIALLY_REFUNDED"


def test_many_partial_refunds_each_recorded_with_its_own_messages(sandbox, store):
    """Two (or thirty) partial refunds on one order: every one the acquirer makes is REFUNDED at the kiosk too."""
    order = paid_order(sandbox, store)  # 5.50
    d = PaymentDriver(sandbox, store)
    done, refused = [], 0
    for _ in range(30):
        try:
            done.append(d.refund(store.begin_refund(order.order_no, 100, requested_by="hq")))
        except RefundRefused:
            refused += 1
    assert [r["state"] for r in done] == ["REFUNDED"] * 5 and refused == 25
    assert store.payment(order.out_trade_no)["state"] == "PARTIALLY_REFUNDED"
    assert store.open_refunds() == []
    ids = [json.loads(r["payload"])["id"] for r in store.pending_outbox()]
    assert len(ids) == len(set(ids))  # one id per change
    partial = [m for m in messages(store, "payments") if m["state"] == "PARTIALLY_REFUNDED"]
    assert len(partial) == 5
    at_acquirer = [e for e in sandbox.statement(date.today().isoformat()) if e.kind == "refund"]
    assert sum(e.amount for e in at_acquirer) == 500 == sum(r["amount"] for r in done)
