"""End to end: `python -m kiosk` as a real process, every device over its real protocol on 127.0.0.1.

Products arrive through a socket:// serial scanner, payment codes through an
MJPEG camera stream, receipts land on a TCP listener acting as a 9100 network
printer, orders reach a mosquitto the test starts.  Then the kiosk is killed
with SIGKILL at awkward moments and must, after a restart, lose nothing and
double nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hardware.camera import qr_image
from kiosk.receipts.render import code128
from tests.conftest import REPO, write_config
from tests.loopback import MjpegCamera, Mosquitto, NetworkPrinter, SerialLine, Subscriber, free_port, wait_until

WATER, COLA = "6901234000016", "6901234000023"


class KioskProcess:
    def __init__(self, tmp: Path, mqtt_port: int, **overrides) -> None:
        self.tmp = tmp
        self.line = SerialLine()
        self.camera = MjpegCamera()
        self.printer = NetworkPrinter()
        self.data = tmp / "data"
        sections = {
            "kiosk": {"data_dir": str(self.data), "store_id": "s1", "kiosk_id": "k1", "order_prefix": "T"},
            "scanner": {"type": "serial", "url": self.line.url},
            "camera": {"type": "opencv", "source": self.camera.url, "read_timeout_s": 3.0, "fps": 15},
            "printer": {"type": "network", "host": "127.0.0.1", "port": self.printer.port, "timeout_s": 3},
            "gpio": {"pin_factory": "mock"},
            "mqtt": {"port": mqtt_port, "retry_s": 0.3},
            "sandbox": {"latency_ms": 50},
            "payment": {"poll_interval_s": 0.3, "recovery_interval_s": 1},
            "simulator": {"panel": False},
        }
        for name, vals in overrides.items():
            sections[name] = {**sections.get(name, {}), **vals}
        self.sections = sections
        self.config = write_config(tmp / "kiosk.toml", sections)
        self.proc: subprocess.Popen | None = None

    def start(self) -> KioskProcess:
        ready = self.tmp / "ready"
        ready.unlink(missing_ok=True)
        opened = self.full_log().count("scanner: connected") if (self.tmp / "kiosk.log").exists() else 0
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "GPIOZERO_PIN_FACTORY": "mock"}
        self.log = open(self.tmp / "kiosk.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--config", str(self.config), "--demo", "--ready-file", str(ready)],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        assert wait_until(ready.exists, 30), self.logs()
        # the scanner has opened its port: pyserial empties the input when it opens, so a scan sent before
        # that moment would be lost (as with a real serial scanner)
        assert wait_until(lambda: self.full_log().count("scanner: connected") > opened, 20), self.logs()
        return self

    def restart_line(self) -> None:
        """A restarted kiosk reconnects to the serial line; give it a fresh far end."""
        self.line.close()
        self.line = SerialLine()
        self.sections["scanner"]["url"] = self.line.url
        write_config(self.config, self.sections)

    def full_log(self) -> str:
        return (self.tmp / "kiosk.log").read_text(errors="replace")

    def logs(self) -> str:
        return self.full_log()[-3000:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def close(self) -> None:
        self.stop()
        self.line.close()
        self.camera.close()
        self.printer.close()

    def db(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"file:{self.data / 'kiosk.sqlite'}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def rows(self, sql: str, *args) -> list[dict]:
        with self.db() as db:
            return [dict(r) for r in db.execute(sql, args)]

    def scan_and_pay(self, code: str) -> None:
        carts = self.full_log().count(", 3 items")
        self.line.send(WATER.encode() + b"\r")
        self.line.send(b"\xff\xfe garbage \x00\r")
        self.line.send(COLA.encode() + b"\r" + WATER.encode() + b"\r")
        # the UI loop takes the scans before the phone comes up
        assert wait_until(lambda: self.full_log().count(", 3 items") > carts, 20), self.logs()
        self.camera.show(qr_image(code))


def assert_head_office_stores_each_once(k: KioskProcess, hq: Subscriber) -> None:
    """Every message the kiosk wrote reached head office; any repeat is the same message resent, same id.

    A kill between the broker's PUBACK and the outbox marking a row sent makes the restarted kiosk send that row
    again (QoS 1 is at least once, and paho keeps its session only in memory): HQ stores by `id`, once.
    """
    assert wait_until(lambda: not k.rows("SELECT id FROM outbox WHERE sent_at IS NULL"), 15)
    seen: dict[str, bytes] = {}
    for topic, payload, _ in list(hq.messages):
        if topic.rsplit("/", 1)[1] in ("orders", "receipts", "payments", "refunds", "events", "cmd-result"):
            msg_id = json.loads(payload)["id"]
            assert seen.setdefault(msg_id, payload) == payload, f"{msg_id} arrived with two different bodies"
    written = {r["id"] for r in k.rows("SELECT id FROM outbox")}
    assert written <= set(seen), f"never arrived: {written - set(seen)}"
    assert len({m["data"]["order_no"] for m in hq.payloads("orders")}) == len(k.rows("SELECT 1 FROM orders"))


@pytest.fixture
def kiosk_factory(tmp_path):
    made = []

    def make(mqtt_port, **overrides):
        k = KioskProcess(tmp_path, mqtt_port, **overrides)
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()


def test_scan_pay_print_report(kiosk_factory, broker):
    hq = Subscriber(broker.port)
    k = kiosk_factory(broker.port).start()
    try:
        assert wait_until(lambda: hq.states() == ["online"], 15), k.logs()
        k.scan_and_pay("281234567890123451")
        assert wait_until(lambda: hq.payloads("orders"), 20), k.logs()
        [msg] = hq.payloads("orders")
        order = msg["data"]
        assert msg["id"].startswith("s1:k1:") and msg["id"].endswith(f":orders:{order['order_no']}")
        assert msg["store"] == "s1" and msg["kiosk"] == "k1"
        assert [(ln["barcode"], ln["qty"]) for ln in order["lines"]] == [(WATER, 2), (COLA, 1)]
        assert order["total"] == 2 * 200 + 350 and order["currency"] == "CNY"
        assert order["payment"]["state"] == "PAID" and order["payment"]["masked_code"] == "2812********3451"
        # SQLite: the order, its lines, the payment, no whole code anywhere
        [row] = k.rows("SELECT * FROM orders")
        assert row["order_no"] == order["order_no"] and row["total"] == 750
        assert wait_until(lambda: k.rows("SELECT receipt_printed FROM orders")[0]["receipt_printed"] == 1, 10)
        dump = "\n".join(k.db().iterdump())
        assert "281234567890123451" not in dump
        assert "281234567890123451" not in k.logs()
        # the printer got init, raster, the order number as CODE128 and QR, and a cut
        assert wait_until(lambda: k.printer.jobs, 10)
        job = k.printer.jobs[-1]
        assert job.startswith(b"\x1b@") and b"\x1dv0" in job and code128(order["order_no"]) in job and b"\x1d(k" in job
        assert job.endswith(b"\x1dV\x00")
        # MQTT: the payment's states, in seq order
        states = [p["data"]["state"] for p in hq.payloads("payments")]
        assert states == ["SUBMITTING", "PAID"]
        seqs = [
            json.loads(p)["seq"]
            for t, p, _ in hq.messages
            if "/status" not in t and "/birth" not in t and "/telemetry" not in t
        ]
        assert seqs == sorted(seqs)
        assert hq.invalid() == []  # every message as protocol/mqtt-v1.1.schema.json describes it
    finally:
        hq.close()


def test_outbox_survives_sigkill_while_the_broker_is_down(kiosk_factory, tmp_path):
    port = free_port()
    k = kiosk_factory(port).start()  # no broker yet
    k.scan_and_pay("281234567890123452")
    assert wait_until(lambda: k.rows("SELECT * FROM orders"), 20), k.logs()
    assert wait_until(lambda: k.rows("SELECT receipt_printed FROM orders")[0]["receipt_printed"] == 1, 10)
    pending = k.rows("SELECT id FROM outbox WHERE sent_at IS NULL")
    assert len(pending) >= 3  # SUBMITTING, PAID, the order
    k.kill()

    broker = Mosquitto(tmp_path, port).start()
    hq = Subscriber(port)
    try:
        k.restart_line()
        k.start()
        assert wait_until(lambda: len(hq.payloads("orders")) >= 1, 20), k.logs()
        assert wait_until(lambda: not k.rows("SELECT id FROM outbox WHERE sent_at IS NULL"), 10)
        time.sleep(1.0)  # anything doubled would arrive by now
        ids = [m["id"] for t in ("orders", "payments", "receipts") for m in hq.payloads(t)]
        assert len(ids) == len(set(ids)), "a message id arrived twice"
        assert {p["id"] for p in pending} <= set(ids) | {m["id"] for m in hq.payloads("events")}
        assert len(hq.payloads("orders")) == 1
    finally:
        hq.close()
        k.stop()
        broker.stop()


@pytest.mark.parametrize(
    ("code", "sandbox", "state_to_kill_in", "final"),
    [
        # killed while the shopper confirms on the phone; the phone confirms while the kiosk is down
        ("281234567890123457", {"user_paying_s": 2.0}, "USER_PAYING", "PAID"),
        # killed while the gateway has not answered: nothing was charged, the trade is closed
        ("281234567890123459", {}, "SUBMITTING", "CANCELLED"),
        # killed before the request reached the acquirer (it is held 20 s on the way): nothing there to find
        ("281234567890123451", {"latency_ms": 20000}, "SUBMITTING", "CANCELLED"),
    ],
)
def test_sigkill_mid_payment_is_recovered(kiosk_factory, broker, code, sandbox, state_to_kill_in, final):
    hq = Subscriber(broker.port)
    k = kiosk_factory(
        broker.port,
        sandbox=sandbox,
        payment={"request_timeout_s": 30, "poll_interval_s": 0.3, "recovery_interval_s": 1},
    ).start()
    try:
        k.scan_and_pay(code)
        assert wait_until(
            lambda: [p["state"] for p in k.rows("SELECT state FROM payments")] == [state_to_kill_in], 20
        ), k.logs()
        k.kill()
        time.sleep(2.5)
        k.sections["sandbox"] = {**k.sections["sandbox"], "latency_ms": 50}  # the network is quick again
        k.restart_line()
        k.start()
        assert wait_until(lambda: [p["state"] for p in k.rows("SELECT state FROM payments")] == [final], 20), k.logs()
        [payment] = k.rows("SELECT * FROM payments")
        assert payment["recovered"] == 1
        orders = k.rows("SELECT * FROM orders")
        assert len(orders) == (1 if final == "PAID" else 0)
        if final == "PAID":
            assert wait_until(lambda: len(hq.payloads("orders")) == 1, 15)
            assert hq.payloads("orders")[0]["data"]["payment"]["state"] == "PAID"
            # the shopper may have gone: the receipt waits for an attendant's reprint
            assert k.rows("SELECT receipt_printed FROM orders")[0]["receipt_printed"] == 0
            assert k.printer.jobs == []
        assert wait_until(lambda: final in [p["data"]["state"] for p in hq.payloads("payments")], 15)
        assert_head_office_stores_each_once(k, hq)
    finally:
        hq.close()


def test_printer_out_of_paper_the_order_still_completes_and_head_office_is_told(kiosk_factory, broker):
    hq = Subscriber(broker.port)
    k = kiosk_factory(broker.port)
    k.printer.paper_out = True
    k.start()
    try:
        k.scan_and_pay("281234567890123453")
        assert wait_until(lambda: hq.payloads("orders") and hq.payloads("events"), 20), k.logs()
        order_no = hq.payloads("orders")[0]["data"]["order_no"]
        [event] = [e["data"] for e in hq.payloads("events") if e["data"]["kind"] == "printer_paper_out"]
        assert event["order_no"] == order_no and "paper out" in event["message"]
        assert k.rows("SELECT receipt_printed FROM orders") == [{"receipt_printed": 0}]
        assert k.printer.jobs and all(b"\x1dv0" not in job for job in k.printer.jobs)  # nothing but status queries
        assert [p["data"]["state"] for p in hq.payloads("payments")] == ["SUBMITTING", "PAID"]
    finally:
        hq.close()


def test_receipt_to_png_command(kiosk_factory, broker, tmp_path):
    from PIL import Image

    k = kiosk_factory(broker.port).start()
    k.scan_and_pay("281234567890123454")
    assert wait_until(lambda: k.rows("SELECT order_no FROM orders"), 20), k.logs()
    order_no = k.rows("SELECT order_no FROM orders")[0]["order_no"]
    k.stop()
    out = tmp_path / "r.png"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.receipts",
            "order",
            order_no,
            "--config",
            str(k.config),
            "--out",
            str(out),
            "--width",
            "58",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert Image.open(out).width == 384
    missing = subprocess.run(
        [sys.executable, "-m", "kiosk.receipts", "order", "NOPE", "--config", str(k.config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert missing.returncode == 1 and "no order NOPE" in missing.stderr
    z = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.receipts",
            "zreport",
            "--config",
            str(k.config),
            "--out",
            str(tmp_path / "z.png"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert z.returncode == 0 and (tmp_path / "z.png").exists()


@pytest.fixture
def alipay_kiosk(kiosk_factory, broker, tmp_path):
    """A kiosk process paying through a local fake Alipay over HTTP; yields (kiosk, fake, head office)."""
    import tomllib

    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.fake_alipay import FakeAlipay
    from tests.test_alipay import alipay_config

    keys = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    fake = FakeAlipay(keys[0].public_key(), keys[1], buyer_pays_after=10_000, slow_s=8)
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    alipay = tomllib.loads(alipay_config(key_dir, keys, url=fake.url).read_text())["alipay"]
    hq = Subscriber(broker.port)
    k = kiosk_factory(
        broker.port,
        payment={
            "gateway": "alipay",
            "request_timeout_s": 5,
            "poll_interval_s": 0.3,
            "paying_limit_s": 2,
            "recovery_interval_s": 1,
        },
        alipay=alipay,
    )
    yield k, fake, hq
    hq.close()
    fake.close()
    assert fake.violations == []


def payment_states(k):
    return [p["state"] for p in k.rows("SELECT state FROM payments")]


def test_sigkill_while_confirming_on_the_phone_with_alipay(alipay_kiosk):
    """Alipay's real protocol over HTTP: killed mid-wait, the shopper confirms meanwhile; recovery finds it paid."""
    k, fake, hq = alipay_kiosk
    k.sections["payment"]["paying_limit_s"] = 60
    write_config(k.config, k.sections)
    k.start()
    k.scan_and_pay("281234567890123457")
    assert wait_until(lambda: payment_states(k) == ["USER_PAYING"], 20), k.logs()
    k.kill()
    [trade] = fake.trades.values()
    trade.status = "TRADE_SUCCESS"  # the shopper typed the password while the kiosk was down
    k.restart_line()
    k.start()
    assert wait_until(lambda: payment_states(k) == ["PAID"], 20), k.logs()
    assert wait_until(lambda: len(hq.payloads("orders")) == 1, 15)
    order = hq.payloads("orders")[0]["data"]
    assert order["payment"]["gateway"] == "alipay" and order["payment"]["trade_id"] == trade.trade_no
    assert fake.methods().count("alipay.trade.pay") == 1  # charged once
    assert "alipay.trade.cancel" not in fake.methods()


def test_sigkill_during_cancel_with_alipay(alipay_kiosk):
    """The buyer never confirms; the kiosk is killed while Alipay is slow to answer the cancel."""
    k, fake, hq = alipay_kiosk
    fake.fault("alipay.trade.cancel", "slow")
    k.start()
    k.scan_and_pay("281234567890123457")
    assert wait_until(lambda: payment_states(k) == ["CANCELLING"], 20), k.logs()
    assert wait_until(lambda: "alipay.trade.cancel" in fake.methods(), 5)
    k.kill()
    k.restart_line()
    k.start()
    assert wait_until(lambda: payment_states(k) == ["CANCELLED"], 20), k.logs()
    [trade] = fake.trades.values()
    assert trade.status == "TRADE_CLOSED" and not trade.refunded
    assert k.rows("SELECT count(*) AS n FROM orders") == [{"n": 0}]
    assert wait_until(lambda: "CANCELLED" in [p["data"]["state"] for p in hq.payloads("payments")], 15)
    assert_head_office_stores_each_once(k, hq)
