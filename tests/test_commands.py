"""Head office's commands over MQTT (a real mosquitto): refunds, malformed commands, redelivery."""

import json

import pytest

from kiosk.app import Kiosk
from kiosk.config import Config, replace
from tests.loopback import Subscriber, wait_until

PREFIX = "kiosk/v1/demo-store/kiosk-01/"


@pytest.fixture
def kiosk(tmp_path, broker):
    cfg = replace(
        Config(),
        kiosk={"data_dir": str(tmp_path / "data")},
        mqtt={"port": broker.port, "retry_s": 0.2},
        sandbox={"latency_ms": 0},
        gpio={"pin_factory": "mock"},
        camera={"type": "none"},
    )
    k = Kiosk(cfg)
    k.start()
    yield k
    k.stop()


def paid_order(k):
    from kiosk.checkout import Cart, StartPayment
    from kiosk.codes import Scheme

    cart = Cart()
    cart.add(k.checkout.catalog["6901234000016"])
    cart.add(k.checkout.catalog["6901234000023"])
    r = k.driver.pay(
        StartPayment("281234567890123451", Scheme.ALIPAY, cart.snapshot(), cart.totals()), language="en", subject="t"
    )
    return r.order


def results(hq):
    return {m["data"]["command_id"]: m["data"] for m in hq.payloads("cmd-result")}


def test_refund_command_partial_then_rest(kiosk, broker):
    order = paid_order(kiosk)
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: b"online" in hq.raw("status"), 10)  # retained: seen whenever HQ joins
        send = hq.client.publish
        send(
            PREFIX + "cmd/refund",
            json.dumps({"id": "r1", "order_no": order["order_no"], "amount": 150, "reason": "damaged"}),
            qos=1,
        )
        assert wait_until(lambda: "r1" in results(hq), 10)
        assert results(hq)["r1"]["ok"] is True and results(hq)["r1"]["amount"] == 150
        assert wait_until(
            lambda: [m["data"]["state"] for m in hq.payloads("refunds")] == ["SUBMITTING", "REFUNDED"], 10
        )
        refund = hq.payloads("refunds")[-1]["data"]
        assert refund["order_no"] == order["order_no"] and refund["requested_by"] == "hq"
        assert refund["command_id"] == "r1" and refund["reason"] == "damaged"
        send(PREFIX + "cmd/refund", json.dumps({"id": "r1", "order_no": order["order_no"], "amount": 150}), qos=1)
        send(PREFIX + "cmd/refund", json.dumps({"id": "r2", "order_no": order["order_no"]}), qos=1)  # the rest
        assert wait_until(lambda: "r2" in results(hq), 10)
        assert results(hq)["r2"]["amount"] == 400
        assert wait_until(lambda: "REFUNDED" in [m["data"]["state"] for m in hq.payloads("payments")], 10)
        states = [m["data"]["state"] for m in hq.payloads("payments")]
        assert states[-2:] == ["PARTIALLY_REFUNDED", "REFUNDED"]
        assert len(kiosk.store.conn().execute("SELECT * FROM refunds").fetchall()) == 2  # r1 redelivered: no third
    finally:
        hq.close()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"id": "x1"}, "refund needs 'order_no'"),
        ({"id": "x2", "order_no": "K01-000000-0000"}, "no order K01-000000-0000"),
        ({"id": "x3", "order_no": "ORDER", "amount": -5}, "'amount' must be a positive whole number"),
        ({"id": "x4", "order_no": "ORDER", "amount": 1.5}, "'amount' must be a positive whole number"),
        ({"id": "x5", "order_no": "ORDER", "amount": 10_000}, "outside 1..550"),
        ({"id": "x6", "order_no": "ORDER", "reason": 7}, "'reason' must be a string"),
    ],
)
def test_bad_refund_commands_are_answered_and_change_nothing(kiosk, broker, body, error):
    order = paid_order(kiosk)
    if body.get("order_no") == "ORDER":
        body["order_no"] = order["order_no"]
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: b"online" in hq.raw("status"), 10)  # retained: seen whenever HQ joins
        hq.client.publish(PREFIX + "cmd/refund", json.dumps(body), qos=1)
        assert wait_until(lambda: body["id"] in results(hq), 10)
        r = results(hq)[body["id"]]
        assert r["ok"] is False and error in r["error"]
        assert kiosk.store.conn().execute("SELECT count(*) FROM refunds").fetchone()[0] == 0
        assert kiosk.store.payment(order["out_trade_no"])["state"] == "PAID"
    finally:
        hq.close()


def test_reconcile_command(kiosk, broker):
    from datetime import date

    paid_order(kiosk)
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: b"online" in hq.raw("status"), 10)
        hq.client.publish(PREFIX + "cmd/reconcile", json.dumps({"id": "z1", "date": date.today().isoformat()}), qos=1)
        hq.client.publish(PREFIX + "cmd/reconcile", json.dumps({"id": "z2", "date": "yesterday"}), qos=1)
        assert wait_until(lambda: {"z1", "z2"} <= set(results(hq)), 10)
        assert results(hq)["z1"]["ok"] is True and results(hq)["z1"]["clean"] is True
        assert results(hq)["z2"] == {
            "command": "reconcile",
            "command_id": "z2",
            "ok": False,
            "error": "'date' must be YYYY-MM-DD",
        }
    finally:
        hq.close()
