"""Issue 10, end to end: head office and a kiosk as real processes over a real mosquitto.  A new kiosk that sells
only head office's catalog is "not ready" until one arrives; the catalog imported and published at head office
reaches it, head office sees which version it runs, and a new version changes the price of the next cart only."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hardware.camera import qr_image
from headoffice import queries
from tests.conftest import REPO, write_config
from tests.loopback import Mosquitto, free_port, wait_until
from tests.test_e2e import COLA, WATER, KioskProcess
from tests.test_headoffice_e2e import HeadOfficeProcess

HEADER = "sku,barcodes,name_zh,name_en,tax_class,price\n"


def catalog_file(tmp: Path, water: int) -> Path:
    path = tmp / f"catalog-{water}.csv"
    path.write_text(
        HEADER
        + f"P001,{WATER},矿泉水 550ml,Mineral water,standard,{water}\nP002,{COLA},可乐 330ml,Cola,standard,330\n",
        encoding="utf-8",
    )
    return path


def test_a_published_catalog_reaches_a_running_kiosk_and_prices_the_next_cart_only(tmp_path):
    port = free_port()
    broker = Mosquitto(tmp_path, port).start()
    key = tmp_path / "hq"
    subprocess.run([sys.executable, "-m", "headoffice", "keygen", str(key)], cwd=REPO, check=True, capture_output=True)
    hq = HeadOfficeProcess(tmp_path, port, Path(f"{key}.key"), f"sqlite:///{tmp_path / 'hq.sqlite'}")
    write_config(
        hq.config,
        {
            "database": {"url": f"sqlite:///{tmp_path / 'hq.sqlite'}"},
            "mqtt": {"port": port, "client_id": "hq-test"},
            "commands": {"private_key_file": f"{key}.key", "answer_timeout_s": 30.0, "catalog_check_s": 1.0},
        },
    )
    kiosk_dir = tmp_path / "kiosk"
    kiosk_dir.mkdir()
    k = KioskProcess(kiosk_dir, port, kiosk={"catalog": "headoffice"}, mqtt={"hq_public_key_file": f"{key}.pub"})
    try:
        hq.start()
        k.start()
        assert wait_until(lambda: queries.fleet(hq.engine) and queries.fleet(hq.engine)[0]["state"] != "unknown", 20)
        assert "not ready: no catalog from head office yet" in k.full_log()

        def publish(water: int) -> str:
            assert hq.cli("catalog", "import", str(catalog_file(tmp_path, water))).returncode == 0
            run = hq.cli("catalog", "publish")
            assert run.returncode == 0, run.stderr
            return re.search(r"s1: catalog (\S+)", run.stdout).group(1)

        first = publish(180)
        # head office sends it (within catalog_check_s), the kiosk loads it and, nobody shopping, sells from it
        assert wait_until(lambda: queries.fleet(hq.engine)[0]["catalog_version"] == first, 30), k.logs()
        assert wait_until(lambda: queries.fleet(hq.engine)[0]["state"] == "online", 20)  # in service now
        k.scan_and_pay("281234567890123451")
        assert wait_until(lambda: len(k.rows("SELECT 1 FROM orders")) == 1, 20), k.logs()

        # a shopper is scanning when the next version arrives: their cart keeps the price it was scanned at
        k.line.send(WATER.encode() + b"\r")
        assert wait_until(lambda: "P001 added, 1 items" in k.full_log(), 20), k.logs()
        second = publish(150)
        assert wait_until(lambda: f"catalog {second} loaded" in k.full_log(), 30), k.logs()
        k.line.send(WATER.encode() + b"\r")
        assert wait_until(lambda: "P001 added, 2 items" in k.full_log(), 20), k.logs()
        k.camera.show(qr_image("281234567890123452"))
        assert wait_until(lambda: len(k.rows("SELECT 1 FROM orders")) == 2, 20), k.logs()
        k.camera.show(None)
        k.scan_and_pay("281234567890123453")  # the next shopper
        assert wait_until(lambda: len(k.rows("SELECT 1 FROM orders")) == 3, 20), k.logs()

        def water_prices(n: int) -> set[int]:
            [order] = k.rows("SELECT order_no FROM orders ORDER BY paid_at LIMIT 1 OFFSET ?", n)
            rows = k.rows("SELECT unit_price FROM order_lines WHERE order_no=? AND sku='P001'", order["order_no"])
            return {r["unit_price"] for r in rows}

        assert [water_prices(n) for n in range(3)] == [{180}, {180}, {150}]
        assert wait_until(lambda: queries.fleet(hq.engine)[0]["catalog_version"] == second, 20)
        numbers = [r["order_no"] for r in k.rows("SELECT order_no FROM orders ORDER BY paid_at")]
        assert wait_until(lambda: all(queries.order(hq.engine, n) for n in numbers), 20), hq.logs()
        assert [queries.order(hq.engine, n)[0]["catalog_version"] for n in numbers] == [first, first, second]
    finally:
        k.close()
        hq.stop()
        broker.stop()
