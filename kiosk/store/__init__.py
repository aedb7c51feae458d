"""SQLite storage: catalog, payment journal, orders, refunds, head office's commands, the outbox, counters.

One `Store` per kiosk, built in layers of one concern each:
`database.Database` (opening, identity, connections, transactions, outbox),
`catalog.CatalogStore` (products, the catalog's version, the checkout's look-up),
`journal.Journal` (payments, orders, receipts, reports) and, here,
refunds, head office's commands and the staff PIN lockout.  The schema and its
migrations are in `schema`.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk import messages
from kiosk.config import Config
from kiosk.store.database import Database, Identity, StoreError, day_range, describe
from kiosk.store.journal import CODE_MEMORY_S, Journal, _public

__all__ = [
    "CODE_MEMORY_S",
    "Database",
    "Identity",
    "RefundRefused",
    "Store",
    "StoreError",
    "database_path",
    "describe",
    "open_store",
]
REFUND_FINAL = ("REFUNDED", "FAILED")


class RefundRefused(ValueError):
    """A refund that cannot be made; the message says why, for the attendant or head office."""


class Store(Journal):
    def online_collected(self, order_no: str) -> dict[str, Any] | None:
        row = (
            self.conn()
            .execute("SELECT collected_at, kiosk_order_no FROM online_collected WHERE order_no=?", (order_no,))
            .fetchone()
        )
        return {"collected_at": row[0], "kiosk_order_no": row[1]} if row else None

    def collect_online_order(self, order_no: str) -> bool:
        """Hand over an order paid online, once: recorded, and head office told (an `events` message), in one
        transaction.  False if this kiosk handed it over before (nothing changes).  An order paid here is handed
        over by its payment's completion (complete_payment)."""
        with self.tx() as db:
            return self._collect(db, order_no, None)

    # -- head office's commands -------------------------------------------------------
    def claim_command(self, cmd_id: str, name: str, digest: str) -> str:
        """Before a command runs: 'new' (claimed now: carry it out), 'running', 'answered' (the same command
        again: answer again, do nothing) or 'conflict' (the id was used for another command: refuse it)."""
        with self.tx() as db:
            row = db.execute("SELECT digest, state FROM commands WHERE id=?", (cmd_id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO commands(id, name, digest, state, received_at) VALUES (?,?,?,'running',?)",
                    (cmd_id, name, digest, messages.utc_now()),
                )
                return "new"
            return "conflict" if row["digest"] != digest else row["state"]

    def add_command_result(
        self, cmd_id: str | None, name: str, result: dict[str, Any], *, command_id: str | None = None
    ) -> None:
        """Answer on `cmd-result`.  `cmd_id`: the claimed command this answers (answered once, remembered).
        None: a command that was not carried out (malformed, refused); `command_id` is the id it gave, if any."""
        shown = cmd_id if cmd_id is not None else command_id
        data: dict[str, Any] = {"command_id": shown, "name": name, "ok": bool(result.get("ok"))}
        if data["ok"]:
            data["result"] = {k: v for k, v in result.items() if k != "ok"}
        else:
            data["error"] = str(result.get("error") or "failed")
        with self.tx() as db:
            if cmd_id is None:
                self._enqueue(db, "cmd-result", self.msg_id("cmd-result", f"unclaimed-{uuid.uuid4().hex}"), data)
                return
            row = db.execute("SELECT state FROM commands WHERE id=?", (cmd_id,)).fetchone()
            if row is not None and row["state"] == "answered":
                return  # answered once
            db.execute(
                "INSERT INTO commands(id, name, digest, state, result, received_at) VALUES (?,?,'','answered',?,?)"
                " ON CONFLICT(id) DO UPDATE SET state='answered', result=excluded.result",
                (cmd_id, name, json.dumps(data, ensure_ascii=False), messages.utc_now()),
            )
            self._enqueue(db, "cmd-result", self.msg_id("cmd-result", cmd_id), data)

    def repeat_command_result(self, cmd_id: str) -> None:
        """A command delivered again after it was answered: the same answer once more, under a new message id."""
        with self.tx() as db:
            row = db.execute("SELECT result FROM commands WHERE id=? AND state='answered'", (cmd_id,)).fetchone()
            if row is None:
                return
            n = self._next(db, "cmd-result-repeat")
            self._enqueue(db, "cmd-result", self.msg_id("cmd-result", f"{cmd_id}:again-{n}"), json.loads(row[0]))

    # -- the staff PIN lockout -------------------------------------------------------
    def lockout(self) -> tuple[int, float]:
        """(wrong PINs so far, wall-clock time the keypad is locked until)."""
        row = self.conn().execute("SELECT failures, locked_until FROM attendant WHERE id=1").fetchone()
        return (row[0], row[1]) if row else (0, 0.0)

    def save_lockout(self, failures: int, locked_until: float) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO attendant VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET failures=?, locked_until=?",
                (failures, locked_until, failures, locked_until),
            )

    # -- refunds --------------------------------------------------------------------
    def refundable(self, db: sqlite3.Connection, order_no: str) -> tuple[dict[str, Any], int]:
        order = db.execute(
            "SELECT o.order_no, o.total, o.currency, p.out_trade_no, p.state FROM orders o"
            " JOIN payments p ON p.out_trade_no = o.out_trade_no WHERE o.order_no=?",
            (order_no,),
        ).fetchone()
        if order is None:
            raise RefundRefused(f"no order {order_no}")
        taken = db.execute(
            "SELECT COALESCE(sum(amount), 0) FROM refunds WHERE order_no=? AND state != 'FAILED'", (order_no,)
        ).fetchone()[0]
        return dict(order), order["total"] - taken

    def begin_refund(
        self,
        order_no: str,
        amount: int | None,
        *,
        requested_by: str,
        command_id: str | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Record a refund as SUBMITTING (with its `refunds` message) before anything is sent.

        `amount` None refunds what is left.  A command id seen before returns that refund: nothing new.
        """
        with self.tx() as db:
            if command_id:
                row = db.execute("SELECT * FROM refunds WHERE command_id=?", (command_id,)).fetchone()
                if row is not None:
                    return dict(row)
            order, left = self.refundable(db, order_no)
            if order["state"] not in ("PAID", "PARTIALLY_REFUNDED"):
                raise RefundRefused(f"order {order_no} is {order['state'].lower().replace('_', ' ')}")
            amount = left if amount is None else amount
            if left <= 0:
                raise RefundRefused(f"order {order_no} has nothing left to refund")
            if not 0 < amount <= left:
                raise RefundRefused(f"order {order_no}: refund {amount} is outside 1..{left}")
            n = self._next(db, "refund")
            out_request_no = f"{self.id.order_prefix}R{datetime.now():%y%m%d%H%M%S}{n:06d}"
            now = messages.utc_now()
            db.execute(
                "INSERT INTO refunds(out_request_no, order_no, out_trade_no, amount, currency, state, reason,"
                " requested_by, command_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    out_request_no,
                    order_no,
                    order["out_trade_no"],
                    amount,
                    order["currency"],
                    "SUBMITTING",
                    reason or None,
                    requested_by,
                    command_id,
                    now,
                    now,
                ),
            )
            return self._report_refund(db, out_request_no)

    def _report_refund(self, db: sqlite3.Connection, out_request_no: str) -> dict[str, Any]:
        r = dict(db.execute("SELECT * FROM refunds WHERE out_request_no=?", (out_request_no,)).fetchone())
        self._enqueue(db, "refunds", self.msg_id("refunds", f"{out_request_no}:{r['state']}"), messages.refund_data(r))
        return r

    def set_refund_state(self, out_request_no: str, state: str, reason: str = "") -> dict[str, Any]:
        """Move a refund on; REFUNDED also moves its payment to PARTIALLY_REFUNDED or REFUNDED, in one transaction."""
        with self.tx() as db:
            r = dict(db.execute("SELECT * FROM refunds WHERE out_request_no=?", (out_request_no,)).fetchone())
            if r["state"] in REFUND_FINAL or r["state"] == state:
                return r
            db.execute(
                "UPDATE refunds SET state=?, reason=COALESCE(NULLIF(?, ''), reason), updated_at=?"
                " WHERE out_request_no=?",
                (state, reason, messages.utc_now(), out_request_no),
            )
            r = self._report_refund(db, out_request_no)
            if state == "REFUNDED":
                p = db.execute("SELECT amount FROM payments WHERE out_trade_no=?", (r["out_trade_no"],)).fetchone()
                done = db.execute(
                    "SELECT sum(amount) FROM refunds WHERE out_trade_no=? AND state='REFUNDED'", (r["out_trade_no"],)
                ).fetchone()[0]
                new = "REFUNDED" if done >= p["amount"] else "PARTIALLY_REFUNDED"
                db.execute(
                    "UPDATE payments SET state=?, updated_at=? WHERE out_trade_no=?",
                    (new, messages.utc_now(), r["out_trade_no"]),
                )
                self._report_payment(db, r["out_trade_no"])
            return r

    def open_refunds(self) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.conn().execute(
                "SELECT * FROM refunds WHERE state IN ('SUBMITTING', 'UNKNOWN') ORDER BY created_at"  # schema 5's index
            )
        ]

    def refund(self, out_request_no: str) -> dict[str, Any]:
        return dict(self.conn().execute("SELECT * FROM refunds WHERE out_request_no=?", (out_request_no,)).fetchone())

    def journal_rows(self, day: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The local day's payments (by creation) and refunds (by their last change), for reconciliation."""
        db, span = self.conn(), day_range(day)
        payments = [
            _public(p)
            for p in db.execute(
                "SELECT out_trade_no, amount, state, reason, trade_id, created_at FROM payments"
                " WHERE created_at >= ? AND created_at < ?",
                span,
            )
        ]
        refunds = [
            dict(r)
            for r in db.execute(
                "SELECT out_request_no, out_trade_no, amount, state FROM refunds"
                " WHERE updated_at >= ? AND updated_at < ?",
                span,
            )
        ]
        return payments, refunds


def database_path(cfg: Config) -> Path:
    return Path(cfg.kiosk.data_dir) / "kiosk.sqlite"


def open_store(cfg: Config) -> Store:
    """The kiosk's database; StoreError (one line, what to do) when it cannot be used safely."""
    k = cfg.kiosk
    return Store(database_path(cfg), Identity(k.store_id, k.kiosk_id, k.order_prefix, k.currency))
