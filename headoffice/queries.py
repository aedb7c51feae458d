"""What head office can be asked: the fleet, open alerts, an order and its timeline (by number, by the gateway's
trade id, or a kiosk's orders in a time range)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, true, tuple_

from headoffice import alerts as alert_rules
from headoffice.db import (
    alerts as alerts_table,
)
from headoffice.db import (
    audit_log,
    commands,
    events,
    kiosks,
    order_lines,
    orders,
    telemetry_history,
    timeline,
)


def fleet(engine: Engine) -> list[dict[str, Any]]:
    """Every kiosk: state and since when, firmware, catalog, last telemetry, outbox depth, seq done/max."""
    with engine.connect() as conn:
        rows = conn.execute(select(kiosks).order_by(kiosks.c.store, kiosks.c.kiosk)).all()
    return [dict(r._mapping) for r in rows]


def alerts(engine: Engine, store: str | None = None, kiosk: str | None = None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return alert_rules.open_alerts(conn, store, kiosk)


def order(engine: Engine, order_no: str = "", *, trade_id: str = "") -> list[dict[str, Any]]:
    """The order(s) with this number (a number is unique per kiosk) or gateway trade id, with lines and timeline."""
    with engine.connect() as conn:
        where = or_(orders.c.order_no == order_no) if order_no else orders.c.trade_id == trade_id
        found = [dict(r._mapping) for r in conn.execute(select(orders).where(where))]
        for o in found:
            key = and_(
                order_lines.c.store == o["store"],
                order_lines.c.kiosk == o["kiosk"],
                order_lines.c.order_no == o["order_no"],
            )
            o["lines"] = [dict(r._mapping) for r in conn.execute(select(order_lines).where(key))]
            tkey = and_(
                timeline.c.store == o["store"], timeline.c.kiosk == o["kiosk"], timeline.c.order_no == o["order_no"]
            )
            paid = {"channel": o["channel"], "masked_code": o["masked_code"], "trade_id": o["trade_id"]}
            steps = [
                {"at": o["created_at"], "what": "created", "detail": None},
                {"at": o["paid_at"], "what": "paid", "detail": paid},
                {"at": _iso(o["stored_at"]), "what": "stored", "detail": {"msg_id": o["msg_id"]}},
            ]
            if o["acked_at"]:
                steps.append({"at": _iso(o["acked_at"]), "what": "acknowledged", "detail": None})
            steps += [
                {"at": r.at, "what": r.what, "detail": r.detail}
                for r in conn.execute(select(timeline).where(tkey).order_by(timeline.c.n))
            ]
            o["timeline"] = steps
    return found


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def orders_of(engine: Engine, store: str, kiosk: str, since: str, until: str) -> list[dict[str, Any]]:
    """A kiosk's orders paid in [since, until) (RFC 3339 UTC strings)."""
    with engine.connect() as conn:
        q = (
            select(orders)
            .where(
                and_(
                    orders.c.store == store,
                    orders.c.kiosk == kiosk,
                    orders.c.paid_at >= since,
                    orders.c.paid_at < until,
                )
            )
            .order_by(orders.c.paid_at)
        )
        return [dict(r._mapping) for r in conn.execute(q)]


# -- the console's pages (each list paged: offset and limit) ------------------------------------------------------
def stores(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(kiosks.c.store).distinct().order_by(kiosks.c.store)).scalars())


def fleet_page(engine: Engine, store: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """A page of kiosks (one store, or all) with their open alerts' count, and how many kiosks there are."""
    where = kiosks.c.store == store if store else true()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(kiosks).where(where)).scalar_one()
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(kiosks).where(where).order_by(kiosks.c.store, kiosks.c.kiosk).offset(offset).limit(limit)
            )
        ]
        if rows:
            counts = conn.execute(
                select(alerts_table.c.store, alerts_table.c.kiosk, func.count())
                .where(
                    and_(
                        alerts_table.c.open,
                        tuple_(alerts_table.c.store, alerts_table.c.kiosk).in_(
                            [(r["store"], r["kiosk"]) for r in rows]
                        ),
                    )
                )
                .group_by(alerts_table.c.store, alerts_table.c.kiosk)
            )
            open_by = {(s, k): n for s, k, n in counts}
            for r in rows:
                r["open_alerts"] = open_by.get((r["store"], r["kiosk"]), 0)
                health = ((r.get("telemetry") or {}).get("devices") or {}).get("health") or {}
                r["health"] = {  # the kiosks send {device: ok}; a message, when there is one, comes as {ok, message}
                    name: h if isinstance(h, dict) else {"ok": bool(h), "message": ""} for name, h in health.items()
                }
    return rows, total


def kiosk(engine: Engine, store: str, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(kiosks).where(and_(kiosks.c.store == store, kiosks.c.kiosk == name))).first()
    return dict(row._mapping) if row else None


def telemetry_since(engine: Engine, store: str, name: str, since: float, limit: int = 2000) -> list[dict[str, Any]]:
    """The kiosk's heartbeats from `since`, oldest first (at most `limit`, the newest of them)."""
    key = and_(telemetry_history.c.store == store, telemetry_history.c.kiosk == name, telemetry_history.c.at >= since)
    with engine.connect() as conn:
        rows = conn.execute(
            select(telemetry_history.c.at, telemetry_history.c.data)
            .where(key)
            .order_by(telemetry_history.c.at.desc())
            .limit(limit)
        ).all()
    return [{"at": at, **(data or {})} for at, data in reversed(rows)]


def events_of(engine: Engine, store: str, name: str, limit: int = 50) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        q = (
            select(events.c.kind, events.c.ts, events.c.data)
            .where(and_(events.c.store == store, events.c.kiosk == name))
            .order_by(events.c.n.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in conn.execute(q)]


def commands_of(engine: Engine, store: str, name: str, limit: int = 20) -> list[dict[str, Any]]:
    """The kiosk's latest commands (not catalogs' bundles) with who sent them (the audit log) and their answer."""
    with engine.connect() as conn:
        q = (
            select(commands, audit_log.c.user)
            .select_from(commands.outerjoin(audit_log, audit_log.c.command_id == commands.c.id))
            .where(and_(commands.c.store == store, commands.c.kiosk == name))
            .order_by(commands.c.sent_at.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in conn.execute(q)]


def commands_by_ids(engine: Engine, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    with engine.connect() as conn:
        q = (
            select(commands, audit_log.c.user)
            .select_from(commands.outerjoin(audit_log, audit_log.c.command_id == commands.c.id))
            .where(commands.c.id.in_(ids))
            .order_by(commands.c.sent_at.desc())
        )
        return [dict(r._mapping) for r in conn.execute(q)]


ORDER_STATES = ("paid", "refunded", "part_refunded", "receipt_failed")


def search_orders(
    engine: Engine,
    *,
    text: str = "",
    store: str = "",
    kiosk_name: str = "",
    since: str = "",
    until: str = "",
    min_total: int | None = None,
    max_total: int | None = None,
    state: str = "",
    offset: int = 0,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Orders, newest first: `text` is an order number or a gateway's trade id (or our out_trade_no); times are
    RFC 3339 UTC bounds of paid_at; `state` one of ORDER_STATES.  One row more than `limit` says there is a next
    page."""
    conds = []
    if text:
        conds.append(or_(orders.c.order_no == text, orders.c.trade_id == text, orders.c.out_trade_no == text))
    if store:
        conds.append(orders.c.store == store)
    if kiosk_name:
        conds.append(orders.c.kiosk == kiosk_name)
    if since:
        conds.append(orders.c.paid_at >= since)
    if until:
        conds.append(orders.c.paid_at < until)
    if min_total is not None:
        conds.append(orders.c.total >= min_total)
    if max_total is not None:
        conds.append(orders.c.total <= max_total)
    if state == "refunded":
        conds.append(and_(orders.c.refunded > 0, orders.c.refunded >= orders.c.total))
    elif state == "part_refunded":
        conds.append(and_(orders.c.refunded > 0, orders.c.refunded < orders.c.total))
    elif state == "paid":
        conds.append(orders.c.refunded == 0)
    elif state == "receipt_failed":
        conds.append(orders.c.receipt.in_(("failed", "not_printed")))
    q = (
        select(orders)
        .where(and_(true(), *conds))
        .order_by(orders.c.paid_at.desc(), orders.c.order_no.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def alerts_page(engine: Engine, is_open: bool, offset: int, limit: int, kind: str = "") -> list[dict[str, Any]]:
    where = alerts_table.c.open if is_open else ~alerts_table.c.open
    if kind:
        where = and_(where, alerts_table.c.kind == kind)
    order = alerts_table.c.n.desc()
    with engine.connect() as conn:
        q = select(alerts_table).where(where).order_by(order).offset(offset).limit(limit + 1)
        return [dict(r._mapping) for r in conn.execute(q)]


def reconciliations(engine: Engine, offset: int, limit: int) -> list[dict[str, Any]]:
    """Each reconciliation a kiosk reported (newest first) with its differences and whether staff explained them
    (its recon_difference alert closed, by whom, with what note)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.n, events.c.store, events.c.kiosk, events.c.ts, events.c.data)
            .where(events.c.kind == "reconciled")
            .order_by(events.c.n.desc())
            .offset(offset)
            .limit(limit + 1)
        ).all()
        out = []
        for n, store, name, ts, d in rows:
            d = d or {}
            day, gateway = str(d.get("date", "")), str(d.get("gateway", ""))
            found = [] if d.get("clean") else _differences(conn, store, name, n, day, gateway)
            alert = conn.execute(
                select(alerts_table)
                .where(
                    and_(
                        alerts_table.c.store == store,
                        alerts_table.c.kiosk == name,
                        alerts_table.c.kind == "recon_difference",
                        alerts_table.c.key == day,
                    )
                )
                .order_by(alerts_table.c.n.desc())
            ).first()
            out.append(
                {
                    "store": store,
                    "kiosk": name,
                    "ts": ts,
                    "date": day,
                    "gateway": gateway,
                    "clean": bool(d.get("clean")),
                    "matched": len(d.get("matched") or []),
                    "differing": len(d.get("differing") or []),
                    "differences": found,
                    "alert": dict(alert._mapping) if alert else None,
                }
            )
        return out


def _differences(conn, store: str, name: str, after: int, day: str, gateway: str) -> list[dict[str, Any]]:
    """The differences a kiosk reported with its reconciliation (event n `after`): its next
    `reconciliation_differences` event for the same day and gateway (the kiosk writes it right after; other
    kiosks' events may come between at head office)."""
    q = (
        select(events.c.data)
        .where(
            and_(
                events.c.store == store,
                events.c.kiosk == name,
                events.c.n > after,
                events.c.kind == "reconciliation_differences",
            )
        )
        .order_by(events.c.n)
        .limit(20)
    )
    for data in conn.execute(q).scalars():
        if data and data.get("date") == day and data.get("gateway") == gateway:
            return list(data.get("differences") or [])
    return []


def audit_page(engine: Engine, offset: int, limit: int, target: str = "") -> list[dict[str, Any]]:
    q = select(audit_log)
    if target:
        q = q.where(audit_log.c.target == target)
    with engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(q.order_by(audit_log.c.n.desc()).offset(offset).limit(limit + 1))
        ]
