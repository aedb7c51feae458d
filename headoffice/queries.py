"""What head office can be asked: the fleet, open alerts, an order and its timeline (by number, by the gateway's
trade id, or a kiosk's orders in a time range)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from headoffice import alerts as alert_rules
from headoffice.db import kiosks, order_lines, orders, timeline


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
