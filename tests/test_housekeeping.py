"""A kiosk's disk stays bounded however long it runs (issue 14): the outbox and the simulator's receipt pictures
are pruned after their retention in small transactions, the cart is stored once, free pages go back to the file
system, and head office hears when free space runs low."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.payments import PaymentState
from kiosk.services.housekeeping import Housekeeping
from kiosk.store import Identity, Store
from tests.factories import begin_payment

ID = Identity("demo-store", "kiosk-01", "K01", "CNY")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", ID)
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def sell(store: Store, n: int) -> None:
    for i in range(n):
        store.complete_payment(begin_payment(store, DEMO_PRODUCTS[: 1 + i % 3]), trade_id=f"T{i}")


def keeper(store: Store, tmp_path, **kw) -> Housekeeping:
    args = {"outbox_retention_s": 0.0, "preview_retention_s": 3600.0, "warn_free_bytes": 1}
    return Housekeeping(store, tmp_path / "receipts", **{**args, **kw})


def test_acknowledged_messages_are_pruned_in_small_transactions_and_nothing_unacknowledged_goes(store, tmp_path):
    sell(store, 300)
    rows = store.pending_outbox(limit=10_000)
    store.mark_sent(r["seq"] for r in rows)
    acked = [r["id"] for r in rows[:-5]]
    store.mark_acked(acked)
    deletes: list[str] = []
    store.conn().set_trace_callback(lambda sql: deletes.append(sql) if sql.startswith("DELETE FROM outbox") else None)
    done = keeper(store, tmp_path).once()
    assert done["outbox_pruned"] == len(acked)
    assert len(deletes) == -(-len(acked) // 500)  # 500 rows a transaction: a sale never waits behind one delete
    left = [r[0] for r in store.conn().execute("SELECT id FROM outbox ORDER BY seq")]
    assert left == [r["id"] for r in rows[-5:]]  # the unacknowledged stay until head office has them
    assert keeper(store, tmp_path, outbox_retention_s=3600).once()["outbox_pruned"] == 0


def test_free_pages_go_back_to_the_file_system(store, tmp_path):
    assert store.conn().execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, from the first table on
    sell(store, 400)
    rows = store.pending_outbox(limit=10_000)
    store.mark_sent(r["seq"] for r in rows)
    store.mark_acked([r["id"] for r in rows])
    db = store.conn()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = store.path.stat().st_size
    assert store.prune_outbox(0) == len(rows)
    freed = db.execute("PRAGMA freelist_count").fetchone()[0]
    page = db.execute("PRAGMA page_size").fetchone()[0]
    assert freed > 50  # the outbox's pages are free now, inside the file
    k = keeper(store, tmp_path)
    for _ in range(50):  # a few pages a round
        if k.once()["free_pages"] == 0:
            break
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert store.path.stat().st_size <= before - 0.9 * freed * page  # and back to the file system


def test_the_cart_is_stored_once(store, tmp_path):
    paid = begin_payment(store, DEMO_PRODUCTS[:3])
    failed = begin_payment(store, DEMO_PRODUCTS[:2])
    still_open = begin_payment(store, DEMO_PRODUCTS[:1])
    order = store.complete_payment(paid, trade_id="T1")
    store.set_payment_state(failed, PaymentState.FAILED, reason="NOTENOUGH")
    carts = dict(store.conn().execute("SELECT out_trade_no, cart_json FROM payments"))
    assert carts[paid] == "" and carts[failed] == ""  # the paid cart is its order's lines now
    assert json.loads(carts[still_open])["totals"]["total"] == DEMO_PRODUCTS[0].price  # recovery may need it
    assert [ln.sku for ln in store.order(order.order_no).lines] == [p.sku for p in DEMO_PRODUCTS[:3]]


def test_a_database_from_before_is_made_small_when_it_is_opened(tmp_path):
    """Schemas 4 and 5 on a kiosk's existing database: the final payments' carts go, each receipt's message count
    moves into its order (the next receipt message goes on from it), the order lines move into their key's
    tree, and the indexes of open payments and refunds hold only the open ones."""
    from kiosk.store.schema import MIGRATIONS

    old = Store(tmp_path / "old" / "kiosk.sqlite", ID)
    old.seed_catalog(DEMO_PRODUCTS)
    order = old.complete_payment(begin_payment(old, DEMO_PRODUCTS[:3]), trade_id="T1")
    old.close()
    path = tmp_path / "kiosk.sqlite"  # the same data, as a kiosk of three schemas ago kept it
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(";".join(MIGRATIONS[:3]) + ";PRAGMA user_version=3;")
    src = sqlite3.connect(tmp_path / "old" / "kiosk.sqlite")
    for table in ("meta", "products", "payments", "orders", "order_lines", "counters"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(cols))})", rows)
    db.execute("UPDATE payments SET cart_json = '{\"lines\": [1]}'")
    db.execute("INSERT INTO counters VALUES (?, 2)", (f"receipt:{order.order_no}",))  # two receipt messages so far
    db.close()
    (tmp_path / "installation-id").write_text((tmp_path / "old" / "installation-id").read_text())
    store = Store(path, ID)
    c = store.conn()
    assert c.execute("SELECT cart_json FROM payments").fetchone()[0] == ""
    assert c.execute("SELECT count(*) FROM counters WHERE name LIKE 'receipt:%'").fetchone()[0] == 0
    assert [ln.sku for ln in store.order(order.order_no).lines] == [p.sku for p in DEMO_PRODUCTS[:3]]
    assert "WITHOUT ROWID" in c.execute("SELECT sql FROM sqlite_master WHERE name='order_lines'").fetchone()[0]
    store.mark_receipt(order.order_no, True)
    [receipt] = [r["id"] for r in store.pending_outbox() if r["topic"] == "receipts"]
    assert receipt.endswith(f"{order.order_no}:3")  # after the two sent before: never an id again


def test_old_receipt_pictures_and_jobs_go_others_stay(store, tmp_path):
    folder = tmp_path / "receipts"
    folder.mkdir()
    old, new, other = folder / "K01-1.png", folder / "K01-2.png", folder / "notes.txt"
    job = folder / "K01-1-receipt.escpos"
    for p in (old, new, other, job):
        p.write_bytes(b"x")
    week_ago = time.time() - 8 * 86400
    for p in (old, other, job):
        os.utime(p, (week_ago, week_ago))
    assert keeper(store, tmp_path, preview_retention_s=7 * 86400).once()["previews_deleted"] == 2
    assert sorted(p.name for p in folder.iterdir()) == ["K01-2.png", "notes.txt"]


def test_head_office_hears_once_when_free_space_runs_low_and_when_it_is_back(store, tmp_path):
    def events():
        return [
            json.loads(r["payload"])["data"]
            for r in store.pending_outbox(limit=10_000)
            if r["topic"] == "events" and "disk_" in r["payload"]
        ]

    low = keeper(store, tmp_path, warn_free_bytes=2**62)  # more than any disk has
    low.once()
    low.once()
    assert [e["kind"] for e in events()] == ["disk_low"] and events()[0]["free_mb"] > 0
    low.warn_free_bytes = 1
    low.once()
    assert [e["kind"] for e in events()] == ["disk_low", "disk_ok"]
    fine = keeper(store, tmp_path)
    fine.once()  # fine at start: nothing to say
    assert len(events()) == 2


def test_a_failing_database_does_not_stop_housekeeping(store, tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "prune_outbox", refused)
    (tmp_path / "receipts").mkdir()
    done = keeper(store, tmp_path).once()
    assert done["outbox_pruned"] == 0 and done["free_mb"] > 0
