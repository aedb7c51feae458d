"""Issue 10: stock per store at head office, on SQLite and PostgreSQL.  Counted (a file, or the catalog file's
stock@STORE columns), lowered once by each order however often its message arrives, raised once by goods a
refund put back on the shelf; low and out of stock alerted, and an item out of stock at head office still sells.
The orders are a real kiosk store's messages, as they go out."""

from __future__ import annotations

import subprocess

import pytest

from headoffice import catalog, queries, stock
from headoffice.ingest import Ingest
from tests.conftest import headoffice_cli
from tests.test_catalog_import import write
from tests.test_headoffice import kiosk_store, outbox, sell  # noqa: F401 - kiosk_store is a fixture


def level(engine, sku: str) -> int:
    return {r["sku"]: r["qty"] for r in stock.levels(engine, "s1")}[sku]


def open_alerts(engine) -> set[tuple[str, str]]:
    return {(a["kind"], a["key"]) for a in queries.alerts(engine, "s1")}


def test_orders_lower_the_stock_once_however_often_they_arrive(hq_engine, kiosk_store, tmp_path):  # noqa: F811
    counts = write(tmp_path, "store,sku,qty,low\ns1,P001,10,3\ns1,P002,5,\ns1,P003,1,0\n", "count.csv")
    assert stock.set_counts(hq_engine, stock.read_counts(counts)) == 3
    ingest = Ingest(hq_engine)
    orders = sell(kiosk_store, 3)  # P001; P001+P002; P001+P002+P003, one of each
    batch = outbox(kiosk_store)
    ingest.store_batch(batch[:5])
    ingest.store_batch(batch)  # head office was killed before acknowledging: the broker gives them all again
    ingest.store_batch(batch[3:])  # and the kiosk resends some
    sold = {sku: sum(ln.qty for o in orders for ln in o.lines if ln.sku == sku) for sku in ("P001", "P002", "P003")}
    assert sold == {"P001": 3, "P002": 2, "P003": 1}
    assert [level(hq_engine, s) for s in ("P001", "P002", "P003")] == [7, 3, 0]
    assert open_alerts(hq_engine) >= {("out_of_stock", "P003")} and ("low_stock", "P001") not in open_alerts(hq_engine)
    more = sell(kiosk_store, 9)  # P001 goes on selling below its threshold, and below zero: the shelf decides
    ingest.store_batch(outbox(kiosk_store))
    p001 = 7 - sum(ln.qty for o in more for ln in o.lines if ln.sku == "P001")
    assert level(hq_engine, "P001") == p001 < 0
    assert {("out_of_stock", "P001"), ("out_of_stock", "P003")} <= open_alerts(hq_engine)
    stock.set_counts(hq_engine, [("s1", "P001", 20, None), ("s1", "P003", 2, None)])  # a count: the truth again
    assert level(hq_engine, "P001") == 20
    assert not {("out_of_stock", "P001"), ("out_of_stock", "P003")} & open_alerts(hq_engine)
    assert ("low_stock", "P003") not in open_alerts(hq_engine)  # threshold 0: never low, only out


def test_a_count_at_or_under_its_threshold_is_low_stock(hq_engine):
    stock.set_counts(hq_engine, [("s1", "P001", 3, 3)])
    assert ("low_stock", "P001") in open_alerts(hq_engine)
    stock.set_counts(hq_engine, [("s1", "P001", 4, None)])  # the threshold is kept
    assert ("low_stock", "P001") not in open_alerts(hq_engine)


def test_goods_returned_to_the_shelf_raise_the_stock_once(hq_engine, kiosk_store):  # noqa: F811
    stock.set_counts(hq_engine, [("s1", "P001", 10, None), ("s1", "P002", 10, None)])
    ingest = Ingest(hq_engine)
    [_, order] = sell(kiosk_store, 2)
    ingest.store_batch(outbox(kiosk_store))
    assert (level(hq_engine, "P001"), level(hq_engine, "P002")) == (8, 9)
    assert stock.return_to_shelf(hq_engine, "s1", "k1", order.order_no) == {"P001": 1, "P002": 1}
    assert stock.return_to_shelf(hq_engine, "s1", "k1", order.order_no) == {}  # said twice: once
    assert (level(hq_engine, "P001"), level(hq_engine, "P002")) == (9, 10)
    with pytest.raises(ValueError, match="no order"):
        stock.return_to_shelf(hq_engine, "s1", "k1", "K01-000000000000")


def test_the_catalog_file_sets_counts_and_thresholds(hq_engine, tmp_path):
    text = (
        "sku,barcodes,name_zh,name_en,tax_class,price,stock@s1,low@s1\n"
        "P001,6901234000016,水,Water,standard,200,24,6\n"
        "P002,6901234000023,可乐,Cola,standard,350,,\n"
    )
    catalog.import_file(hq_engine, write(tmp_path, text))
    assert stock.levels(hq_engine, "s1") == [
        {
            "store": "s1",
            "sku": "P001",
            "qty": 24,
            "low": 6,
            "updated_at": stock.levels(hq_engine, "s1")[0]["updated_at"],
        }
    ]
    bad = write(tmp_path, text.replace(",24,6", ",many,6"), "bad.csv")
    with pytest.raises(catalog.CatalogFileError, match="row 2, column stock@s1: 'many' is not a whole number"):
        catalog.import_file(hq_engine, bad)


def test_the_stock_command_line(tmp_path):
    def hq(*args: str) -> subprocess.CompletedProcess:
        return headoffice_cli(tmp_path, "stock", *args)

    counts = write(tmp_path, "store,sku,qty\ns1,P001,12\n", "count.csv")
    assert hq("count", str(counts)).stdout.strip() == "1 counts set"
    assert '"qty": 12' in hq("show", "s1").stdout
    bad = write(tmp_path, "store,sku,qty\ns1,P001,a dozen\n", "bad.csv")
    refused = hq("count", str(bad))
    assert refused.returncode == 1 and "bad.csv, row 2: qty and low must be whole numbers" in refused.stderr
    assert "Traceback" not in refused.stderr
