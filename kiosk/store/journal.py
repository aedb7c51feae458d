"""The sales side of the store: the payment journal, orders and their receipts, the day's totals (the catalog is
kiosk.store.catalog).

Each change is one transaction with the outbox message that reports it
(`payments`, `orders`, `events`); a payment becomes PAID together with its
order, its lines and both messages.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk import messages
from kiosk.cart import Totals
from kiosk.catalog import Product
from kiosk.i18n import product_name
from kiosk.orders import Order
from kiosk.payment_state import FINAL_STATES, PaymentState
from kiosk.store.catalog import CatalogStore
from kiosk.store.database import day_range

CODE_MEMORY_S = 24 * 3600  # a wallet code once tried is refused for this long (they expire within minutes)
OPEN_STATES = ", ".join(f"'{s.value}'" for s in PaymentState if s not in FINAL_STATES)  # as schema 5's index says


class Journal(CatalogStore):
    # -- the payment journal ----------------------------------------------------
    def begin_payment(
        self,
        *,
        gateway: str,
        channel: str,
        code_masked: str,
        lines: tuple[tuple[Product, int], ...],
        totals: Totals,
        language: str,
        code_digest: bytes | None = None,
        online_order: str = "",
    ) -> str:
        """Persist a new payment as SUBMITTING before anything is sent; returns its out_trade_no.

        `code_digest` (kiosk.codes.code_digest under `self.code_key`) marks the wallet code used (for a day:
        `forget_old_codes`; wallets' codes expire within minutes).  `online_order`: the order made elsewhere this
        payment pays; the payment's completion hands it over (recovery's too).
        """
        now = messages.utc_now()
        cart: dict[str, Any] = {
            "lines": [[p.__dict__, qty] for p, qty in lines],
            "totals": {k: getattr(totals, k) for k in ("subtotal", "discount", "tax", "total")},
        }
        if online_order:
            cart["online_order"] = online_order
        with self.tx() as db:
            n = self._next(db, "payment")
            out_trade_no = f"{self.id.order_prefix}{datetime.now():%y%m%d%H%M%S}{n:06d}"
            db.execute(
                "INSERT INTO payments(out_trade_no, gateway, channel, amount, currency, state, code_masked,"
                " cart_json, language, created_at, updated_at, code_digest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    out_trade_no,
                    gateway,
                    channel,
                    totals.total,
                    self.id.currency,
                    PaymentState.SUBMITTING.value,
                    code_masked,
                    json.dumps(cart, ensure_ascii=False),
                    language,
                    now,
                    now,
                    code_digest,
                ),
            )
            self._report_payment(db, out_trade_no)
        return out_trade_no

    def recent_code_digests(self, within_s: float = CODE_MEMORY_S) -> set[bytes]:
        """The wallet codes tried lately (as digests), so a restarted kiosk never charges one twice."""
        since = (datetime.now(UTC) - timedelta(seconds=within_s)).strftime("%Y-%m-%dT%H:%M:%S")
        rows = self.conn().execute(
            "SELECT code_digest FROM payments WHERE code_digest IS NOT NULL AND created_at >= ?", (since,)
        )
        return {bytes(r[0]) for r in rows}

    def forget_old_codes(self, older_than_s: float = CODE_MEMORY_S, batch: int = 500) -> int:
        """Wallet-code digests older than `older_than_s` are of no use (codes expire within minutes): cleared,
        `batch` at a time, so the payments table and its index stay small."""
        since = (datetime.now(UTC) - timedelta(seconds=older_than_s)).strftime("%Y-%m-%dT%H:%M:%S")
        return self.in_batches(
            "UPDATE payments SET code_digest = NULL WHERE rowid IN (SELECT rowid FROM payments"
            " INDEXED BY payments_code WHERE code_digest IS NOT NULL AND created_at < ? LIMIT ?)",
            since,
            batch=batch,
        )

    def payment(self, out_trade_no: str) -> dict[str, Any]:
        row = self.conn().execute("SELECT * FROM payments WHERE out_trade_no=?", (out_trade_no,)).fetchone()
        if row is None:
            raise KeyError(out_trade_no)
        return _public(row)

    def _report_payment(self, db: sqlite3.Connection, out_trade_no: str) -> dict[str, Any]:
        """Enqueue the payment's current state; each change gets its own message id (n-th change, state)."""
        db.execute("UPDATE payments SET changes = changes + 1 WHERE out_trade_no=?", (out_trade_no,))
        p = dict(db.execute("SELECT * FROM payments WHERE out_trade_no=?", (out_trade_no,)).fetchone())
        msg_id = self.msg_id("payments", f"{out_trade_no}:{p['changes']}-{p['state']}")
        self._enqueue(db, "payments", msg_id, messages.payment_data(p))
        return p

    def set_payment_state(
        self, out_trade_no: str, state: PaymentState, *, trade_id: str = "", reason: str = "", recovered: bool = False
    ) -> bool:
        """Move a non-final payment to `state`; False (no change) when it is final already or unchanged."""
        if state is PaymentState.PAID:
            raise ValueError("use complete_payment() for PAID: it creates the order in the same transaction")
        with self.tx() as db:
            row = db.execute("SELECT state FROM payments WHERE out_trade_no=?", (out_trade_no,)).fetchone()
            if row is None or PaymentState(row["state"]) in FINAL_STATES or row["state"] == state.value:
                return False
            db.execute(  # a final payment needs its cart no more
                "UPDATE payments SET state=?, trade_id=COALESCE(NULLIF(?, ''), trade_id), reason=NULLIF(?, ''),"
                " recovered=MAX(recovered, ?), updated_at=?,"
                " cart_json=CASE WHEN ? THEN '' ELSE cart_json END WHERE out_trade_no=?",
                (state.value, trade_id, reason, int(recovered), messages.utc_now(), int(state.final), out_trade_no),
            )
            self._report_payment(db, out_trade_no)
            return True

    def complete_payment(self, out_trade_no: str, *, trade_id: str, recovered: bool = False) -> Order:
        """PAID: payment, order, order lines and both outbox messages in one transaction.

        Idempotent: a payment that is PAID already returns its order unchanged.
        """
        with self.tx() as db:
            p = dict(db.execute("SELECT * FROM payments WHERE out_trade_no=?", (out_trade_no,)).fetchone())
            if p["state"] == PaymentState.PAID.value:
                return self._order(db, p["order_no"])
            if PaymentState(p["state"]) in FINAL_STATES:
                raise ValueError(f"payment {out_trade_no} is {p['state']}, it cannot become PAID")
            now = messages.utc_now()
            day = datetime.now().strftime("%y%m%d")
            # K01-261125311770: the day, then its number (one run of digits: the barcode packs it in pairs)
            order_no = f"{self.id.order_prefix}-{day}{self._order_number(db, day):06d}"
            cart = json.loads(p["cart_json"])
            t = cart["totals"]
            db.execute(
                "INSERT INTO orders(order_no, out_trade_no, created_at, paid_at, currency, subtotal, discount, tax,"
                " total, language, receipt_status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    order_no,
                    out_trade_no,
                    p["created_at"],
                    now,
                    p["currency"],
                    t["subtotal"],
                    t["discount"],
                    t["tax"],
                    t["total"],
                    p["language"],
                    # a recovered order's shopper has gone: its receipt waits for staff to reprint it
                    "not_printed" if recovered else "queued",
                ),
            )
            for i, (prod, qty) in enumerate(cart["lines"], start=1):
                name = product_name(prod["name_zh"], prod["name_en"], p["language"], prod.get("names") or ())
                db.execute(
                    "INSERT INTO order_lines(order_no, line_no, sku, barcode, name, qty, unit_price, amount,"
                    " tax_class, grams) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        order_no,
                        i,
                        prod["sku"],
                        prod["barcode"],
                        name,
                        qty,
                        prod["price"],
                        prod["price"] * qty,
                        prod["tax_class"],
                        prod.get("grams"),
                    ),
                )
            db.execute(  # the cart is now the order's lines: stored once
                "UPDATE payments SET state='PAID', trade_id=COALESCE(NULLIF(?, ''), trade_id), order_no=?,"
                " recovered=MAX(recovered, ?), updated_at=?, cart_json='' WHERE out_trade_no=?",
                (trade_id, order_no, int(recovered), now, out_trade_no),
            )
            self._report_payment(db, out_trade_no)
            order = self._order(db, order_no)
            self._enqueue(
                db,
                "orders",
                self.msg_id("orders", order_no),
                messages.order_data(order, self._meta(db, "catalog_version")),
            )
            if cart.get("online_order"):  # paid here: handed over in the same transaction, whoever completes it
                self._collect(db, cart["online_order"], order_no)
            return order

    def _collect(self, db: sqlite3.Connection, order_no: str, kiosk_order_no: str | None) -> bool:
        """An order made elsewhere handed over, once, with the `events` message that tells head office."""
        done = db.execute(
            "INSERT OR IGNORE INTO online_collected(order_no, collected_at, kiosk_order_no) VALUES (?,?,?)",
            (order_no, messages.utc_now(), kiosk_order_no),
        ).rowcount
        if done:
            data = {"kind": "online_order_collected", "order_no": order_no, "paid_here": kiosk_order_no or ""}
            self._enqueue(db, "events", self.msg_id("events", f"collected:{order_no}"), data)
        return bool(done)

    @staticmethod
    def _order_number(db: sqlite3.Connection, day: str) -> int:
        """The day's next order number: above the last one, and never below the tenth of a second of the day it
        is now.

        So a kiosk whose database was replaced (a re-imaged SD card, a new installation) never gives an order
        number again, even on the same day: it completes far fewer than ten orders a second (each waits for a
        gateway's answer), so the numbers it gave before are all below the time of day it starts again (given
        a set clock).  Numbers still rise within the day, with gaps.
        """
        now = datetime.now()
        tenth = (now.hour * 3600 + now.minute * 60 + now.second) * 10 + now.microsecond // 100_000
        row = db.execute("SELECT value FROM counters WHERE name=?", (f"order:{day}",)).fetchone()
        n = max(tenth, (row[0] if row else 0) + 1)
        db.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            (f"order:{day}", n),
        )
        return n

    def _order(self, db: sqlite3.Connection, order_no: str) -> Order:
        row = db.execute("SELECT * FROM orders WHERE order_no=?", (order_no,)).fetchone()
        lines = list(db.execute("SELECT * FROM order_lines WHERE order_no=? ORDER BY line_no", (order_no,)))
        payment = db.execute("SELECT * FROM payments WHERE out_trade_no=?", (row["out_trade_no"],)).fetchone()
        return Order.from_rows(row, lines, payment)

    def order(self, order_no: str) -> Order:
        return self._order(self.conn(), order_no)

    def open_payments(self) -> list[dict[str, Any]]:
        """Payments not final yet, oldest first: the partial index of open payments, however long the history
        (the states are written out, as the index's own condition is, so SQLite sees that it applies)."""
        q = f"SELECT * FROM payments WHERE state IN ({OPEN_STATES}) ORDER BY created_at"
        return [_public(r) for r in self.conn().execute(q)]

    def mark_receipt(self, order_no: str, printed: bool, reason: str = "", *, reprint: bool = False) -> None:
        """The receipt's fate, with its `receipts` message: printed, not printed (and why), or reprinted."""
        with self.tx() as db:
            db.execute(
                "UPDATE orders SET receipt_printed=MAX(receipt_printed, ?), receipt_status=? WHERE order_no=?",
                (int(printed), "printed" if printed else "not_printed", order_no),
            )
            outcome = "reprinted" if reprint and printed else "printed" if printed else "not_printed"
            self._report_receipt(db, order_no, outcome, reason)

    def _report_receipt(self, db: sqlite3.Connection, order_no: str, outcome: str, reason: str = "") -> None:
        n = db.execute(  # each outcome of one receipt is its own message, numbered in its order
            "UPDATE orders SET receipt_reports = receipt_reports + 1 WHERE order_no=? RETURNING receipt_reports",
            (order_no,),
        ).fetchone()[0]
        data = {"order_no": order_no, "outcome": outcome, **({"reason": reason} if reason else {})}
        self._enqueue(db, "receipts", self.msg_id("receipts", f"{order_no}:{n}"), data)

    def interrupted_receipts(self) -> list[str]:
        """At start: receipts that were to print when the kiosk stopped are not printed; each is reported."""
        with self.tx() as db:
            orders = [r[0] for r in db.execute("SELECT order_no FROM orders WHERE receipt_status='queued'")]
            for order_no in orders:
                db.execute("UPDATE orders SET receipt_status='not_printed' WHERE order_no=?", (order_no,))
                self._report_receipt(db, order_no, "not_printed", "interrupted")
        return orders

    # -- receipts and reports ----------------------------------------------------
    def find_order(self, order_no: str) -> Order | None:
        db = self.conn()
        if db.execute("SELECT 1 FROM orders WHERE order_no=?", (order_no,)).fetchone() is None:
            return None
        return self._order(db, order_no)

    def last_order_no(self) -> str | None:
        row = self.conn().execute("SELECT order_no FROM orders ORDER BY paid_at DESC, rowid DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def day_summary(self, day: str) -> dict[str, Any]:
        """Totals for one local calendar day (YYYY-MM-DD) for the end-of-day report: ranges on indexed times, so
        the cost is the day's, not the whole history's."""
        db = self.conn()
        span = day_range(day)
        by_channel = {
            r["channel"]: {"count": r["n"], "total": r["total"]}
            for r in db.execute(
                "SELECT p.channel, count(*) AS n, sum(o.total) AS total FROM orders o"
                " JOIN payments p ON p.out_trade_no = o.out_trade_no"
                " WHERE o.paid_at >= ? AND o.paid_at < ? GROUP BY p.channel",
                span,
            )
        }

        def count(sql: str) -> int:
            return int(db.execute(sql, span).fetchone()[0] or 0)

        return {
            "date": day,
            "by_channel": by_channel,
            "orders": sum(c["count"] for c in by_channel.values()),
            "total": sum(c["total"] for c in by_channel.values()),
            "failed": count(
                "SELECT count(*) FROM payments WHERE created_at >= ? AND created_at < ? AND state='FAILED'"
            ),
            "cancelled": count(
                "SELECT count(*) FROM payments WHERE created_at >= ? AND created_at < ? AND state='CANCELLED'"
            ),
            "refunds": count(
                "SELECT count(*) FROM refunds WHERE updated_at >= ? AND updated_at < ? AND state='REFUNDED'"
            ),
            "refunded": count(
                "SELECT sum(amount) FROM refunds WHERE updated_at >= ? AND updated_at < ? AND state='REFUNDED'"
            ),
            "unprinted": count("SELECT count(*) FROM orders WHERE paid_at >= ? AND paid_at < ? AND receipt_printed=0"),
        }


def _public(row: sqlite3.Row) -> dict[str, Any]:
    """A payment row for the rest of the kiosk: without the wallet code's digest."""
    p = dict(row)
    p.pop("code_digest", None)
    return p
