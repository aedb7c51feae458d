"""The tables each kind of message feeds, beyond the message itself: one method per topic.

Mixed into Ingest (headoffice.ingest), inside the batch's transaction.  A
status or birth changes the kiosk's row; an order becomes its row, lines and
the start of its timeline; a receipt's fate, a refund and a reconciliation add
to the timeline; a payment's or refund's state replaces the stored one only
when it is newer (its seq); events feed the alerts; telemetry is kept per
kiosk; a cmd-result answers the command head office recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from headoffice import alerts as alert_rules
from headoffice import stock
from headoffice.db import commands, kiosks, online_orders, orders, refunds

log = logging.getLogger(__name__)
Kiosk = tuple[str, str]  # (store, kiosk)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    at: float = 0.0  # time.time() when it arrived (0: now)
    retained: bool = False


def _is(store: str, kiosk: str):
    return and_(kiosks.c.store == store, kiosks.c.kiosk == kiosk)


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
    alerts: alert_rules.Pending = field(default_factory=alert_rules.Pending)  # opened and closed by the messages

    def step(self, store: str, kiosk: str, order_no: str, at: str, what: str, detail: Any) -> None:
        self.timeline.append(
            {"store": store, "kiosk": kiosk, "order_no": order_no, "at": at, "what": what, "detail": detail}
        )


class Derive:
    """What each topic adds; `_flush` (the batch's pending orders and receipts) comes from Ingest."""

    _flush: Callable[[Connection, _Batch], None]  # provided by Ingest

    def _status(self, conn, store, kiosk, body, now, out, b) -> None:
        state = body["data"]["state"]
        row = conn.execute(select(kiosks.c.state, kiosks.c.state_ts).where(_is(store, kiosk))).one()
        if row.state_ts and body["ts"] < row.state_ts:
            return  # an older status arriving late changes nothing
        if row.state != state:
            conn.execute(update(kiosks).where(_is(store, kiosk)).values(state=state, state_since=now))
        conn.execute(update(kiosks).where(_is(store, kiosk)).values(state_ts=body["ts"]))
        alert_rules.on_status(b.alerts, store, kiosk, state, body["data"].get("reason", ""), now)

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
            b.alerts.open(store, kiosk, "sandbox_gateway", "", now, "this kiosk takes no real money")

    def _telemetry(self, conn, store, kiosk, body, now, out, b) -> None:
        b.telemetry[(store, kiosk)] = (body["data"], now)
        alert_rules.on_telemetry(b.alerts, store, kiosk, body["data"], now)

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
                    "grams": ln.get("grams"),
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
            "reason": str(d["reason"])[:64] if d.get("reason") else None,
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
            if d.get("command_id") and self._restock_asked(conn, store, kiosk, str(d["command_id"])):
                try:  # the operator said its goods went back on the shelf: once per order
                    stock.returned(conn, store, kiosk, d["order_no"], b.alerts, now)
                except ValueError:
                    log.warning(
                        "%s/%s: refund of %s asked a restock of an order head office lacks", store, kiosk, d["order_no"]
                    )
        detail = {"out_request_no": d["out_request_no"], "amount": d["amount"], "by": d["requested_by"]}
        b.step(store, kiosk, d["order_no"], body["ts"], f"refund_{d['state'].lower()}", detail)

    def _restock_asked(self, conn, store, kiosk, command_id: str) -> bool:
        data = conn.execute(
            select(commands.c.data).where(
                and_(commands.c.id == command_id, commands.c.store == store, commands.c.kiosk == kiosk)
            )
        ).scalar()
        return bool(isinstance(data, dict) and data.get("restock"))

    def _events(self, conn, store, kiosk, body, now, out, b) -> None:
        d = body["data"]
        b.events.append(
            {"store": store, "kiosk": kiosk, "msg_id": body["id"], "kind": d["kind"], "ts": body["ts"], "data": d}
        )
        alert_rules.on_event(b.alerts, store, kiosk, d, now)
        if d["kind"] == "reconciled":
            self._reconciled(conn, store, kiosk, body, b)
        elif d["kind"] == "online_order_collected" and isinstance(d.get("order_no"), str):
            self._collected(conn, store, kiosk, d, now, b)
        elif d["kind"] == "catalog_switched" and isinstance(d.get("version"), str):
            conn.execute(update(kiosks).where(_is(store, kiosk)).values(catalog_version=d["version"][:32]))

    def _collected(self, conn, store, kiosk, d, now, b) -> None:
        """An order made elsewhere was handed over at a kiosk (paid there, or online before): collected, once.
        A second hand-over at another kiosk is kept out of the order and alerted."""
        row = conn.execute(
            select(online_orders.c.state, online_orders.c.collected_by).where(online_orders.c.order_no == d["order_no"])
        ).first()
        if row is None:
            b.alerts.open(store, kiosk, "unknown_online_order", d["order_no"], now, "handed over, unknown here")
            return
        if row.state == "collected":
            if row.collected_by != f"{store}/{kiosk}":
                detail = f"already collected at {row.collected_by}"
                b.alerts.open(store, kiosk, "collected_twice", d["order_no"], now, detail)
            return
        values: dict[str, Any] = {"state": "collected", "collected_at": now, "collected_by": f"{store}/{kiosk}"}
        if d.get("paid_here"):
            values.update(paid_at=now, trade_id=str(d["paid_here"])[:64], gateway="kiosk")
        conn.execute(update(online_orders).where(online_orders.c.order_no == d["order_no"]).values(**values))

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
