"""Issue 10, end to end: head office and a kiosk as real processes over a real mosquitto.  A new kiosk that sells
only head office's catalog is "not ready" until one arrives; the catalog imported and published at head office
reaches it, head office sees which version it runs, and a new version changes the price of the next cart only.
Head office killed again and again while a kiosk sells ends with the true stock."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from pathlib import Path

from hardware.camera import qr_image
from headoffice import queries, stock
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


class Fleet:
    """A mosquitto, head office (its key pair, `hq_commands` in its [commands]) and one kiosk process (`kiosk`
    overriding its [kiosk]), all on loopback; `close()` stops them."""

    def __init__(
        self,
        tmp_path: Path,
        kiosk: dict | None = None,
        hq_commands: dict | None = None,
        hq_sections: dict | None = None,
        kiosk_knows_hq_url: bool = False,
    ) -> None:
        port = free_port()
        self.http_port = free_port()
        self.broker = Mosquitto(tmp_path, port).start()
        key = tmp_path / "hq"
        run = [sys.executable, "-m", "headoffice", "keygen", str(key)]
        subprocess.run(run, cwd=REPO, check=True, capture_output=True)
        self.hq = HeadOfficeProcess(tmp_path, port, Path(f"{key}.key"), f"sqlite:///{tmp_path / 'hq.sqlite'}")
        if hq_commands or hq_sections:
            write_config(
                self.hq.config,
                {
                    "database": {"url": f"sqlite:///{tmp_path / 'hq.sqlite'}"},
                    "mqtt": {"port": port, "client_id": "hq-test"},
                    "commands": {"private_key_file": f"{key}.key", "answer_timeout_s": 30.0, **(hq_commands or {})},
                    "http": {"port": self.http_port},
                    **(hq_sections or {}),
                },
            )
        (tmp_path / "kiosk").mkdir()
        self.kiosk = KioskProcess(
            tmp_path / "kiosk",
            port,
            kiosk=kiosk or {},
            mqtt={
                "hq_public_key_file": f"{key}.pub",
                **({"hq_url": f"http://127.0.0.1:{self.http_port}"} if kiosk_knows_hq_url else {}),
            },
        )

    def close(self) -> None:
        self.kiosk.close()
        self.hq.stop()
        self.broker.stop()


def test_a_published_catalog_reaches_a_running_kiosk_and_prices_the_next_cart_only(tmp_path):
    fleet = Fleet(tmp_path, kiosk={"catalog": "headoffice"}, hq_commands={"catalog_check_s": 1.0})
    hq, k = fleet.hq, fleet.kiosk
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
        fleet.close()


def test_a_catalog_too_big_for_a_command_is_downloaded_by_the_kiosk_from_head_offices_http_api(tmp_path):
    fleet = Fleet(
        tmp_path, kiosk={"catalog": "headoffice"}, hq_commands={"catalog_check_s": 1.0, "catalog_inline_max": 0}
    )
    hq, k = fleet.hq, fleet.kiosk
    try:
        hq.start()
        k.start()
        assert wait_until(lambda: queries.fleet(hq.engine) and queries.fleet(hq.engine)[0]["state"] != "unknown", 20)
        assert hq.cli("catalog", "import", str(catalog_file(tmp_path, 180))).returncode == 0
        run = hq.cli("catalog", "publish")
        version = re.search(r"s1: catalog (\S+)", run.stdout).group(1)
        assert wait_until(lambda: queries.fleet(hq.engine)[0]["catalog_version"] == version, 30), k.logs()
        assert re.search(r"catalog \d+: downloading \d+ bytes from head office", k.full_log())
        k.scan_and_pay("281234567890123451")
        assert wait_until(lambda: len(k.rows("SELECT 1 FROM orders")) == 1, 20), k.logs()
        assert sorted(r["unit_price"] for r in k.rows("SELECT unit_price FROM order_lines")) == [180, 330]
    finally:
        fleet.close()


def test_product_pictures_go_from_head_offices_folder_to_the_kiosks_disk_checked(tmp_path):
    """Issue 13: head office makes the pictures at publish and serves them; the kiosk fetches them after loading
    the catalog and keeps them by hash (tests/test_pictures.py draws them)."""
    from headoffice import pictures
    from tests.test_pictures import photo

    shelf = tmp_path / "shelf"
    photo(shelf / "water.jpg")
    fleet = Fleet(
        tmp_path,
        kiosk={"catalog": "headoffice"},
        hq_commands={"catalog_check_s": 1.0},
        hq_sections={"catalog": {"pictures_dir": str(shelf)}},
        kiosk_knows_hq_url=True,
    )
    hq, k = fleet.hq, fleet.kiosk
    try:
        hq.start()
        k.start()
        assert wait_until(lambda: queries.fleet(hq.engine) and queries.fleet(hq.engine)[0]["state"] != "unknown", 20)
        path = tmp_path / "with-pictures.csv"
        path.write_text(
            "sku,barcodes,name_zh,name_en,tax_class,price,image\n"
            f"P001,{WATER},矿泉水 550ml,Mineral water,standard,200,water.jpg\n"
            f"P002,{COLA},可乐 330ml,Cola,standard,330,cola.jpg\n",
            encoding="utf-8",
        )
        assert hq.cli("catalog", "import", str(path)).returncode == 0
        run = hq.cli("catalog", "publish")
        assert run.returncode == 0 and "no picture: cola.jpg (P002): no such file" in run.stderr, run.stderr
        version = re.search(r"s1: catalog (\S+)", run.stdout).group(1)
        assert wait_until(lambda: queries.fleet(hq.engine)[0]["catalog_version"] == version, 30), k.logs()
        water = pictures.published(hq.engine)["water.jpg"]
        kept = k.data / "pictures" / water.sha256
        assert wait_until(kept.exists, 20), k.logs()
        assert kept.read_bytes() == pictures.data(hq.engine, water.sha256)[0]
        assert sorted(p.name for p in kept.parent.iterdir()) == [water.sha256]
        assert "product pictures: 1 fetched, 0 not" in k.full_log()
    finally:
        fleet.close()


def test_stock_after_head_office_is_killed_and_given_its_messages_again_is_the_true_count(tmp_path):
    fleet = Fleet(tmp_path)
    hq, k = fleet.hq, fleet.kiosk
    counts = tmp_path / "count.csv"
    counts.write_text("store,sku,qty\ns1,P001,50\ns1,P002,50\n")
    rng = random.Random(7)
    try:
        hq.start()
        assert hq.cli("stock", "count", str(counts)).returncode == 0
        k.start()
        for n in range(4):  # each sale: two waters and a cola; head office killed at some moment around it
            k.scan_and_pay(f"28123456789012346{n}")
            time.sleep(rng.random() * 0.8)
            hq.kill()
            assert wait_until(lambda n=n: len(k.rows("SELECT 1 FROM orders")) == n + 1, 20), k.logs()
            hq.start()
        numbers = [r["order_no"] for r in k.rows("SELECT order_no FROM orders")]
        assert wait_until(lambda: all(queries.order(hq.engine, o) for o in numbers), 30), hq.logs()
        sold = {r["sku"]: r["n"] for r in k.rows("SELECT sku, sum(qty) AS n FROM order_lines GROUP BY sku")}
        assert sold == {"P001": 8, "P002": 4}
        levels = {r["sku"]: r["qty"] for r in stock.levels(hq.engine, "s1")}
        assert levels == {"P001": 50 - 8, "P002": 50 - 4}
    finally:
        fleet.close()
