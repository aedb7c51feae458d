"""Storing what the kiosks send: a batch of messages in one transaction, each exactly once.

For every message: the topic and the envelope are checked against the
protocol (a bad one goes to `quarantine` with the reason); a known
(store, kiosk, id) with the same bytes is a duplicate (acknowledged again,
nothing else); with other bytes it is a **conflict** (kept in `conflicts`,
alerted, never overwriting).  A new message is stored with everything derived
from it in the same transaction: the order, its lines and timeline, the
payment's and refund's state (a state older than the one stored never wins),
the receipt's fate, events and the alerts they open or close, the kiosk's
state, birth and telemetry, command results.  Only after the commit does the
caller acknowledge: to the broker (PUBACK) and to the kiosk (`ack`).

Seq gaps: per kiosk installation, `seq_done` is the highest seq up to which
every message is stored; a gap above it that stays open `gap_wait_s` makes
`resend` requests for the caller to send as `cmd/resend {"from_seq": N}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from headoffice import alerts as alert_rules
from headoffice import stock
from headoffice.db import (
    alerts,
    conflicts,
    events,
    kiosks,
    messages,
    order_lines,
    orders,
    payments,
    quarantine,
    telemetry_history,
    timeline,
)
from headoffice.derive import Derive, Kiosk, Received, _Batch, _is
from headoffice.protocol import Invalid, check, installation_of, parse_topic

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a batch did; `acks` are the ids to acknowledge to each kiosk once the transaction has committed."""

    acks: dict[Kiosk, list[str]] = field(default_factory=lambda: defaultdict(list))
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    resend: list[tuple[str, str, int]] = field(default_factory=list)  # (store, kiosk, from_seq)
    order_ids: list[str] = field(default_factory=list)  # orders' message ids stored now (their ack is timed)


_SET_LAST_SEEN = update(kiosks).where(_is(bindparam("s"), bindparam("k"))).values(last_seen=bindparam("at"))
_SET_SEQ = (
    update(kiosks)
    .where(_is(bindparam("s"), bindparam("k")))
    .values(seq_done=bindparam("done"), seq_max=bindparam("done"))
)
_SET_RECEIPT = (
    update(orders)
    .where(
        and_(orders.c.store == bindparam("s"), orders.c.kiosk == bindparam("k"), orders.c.order_no == bindparam("o"))
    )
    .values(receipt=bindparam("outcome"))
)
_UPDATE_PAYMENT = (
    update(payments)
    .where(
        and_(
            payments.c.store == bindparam("s"),
            payments.c.kiosk == bindparam("k"),
            payments.c.out_trade_no == bindparam("o"),
        )
    )
    .values(
        {
            c: bindparam(c)
            for c in (
                "state",
                "amount",
                "currency",
                "channel",
                "gateway",
                "trade_id",
                "order_no",
                "seq",
                "updated_at",
                "reason",
            )
        }
    )
)


class Ingest(Derive):
    def __init__(self, engine: Engine, *, gap_wait_s: float = 10.0, clock=time.time) -> None:
        self.engine = engine
        self.gap_wait_s = gap_wait_s
        self.clock = clock
        self._known_kiosks: set[Kiosk] = set()  # rows that exist with their installation set (never deleted)
        self._pending_kiosks: set[Kiosk] = set()  # found in the batch being stored: known once it commits

    # -- one batch ---------------------------------------------------------------------
    def store_batch(self, batch: list[Received], acknowledged: list[str] | None = None) -> Outcome:
        """Store `batch` in one transaction; `acknowledged`: order message ids whose `ack` went out after the last
        batch (their `acked_at` is written in this transaction, saving one of its own)."""
        out = Outcome()
        b = _Batch()
        checked = [self._check(r, out, b) for r in batch]
        self._pending_kiosks = set()
        with self.engine.begin() as conn:
            b.known.update(_stored_digests(conn, {(c[1]["store"], c[1]["kiosk"], c[1]["id"]) for c in checked if c}))
            for r in b.invalid:
                self._quarantine(conn, r[0], r[1], r[2])
            for c in checked:
                if c is not None:
                    self._one(conn, *c, out, b)
            self._flush(conn, b)
            stock.sell(conn, b.lines, b.alerts, self.clock())  # in this transaction: once per order, ever
            self._write_payments(conn, b)
            b.alerts.write(conn)
            if b.messages:
                _bulk_insert(conn, messages, b.messages)
            if b.lines:
                _bulk_insert(conn, order_lines, b.lines)
            if b.timeline:
                _bulk_insert(conn, timeline, b.timeline)
            if b.events:
                _bulk_insert(conn, events, b.events)
            for (store, kiosk), (data, at) in b.telemetry.items():  # only the newest heartbeat matters
                conn.execute(
                    update(kiosks)
                    .where(_is(store, kiosk))
                    .values(telemetry=data, telemetry_at=at, outbox_depth=data["outbox_depth"])
                )
            if b.telemetry:  # and every kiosk's heartbeat over time, for its page
                rows = [{"store": s, "kiosk": k, "at": at, "data": d} for (s, k), (d, at) in b.telemetry.items()]
                _bulk_insert(conn, telemetry_history, rows)
            if b.seen:
                conn.execute(_SET_LAST_SEEN, [{"s": st, "k": k, "at": at} for (st, k), at in b.seen.items()])
                conn.execute(
                    update(alerts)
                    .where(
                        and_(
                            alerts.c.kind == "kiosk_silent",
                            alerts.c.open,
                            tuple_(alerts.c.store, alerts.c.kiosk).in_(list(b.seen)),
                        )
                    )
                    .values(open=False, closed_at=self.clock())
                )
            self._advance_seqs(conn, b, out)
            if acknowledged:
                conn.execute(update(orders).where(orders.c.msg_id.in_(acknowledged)).values(acked_at=self.clock()))
        self._known_kiosks |= self._pending_kiosks  # committed
        return out

    def _advance_seqs(self, conn: Connection, b: _Batch, out: Outcome) -> None:
        """Move each touched kiosk's seq_done.  The usual case (this batch's seqs follow on from seq_done, no gap
        open before) is settled from the batch alone; anything else looks at the stored messages."""
        if not b.touched:
            return
        rows = {
            (r.store, r.kiosk): r
            for r in conn.execute(
                select(kiosks.c.store, kiosks.c.kiosk, kiosks.c.installation, kiosks.c.seq_done, kiosks.c.seq_max)
                .where(tuple_(kiosks.c.store, kiosks.c.kiosk).in_(list(b.touched)))
                .where(kiosks.c.gap_since.is_(None))
            )
        }
        new_seqs: dict[Kiosk, list[int]] = {}
        for m in b.messages:
            k = (m["store"], m["kiosk"])
            row = rows.get(k)
            if row is not None and m["seq"] > 0 and m["installation"] == row.installation:
                new_seqs.setdefault(k, []).append(m["seq"])
        fast = []
        for k in b.touched:
            row = rows.get(k)
            seqs = sorted(new_seqs.get(k, []))
            follows_on = seqs == list(range(row.seq_done + 1, row.seq_done + 1 + len(seqs))) if row else False
            if row is not None and seqs and follows_on and row.seq_max <= row.seq_done:
                fast.append({"s": k[0], "k": k[1], "done": row.seq_done + len(seqs)})
            else:
                self._advance_seq(conn, k, out)
        if fast:
            conn.execute(_SET_SEQ, fast)

    def _check(self, r: Received, out: Outcome, b: _Batch) -> tuple[Received, dict[str, Any], float] | None:
        now = r.at or self.clock()
        try:
            body = check(parse_topic(r.topic), r.payload)
        except Invalid as exc:
            b.invalid.append((r, str(exc), now))
            out.quarantined += 1
            return None
        return r, body, now

    def check_gaps(self) -> list[tuple[str, str, int]]:
        """Gaps that have waited long enough, for kiosks that sent nothing since (run now and then)."""
        out = Outcome()
        with self.engine.begin() as conn:
            open_gaps = conn.execute(select(kiosks.c.store, kiosks.c.kiosk).where(kiosks.c.gap_since.is_not(None)))
            for store, kiosk in open_gaps.all():
                self._advance_seq(conn, (store, kiosk), out)
        return out.resend

    def check_silent(self, after_s: float) -> int:
        """Kiosks that said they were online or locked and have sent nothing for `after_s`: an alert each."""
        now = self.clock()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(kiosks.c.store, kiosks.c.kiosk).where(
                    and_(kiosks.c.state.in_(("online", "locked")), kiosks.c.last_seen < now - after_s)
                )
            ).all()
            for store, kiosk in rows:
                alert_rules.open(conn, store, kiosk, "kiosk_silent", "", now, f"nothing heard for {after_s:.0f} s")
        return len(rows)

    def mark_acknowledged(self, order_ids: list[str]) -> None:
        """The kiosks were sent their `ack`: the orders say when."""
        if order_ids:
            with self.engine.begin() as conn:
                conn.execute(update(orders).where(orders.c.msg_id.in_(order_ids)).values(acked_at=self.clock()))

    # -- one message -------------------------------------------------------------------
    def _one(self, conn: Connection, r: Received, body: dict[str, Any], now: float, out: Outcome, b: _Batch):
        store, kiosk, msg_id = body["store"], body["kiosk"], body["id"]
        digest = hashlib.sha256(r.payload).hexdigest()
        known = b.known.get((store, kiosk, msg_id))
        if known is not None:
            if known == digest:
                out.duplicates += 1
            else:
                self._conflict(conn, store, kiosk, msg_id, digest, r.payload, now)
                out.conflicts += 1
            out.acks[(store, kiosk)].append(msg_id)
            return
        b.known[(store, kiosk, msg_id)] = digest
        installation = installation_of(msg_id)
        b.messages.append(
            {
                "store": store,
                "kiosk": kiosk,
                "id": msg_id,
                "installation": installation,
                "seq": body["seq"],
                "type": body["type"],
                "ts": body["ts"],
                "digest": digest,
                "payload": r.payload.decode("utf-8"),
                "received_at": now,
            }
        )
        if (store, kiosk) not in b.seen:
            self._kiosk_seen(conn, store, kiosk, installation, now)
        b.seen[(store, kiosk)] = now
        getattr(self, "_" + body["type"].replace("-", "_"))(conn, store, kiosk, body, now, out, b)
        out.stored += 1
        if body["type"] not in ("status", "telemetry"):  # status is retained, telemetry QoS 0: nothing to redo
            out.acks[(store, kiosk)].append(msg_id)
        if body["seq"] > 0:
            b.touched.add((store, kiosk))

    def _flush(self, conn: Connection, b: _Batch) -> None:
        """Write the batch's orders (with the fate of a receipt that came before its order), then its receipts."""
        if b.orders:
            keys = [(o["store"], o["kiosk"], o["order_no"]) for o in b.orders]
            early = conn.execute(
                select(timeline.c.store, timeline.c.kiosk, timeline.c.order_no, timeline.c.what)
                .where(
                    and_(
                        tuple_(timeline.c.store, timeline.c.kiosk, timeline.c.order_no).in_(keys),
                        timeline.c.what.like("receipt_%"),
                    )
                )
                .order_by(timeline.c.n)
            ).all()
            fate = {(st, k, o): what.removeprefix("receipt_") for st, k, o, what in early}
            for o in b.orders:
                o["receipt"] = fate.get((o["store"], o["kiosk"], o["order_no"]), "unknown")
            _bulk_insert(conn, orders, b.orders)
            b.orders.clear()
        if b.receipts:
            conn.execute(_SET_RECEIPT, b.receipts)
            b.receipts.clear()

    def prune_telemetry(self, before: float) -> int:
        """Heartbeats older than `before` leave the kiosk pages' history; returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(delete(telemetry_history).where(telemetry_history.c.at < before)).rowcount

    def _write_payments(self, conn: Connection, b: _Batch) -> None:
        """Each payment's newest state in the batch; a state older than the stored one (a resend) never wins."""
        if not b.payments:
            return
        stored = dict(
            ((st, k, o), seq)
            for st, k, o, seq in conn.execute(
                select(payments.c.store, payments.c.kiosk, payments.c.out_trade_no, payments.c.seq).where(
                    tuple_(payments.c.store, payments.c.kiosk, payments.c.out_trade_no).in_(list(b.payments))
                )
            )
        )
        new = [p for key, p in b.payments.items() if key not in stored]
        newer = [
            {**p, "s": p["store"], "k": p["kiosk"], "o": p["out_trade_no"]}
            for key, p in b.payments.items()
            if key in stored and p["seq"] > stored[key]
        ]
        if new:
            _bulk_insert(conn, payments, new)
        if newer:
            conn.execute(_UPDATE_PAYMENT, newer)

    def _quarantine(self, conn: Connection, r: Received, reason: str, now: float) -> None:
        log.warning("quarantined a message on %s: %s", r.topic, reason)
        payload = r.payload.decode("utf-8", errors="replace")
        conn.execute(insert(quarantine).values(topic=r.topic[:500], payload=payload, reason=reason, received_at=now))

    def _conflict(self, conn: Connection, store: str, kiosk: str, msg_id: str, digest: str, payload: bytes, now: float):
        log.error("conflict: %s/%s sent id %s again with other content", store, kiosk, msg_id)
        exists = conn.execute(
            select(func.count()).where(
                and_(
                    conflicts.c.store == store,
                    conflicts.c.kiosk == kiosk,
                    conflicts.c.id == msg_id,
                    conflicts.c.digest == digest,
                )
            )
        ).scalar_one()
        if not exists:
            conn.execute(
                insert(conflicts).values(
                    store=store,
                    kiosk=kiosk,
                    id=msg_id,
                    digest=digest,
                    payload=payload.decode("utf-8", errors="replace"),
                    received_at=now,
                )
            )
        alert_rules.open(conn, store, kiosk, "conflict", msg_id, now, "the same message id with other content")

    def _kiosk_seen(self, conn: Connection, store: str, kiosk: str, installation: str, now: float) -> None:
        if (store, kiosk) in self._known_kiosks:
            return
        row = conn.execute(
            select(kiosks.c.installation).where(and_(kiosks.c.store == store, kiosks.c.kiosk == kiosk))
        ).first()
        if row is None:
            conn.execute(
                insert(kiosks).values(
                    store=store,
                    kiosk=kiosk,
                    state="unknown",
                    state_since=now,
                    state_ts="",
                    installation=installation,
                    last_seen=now,
                    seq_done=0,
                    seq_max=0,
                    outbox_depth=0,
                )
            )
        elif not row.installation and installation:
            conn.execute(update(kiosks).where(_is(store, kiosk)).values(installation=installation))
        if installation or (row is not None and row.installation):
            self._pending_kiosks.add((store, kiosk))

    # -- seq ----------------------------------------------------------------------------------
    def _advance_seq(self, conn: Connection, k: Kiosk, out: Outcome) -> None:
        store, kiosk = k
        row = conn.execute(
            select(
                kiosks.c.installation, kiosks.c.seq_done, kiosks.c.seq_max, kiosks.c.gap_since, kiosks.c.resend_asked
            ).where(_is(store, kiosk))
        ).one()
        seqs = conn.execute(
            select(messages.c.seq)
            .where(
                and_(
                    messages.c.store == store,
                    messages.c.kiosk == kiosk,
                    messages.c.installation == row.installation,
                    messages.c.seq > row.seq_done,
                )
            )
            .order_by(messages.c.seq)
            .limit(5000)
        ).scalars()
        done, top = row.seq_done, row.seq_max
        for s in seqs:
            if s == done + 1:
                done = s
            top = max(top, s)
        now = self.clock()
        values: dict[str, Any] = {"seq_done": done, "seq_max": top}
        if top > done:
            since = row.gap_since or now
            values["gap_since"] = since
            waited = now - since >= self.gap_wait_s
            asked_long_ago = row.resend_asked is None or now - row.resend_asked >= self.gap_wait_s
            if waited and asked_long_ago:
                out.resend.append((store, kiosk, done + 1))
                values["resend_asked"] = now
                alert_rules.open(conn, store, kiosk, "seq_gap", "", now, f"messages after seq {done} missing")
        else:
            values.update(gap_since=None, resend_asked=None)
            alert_rules.close(conn, store, kiosk, "seq_gap", "", now)
        conn.execute(update(kiosks).where(_is(store, kiosk)).values(**values))


def _stored_digests(conn: Connection, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """The digests of those of `keys` (store, kiosk, id) already stored: one query per 1000, by the batch's
    stores, kiosks and ids (the primary key's columns), the exact keys picked out here.  On PostgreSQL each list
    is one array parameter (`= ANY`): a short statement psycopg sends as it is, instead of rewriting thousands of
    placeholders for every batch."""
    found: dict[tuple[str, str, str], str] = {}
    ordered = sorted(keys)
    for i in range(0, len(ordered), 1000):
        part = ordered[i : i + 1000]
        cols = (messages.c.store, messages.c.kiosk, messages.c.id)
        values = [sorted({k[n] for k in part}) for n in range(3)]
        if conn.dialect.name == "postgresql":
            where = [
                c == any_(bindparam(f"k{n}", v, type_=ARRAY(String)))
                for n, (c, v) in enumerate(zip(cols, values, strict=True))
            ]
        else:
            where = [c.in_(v) for c, v in zip(cols, values, strict=True)]
        q = select(*cols, messages.c.digest).where(*where)
        wanted = set(part)
        found.update({(st, k, m): d for st, k, m, d in conn.execute(q) if (st, k, m) in wanted})
    return found


def _bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows into one table: PostgreSQL's COPY (one round trip, no per-row statement), elsewhere executemany.
    Inside the caller's transaction either way."""
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_cols = {c for c in columns if isinstance(table.c[c].type, JSON)}
    raw = conn.connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c], ensure_ascii=False) if c in json_cols and row[c] is not None else row[c]
                    for c in columns
                ]
            )
