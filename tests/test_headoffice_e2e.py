"""Head office and a kiosk as real processes over a real mosquitto: orders arrive once and are acknowledged only
after they are committed, through head office being SIGKILLed; commands reach a kiosk that was offline."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from headoffice import queries
from headoffice.db import commands, make_engine, messages, orders
from tests.conftest import REPO, write_config
from tests.loopback import Mosquitto, Subscriber, free_port, wait_until
from tests.test_e2e import KioskProcess


class HeadOfficeProcess:
    def __init__(self, tmp: Path, port: int, key_file: Path, db_url: str) -> None:
        self.tmp = tmp
        self.config = write_config(
            tmp / "hq.toml",
            {
                "database": {"url": db_url},
                "mqtt": {"port": port, "client_id": "hq-test"},
                "ingest": {"gap_wait_s": 2.0},
                "commands": {"private_key_file": str(key_file), "answer_timeout_s": 30.0},
                "http": {"port": free_port()},
            },
        )
        self.engine = make_engine(db_url)
        self.proc: subprocess.Popen | None = None

    def start(self) -> HeadOfficeProcess:
        self.log = open(self.tmp / "hq.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "headoffice", "--config", str(self.config)],
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        assert wait_until(lambda: "head office connected" in self.logs(), 30), self.logs()
        return self

    def logs(self) -> str:
        return (self.tmp / "hq.log").read_text(errors="replace")[-3000:]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "headoffice", "--config", str(self.config), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)

    def count(self, table) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def fleet(tmp_path):
    port = free_port()
    broker = Mosquitto(tmp_path, port).start()
    key = tmp_path / "hq"
    subprocess.run([sys.executable, "-m", "headoffice", "keygen", str(key)], cwd=REPO, check=True, capture_output=True)
    hq = HeadOfficeProcess(tmp_path, port, Path(str(key) + ".key"), f"sqlite:///{tmp_path / 'hq.sqlite'}")
    kiosk_dir = tmp_path / "kiosk"
    kiosk_dir.mkdir()
    k = KioskProcess(kiosk_dir, port, mqtt={"hq_public_key_file": str(key) + ".pub"})
    yield hq, k, broker
    k.close()
    hq.stop()
    broker.stop()


def test_orders_reach_head_office_once_and_are_acknowledged_after_the_commit(fleet):
    hq, k, broker = fleet
    hq.start()
    k.start()
    assert wait_until(lambda: queries.fleet(hq.engine) and queries.fleet(hq.engine)[0]["state"] == "online", 20)
    k.scan_and_pay("281234567890123451")
    assert wait_until(lambda: hq.count(orders) == 1, 20), hq.logs()
    [order_no] = [r["order_no"] for r in k.rows("SELECT order_no FROM orders")]
    # head office acknowledged (signed): the kiosk marks the order's message delivered
    assert wait_until(lambda: k.rows("SELECT acked_at FROM outbox WHERE topic='orders'")[0]["acked_at"], 15), k.logs()
    # head office writes down that it acknowledged with its next transaction (within a second when quiet)
    assert wait_until(lambda: queries.order(hq.engine, order_no)[0]["acked_at"], 10)
    [found] = queries.order(hq.engine, order_no)
    assert [t["what"] for t in found["timeline"]][:4] == ["created", "paid", "stored", "acknowledged"]
    assert wait_until(lambda: queries.order(hq.engine, order_no)[0]["receipt"] == "printed", 10)

    # head office is killed; the kiosk sells meanwhile; the broker keeps head office's session
    hq.kill()
    k.scan_and_pay("281234567890123452")
    assert wait_until(lambda: len(k.rows("SELECT 1 FROM orders")) == 2, 20), k.logs()
    assert wait_until(lambda: not k.rows("SELECT 1 FROM outbox WHERE sent_at IS NULL"), 10)
    unacked = k.rows("SELECT id FROM outbox WHERE acked_at IS NULL AND topic='orders'")
    assert len(unacked) == 1  # nobody stored it yet: nobody acknowledged it
    hq.start()
    assert wait_until(lambda: hq.count(orders) == 2, 20), hq.logs()
    assert wait_until(lambda: not k.rows("SELECT 1 FROM outbox WHERE acked_at IS NULL AND topic != 'status'"), 20)
    with hq.engine.connect() as c:
        ids = [r[0] for r in c.execute(select(messages.c.id))]
    assert len(ids) == len(set(ids))
    written = {r["id"] for r in k.rows("SELECT id FROM outbox")}
    assert written <= set(ids), f"never stored: {written - set(ids)}"


def test_a_command_reaches_a_kiosk_that_was_offline_and_its_result_is_tracked(fleet):
    hq, k, broker = fleet
    hq.start()
    k.start()
    assert wait_until(lambda: queries.fleet(hq.engine) and queries.fleet(hq.engine)[0]["state"] == "online", 20)
    run = hq.cli("cmd", "s1/k1", "report", '{"date": "2026-11-24"}')
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["result"]["orders"] == 0
    k.stop()  # a clean stop: status offline
    assert wait_until(lambda: queries.fleet(hq.engine)[0]["state"] == "offline", 15)
    run = hq.cli("cmd", "s1/k1", "lock", '{"reason": "till audit"}', "--wait", "0")
    assert run.returncode == 0, run.stderr
    k.restart_line()
    k.start()  # its persistent session hands it the lock it missed
    assert wait_until(lambda: queries.fleet(hq.engine)[0]["state"] == "locked", 20), k.logs()
    with hq.engine.connect() as c:
        lock = c.execute(select(commands).where(commands.c.name == "lock")).one()
    assert lock.state == "answered" and lock.ok is True
    assert "kiosk_locked" in [a["kind"] for a in queries.alerts(hq.engine)]
    k.stop()
    k.restart_line()
    k.start()  # the lock survives a restart
    assert wait_until(lambda: "locked by head office" in k.full_log(), 20)
    run = hq.cli("cmd", "s1/k1", "unlock")
    assert run.returncode == 0, run.stdout + run.stderr
    assert wait_until(lambda: queries.fleet(hq.engine)[0]["state"] == "online", 20)
    assert "kiosk_locked" not in [a["kind"] for a in queries.alerts(hq.engine)]


def test_a_replayed_message_is_stored_once_and_a_forged_one_is_a_conflict(fleet):
    hq, k, broker = fleet
    hq.start()
    k.start()
    k.scan_and_pay("281234567890123451")
    assert wait_until(lambda: hq.count(orders) == 1, 20), hq.logs()
    [row] = k.rows("SELECT payload FROM outbox WHERE topic='orders'")
    spy = Subscriber(broker.port)
    try:
        spy.client.publish("kiosk/v1/s1/k1/orders", row["payload"], qos=1).wait_for_publish()  # replayed
        forged = json.loads(row["payload"])
        forged["data"]["total"] = 1
        spy.client.publish("kiosk/v1/s1/k1/orders", json.dumps(forged), qos=1).wait_for_publish()
        assert wait_until(lambda: [a for a in queries.alerts(hq.engine) if a["kind"] == "conflict"], 10)
    finally:
        spy.close()
    assert hq.count(orders) == 1 and queries.order(hq.engine, forged["data"]["order_no"])[0]["total"] != 1


def test_make_demo_shows_orders_flowing_from_three_kiosks_and_its_console(tmp_path):
    import re

    import requests

    out = tmp_path / "demo.out"
    with out.open("w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headoffice.demo", "--seconds", "25", "--dir", str(tmp_path / "demo")],
            cwd=REPO,
            stdout=f,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        assert wait_until(lambda: "the console: http" in out.read_text(), 60), out.read_text()[-2000:]
        url, password = re.search(r"the console: (http://\S+)/ \(user demo, password (\S+)\)", out.read_text()).groups()
        s = requests.Session()

        def up() -> bool:
            try:
                return s.get(f"{url}/health", timeout=2).ok
            except requests.ConnectionError:
                return False

        assert wait_until(up, 30), out.read_text()[-2000:]
        token = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{url}/login", timeout=10).text).group(1)
        s.post(f"{url}/login", data={"csrf": token, "name": "demo", "password": password}, timeout=10)
        assert wait_until(lambda: 'data-kiosk="demo-store/kiosk-03"' in s.get(f"{url}/fleet", timeout=10).text, 30)
        assert proc.wait(120) == 0, out.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.terminate()  # the demo stops its broker, head office and kiosks itself
            proc.wait(60)
    last = [ln for ln in out.read_text().splitlines() if ln.startswith("[head office]")][-1]
    parts = last.removeprefix("[head office] ").split("  ")
    counts = {part.split(":")[0]: int(part.split(",")[1].split()[0]) for part in parts}
    assert set(counts) == {"kiosk-01", "kiosk-02", "kiosk-03"} and all(n >= 1 for n in counts.values()), last


def test_two_workers_on_a_shared_subscription_split_the_messages_and_store_each_once(tmp_path, broker):
    """Two head-office workers (MQTT 5 shared subscription, one database): every message stored once, both work."""
    from headoffice.config import Config, replace
    from headoffice.service import Service
    from kiosk.catalog import DEMO_PRODUCTS
    from kiosk.store import Identity, Store
    from tests.factories import begin_payment

    url = f"sqlite:///{tmp_path / 'hq.sqlite'}"
    workers = [
        Service(
            replace(Config(), database={"url": url}, mqtt={"port": broker.port, "client_id": f"hq-{n}", "shared": "hq"})
        )
        for n in range(2)
    ]
    for w in workers:
        w.start()
    msgs = []
    for k in range(4):
        (tmp_path / f"k{k}").mkdir()
        store = Store(tmp_path / f"k{k}" / "kiosk.sqlite", Identity("s1", f"k{k}", "K01", "CNY"))
        store.seed_catalog(DEMO_PRODUCTS)
        for i in range(25):
            store.complete_payment(begin_payment(store, DEMO_PRODUCTS[:2]), trade_id=f"T{k}-{i}")
        msgs += [(f"kiosk/v1/s1/k{k}/{r['topic']}", r["payload"]) for r in store.pending_outbox()]
    pub = Subscriber(broker.port, "none/#")
    try:
        assert wait_until(lambda: all(w.connected.is_set() for w in workers), 10)
        for topic, payload in msgs:
            pub.client.publish(topic, payload, qos=1)
        assert wait_until(lambda: workers[0].stored + workers[1].stored >= len(msgs), 30)
        time.sleep(0.5)
    finally:
        pub.close()
        for w in workers:
            w.stop()
    assert workers[0].stored > 0 and workers[1].stored > 0  # the broker gave each a share
    assert workers[0].stored + workers[1].stored == len(msgs)  # and nothing twice
    with workers[0].engine.connect() as c:
        assert c.execute(select(func.count()).select_from(orders)).scalar_one() == 100


def test_the_broker_dies_and_comes_back_nothing_is_lost_or_doubled(fleet):
    hq, k, broker = fleet
    k.sections["mqtt"]["ack_timeout_s"] = 2.0  # what the broker lost in flight goes again soon
    write_config(k.config, k.sections)
    hq.start()
    k.start()
    k.scan_and_pay("281234567890123451")
    assert wait_until(lambda: hq.count(orders) == 1, 20), hq.logs()
    broker.stop()  # everything in flight at the broker is gone with it (no persistence in this test's broker)
    k.scan_and_pay("281234567890123452")
    assert wait_until(lambda: len(k.rows("SELECT 1 FROM orders")) == 2, 20), k.logs()
    broker.start()
    assert wait_until(lambda: hq.count(orders) == 2, 30), hq.logs()
    assert wait_until(lambda: not k.rows("SELECT 1 FROM outbox WHERE acked_at IS NULL"), 30), k.rows(
        "SELECT id, sent_at FROM outbox WHERE acked_at IS NULL"
    )
    with hq.engine.connect() as c:
        ids = [r[0] for r in c.execute(select(messages.c.id))]
    assert len(ids) == len(set(ids))
    assert {r["id"] for r in k.rows("SELECT id FROM outbox")} <= set(ids)


def test_a_kiosk_killed_around_head_office_s_ack_ends_with_everything_acknowledged_and_stored_once(fleet):
    hq, k, broker = fleet
    k.sections["mqtt"]["ack_timeout_s"] = 2.0
    write_config(k.config, k.sections)
    hq.start()
    k.start()
    k.scan_and_pay("281234567890123451")
    assert wait_until(lambda: hq.count(orders) == 1, 20), hq.logs()
    k.kill()  # the order is stored; its ack may or may not have reached the kiosk
    k.restart_line()
    k.start()  # the ack waits in its persistent session, or the message goes again and is stored once
    assert wait_until(lambda: not k.rows("SELECT 1 FROM outbox WHERE acked_at IS NULL"), 30), k.logs()
    assert hq.count(orders) == 1
    with hq.engine.connect() as c:
        ids = [r[0] for r in c.execute(select(messages.c.id))]
    assert len(ids) == len(set(ids)) and {r["id"] for r in k.rows("SELECT id FROM outbox")} <= set(ids)
