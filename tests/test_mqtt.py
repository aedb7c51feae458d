"""The MQTT link against a real mosquitto: status/will/birth, outbox drain, outage, commands, acks."""

import json
import subprocess
import sys
import time

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.config import Config, replace
from kiosk.store import Identity, Store
from kiosk.telemetry import MqttLink
from tests.conftest import REPO
from tests.loopback import Mosquitto, Subscriber, wait_until

PREFIX = "kiosk/v1/demo-store/kiosk-01/"


def make(tmp_path, port):
    cfg = replace(Config(), kiosk={"data_dir": str(tmp_path)}, mqtt={"port": port, "retry_s": 0.2})
    store = Store(tmp_path / "kiosk.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    store.seed_catalog(DEMO_PRODUCTS)
    return cfg, store


def test_online_birth_and_clean_offline(tmp_path, broker):
    cfg, store = make(tmp_path, broker.port)
    hq = Subscriber(broker.port)
    link = MqttLink(cfg, store, devices=lambda: {"scanner": "serial"})
    link.start()
    try:
        assert wait_until(lambda: hq.states() and hq.payloads("birth"), 10)
        assert hq.states()[0] == "online"
        birth = hq.payloads("birth")[0]["data"]
        assert birth["session"] == 1 and birth["devices"] == {"scanner": "serial"} and birth["firmware"]
        assert birth["installation"] == store.installation and birth["gateway"] == {"kind": "sandbox", "sandbox": True}
        assert birth["last_seq"] == store.last_seq()
    finally:
        link.stop()
    assert wait_until(lambda: hq.states()[-1:] == ["offline"], 5)
    late = Subscriber(broker.port, PREFIX + "status")  # retained: a newcomer sees it
    assert wait_until(lambda: late.states() == ["offline"], 5)
    assert hq.invalid() == [] and late.invalid() == []  # every payload in the v1.1 envelope, as the schema says
    hq.close()
    late.close()


def test_outbox_drains_in_order_and_survives_an_outage(tmp_path):
    broker = Mosquitto(tmp_path).start()
    cfg, store = make(tmp_path, broker.port)
    for i in range(50):
        store.add_event("test", n=i)
    hq = Subscriber(broker.port)
    link = MqttLink(cfg, store)
    link.start()
    try:
        assert wait_until(lambda: len(hq.payloads("events")) == 50, 10)
        assert wait_until(lambda: store.outbox_depth() == 0, 5)
        broker.stop()
        hq.close()
        for i in range(50, 80):  # written while the broker is down
            store.add_event("test", n=i)
        time.sleep(0.5)
        assert store.outbox_depth() == 30
        broker.start()
        hq = Subscriber(broker.port)
        assert wait_until(lambda: hq.client.is_connected(), 5)
        link.notify()
        assert wait_until(lambda: len(hq.payloads("events")) == 30, 15)
        got = hq.payloads("events")
        assert [m["data"]["n"] for m in got] == list(range(50, 80))
        assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
        assert wait_until(lambda: store.outbox_depth() == 0, 5)
        sessions = [b["data"]["session"] for b in hq.payloads("birth")]
        assert sessions == [2]
    finally:
        link.stop()
        hq.close()
        broker.stop()


def test_will_says_lost_when_the_kiosk_dies(tmp_path, broker):
    hq = Subscriber(broker.port, PREFIX + "status")
    script = (
        "import sys, time; sys.path.insert(0, '.');"
        "from tests.test_mqtt import make; from kiosk.telemetry import MqttLink; import pathlib;"
        f"cfg, store = make(pathlib.Path({str(tmp_path)!r}), {broker.port});"
        "cfg = __import__('kiosk.config', fromlist=['x']).replace(cfg, mqtt={'port': %d, 'keepalive_s': 5});"
        "MqttLink(cfg, store).start(); time.sleep(60)"
    ) % broker.port
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        assert wait_until(lambda: hq.states() == ["online"], 15)
        proc.kill()
        assert wait_until(lambda: hq.states() == ["online", "lost"], 20)
    finally:
        proc.kill()
        hq.close()


def test_commands_and_acks(tmp_path, broker):
    cfg, store = make(tmp_path, broker.port)
    hq = Subscriber(broker.port)
    handled = []

    def on_command(name, data, cmd_id):
        handled.append((name, cmd_id))
        return {"ok": True} if name == "ping" else {"ok": False, "error": f"unknown command {name!r}"}

    link = MqttLink(cfg, store, on_command=on_command)
    link.start()
    try:
        assert wait_until(lambda: hq.raw("birth"), 10)
        pub = hq.client
        pub.publish(PREFIX + "cmd/ping", json.dumps({"id": "c1"}), qos=1)
        pub.publish(PREFIX + "cmd/ping", b"\xff not json", qos=1)
        pub.publish(PREFIX + "cmd/ping", json.dumps([1, 2]), qos=1)
        pub.publish(PREFIX + "cmd/ping", json.dumps({"no": "id"}), qos=1)
        pub.publish(PREFIX + "cmd/reboot", json.dumps({"id": "c2"}), qos=1)
        assert wait_until(lambda: len(hq.payloads("cmd-result")) == 5, 10)
        results = [m["data"] for m in hq.payloads("cmd-result")]
        assert results[0] == {"name": "ping", "command_id": "c1", "ok": True, "result": {}}
        assert all(not r["ok"] and r["error"].startswith("malformed command") for r in results[1:4])
        # no head-office key configured: nothing but ping is obeyed (signed commands: tests/test_commands.py)
        assert results[4]["ok"] is False and "hq_public_key_file" in results[4]["error"]
        assert handled == [("ping", "c1")]
        # HQ confirms it stored a message: the kiosk marks it delivered
        first = hq.payloads("cmd-result")[0]["id"]
        pub.publish(PREFIX + "ack", json.dumps({"v": 1, "type": "ack", "data": {"ids": [first]}}), qos=1)
        pub.publish(PREFIX + "ack", b"garbage", qos=1)
        assert wait_until(
            lambda: store.conn().execute("SELECT acked_at FROM outbox WHERE id=?", (first,)).fetchone()[0], 5
        )
        assert link.connected.is_set()
    finally:
        link.stop()
        hq.close()


def test_unacknowledged_messages_go_again_and_acknowledged_ones_are_pruned(tmp_path, broker):
    cfg = replace(
        Config(),
        kiosk={"data_dir": str(tmp_path)},
        mqtt={"port": broker.port, "retry_s": 0.2, "ack_timeout_s": 1.0, "outbox_retention_days": 0},
    )
    store = Store(tmp_path / "kiosk.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    first, second = store.add_event("help_pressed"), store.add_event("help_pressed")
    hq = Subscriber(broker.port)
    link = MqttLink(cfg, store)
    link.start()
    try:

        def seen(msg_id):
            return [p for p in hq.raw("events") if json.loads(p)["id"] == msg_id]

        assert wait_until(lambda: seen(first) and seen(second), 10)
        hq.client.publish(PREFIX + "ack", json.dumps({"v": 1, "type": "ack", "data": {"ids": [first]}}), qos=1)
        # head office never acknowledged the second: it comes again, byte for byte, after ack_timeout_s
        assert wait_until(lambda: len(seen(second)) >= 2, 15)
        assert len(set(seen(second))) == 1 and len(seen(first)) == 1
        assert store.unacked_count() == 1
    finally:
        link.stop()
    # at the next connect, the acknowledged message leaves the outbox; the unacknowledged one stays
    link = MqttLink(cfg, store)
    link.start()
    try:
        ids = lambda: [r[0] for r in store.conn().execute("SELECT id FROM outbox")]  # noqa: E731
        assert wait_until(lambda: first not in ids(), 10)
        assert second in ids()
    finally:
        link.stop()
        hq.close()
