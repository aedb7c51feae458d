"""SQLite storage: catalog, payment journal, orders, outbox, counters.

Durability rules: WAL with synchronous=FULL; every state change is one
transaction that also writes the outbox message reporting it, so nothing
outside hears of a change that is not on disk, and nothing on disk goes
unreported.  Each thread gets its own connection.

Identity: each database holds the random *installation id* made when it was
created, and a copy is kept beside it (`installation-id`).  A database that is
empty, damaged or another kiosk's while that file names an installation is
refused (StoreError), so a lost database can never make order numbers and
message ids start again with different content.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk import messages
from kiosk.catalog import Product
from kiosk.checkout import Totals
from kiosk.config import Config
from kiosk.orders import Order
from kiosk.payment_state import FINAL_STATES, PaymentState

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
  sku TEXT PRIMARY KEY,
  barcode TEXT NOT NULL UNIQUE,
  name_zh TEXT NOT NULL,
  name_en TEXT NOT NULL,
  price INTEGER NOT NULL CHECK (price >= 0),
  tax_class TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS payments (
  out_trade_no TEXT PRIMARY KEY,
  gateway TEXT NOT NULL,
  channel TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  state TEXT NOT NULL,
  code_masked TEXT NOT NULL,
  trade_id TEXT,
  reason TEXT,
  cart_json TEXT NOT NULL,
  language TEXT NOT NULL,
  order_no TEXT,
  recovered INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_open ON payments(state);
CREATE TABLE IF NOT EXISTS orders (
  order_no TEXT PRIMARY KEY,
  out_trade_no TEXT NOT NULL UNIQUE REFERENCES payments(out_trade_no),
  created_at TEXT NOT NULL,
  paid_at TEXT NOT NULL,
  currency TEXT NOT NULL,
  subtotal INTEGER NOT NULL,
  discount INTEGER NOT NULL,
  tax INTEGER NOT NULL,
  total INTEGER NOT NULL,
  language TEXT NOT NULL,
  receipt_printed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS order_lines (
  order_no TEXT NOT NULL REFERENCES orders(order_no),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  barcode TEXT NOT NULL,
  name TEXT NOT NULL,
  qty INTEGER NOT NULL,
  unit_price INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  tax_class TEXT NOT NULL,
  PRIMARY KEY (order_no, line_no)
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL,
  qos INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  acked_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(sent_at, seq);
CREATE TABLE IF NOT EXISTS refunds (
  out_request_no TEXT PRIMARY KEY,
  order_no TEXT NOT NULL REFERENCES orders(order_no),
  out_trade_no TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  state TEXT NOT NULL,               -- SUBMITTING, UNKNOWN, REFUNDED, FAILED
  reason TEXT,
  requested_by TEXT NOT NULL,        -- "hq" or "attendant"
  command_id TEXT UNIQUE,            -- HQ's command id: a re-delivered command makes no second refund
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_open ON refunds(state);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Each step moves the schema up one version (PRAGMA user_version); a step runs once, in a transaction.
MIGRATIONS = (
    SCHEMA,
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
ALTER TABLE payments ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;  -- numbers its `payments` messages
ALTER TABLE payments ADD COLUMN code_digest BLOB;                     -- HMAC of the wallet code, never the code
CREATE INDEX IF NOT EXISTS payments_code ON payments(code_digest);
ALTER TABLE orders ADD COLUMN receipt_status TEXT NOT NULL DEFAULT 'queued';  -- queued/printed/not_printed
CREATE TABLE IF NOT EXISTS commands (  -- every command id head office used, answered once
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  state TEXT NOT NULL,               -- running, answered
  result TEXT,
  received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attendant (  -- the PIN lockout, kept across restarts
  id INTEGER PRIMARY KEY CHECK (id = 1),
  failures INTEGER NOT NULL,
  locked_until REAL NOT NULL          -- wall-clock seconds
);
""",
)
INSTALLATION_FILE = "installation-id"
SQLITE_HEADER = b"SQLite format 3\x00"
CODE_MEMORY_S = 24 * 3600  # a wallet code once tried is refused for this long (they expire within minutes)


class StoreError(Exception):
    """The database cannot be used safely; the one-line message says why and what to do."""


class RefundRefused(ValueError):
    """A refund that cannot be made; the message says why, for the attendant or head office."""


REFUND_FINAL = ("REFUNDED", "FAILED")


@dataclass(frozen=True)
class Identity:
    store_id: str
    kiosk_id: str
    order_prefix: str
    currency: str


class Store:
    def __init__(self, path: Path, identity: Identity) -> None:
        self.path = path
        self.id = identity
        self._local = threading.local()
        self.write_failed = False
        self._outbox_listeners: list[Callable[[], None]] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _check_file(path)
            db = self.conn()
            _check_integrity(path, db)
            self._migrate(db)
            self.installation = self._installation(db)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{path}: {describe(exc, path)}") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot use the data directory ({exc.strerror or exc})") from None
        self.code_key = bytes.fromhex(self._meta(db, "code_key"))

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for n, step in enumerate(MIGRATIONS[version:], start=version + 1):
            try:
                db.executescript(f"BEGIN IMMEDIATE;{step};PRAGMA user_version={n};COMMIT;")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else ""

    def _installation(self, db: sqlite3.Connection) -> str:
        """This database's installation id, checked against the copy beside it (made on first start)."""
        beside = self.path.parent / INSTALLATION_FILE
        kept = beside.read_text().strip() if beside.exists() else ""
        mine = self._meta(db, "installation_id")
        if not mine:
            if kept:
                raise StoreError(
                    f"{self.path} is a new, empty database, but this kiosk is installation {kept}: its database was "
                    "lost or replaced. Restore it from a backup; or, to start again as a new installation, run "
                    "python -m kiosk --new-installation"
                )
            mine = secrets.token_hex(4)
            with self.tx() as w:
                w.execute("INSERT INTO meta VALUES ('installation_id', ?)", (mine,))
                w.execute("INSERT INTO meta VALUES ('code_key', ?)", (secrets.token_hex(32),))
        elif kept and kept != mine:
            raise StoreError(
                f"{self.path} belongs to installation {mine}, but this kiosk is installation {kept}: "
                "put its own database back, or run python -m kiosk --new-installation"
            )
        if kept != mine:
            _write_durably(beside, mine + "\n")
        return mine

    @staticmethod
    def new_installation(path: Path) -> Path | None:
        """Move a database (and its installation file) aside so the next start makes a new installation."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        moved = None
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if p.exists():
                target = p.with_name(f"{p.name}.replaced-{stamp}")
                p.rename(target)
                moved = moved or target
        (path.parent / INSTALLATION_FILE).unlink(missing_ok=True)
        return moved

    # -- connections and transactions ------------------------------------------
    def conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error.

        A write the disk refuses (full, read-only, I/O error) sets `write_failed` until `storage_problem()`
        finds the disk writable again: the kiosk sells nothing meanwhile.
        """
        db = self.conn()
        self._local.enqueued = False
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (e.g. SQLITE_FULL)
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if _disk_refused(exc):
                self.write_failed = True
            raise
        if self._local.enqueued:
            self._local.enqueued = False
            self._outbox_grew()

    def on_outbox(self, listener: Callable[[], None]) -> None:
        """Call `listener` (head office's link) after every commit that put a message in the outbox."""
        self._outbox_listeners.append(listener)

    def _outbox_grew(self) -> None:
        for listener in self._outbox_listeners:
            try:
                listener()
            except Exception:  # a listener's failure never undoes or hides a commit
                log.exception("outbox listener failed")

    def storage_problem(self, min_free_bytes: int) -> str | None:
        """Why this kiosk cannot write safely now (too little space, or the last write was refused), or None."""
        free = shutil.disk_usage(self.path.parent).free
        if free < min_free_bytes:
            return f"only {free // 2**20} MB free in {self.path.parent}; the kiosk needs {min_free_bytes // 2**20} MB"
        if self.write_failed:
            try:
                with self.tx() as db:  # a write probe: is the disk writable again?
                    self._next(db, "write_probe")
            except sqlite3.Error as exc:
                return f"cannot write {self.path} ({exc})"
            self.write_failed = False
        return None

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- counters and the outbox ------------------------------------------------
    @staticmethod
    def _next(db: sqlite3.Connection, name: str) -> int:
        row = db.execute(
            "INSERT INTO counters(name, value) VALUES (?, 1)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def _enqueue(self, db: sqlite3.Connection, type_: str, msg_id: str, data: dict[str, Any], qos: int = 1) -> None:
        """Write one outbox message inside the caller's transaction (listeners hear of it after the commit)."""
        self._local.enqueued = True
        seq = self._next(db, "mqtt_seq")
        ts = messages.utc_now()
        payload = messages.envelope(
            msg_id=msg_id, seq=seq, ts=ts, store=self.id.store_id, kiosk=self.id.kiosk_id, type_=type_, data=data
        )
        db.execute(
            "INSERT INTO outbox(seq, id, topic, qos, payload, created_at) VALUES (?,?,?,?,?,?)",
            (seq, msg_id, type_, qos, payload, ts),
        )

    def msg_id(self, topic: str, key: str) -> str:
        """A message id no other kiosk or installation can produce: store:kiosk:installation:topic:key."""
        return f"{self.id.store_id}:{self.id.kiosk_id}:{self.installation}:{topic}:{key}"

    def add_event(self, kind: str, **data: Any) -> str:
        msg_id = self.msg_id("events", uuid.uuid4().hex)
        with self.tx() as db:
            self._enqueue(db, "events", msg_id, {"kind": kind, **data})
        return msg_id

    def pending_outbox(self, after_seq: int = 0, limit: int = 500) -> list[sqlite3.Row]:
        return (
            self.conn()
            .execute(
                "SELECT seq, id, topic, qos, payload FROM outbox"
                " WHERE sent_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            .fetchall()
        )

    def mark_sent(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        now = messages.utc_now()
        with self.tx() as db:
            db.executemany("UPDATE outbox SET sent_at=? WHERE seq=? AND sent_at IS NULL", [(now, s) for s in seqs])

    def mark_acked(self, ids: Iterable[str]) -> int:
        now = messages.utc_now()
        with self.tx() as db:
            cur = db.executemany(
                "UPDATE outbox SET acked_at=? WHERE id=? AND acked_at IS NULL", [(now, i) for i in ids]
            )
            return cur.rowcount

    def outbox_depth(self) -> int:
        return int(self.conn().execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])

    def next_session(self) -> int:
        with self.tx() as db:
            return self._next(db, "mqtt_session")

    # -- catalog ------------------------------------------------------------
    def seed_catalog(self, products: Iterable[Product]) -> int:
        """Insert products that are not there yet; returns how many were added."""
        with self.tx() as db:
            before = db.execute("SELECT count(*) FROM products").fetchone()[0]
            sqlite_utils.Database(db)["products"].insert_all((p.__dict__ for p in products), pk="sku", ignore=True)
            return db.execute("SELECT count(*) FROM products").fetchone()[0] - before

    def catalog(self) -> dict[str, Product]:
        rows = (
            self.conn()
            .execute("SELECT sku, barcode, name_zh, name_en, price, tax_class FROM products WHERE active=1")
            .fetchall()
        )
        return {r["barcode"]: Product(*r) for r in rows}

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
    ) -> str:
        """Persist a new payment as SUBMITTING before anything is sent; returns its out_trade_no.

        `code_digest` (kiosk.codes.code_digest under `self.code_key`) marks the wallet code used, for good.
        """
        now = messages.utc_now()
        cart = {
            "lines": [[p.__dict__, qty] for p, qty in lines],
            "totals": {k: getattr(totals, k) for k in ("subtotal", "discount", "tax", "total")},
        }
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
            db.execute(
                "UPDATE payments SET state=?, trade_id=COALESCE(NULLIF(?, ''), trade_id), reason=NULLIF(?, ''),"
                " recovered=MAX(recovered, ?), updated_at=? WHERE out_trade_no=?",
                (state.value, trade_id, reason, int(recovered), messages.utc_now(), out_trade_no),
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
            order_no = f"{self.id.order_prefix}-{day}-{self._next(db, 'order:' + day):04d}"
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
                name = prod["name_zh"] if p["language"].startswith("zh") else prod["name_en"]
                db.execute(
                    "INSERT INTO order_lines VALUES (?,?,?,?,?,?,?,?,?)",
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
                    ),
                )
            db.execute(
                "UPDATE payments SET state='PAID', trade_id=COALESCE(NULLIF(?, ''), trade_id), order_no=?,"
                " recovered=MAX(recovered, ?), updated_at=? WHERE out_trade_no=?",
                (trade_id, order_no, int(recovered), now, out_trade_no),
            )
            self._report_payment(db, out_trade_no)
            order = self._order(db, order_no)
            self._enqueue(
                db,
                "orders",
                self.msg_id("orders", order_no),
                messages.order_data(order),
            )
            return order

    def _order(self, db: sqlite3.Connection, order_no: str) -> Order:
        row = db.execute("SELECT * FROM orders WHERE order_no=?", (order_no,)).fetchone()
        lines = list(db.execute("SELECT * FROM order_lines WHERE order_no=? ORDER BY line_no", (order_no,)))
        payment = db.execute("SELECT * FROM payments WHERE out_trade_no=?", (row["out_trade_no"],)).fetchone()
        return Order.from_rows(row, lines, payment)

    def order(self, order_no: str) -> Order:
        return self._order(self.conn(), order_no)

    def open_payments(self) -> list[dict[str, Any]]:
        finals = tuple(s.value for s in FINAL_STATES)
        q = f"SELECT * FROM payments WHERE state NOT IN ({','.join('?' * len(finals))}) ORDER BY created_at"
        return [_public(r) for r in self.conn().execute(q, finals)]

    def mark_receipt(self, order_no: str, printed: bool) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE orders SET receipt_printed=?, receipt_status=? WHERE order_no=?",
                (int(printed), "printed" if printed else "not_printed", order_no),
            )

    def interrupted_receipts(self) -> list[str]:
        """At start: receipts that were to print when the kiosk stopped are not printed; each is reported."""
        with self.tx() as db:
            orders = [r[0] for r in db.execute("SELECT order_no FROM orders WHERE receipt_status='queued'")]
            for order_no in orders:
                db.execute("UPDATE orders SET receipt_status='not_printed' WHERE order_no=?", (order_no,))
                self._enqueue(
                    db,
                    "events",
                    self.msg_id("events", f"receipt_not_printed:{order_no}"),
                    {"kind": "receipt_not_printed", "order_no": order_no, "reason": "interrupted"},
                )
        return orders

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
        data = {"command": name, "name": name, "command_id": shown, **result}
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
        """Totals for one local calendar day (YYYY-MM-DD) for the end-of-day report."""
        db = self.conn()
        by_channel = {
            r["channel"]: {"count": r["n"], "total": r["total"]}
            for r in db.execute(
                "SELECT p.channel, count(*) AS n, sum(o.total) AS total FROM orders o"
                " JOIN payments p ON p.out_trade_no = o.out_trade_no"
                " WHERE date(o.paid_at, 'localtime') = ? GROUP BY p.channel",
                (day,),
            )
        }

        def count(sql: str) -> int:
            return int(db.execute(sql, (day,)).fetchone()[0] or 0)

        return {
            "date": day,
            "by_channel": by_channel,
            "orders": sum(c["count"] for c in by_channel.values()),
            "total": sum(c["total"] for c in by_channel.values()),
            "failed": count("SELECT count(*) FROM payments WHERE state='FAILED' AND date(created_at,'localtime')=?"),
            "cancelled": count(
                "SELECT count(*) FROM payments WHERE state='CANCELLED' AND date(created_at,'localtime')=?"
            ),
            "refunds": count("SELECT count(*) FROM refunds WHERE state='REFUNDED' AND date(updated_at,'localtime')=?"),
            "refunded": count(
                "SELECT sum(amount) FROM refunds WHERE state='REFUNDED' AND date(updated_at,'localtime')=?"
            ),
            "unprinted": count("SELECT count(*) FROM orders WHERE receipt_printed=0 AND date(paid_at,'localtime')=?"),
        }

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
                "SELECT * FROM refunds WHERE state NOT IN ('REFUNDED', 'FAILED') ORDER BY created_at"
            )
        ]

    def refund(self, out_request_no: str) -> dict[str, Any]:
        return dict(self.conn().execute("SELECT * FROM refunds WHERE out_request_no=?", (out_request_no,)).fetchone())

    def journal_rows(self, day: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The local day's payments (by creation) and refunds (by their last change), for reconciliation."""
        db = self.conn()
        payments = [
            _public(p) for p in db.execute("SELECT * FROM payments WHERE date(created_at, 'localtime') = ?", (day,))
        ]
        refunds = [dict(r) for r in db.execute("SELECT * FROM refunds WHERE date(updated_at, 'localtime') = ?", (day,))]
        return payments, refunds


def database_path(cfg: Config) -> Path:
    return Path(cfg.kiosk.data_dir) / "kiosk.sqlite"


def open_store(cfg: Config) -> Store:
    """The kiosk's database; StoreError (one line, what to do) when it cannot be used safely."""
    k = cfg.kiosk
    return Store(database_path(cfg), Identity(k.store_id, k.kiosk_id, k.order_prefix, k.currency))


def _disk_refused(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return any(k in text for k in ("full", "readonly", "read-only", "disk i/o", "unable to open"))


def _public(row: sqlite3.Row) -> dict[str, Any]:
    """A payment row for the rest of the kiosk: without the wallet code's digest."""
    p = dict(row)
    p.pop("code_digest", None)
    return p


def _check_file(path: Path) -> None:
    """Refuse what is not an SQLite database before SQLite would quietly start a new one over it."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not the kiosk's database; move it away")
    if path.exists() and path.stat().st_size:
        with path.open("rb") as f:
            if f.read(16) != SQLITE_HEADER:
                raise StoreError(f"{path} is not an SQLite database (damaged header); restore it from a backup")


def _check_integrity(path: Path, db: sqlite3.Connection) -> None:
    problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise StoreError(f"{path} is damaged ({'; '.join(problems)}); restore it from a backup")


def describe(exc: sqlite3.DatabaseError, path: Path) -> str:
    """One line for a technician: what the database error means and what to do."""
    text = str(exc)
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(path.parent).free
        if free < 2**20:
            return f"cannot write the database ({text}): the disk is full ({free // 1024} KB free); free some space"
    if "readonly" in text or "unable to open" in text:
        return f"cannot write the database ({text}): is the file system read-only, or owned by another user?"
    if "full" in text:
        return f"cannot write the database ({text}): free some space"
    if "not a database" in text or "malformed" in text:
        return f"the database is damaged ({text}); restore it from a backup"
    return text


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
