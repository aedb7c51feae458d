"""The database itself: opening and checking it, its installation id, one connection per thread, write
transactions, the counters and the outbox.

Durability rules: WAL with synchronous=FULL; every state change is one
transaction that also writes the outbox message reporting it, so nothing
outside hears of a change that is not on disk, and nothing on disk goes
unreported.  After each commit that wrote a message, the outbox listeners (the
head-office link) are called.

Identity: each database holds the random *installation id* made when it was
created, and a copy is kept beside it (`installation-id`).  A database that is
empty, damaged or another kiosk's while that file names an installation is
refused (StoreError), so a lost database can never make order numbers and
message ids start again with different content.
"""

from __future__ import annotations

import contextlib
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
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from kiosk import messages
from kiosk.store.schema import MIGRATIONS

log = logging.getLogger(__name__)
INSTALLATION_FILE = "installation-id"
SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(Exception):
    """The database cannot be used safely; the one-line message says why and what to do."""


@dataclass(frozen=True)
class Identity:
    store_id: str
    kiosk_id: str
    order_prefix: str
    currency: str


class Database:
    def __init__(self, path: Path, identity: Identity) -> None:
        self.path = path
        self.id = identity
        self._local = threading.local()
        self.write_failed = False
        self._outbox_listeners: list[Callable[[], None]] = []
        self.resends = 0  # how many times head office asked for messages again
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
        if version == 0 and not db.execute("SELECT 1 FROM sqlite_master").fetchone():
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # a new database: free pages can be given back (reclaim_space)
            db.execute("VACUUM")  # an empty file: instant; applies the setting (WAL mode has written the header)
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

    def integrity(self) -> str:
        """SQLite's quick check of the database now: "ok", or the first problems it found."""
        return "; ".join(r[0] for r in self.conn().execute("PRAGMA quick_check(3)"))

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
                " WHERE sent_at IS NULL AND acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            .fetchall()
        )

    def stale_unacked(self, older_than_s: float, limit: int = 500) -> list[sqlite3.Row]:
        """Messages the broker took more than `older_than_s` ago that head office has not acknowledged: to send
        again, with the same id (head office stores each id once)."""
        cutoff = _utc_before(older_than_s)
        return (
            self.conn()
            .execute(
                "SELECT seq, id, topic, qos, payload FROM outbox"
                " WHERE acked_at IS NULL AND sent_at IS NOT NULL AND sent_at < ? ORDER BY seq LIMIT ?",
                (cutoff, limit),
            )
            .fetchall()
        )

    def mark_sent(self, seqs: Iterable[int]) -> None:
        """The broker took these (PUBACK); a message sent again gets the time of its latest sending."""
        seqs = list(seqs)
        if not seqs:
            return
        now = messages.utc_now()
        with self.tx() as db:
            # an acknowledged row keeps its first sending time (head office may answer before the PUBACK is seen)
            db.executemany(
                "UPDATE outbox SET sent_at=? WHERE seq=? AND (sent_at IS NULL OR acked_at IS NULL)",
                [(now, s) for s in seqs],
            )

    def mark_acked(self, ids: Iterable[str]) -> int:
        now = messages.utc_now()
        with self.tx() as db:
            cur = db.executemany(
                "UPDATE outbox SET acked_at=? WHERE id=? AND acked_at IS NULL", [(now, i) for i in ids]
            )
            return cur.rowcount

    def outbox_depth(self) -> int:
        return int(
            self.conn().execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND acked_at IS NULL").fetchone()[0]
        )

    def unacked_count(self) -> int:
        """Sent, but not yet acknowledged by head office."""
        q = "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND acked_at IS NULL"
        return int(self.conn().execute(q).fetchone()[0])

    def prune_outbox(self, retention_s: float, batch: int = 500, most: int = 100_000) -> int:
        """Delete messages head office acknowledged more than `retention_s` ago; nothing unacknowledged goes.
        `batch` rows per transaction, so a sale never waits behind a long delete; at most `most` in one call."""
        return self.in_batches(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox"
            " WHERE acked_at IS NOT NULL AND acked_at < ? ORDER BY acked_at LIMIT ?)",
            _utc_before(retention_s),
            batch=batch,
            most=most,
        )

    def in_batches(self, sql: str, *params: Any, batch: int = 500, most: int = 10**9) -> int:
        """Run a change whose last parameter is a LIMIT of `batch` rows, one short transaction at a time, until it
        changes fewer (or `most` in all); returns how many rows it changed.  A sale waits for one batch at most."""
        done = 0
        while done < most:
            with self.tx() as db:
                n = db.execute(sql, (*params, batch)).rowcount
            done += n
            if n < batch:
                break
        return done

    def reclaim_space(self, pages: int = 256) -> int:
        """Give up to `pages` free pages back to the file system (databases made with auto_vacuum=INCREMENTAL,
        the ones this version makes); returns how many pages are still free.  A few pages at a time: short."""
        db = self.conn()
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            # its own short write transaction; executescript steps it to the end (execute() frees one page a call)
            db.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
        return int(db.execute("PRAGMA freelist_count").fetchone()[0])

    def resend_from(self, from_seq: int) -> int:
        """Head office is missing messages from `from_seq` on: every one not acknowledged goes again (same id).
        Returns how many; messages already pruned cannot be sent again."""
        with self.tx() as db:
            n = db.execute("UPDATE outbox SET sent_at=NULL WHERE seq >= ? AND acked_at IS NULL", (from_seq,)).rowcount
        self.resends += 1  # the link starts its outbox cursor again
        return n

    def setting(self, key: str) -> str:
        """A value kept in the database's meta table ("" when unset): head office's lock, changed settings."""
        return self._meta(self.conn(), key)

    def set_setting(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value)
            )

    def last_seq(self) -> int:
        """The seq of the newest message written (0: none yet)."""
        row = self.conn().execute("SELECT value FROM counters WHERE name='mqtt_seq'").fetchone()
        return int(row[0]) if row else 0

    def next_session(self) -> int:
        with self.tx() as db:
            return self._next(db, "mqtt_session")


def _stamp(when: datetime) -> str:
    """A time in the database's timestamp format (kiosk.messages.utc_now): fixed width, so strings sort as times."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def day_range(day: str) -> tuple[str, str]:
    """The local calendar day YYYY-MM-DD as [start, end) in the database's UTC timestamps: a day's rows are a
    range on an indexed column, not a date() computed on every row of the history (DST days have 23 or 25 h)."""
    first = date.fromisoformat(day)
    start = datetime.combine(first, time()).astimezone()
    end = datetime.combine(first + timedelta(days=1), time()).astimezone()
    return _stamp(start), _stamp(end)


def _utc_before(seconds: float) -> str:
    """The outbox's timestamp format, `seconds` ago (the strings sort as the times do)."""
    return _stamp(datetime.now(UTC) - timedelta(seconds=seconds))


def _disk_refused(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return any(k in text for k in ("full", "readonly", "read-only", "disk i/o", "unable to open"))


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
