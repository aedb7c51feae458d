"""The sandbox gateway: a deterministic stand-in for an acquirer, embedded in the kiosk.

It keeps its trades in its own SQLite file, the way a real acquirer remembers
them, so a kiosk that is killed mid-payment finds the truth on restart.  What a
payment code does is set by its last digit (documented in the README):

    0-6  approved at once
    7    "user paying" (password on the phone) for user_paying_s, then paid
    8    declined: insufficient balance (NOTENOUGH)
    9    never answers: the request times out and no trade is made

A code is single-use, like Alipay's: a second try with it is refused
(AUTH_CODE_INVALID).

`fault` (sandbox.fault in the config) overrides the last digit for every
payment, for demos and tests of what a real network does:

    decline                 declined (NOTENOUGH)
    user_paying             "user paying" for user_paying_s, then paid
    5xx                     an HTTP 502 at once: no trade is made
    timeout                 no answer within request_timeout_s: no trade is made
    drop                    the connection drops after the trade is made and paid
    success_after_timeout   no answer in time, but the trade was made and paid

"Scan to pay" (precreate) answers with an EMVCo merchant-presented QR; like
Alipay's, the trade does not exist for queries until a wallet scans it
(`wallet_scans()`, the simulator's "wallet scans" button).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.payments import Answer, Entry, PayRequest, Status, emvqr

CURRENCY_NUMERIC = {"CNY": "156", "HKD": "344", "USD": "840", "EUR": "978", "GBP": "826"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS trades (
  out_trade_no TEXT PRIMARY KEY,
  code_tail TEXT NOT NULL,
  amount INTEGER NOT NULL,
  status TEXT NOT NULL,          -- WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED, FAILED
  paid_after REAL NOT NULL,      -- unix time when a user-paying trade succeeds
  refunded INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS used_codes (digest TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS refunds (
  out_request_no TEXT PRIMARY KEY, out_trade_no TEXT NOT NULL, amount INTEGER, created_at REAL NOT NULL DEFAULT 0
);
"""


class SandboxGateway:
    name = "sandbox"
    qr_channel = "emvco"  # its QR is an EMVCo merchant-presented code
    schemes = frozenset({"alipay", "wechat", "unionpay", "emvco"})  # the sandbox takes every wallet
    poll_interval_s, paying_limit_s = 3.0, 60.0

    def __init__(
        self,
        path: Path,
        *,
        latency_s: float = 0.2,
        user_paying_s: float = 5.0,
        request_timeout_s: float = 10.0,
        fault: str = "none",
        merchant: tuple[str, str, str, str] = ("Demo Store", "demo-store", "kiosk-01", "CNY"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()
        self.latency_s = latency_s
        self.user_paying_s = user_paying_s
        self.request_timeout_s = request_timeout_s
        self.fault = fault
        self.merchant = merchant
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, isolation_level=None, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def _trade_id(self, out_trade_no: str) -> str:
        return "SBX" + out_trade_no

    def pay(self, req: PayRequest) -> Answer:
        time.sleep(self.latency_s)
        digest = hashlib.sha256(req.auth_code.encode()).hexdigest()
        db = self._db()
        last = {"decline": "8", "user_paying": "7"}.get(self.fault, req.auth_code[-1])
        if self.fault == "5xx":
            return Answer(Status.UNKNOWN, reason="HTTP_502")
        if last == "9" or self.fault == "timeout":
            time.sleep(self.request_timeout_s)
            return Answer(Status.UNKNOWN, reason="TIMEOUT")
        if self.fault in ("drop", "success_after_timeout"):
            last = "0"  # the acquirer makes and pays the trade; the kiosk never hears
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM used_codes WHERE digest=?", (digest,)).fetchone():
                db.execute("COMMIT")
                return Answer(Status.FAILED, reason="AUTH_CODE_INVALID")
            db.execute("INSERT INTO used_codes VALUES (?)", (digest,))
            if db.execute("SELECT 1 FROM trades WHERE out_trade_no=?", (req.out_trade_no,)).fetchone():
                db.execute("COMMIT")
                return Answer(Status.FAILED, reason="OUT_TRADE_NO_USED")
            if last == "8":
                status, paid_after = "FAILED", 0.0
            elif last == "7":
                status, paid_after = "WAIT_BUYER_PAY", time.time() + self.user_paying_s
            else:
                status, paid_after = "TRADE_SUCCESS", time.time()
            db.execute(
                "INSERT INTO trades (out_trade_no, code_tail, amount, status, paid_after, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (req.out_trade_no, req.auth_code[-4:], req.amount, status, paid_after, time.time()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self.fault == "success_after_timeout":
            time.sleep(self.request_timeout_s)
            return Answer(Status.UNKNOWN, reason="TIMEOUT")
        if self.fault == "drop":
            return Answer(Status.UNKNOWN, reason="CONNECTION_DROPPED")
        return self._answer(req.out_trade_no, status)

    def _answer(self, out_trade_no: str, status: str) -> Answer:
        tid = self._trade_id(out_trade_no)
        if status == "TRADE_SUCCESS":
            return Answer(Status.PAID, trade_id=tid)
        if status == "WAIT_BUYER_PAY":
            return Answer(Status.PAYING, trade_id=tid)
        if status == "FAILED":
            return Answer(Status.FAILED, trade_id=tid, reason="NOTENOUGH")
        return Answer(Status.CLOSED, trade_id=tid)

    def _current(self, out_trade_no: str) -> str | None:
        db = self._db()
        row = db.execute("SELECT status, paid_after FROM trades WHERE out_trade_no=?", (out_trade_no,)).fetchone()
        if row is None:
            return None
        status, paid_after = row
        if status == "WAIT_BUYER_PAY" and time.time() >= paid_after:
            db.execute(
                "UPDATE trades SET status='TRADE_SUCCESS' WHERE out_trade_no=? AND status='WAIT_BUYER_PAY'",
                (out_trade_no,),
            )
            status = "TRADE_SUCCESS"
        return status

    def query(self, out_trade_no: str) -> Answer:
        time.sleep(self.latency_s)
        status = self._current(out_trade_no)
        if status is None or status == "WAIT_BUYER_SCAN":
            return Answer(Status.NOT_FOUND, reason="TRADE_NOT_EXIST")
        return self._answer(out_trade_no, status)

    def precreate(self, out_trade_no: str, amount: int, subject: str) -> Answer:
        time.sleep(self.latency_s)
        name, store_id, kiosk_id, currency = self.merchant
        qr = emvqr.dynamic_payment(
            scheme_id="D15600000000",
            merchant_id=store_id[:25],
            mcc="5411",
            currency_numeric=CURRENCY_NUMERIC.get(currency, "156"),
            amount_minor=amount,
            country="CN",
            merchant_name=name,
            city="SHANGHAI",
            local_city="上海",
            fallback_name=store_id.upper(),
            bill_number=out_trade_no[:25],
            terminal=kiosk_id[:25],
        )
        self._db().execute(
            "INSERT OR IGNORE INTO trades (out_trade_no, code_tail, amount, status, paid_after, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (out_trade_no, "QR", amount, "WAIT_BUYER_SCAN", float("inf"), time.time()),
        )
        return Answer(Status.PAYING, trade_id=self._trade_id(out_trade_no), qr=qr)

    def wallet_scans(self, out_trade_no: str) -> bool:
        """The shopper's wallet scanned the QR and paid (the simulator, tests)."""
        cur = self._db().execute(
            "UPDATE trades SET status='TRADE_SUCCESS' WHERE out_trade_no=? AND status='WAIT_BUYER_SCAN'",
            (out_trade_no,),
        )
        return cur.rowcount == 1

    def close(self, out_trade_no: str) -> Answer:
        time.sleep(self.latency_s)
        status = self._current(out_trade_no)
        if status == "TRADE_SUCCESS":
            return Answer(Status.PAID, trade_id=self._trade_id(out_trade_no), reason="TRADE_STATUS_ERROR")
        if status is not None:
            self._db().execute("UPDATE trades SET status='TRADE_CLOSED' WHERE out_trade_no=?", (out_trade_no,))
        return Answer(Status.CLOSED, trade_id=self._trade_id(out_trade_no))

    def refund(self, out_trade_no: str, out_request_no: str, amount: int, total: int | None = None) -> Answer:
        """Like Alipay: one refund per out_request_no, however often it is sent; never more than was paid."""
        time.sleep(self.latency_s)
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM refunds WHERE out_request_no=?", (out_request_no,)).fetchone():
                db.execute("COMMIT")
                return Answer(Status.REFUNDED, trade_id=self._trade_id(out_trade_no))
            row = db.execute("SELECT status, amount FROM trades WHERE out_trade_no=?", (out_trade_no,)).fetchone()
            if row is None or row[0] != "TRADE_SUCCESS":
                db.execute("COMMIT")
                return Answer(Status.FAILED, reason="TRADE_STATUS_ERROR")
            done = db.execute(
                "SELECT COALESCE(sum(amount), 0) FROM refunds WHERE out_trade_no=?", (out_trade_no,)
            ).fetchone()[0]
            if done + amount > row[1]:
                db.execute("COMMIT")
                return Answer(Status.FAILED, reason="REFUND_AMT_NOT_EQUAL_TOTAL")
            db.execute("INSERT INTO refunds VALUES (?,?,?,?)", (out_request_no, out_trade_no, amount, time.time()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return Answer(Status.REFUNDED, trade_id=self._trade_id(out_trade_no))

    def statement(self, day: str) -> list[Any]:
        """The sandbox acquirer's statement for a local day: paid trades, refunds, reversals of paid trades."""
        db = self._db()
        entries = []
        rows = db.execute(
            "SELECT out_trade_no, amount, refunded FROM trades WHERE date(created_at, 'unixepoch', 'localtime') = ?",
            (day,),
        ).fetchall()
        for otn, amount, refunded in rows:
            if self._current(otn) != "TRADE_SUCCESS" and not refunded:
                continue  # never paid
            entries.append(Entry("trade", otn, amount, "", self._trade_id(otn)))
            if refunded:
                entries.append(Entry("refund", otn, amount, f"cancel:{otn}", self._trade_id(otn)))
        for orn, otn, amount in db.execute(
            "SELECT out_request_no, out_trade_no, amount FROM refunds"
            " WHERE date(created_at, 'unixepoch', 'localtime') = ?",
            (day,),
        ):
            entries.append(Entry("refund", otn, amount, orn, self._trade_id(otn)))
        return entries

    def refund_query(self, out_trade_no: str, out_request_no: str) -> Answer:
        time.sleep(self.latency_s)
        found = (
            self._db()
            .execute("SELECT 1 FROM refunds WHERE out_request_no=? AND out_trade_no=?", (out_request_no, out_trade_no))
            .fetchone()
        )
        return Answer(Status.REFUNDED) if found else Answer(Status.NOT_FOUND, reason="REFUND_NOT_EXIST")

    def cancel(self, out_trade_no: str) -> Answer:
        time.sleep(self.latency_s)
        status = self._current(out_trade_no)
        if status is None:
            return Answer(Status.CLOSED, reason="TRADE_NOT_EXIST")
        refunded = status == "TRADE_SUCCESS"
        self._db().execute(
            "UPDATE trades SET status='TRADE_CLOSED', refunded=? WHERE out_trade_no=?", (int(refunded), out_trade_no)
        )
        return Answer(Status.CLOSED, trade_id=self._trade_id(out_trade_no), refunded=refunded)
