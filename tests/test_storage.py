"""A kiosk whose disk fills up or fails: it never charges what it cannot record, never loses what it charged.

The disk is real: a small tmpfs mounted for the test (CI runs as root), filled with a file until the kernel
answers ENOSPC, as an SD card that filled up with logs would.
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from kiosk.checkout import Outcome, Phase, StartPayment
from kiosk.config import Config, replace
from kiosk.runtime.wiring import Runtime
from tests.conftest import kiosk_cli, write_config
from tests.loopback import Subscriber, wait_until

CODE = "281234567890123451"


@pytest.fixture
def small_disk(tmp_path):
    assert os.geteuid() == 0, "this test mounts a small tmpfs: run it as root (CI does)"
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk) -> None:
    """Write a file until the disk is full (unbuffered: a buffered file would try again, and fail, on close)."""
    with (disk / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    assert os.statvfs(disk).f_bavail == 0


def pump_until(k, predicate, timeout=20.0) -> bool:
    """Run the UI thread's side (pump) until `predicate` holds."""
    return wait_until(lambda: (k.controller.pump(), predicate())[1], timeout)


def test_disk_full_after_the_charge_paid_please_wait_then_recovered(tmp_path, small_disk, broker):
    cfg = replace(
        Config(),
        kiosk={"data_dir": str(small_disk), "min_free_mb": 2},
        # the acquirer's memory is the acquirer's: not on the kiosk's disk
        sandbox={"latency_ms": 1500, "state_file": str(tmp_path / "acquirer.sqlite")},
        mqtt={"port": broker.port, "retry_s": 0.2},
        payment={"recovery_interval_s": 1.0},
        gpio={"pin_factory": "mock"},
        camera={"type": "none"},
        scanner={"type": "none"},
        printer={"type": "none"},
    )
    k = Runtime(cfg)
    k.start()
    hq = Subscriber(broker.port)
    co = k.checkout
    try:
        assert wait_until(lambda: hq.states()[-1:] == ["online"], 20), (
            hq.states(),
            k.mqtt.connected.is_set(),
            hq.client.is_connected(),
        )
        k.store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # what comes next needs new blocks
        k.controller.run_effects(co.scan("6901234000016", k.clock()))
        effects = co.scan(CODE, k.clock())
        assert any(isinstance(e, StartPayment) for e in effects)
        k.controller.run_effects(effects)
        db = k.store.conn()
        assert wait_until(lambda: db.execute("SELECT count(*) FROM payments").fetchone()[0] == 1, 5)
        fill(small_disk)  # while the acquirer takes the money

        assert pump_until(k, lambda: co.phase is Phase.RESULT)
        assert co.outcome is Outcome.PAID and co.order_no is None and co.notice.key == "paid_not_recorded"
        assert co.out_of_service and k.controller.light_state() == "fault"
        [otn] = [r[0] for r in db.execute("SELECT out_trade_no FROM payments")]
        assert k.gateway.query(otn).status.value == "paid"  # charged...
        assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 0  # ...not recorded yet, not lost

        co.tap_start_over(k.clock())  # the next shopper
        assert co.scan("6901234000023", k.clock())[0].kind == "error" and co.notice.key == "out_of_service"
        assert not [e for e in co.scan("281234567890123452", k.clock()) if isinstance(e, StartPayment)]
        assert wait_until(lambda: "locked" in hq.states(), 10)  # head office hears at once
        assert wait_until(lambda: any(m["data"]["kind"] == "out_of_service" for m in hq.payloads("events")), 10)

        (small_disk / "filler").unlink()  # space again: recovery records the order, the kiosk sells again
        assert pump_until(k, lambda: db.execute("SELECT count(*) FROM orders").fetchone()[0] == 1, 30)
        assert pump_until(k, lambda: not co.out_of_service, 10)
        order = k.store.find_order(k.store.last_order_no())
        assert order.out_trade_no == otn and order.payment.recovered
        assert wait_until(lambda: hq.states()[-1:] == ["online"], 10)
        assert wait_until(lambda: [m for m in hq.payloads("orders") if m["data"]["order_no"] == order.order_no], 10)
        assert k.gateway.query(otn).status.value == "paid"  # one charge, one order
    finally:
        hq.close()
        k.stop()


def test_a_full_disk_takes_no_payment_at_all(tmp_path, small_disk):
    cfg = replace(
        Config(),
        kiosk={"data_dir": str(small_disk), "min_free_mb": 2},
        sandbox={"latency_ms": 0, "state_file": str(tmp_path / "acquirer.sqlite")},
        mqtt={"enabled": False},
        gpio={"enabled": False},
        camera={"type": "none"},
        scanner={"type": "none"},
        printer={"type": "none"},
    )
    k = Runtime(cfg)
    try:
        fill(small_disk)
        co = k.checkout
        co.scan("6901234000016", k.clock())
        [start] = [e for e in co.scan(CODE, k.clock()) if isinstance(e, StartPayment)]
        r = k.driver.pay(start, language="en", subject="t")
        assert r.reason == "OUT_OF_SERVICE" and r.out_trade_no == ""
        assert k.gateway.query("anything").status.value == "not_found"
        sandbox = k.gateway._db().execute("SELECT count(*) FROM trades").fetchone()[0]
        assert sandbox == 0  # nothing was sent
    finally:
        k.stop()


def test_starting_on_a_full_or_read_only_disk_is_one_clear_line(tmp_path, small_disk):
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(small_disk / "data"), "min_free_mb": 2}})
    assert kiosk_cli("--config", str(cfg), "--seed").returncode == 0
    fill(small_disk)
    run = kiosk_cli("--config", str(cfg))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("cannot start: ") and len(run.stderr.strip().splitlines()) == 1
    assert "the disk is full" in run.stderr or "only 0 MB free" in run.stderr
    (small_disk / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    run = kiosk_cli("--config", str(cfg))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("cannot start: ") and len(run.stderr.strip().splitlines()) == 1
    assert "read-only" in run.stderr
