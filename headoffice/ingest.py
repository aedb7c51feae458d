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

from sqlalchemy import JSON, Connection, Engine, Table, and_, bindparam, func, insert, select, tuple_, update

from headoffice import alerts as alert_rules
from headoffice.db import (
    alerts,
    commands,
    conflicts,
    events,
    kiosks,
    messages,
    order_lines,
    orders,
    payments,
    quarantine,
    refunds,
    timeline,
)
from headoffice.protocol import Invalid, check, installation_of, parse_topic

log = logging.getLogger(__name__)
Kiosk = tuple[str, str]  # (store, kiosk)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    at: float = 0.0  # time.time() when it arrived (0: now)
    retained: bool = False


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


def _is(store: str, kiosk: str):
    return and_(kiosks.c.store == store, kiosks.c.kiosk == kiosk)


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
            for c in ("state", "amount", "currency", "channel", "gateway", "trade_id", "order_no", "seq", "updated_at")
        }
    )
)


@dataclass
class _Batch:
    """What one batch writes at its end, in one statement per table (and what it has seen so far)."""

    known: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (store, kiosk, id) -> digest
    invalid: list[tuple[Received, str, float]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    payments: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    telemetry: dict[Kiosk, tuple[dict[str, Any], float]] = field(default_factory=dict)
    seen: dict[Kiosk, float] = field(default_factory=dict)
    touched: set[Kiosk] = field(default_factory=set)

    def step(self, store: str, kiosk: str, order_no: str, at: str, what: str, detail: Any) -> None:
        self.timeline.append(
            {"store": store, "kiosk": kiosk, "order_no": order_no, "at": at, "what": what, "detail": detail}
        )


class Ingest:
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
            keys = list({(c[1]["store"], c[1]["kiosk"], c[1]["id"]) for c in checked if c is not None})
            for i in range(0, len(keys), 500):  # what is known already, in one query per 500
                q = select(messages.c.store, messages.c.kiosk, messages.c.id, messages.c.digest).where(
                    tuple_(messages.c.store, messages.c.kiosk, messages.c.id).in_(keys[i : i + 500])
                )
                b.known.update({(st, k, i_): d for st, k, i_, d in conn.execute(q)})
            for r in b.invalid:
                self._quarantine(conn, r[0], r[1], r[2])
            for c in checked:
                if c is not None:
                    self._one(conn, *c, out, b)
            self._flush(conn, b)
            self._write_payments(conn, b)
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

    # -- per topic ------------------------------------------------------------------------
    def _status(self, conn, store, kiosk, body, now, out, b) -> None:
        state = body["data"]["state"]
        row = conn.execute(select(kiosks.c.state, kiosks.c.state_ts).where(_is(store, kiosk))).one()
        if row.state_ts and body["ts"] < row.state_ts:
            return  # an older status arriving late changes nothing
        if row.state != state:
            conn.execute(update(kiosks).where(_is(store, kiosk)).values(state=state, state_since=now))
        conn.execute(update(kiosks).where(_is(store, kiosk)).values(state_ts=body["ts"]))
        alert_rules.on_status(conn, store, kiosk, state, body["data"].get("reason", ""), now)

    def _birth(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        row = conn.execute(select(kiosks.c.installation, kiosks.c.seq_max).where(_is(store, kiosk))).one()
        values: dict[str, Any] = {
            "installation": d["installation"],
            "firmware": d["firmware"],
            "catalog_version": d["catalog_version"],
            "config_digest": d["config_digest"],
            "gateway": d["gateway"]["kind"],
            "sandbox": d["gateway"]["sandbox"],
            "session": d["session"],
            "settings": d.get("settings"),
        }
        if row.installation and row.installation != d["installation"]:  # re-imaged: its seq starts again
            log.warning("%s/%s is a new installation %s (was %s)", store, kiosk, d["installation"], row.installation)
            values.update(seq_done=0, seq_max=0, gap_since=None, resend_asked=None)
            seq_max = 0
        else:
            seq_max = row.seq_max
        if d["last_seq"] > seq_max:  # the kiosk has written more than head office has seen
            values["seq_max"] = d["last_seq"]
        conn.execute(update(kiosks).where(_is(store, kiosk)).values(**values))
        if d["gateway"]["sandbox"]:
            alert_rules.open(conn, store, kiosk, "sandbox_gateway", "", now, "this kiosk takes no real money")

    def _telemetry(self, conn, store, kiosk, body, now, out, b) -> None:
        b.telemetry[(store, kiosk)] = (body["data"], now)

    def _orders(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        pay = d["payment"]
        b.orders.append(
            {
                "store": store,
                "kiosk": kiosk,
                "order_no": d["order_no"],
                "msg_id": body["id"],
                "created_at": d["created_at"],
                "paid_at": d["paid_at"],
                "currency": d["currency"],
                "subtotal": d["subtotal"],
                "discount": d["discount"],
                "tax": d["tax"],
                "total": d["total"],
                "channel": pay["channel"],
                "gateway": pay.get("gateway", ""),
                "out_trade_no": pay["out_trade_no"],
                "trade_id": pay["trade_id"],
                "masked_code": pay["masked_code"],
                "language": d["language"],
                "catalog_version": d["catalog_version"],
                "receipt": "unknown",
                "refunded": 0,
                "stored_at": now,
            }
        )
        b.lines.extend(
            [
                {
                    "store": store,
                    "kiosk": kiosk,
                    "order_no": d["order_no"],
                    "line_no": n,
                    "sku": ln["sku"],
                    "barcode": ln["barcode"],
                    "name": ln["name"],
                    "qty": ln["qty"],
                    "unit_price": ln["unit_price"],
                    "amount": ln["amount"],
                    "tax_class": ln.get("tax_class", ""),
                }
                for n, ln in enumerate(d["lines"], start=1)
            ],
        )
        # created, paid, stored and acknowledged are the order row's own columns (queries.order shows them as
        # the first steps of its timeline); the timeline table holds what happens after: receipts, refunds
        out.order_ids.append(body["id"])

    def _receipts(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        b.receipts.append({"s": store, "k": kiosk, "o": d["order_no"], "outcome": d["outcome"]})
        detail = {"reason": d["reason"]} if d.get("reason") else None
        b.step(store, kiosk, d["order_no"], body["ts"], f"receipt_{d['outcome']}", detail)

    def _payments(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        key = (store, kiosk, d["out_trade_no"])
        if key in b.payments and b.payments[key]["seq"] > body["seq"]:
            return
        b.payments[key] = {
            "store": store,
            "kiosk": kiosk,
            "out_trade_no": d["out_trade_no"],
            "state": d["state"],
            "amount": d["amount"],
            "currency": d["currency"],
            "channel": d["channel"],
            "gateway": d["gateway"],
            "trade_id": d.get("trade_id"),
            "order_no": d.get("order_no"),
            "seq": body["seq"],
            "updated_at": body["ts"],
        }

    def _refunds(self, conn, store, kiosk, body, now, out, b) -> None:
        self._flush(conn, b)  # the refund may be of an order in this very batch
        d = body["data"]
        key = and_(refunds.c.store == store, refunds.c.kiosk == kiosk, refunds.c.out_request_no == d["out_request_no"])
        row = conn.execute(select(refunds.c.seq, refunds.c.state).where(key)).first()
        values = {
            "order_no": d["order_no"],
            "amount": d["amount"],
            "currency": d["currency"],
            "state": d["state"],
            "requested_by": d["requested_by"],
            "command_id": d.get("command_id"),
            "seq": body["seq"],
            "updated_at": body["ts"],
        }
        if row is None:
            conn.execute(insert(refunds).values(store=store, kiosk=kiosk, out_request_no=d["out_request_no"], **values))
        elif body["seq"] > row.seq:
            conn.execute(update(refunds).where(key).values(**values))
        else:
            return
        if d["state"] == "REFUNDED" and (row is None or row.state != "REFUNDED"):
            conn.execute(
                update(orders)
                .where(and_(orders.c.store == store, orders.c.kiosk == kiosk, orders.c.order_no == d["order_no"]))
                .values(refunded=orders.c.refunded + d["amount"])
            )
        detail = {"out_request_no": d["out_request_no"], "amount": d["amount"], "by": d["requested_by"]}
        b.step(store, kiosk, d["order_no"], body["ts"], f"refund_{d['state'].lower()}", detail)

    def _events(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        b.events.append(
            {"store": store, "kiosk": kiosk, "msg_id": body["id"], "kind": d["kind"], "ts": body["ts"], "data": d}
        )
        alert_rules.on_event(conn, store, kiosk, d, now)
        if d["kind"] == "reconciled":
            self._reconciled(conn, store, kiosk, body, b)

    def _reconciled(self, conn, store, kiosk, body, b) -> None:
        """The kiosk compared a day with the gateway's statement: each order learns whether it matched."""
        d = body["data"]
        self._flush(conn, b)  # orders of this very batch too
        detail = {"date": d.get("date"), "gateway": d.get("gateway")}
        for key, result in (("matched", "matched"), ("differing", "difference")):
            numbers = [str(x) for x in d.get(key, [])][:2000]
            if not numbers:
                continue
            found = conn.execute(
                select(orders.c.order_no).where(
                    and_(orders.c.store == store, orders.c.kiosk == kiosk, orders.c.out_trade_no.in_(numbers))
                )
            ).scalars()
            for order_no in found:
                b.step(store, kiosk, order_no, body["ts"], "reconciled", {**detail, "result": result})

    def _cmd_result(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        if not d.get("command_id"):
            return  # an answer to a command that gave no usable id: kept in messages, nothing to match
        conn.execute(
            update(commands)
            .where(and_(commands.c.id == d["command_id"], commands.c.store == store, commands.c.kiosk == kiosk))
            .values(
                state="answered",
                ok=d["ok"],
                result=d.get("result") if d["ok"] else {"error": d.get("error", "")},
                answered_at=now,
            )
        )

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
