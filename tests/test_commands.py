"""Head office's commands over MQTT (a real mosquitto): signed, refunds, malformed commands, redelivery."""

import json
import time
from datetime import date

import pytest

from kiosk import signing
from kiosk.config import Config, replace
from kiosk.runtime.wiring import Runtime
from tests.loopback import Subscriber, wait_until

PREFIX = "kiosk/v1/demo-store/kiosk-01/"


@pytest.fixture
def hq_key(tmp_path):
    private, public = signing.keygen(str(tmp_path / "hq"))
    return signing.load_private_key(str(private)), str(public)


def kiosk_config(tmp_path, broker, hq_public_key_file=""):
    return replace(
        Config(),
        kiosk={"data_dir": str(tmp_path / "data")},
        mqtt={"port": broker.port, "retry_s": 0.2, "hq_public_key_file": hq_public_key_file},
        sandbox={"latency_ms": 0},
        gpio={"pin_factory": "mock"},
        camera={"type": "none"},
    )


@pytest.fixture
def kiosk(tmp_path, broker, hq_key):
    k = Runtime(kiosk_config(tmp_path, broker, hq_key[1]))
    k.start()
    yield k
    k.stop()


def signed(key, name, data, id_, **over):
    """A command as head office sends it: an envelope signed with its key."""
    body = signing.envelope(f"cmd/{name}", data, store="demo-store", kiosk="kiosk-01", key=key, id_=id_)
    return json.dumps({**body, **over} if over else body)


def send(hq, key, name, data, id_):
    hq.client.publish(PREFIX + "cmd/" + name, signed(key, name, data, id_), qos=1)


def paid_order(k):
    from kiosk.cart import Cart
    from kiosk.checkout import StartPayment
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


def test_refund_command_partial_then_rest(kiosk, broker, hq_key):
    key = hq_key[0]
    order = paid_order(kiosk)
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)  # retained: seen whenever HQ joins
        send(hq, key, "refund", {"order_no": order.order_no, "amount": 150, "reason": "damaged"}, "r1")
        assert wait_until(lambda: "r1" in results(hq), 10)
        assert results(hq)["r1"]["ok"] is True and results(hq)["r1"]["result"]["amount"] == 150
        assert wait_until(
            lambda: [m["data"]["state"] for m in hq.payloads("refunds")] == ["SUBMITTING", "REFUNDED"], 10
        )
        refund = hq.payloads("refunds")[-1]["data"]
        assert refund["order_no"] == order.order_no and refund["requested_by"] == "hq"
        assert refund["command_id"] == "r1" and refund["reason"] == "damaged"
        send(hq, key, "refund", {"order_no": order.order_no, "amount": 150, "reason": "damaged"}, "r1")  # again
        send(hq, key, "refund", {"order_no": order.order_no}, "r2")  # the rest
        assert wait_until(lambda: "r2" in results(hq), 10)
        assert results(hq)["r2"]["result"]["amount"] == 400
        assert wait_until(lambda: "REFUNDED" in [m["data"]["state"] for m in hq.payloads("payments")], 10)
        states = [m["data"]["state"] for m in hq.payloads("payments")]
        assert states[-2:] == ["PARTIALLY_REFUNDED", "REFUNDED"]
        assert len(kiosk.store.conn().execute("SELECT * FROM refunds").fetchall()) == 2  # r1 redelivered: no third
    finally:
        hq.close()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "refund needs 'order_no'"),
        ({"order_no": "K01-000000-0000"}, "no order K01-000000-0000"),
        ({"order_no": "ORDER", "amount": -5}, "'amount' must be a positive whole number"),
        ({"order_no": "ORDER", "amount": 1.5}, "'amount' must be a positive whole number"),
        ({"order_no": "ORDER", "amount": 10_000}, "outside 1..550"),
        ({"order_no": "ORDER", "reason": 7}, "'reason' must be a string"),
    ],
)
def test_bad_refund_commands_are_answered_and_change_nothing(kiosk, broker, hq_key, body, error):
    order = paid_order(kiosk)
    if body.get("order_no") == "ORDER":
        body["order_no"] = order.order_no
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)  # retained: seen whenever HQ joins
        send(hq, hq_key[0], "refund", body, "x1")
        assert wait_until(lambda: "x1" in results(hq), 10)
        r = results(hq)["x1"]
        assert r["ok"] is False and error in r["error"]
        assert kiosk.store.conn().execute("SELECT count(*) FROM refunds").fetchone()[0] == 0
        assert kiosk.store.payment(order.out_trade_no)["state"] == "PAID"
    finally:
        hq.close()


def test_reconcile_command_once_however_often_it_arrives(kiosk, broker, hq_key):
    key = hq_key[0]
    paid_order(kiosk)
    receipts = kiosk.data_dir / "receipts"
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)
        for _ in range(3):  # delivered three times: compared once, printed once, answered each time
            send(hq, key, "reconcile", {"date": date.today().isoformat()}, "z1")
        send(hq, key, "reconcile", {"date": "yesterday"}, "z2")
        assert wait_until(lambda: {"z1", "z2"} <= set(results(hq)), 60)
        assert results(hq)["z1"]["ok"] is True and results(hq)["z1"]["result"]["clean"] is True
        assert results(hq)["z2"]["ok"] is False and "'date' must be a real date" in results(hq)["z2"]["error"]
        assert wait_until(lambda: len(list(receipts.glob("reconcile-*.escpos"))) == 1, 30)
        send(hq, key, "reconcile", {"date": date.today().isoformat()}, "z1")  # once more, after the answer
        again = lambda: [m for m in hq.payloads("cmd-result") if m["data"]["command_id"] == "z1"]  # noqa: E731
        assert wait_until(lambda: len(again()) >= 2, 10)
        assert all(m["data"] == again()[0]["data"] for m in again()) and len({m["id"] for m in again()}) >= 2
        kiosk.workers["back-office"].submit("test", "", lambda: None).result(30)  # everything queued has run
        kiosk.workers["printer"].submit("test", "", lambda: None).result(30)
        assert len(list(receipts.glob("reconcile-*.escpos"))) == 1
    finally:
        hq.close()


@pytest.mark.parametrize("day", ["2024-13-45", "2024-02-30", "２０２４-０１-０１", "2024-1-1", 20240101, ""])
def test_reconcile_dates_are_checked(kiosk, broker, hq_key, day):
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)
        send(hq, hq_key[0], "reconcile", {"date": day}, "d1")
        assert wait_until(lambda: "d1" in results(hq), 10)
        assert results(hq)["d1"]["ok"] is False and "'date' must be a real date" in results(hq)["d1"]["error"]
    finally:
        hq.close()


def wait_answer(hq, predicate, timeout=10):
    assert wait_until(lambda: any(predicate(m["data"]) for m in hq.payloads("cmd-result")), timeout)
    return next(m["data"] for m in hq.payloads("cmd-result") if predicate(m["data"]))


def test_commands_not_signed_by_head_office_move_no_money(kiosk, broker, hq_key, tmp_path):
    """Anyone who can publish to the broker: unsigned, wrong key, another kiosk's, expired, retained."""
    order = paid_order(kiosk)
    data = {"order_no": order.order_no}
    stranger, _ = signing.keygen(str(tmp_path / "stranger"))
    stranger = signing.load_private_key(str(stranger))
    key = hq_key[0]
    tries = {
        "unsigned": json.dumps({"v": 1, "id": "a1", "ts": signing.rfc3339(time.time()), "data": data}),
        "wrong-key": signed(stranger, "refund", data, "a2"),
        "tampered": signed(key, "refund", {"order_no": order.order_no, "amount": 1}, "a3").replace(  # 1 -> 550
            '"amount": 1', '"amount": 550'
        ),
        "other-kiosk": json.dumps(
            signing.envelope("cmd/refund", data, store="demo-store", kiosk="kiosk-02", key=key, id_="a4")
        ),
        "other-topic": json.dumps(
            signing.envelope("cmd/ping", data, store="demo-store", kiosk="kiosk-01", key=key, id_="a5")
        ),
        "expired": json.dumps(
            signing.envelope(
                "cmd/refund", data, store="demo-store", kiosk="kiosk-01", key=key, id_="a6", ts=time.time() - 3600
            )
        ),
    }
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)
        for payload in tries.values():
            hq.client.publish(PREFIX + "cmd/refund", payload, qos=1)
        ids = {f"a{i}" for i in range(1, 7)}
        assert wait_until(lambda: ids <= set(results(hq)), 10), results(hq)
        for i in ids:
            assert results(hq)[i]["ok"] is False and results(hq)[i]["error"].startswith("refused: ")
        assert "expired" in results(hq)["a6"]["error"] and "kiosk-02" in results(hq)["a4"]["error"]
        # sent while the kiosk is away: its persistent session holds the command until it is back, then it runs
        # once; the broker's retained copy, replayed at every later SUBSCRIBE, is never obeyed or answered again
        kiosk.mqtt.stop()
        hq.client.publish(
            PREFIX + "cmd/refund", signed(key, "refund", {**data, "amount": 1}, "a7"), qos=1, retain=True
        ).wait_for_publish()
        kiosk.mqtt.start()
        assert wait_until(lambda: "a7" in results(hq), 10)
        assert results(hq)["a7"]["ok"] is True
        kiosk.mqtt.stop()
        kiosk.mqtt.start()  # reconnects: the broker hands it the retained copy
        assert wait_until(lambda: kiosk.mqtt.connected.is_set(), 10)
        time.sleep(1.0)  # the retained message arrives right after SUBSCRIBE; nothing may come of it
        assert kiosk.store.conn().execute("SELECT count(*) FROM refunds").fetchone()[0] == 1
        # one answer (one message id; the broker may see it twice, at least once, and head office stores it once)
        assert len({m["id"] for m in hq.payloads("cmd-result") if m["data"]["command_id"] == "a7"}) == 1
    finally:
        hq.client.publish(PREFIX + "cmd/refund", b"", qos=1, retain=True)
        hq.close()


def test_without_head_offices_key_only_ping_is_obeyed(tmp_path, broker, hq_key):
    k = Runtime(kiosk_config(tmp_path, broker))
    k.start()
    hq = Subscriber(broker.port)
    try:
        order = paid_order(k)
        assert wait_until(lambda: "online" in hq.states(), 10)
        hq.client.publish(PREFIX + "cmd/ping", json.dumps({"id": "p1"}), qos=1)
        send(hq, hq_key[0], "refund", {"order_no": order.order_no}, "r1")
        assert wait_until(lambda: {"p1", "r1"} <= set(results(hq)), 10)
        assert results(hq)["p1"]["ok"] is True
        assert results(hq)["r1"]["ok"] is False and "hq_public_key_file" in results(hq)["r1"]["error"]
        assert k.store.conn().execute("SELECT count(*) FROM refunds").fetchone()[0] == 0
    finally:
        hq.close()
        k.stop()


def test_an_id_reused_for_another_command_is_refused_not_carried_out(kiosk, broker, hq_key):
    key = hq_key[0]
    order = paid_order(kiosk)
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)
        send(hq, key, "refund", {"order_no": order.order_no, "amount": "lots"}, "c1")  # answered with an error
        first = wait_answer(hq, lambda d: d["command_id"] == "c1")
        assert first["ok"] is False
        send(hq, key, "refund", {"order_no": order.order_no, "amount": 100}, "c1")  # a valid command, same id
        second = wait_answer(hq, lambda d: d["command_id"] == "c1" and "used before" in d.get("error", ""))
        assert second["ok"] is False
        assert kiosk.store.conn().execute("SELECT count(*) FROM refunds").fetchone()[0] == 0
    finally:
        hq.close()


@pytest.mark.parametrize("cmd_id", [7, ["x"], None, "", "x" * 500, "a\nb"])
def test_command_ids_that_are_not_strings_are_malformed(kiosk, broker, hq_key, cmd_id):
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)
        body = signing.envelope("cmd/ping", {}, store="demo-store", kiosk="kiosk-01", key=hq_key[0])
        hq.client.publish(PREFIX + "cmd/ping", json.dumps({**body, "id": cmd_id}), qos=1)
        answer = wait_answer(hq, lambda d: "malformed" in d.get("error", ""))
        assert answer["ok"] is False and answer["command_id"] is None
    finally:
        hq.close()


def test_forged_acks_are_ignored(kiosk, broker, hq_key, tmp_path):
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)  # subscribed before the order is sent
        paid_order(kiosk)
        assert wait_until(lambda: hq.payloads("orders"), 10)
        order_id = hq.payloads("orders")[0]["id"]
        forged = {"v": 1, "id": "f1", "ts": signing.rfc3339(time.time()), "type": "ack", "data": {"ids": [order_id]}}
        hq.client.publish(PREFIX + "ack", json.dumps(forged), qos=1)
        hq.client.publish(PREFIX + "ack", json.dumps({"ids": [order_id]}), qos=1)  # v1's unsigned form
        time.sleep(1.0)
        acked = "SELECT acked_at FROM outbox WHERE id=?"
        assert kiosk.store.conn().execute(acked, (order_id,)).fetchone()[0] is None
        real = signing.envelope("ack", {"ids": [order_id]}, store="demo-store", kiosk="kiosk-01", key=hq_key[0])
        hq.client.publish(PREFIX + "ack", json.dumps(real), qos=1)
        assert wait_until(lambda: kiosk.store.conn().execute(acked, (order_id,)).fetchone()[0] is not None, 10)
    finally:
        hq.close()


def test_a_selftest_checks_the_running_kiosk_and_answers_what_it_found(kiosk, broker, hq_key):
    hq = Subscriber(broker.port)
    try:
        assert wait_until(lambda: "online" in hq.states(), 10)
        health = kiosk.controller.device_health
        assert wait_until(lambda: kiosk.controller.pump() or {"scanner", "gateway"} <= set(health()), 10), health()
        send(hq, hq_key[0], "selftest", {}, "st1")
        assert wait_until(lambda: "st1" in results(hq), 20)
        answer = results(hq)["st1"]
        checks = answer["result"]["checks"]
        assert {"storage", "database", "clock", "scanner", "gateway"} <= set(checks), checks
        assert checks["gateway"] == {"ok": True, "message": "sandbox answers"}
        assert checks["database"] == {"ok": True, "message": "ok"} and "MB free" in checks["storage"]["message"]
        assert answer["ok"] is True and answer["result"]["passed"] is True
    finally:
        hq.close()
