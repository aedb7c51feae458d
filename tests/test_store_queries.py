"""Every statement the kiosk's store runs reads an index, so its cost is the answer's, not the history's (issue 14).

The store's connections are traced while a kiosk's day is played through the
real store and payment driver: sales, a decline, refunds, receipts, the Z
report, reconciliation's journal, recovery, the outbox's whole life, commands,
the staff lockout and the checkout's product look-ups.  Each statement seen is then explained: none may scan
orders, payments, refunds or the outbox.  A query added later without an index
fails here (the list of statements is taken from running code, not written by
hand).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import date

import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.payments.driver import PaymentDriver
from kiosk.payments.sandbox import SandboxGateway
from kiosk.store import Identity, Store
from tests.test_payments import start

BIG_TABLES = ("orders", "order_lines", "payments", "refunds", "outbox", "products")


@pytest.fixture
def traced(tmp_path, monkeypatch):
    """A store whose every connection records the statements it runs (with their values)."""
    seen: list[str] = []
    lock = threading.Lock()
    real_connect = sqlite3.connect
    path = tmp_path / "kiosk.sqlite"

    def connect(*args, **kwargs):
        db = real_connect(*args, **kwargs)
        if str(args[0]) != str(path):  # the sandbox gateway's own database is not the kiosk's
            return db

        def trace(sql: str) -> None:
            with lock:
                seen.append(sql)

        db.set_trace_callback(trace)
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    store = Store(path, Identity("demo-store", "kiosk-01", "K01", "CNY"))
    store.seed_catalog(DEMO_PRODUCTS)  # loading a catalog reads it all once (its version is a digest of it)
    seen.clear()
    return store, seen


def a_day_at_the_kiosk(store: Store, tmp_path) -> None:
    gateway = SandboxGateway(tmp_path / "sandbox.sqlite", latency_s=0, user_paying_s=0.2, request_timeout_s=0.2)
    driver = PaymentDriver(gateway, store, poll_interval_s=0.05, paying_limit_s=5.0)
    catalog = store.catalog()  # the checkout's look-up: one product by its barcode, never the whole catalog
    assert catalog.get("6901234000016").sku == "P001" and catalog.get("6900000000007") is None
    paid = [driver.pay(start(store, f"28123456789012{n:03d}1"), language="zh_CN", subject="t") for n in range(4)]
    driver.pay(start(store, "281234567890123453"), language="en", subject="t")  # declined
    for r in paid:
        store.mark_receipt(r.order.order_no, True)
    store.mark_receipt(paid[0].order.order_no, True, reprint=True)
    full = store.begin_refund(paid[0].order.order_no, None, requested_by="attendant")
    driver.refund(full)
    part = store.begin_refund(paid[1].order.order_no, 100, requested_by="hq", command_id="c-refund")
    driver.refund(part)
    store.begin_refund(paid[1].order.order_no, 100, requested_by="hq", command_id="c-refund")  # delivered again
    store.begin_payment(  # left open by a crash: recovery's
        gateway="sandbox",
        channel="alipay",
        code_masked="-",
        lines=start(store, "1").lines,
        totals=start(store, "1").totals,
        language="en",
    )
    driver.recover_all()
    driver.recover_refunds()
    today = date.today().isoformat()
    store.day_summary(today)
    store.journal_rows(today)
    store.last_order_no()
    store.find_order(paid[2].order.order_no)
    store.recent_code_digests()
    store.forget_old_codes(0)
    store.interrupted_receipts()
    rows = store.pending_outbox()
    store.mark_sent(r["seq"] for r in rows)
    store.mark_acked([r["id"] for r in rows[: len(rows) // 2]])
    store.stale_unacked(0)
    store.outbox_depth()
    store.unacked_count()
    store.resend_from(rows[-1]["seq"])
    store.prune_outbox(0)
    assert store.claim_command("c1", "ping", "d1") == "new"
    store.add_command_result("c1", "ping", {"ok": True})
    store.claim_command("c1", "ping", "d1")
    store.repeat_command_result("c1")
    store.save_lockout(1, 0.0)
    store.lockout()
    store.add_event("help_pressed", screen="cart")


def test_no_statement_the_store_runs_scans_a_growing_table(traced, tmp_path):
    store, seen = traced
    a_day_at_the_kiosk(store, tmp_path)
    # reads, updates and deletes (an INSERT ... VALUES reads no table)
    statements = sorted({s for s in seen if re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", s, re.I)})
    assert len(statements) > 30
    explain = sqlite3.connect(store.path)
    scans = []
    for sql in statements:
        plan = " | ".join(str(row[-1]) for row in explain.execute("EXPLAIN QUERY PLAN " + sql))
        # SEARCH is an index look-up.  SCAN reads the whole table (even "USING INDEX"), except an index walked in
        # its order and stopped by a LIMIT with no sort of its own (the newest order: one row read)
        walk = re.search(r"ORDER BY [^;]* LIMIT \d+\s*$", sql) and "USING" in plan and "TEMP B-TREE" not in plan
        for table in BIG_TABLES:
            if re.search(rf"\bSCAN {table}\b", plan) and not walk:
                scans.append((sql[:160], plan))
    assert scans == []
