"""The store: durable settings, one transaction per change with its outbox message, idempotency."""

import json
import sqlite3

import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.payments import PaymentState
from kiosk.store import Identity, Store
from tests.factories import begin_payment

ID = Identity("demo-store", "kiosk-01", "K01", "CNY")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite", ID)
    s.seed_catalog(DEMO_PRODUCTS)
    return s


def begin(store, n_items=2):
    return begin_payment(store, DEMO_PRODUCTS[:n_items])


def test_durability_settings(store):
    db = store.conn()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seed_is_idempotent(store):
    assert store.seed_catalog(DEMO_PRODUCTS) == 0
    assert len(store.catalog()) == len(DEMO_PRODUCTS)


def test_paid_creates_order_and_messages_together(store):
    otn = begin(store)
    assert store.payment(otn)["state"] == "SUBMITTING"
    order = store.complete_payment(otn, trade_id="T1")
    assert order["order_no"].startswith("K01-") and order["total"] == 200 + 350
    assert [ln["name"] for ln in order["lines"]] == ["Mineral water 550ml", "Cola 330ml"]
    rows = store.pending_outbox()
    assert [r["topic"] for r in rows] == ["payments", "payments", "orders"]
    seqs = [json.loads(r["payload"])["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    msg = json.loads(rows[-1]["payload"])
    assert msg["id"] == f"kiosk-01:orders:{order['order_no']}"
    assert msg["data"]["payment"]["masked_code"] == "2812********3451"
    assert msg["data"]["total"] == 550 and msg["data"]["currency"] == "CNY"


def test_completing_twice_changes_nothing(store):
    otn = begin(store)
    first = store.complete_payment(otn, trade_id="T1")
    again = store.complete_payment(otn, trade_id="T1")
    assert first["order_no"] == again["order_no"]
    assert store.conn().execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    assert len(store.pending_outbox()) == 3


def test_final_states_do_not_move(store):
    otn = begin(store)
    assert store.set_payment_state(otn, PaymentState.FAILED, reason="NOTENOUGH")
    assert not store.set_payment_state(otn, PaymentState.CANCELLED)
    with pytest.raises(ValueError):
        store.complete_payment(otn, trade_id="T")
    assert store.payment(otn)["state"] == "FAILED"


def test_a_failed_transaction_leaves_no_trace(store, monkeypatch):
    otn = begin(store)
    before = len(store.pending_outbox())

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("kiosk.messages.order_data", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.complete_payment(otn, trade_id="T")
    assert store.payment(otn)["state"] == "SUBMITTING"
    assert store.conn().execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    assert len(store.pending_outbox()) == before


def test_seq_and_order_numbers_survive_reopen(store, tmp_path):
    store.complete_payment(begin(store), trade_id="T")
    last = json.loads(store.pending_outbox()[-1]["payload"])["seq"]
    store.close()
    again = Store(tmp_path / "kiosk.sqlite", ID)
    order = again.complete_payment(begin(again), trade_id="T")
    assert order["order_no"].endswith("-0002")
    assert json.loads(again.pending_outbox()[-1]["payload"])["seq"] > last


def test_outbox_sent_and_acked(store):
    store.add_event("help_pressed", screen="cart")
    row = store.pending_outbox()[0]
    store.mark_sent([row["seq"]])
    assert store.outbox_depth() == 0
    assert store.mark_acked([row["id"]]) == 1
    assert store.conn().execute("SELECT count(*) FROM outbox").fetchone()[0] == 1  # kept until pruned
