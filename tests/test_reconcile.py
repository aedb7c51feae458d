"""Reconciliation: statement parsers, every kind of difference, sandbox and Alipay end to end, CLI, events."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest

from kiosk.payments import Entry
from kiosk.payments.alipay import parse_alipay_bill
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.sandbox import SandboxGateway
from kiosk.payments.wechatpay import parse_wechat_bill
from kiosk.reconcile import compare, finish, run
from tests.conftest import write_config
from tests.test_alipay import fake, gateway, keys  # noqa: F401  (fixtures)
from tests.test_alipay import pay as alipay_pay
from tests.test_payments import start
from tests.test_refunds import store  # noqa: F401  (fixture)

TODAY = date.today().isoformat()


def test_compare_names_every_difference():
    local = [
        Entry("trade", "A", 500, status="PAID"),
        Entry("trade", "B", 300, status="PAID"),  # the gateway says 350
        Entry("trade", "C", 200, status="PAID"),  # not at the gateway
        Entry("trade", "D", 100, status="CANCELLED"),  # the gateway says paid
        Entry("trade", "E", 100, status="FAILED"),  # nowhere: consistent
        Entry("refund", "A", 100, "RA1", status="REFUNDED"),
    ]
    remote = [
        Entry("trade", "A", 500),
        Entry("trade", "B", 350),
        Entry("trade", "D", 100),
        Entry("trade", "F", 900, trade_id="T-F"),
        Entry("refund", "A", 100, "RA1"),
    ]
    report = compare(TODAY, "sandbox", local, remote)
    got = {(d["out_trade_no"], d["difference"]) for d in report.differences}
    assert got == {
        ("B", "amount_mismatch"),
        ("C", "missing_at_gateway"),
        ("D", "status_mismatch"),
        ("F", "missing_locally"),
    }
    assert report.local_trades == 3 and report.gateway_trades == 4
    assert report.local_total == 500 + 300 + 200 - 100 and not report.clean


def test_wechat_bill_with_backticks_and_totals():
    text = (
        "\ufeff交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
        "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"
        "订单金额,申请退款金额,费率备注\n"
        "`2026-11-24 10:00:00,`wx01,`1900000109,`0,`k1,`4200001,`K01A,`oUpF8,`MICROPAY,`SUCCESS,`CMB_DEBIT,`CNY,"
        "`5.50,`0.00,`0,`0,`0.00,`0.00,`,`,`Demo,`,`0.03,`0.60%,`5.50,`0.00,`\n"
        "`2026-11-24 11:00:00,`wx01,`1900000109,`0,`k1,`4200001,`K01A,`oUpF8,`MICROPAY,`REFUND,`CMB_DEBIT,`CNY,"
        "`0.00,`0.00,`5030001,`K01R1,`1.50,`0.00,`ORIGINAL,`SUCCESS,`Demo,`,`-0.01,`0.60%,`0.00,`1.50,`\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
        "`2,`5.50,`1.50,`0.00,`0.02,`5.50,`1.50\n"
    )
    assert parse_wechat_bill(text) == [
        Entry("trade", "K01A", 550, "", "4200001"),
        Entry("refund", "K01A", 150, "K01R1", "4200001"),
    ]
    with pytest.raises(ValueError):
        parse_wechat_bill("a,b\n")


def test_alipay_bill_needs_its_header():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x_业务明细.csv", "#只有注释\n".encode("gbk"))
    with pytest.raises(ValueError, match="header"):
        parse_alipay_bill(buf.getvalue())


def day_of_business(gw, st):
    """A paid and partly refunded payment, and a declined one."""
    d = PaymentDriver(gw, st, poll_interval_s=0.05)
    paid = d.pay(start(st, "281234567890123451"), language="en", subject="t")
    d.refund(st.begin_refund(paid.order.order_no, 100, requested_by="hq"))
    d.pay(start(st, "281234567890123458"), language="en", subject="t")  # declined
    return paid


def test_sandbox_day_reconciles_clean_then_finds_tampering(tmp_path, store):  # noqa: F811
    gw = SandboxGateway(tmp_path / "sandbox.sqlite", latency_s=0)
    paid = day_of_business(gw, store)
    otn = store.begin_payment(
        gateway="sandbox",
        channel="alipay",
        code_masked="x",
        lines=start(store, "1").lines,
        totals=start(store, "1").totals,
        language="en",
    )
    from kiosk.payments import PayRequest

    gw.pay(PayRequest(otn, "281234567890123450", 550, "CNY", "t"))
    PaymentDriver(gw, store)._cancel(otn, recovered=False)  # paid at the gateway, reversed by cancel
    report = run(store, gw, TODAY)
    assert report.clean, report.differences
    assert report.local_trades == report.gateway_trades == 2
    # now the journal and the acquirer disagree
    store.conn().execute("UPDATE payments SET amount = 999 WHERE out_trade_no=?", (paid.out_trade_no,))
    gw._db().execute(
        "INSERT INTO trades (out_trade_no, code_tail, amount, status, paid_after, created_at)"
        " VALUES ('GHOST', '0000', 123, 'TRADE_SUCCESS', 0, strftime('%s','now'))"
    )
    report = run(store, gw, TODAY)
    got = {(d["out_trade_no"], d["difference"]) for d in report.differences}
    assert got == {(paid.out_trade_no, "amount_mismatch"), ("GHOST", "missing_locally")}
    path = finish(report, store, tmp_path)
    assert json.loads(path.read_text())["clean"] is False
    [event] = [
        json.loads(r["payload"])["data"]
        for r in store.pending_outbox()
        if '"kind":"reconciliation_differences"' in r["payload"]
    ]
    assert event["count"] == 2 and event["date"] == TODAY


def test_alipay_bill_reconciles(gateway, fake, store):  # noqa: F811
    r, _ = alipay_pay(gateway, store, "281234567890123451")
    PaymentDriver(gateway, store).refund(store.begin_refund(r.order.order_no, 150, requested_by="hq"))
    entries = gateway.statement(TODAY)
    assert Entry("refund", r.out_trade_no, 150, list(fake.refunds)[0], r.order.payment.trade_id) in entries
    report = run(store, gateway, TODAY)
    assert report.clean, report.differences
    assert "alipay.data.dataservice.bill.downloadurl.query" in fake.methods()


def test_cli(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(tmp_path / "data")}})
    run_ = subprocess.run(
        [sys.executable, "-m", "kiosk.reconcile", TODAY, "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert run_.returncode == 0 and "0 differences" in run_.stdout
    assert (tmp_path / "data" / "reconciliation" / f"{TODAY}-sandbox.json").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "kiosk.reconcile", "24/11/2026", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
