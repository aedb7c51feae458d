"""The figures the business asks for, computed in SQL on head office's tables (SQLite and PostgreSQL alike).

Every figure covers the orders paid (and the payments tried) in a period [since, until) of local dates, for
every store or one.  Local means head office's time zone as a fixed offset from UTC (`offset_min`; China has no
daylight saving time): the kiosks' RFC 3339 UTC times are shifted by it in SQL before grouping by day or hour.
Money is in minor units.  Each function returns rows (dicts) ready for a table and for CSV; `TABLES` names them
for the console and its CSV export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import TIMESTAMP, Connection, Engine, Integer, and_, case, cast, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from headoffice.db import order_lines, orders, payments, refunds

SUCCESS = ("PAID", "REFUNDED", "PARTIALLY_REFUNDED")
FAILURE = ("FAILED", "CANCELLED")


@dataclass(frozen=True)
class Period:
    """Local dates [since, until) in a zone `offset_min` minutes east of UTC, for `store` ("": every store)."""

    since: date
    until: date
    store: str = ""
    offset_min: int = 0

    def utc_bounds(self) -> tuple[str, str]:
        """The period's ends as the RFC 3339 UTC strings the kiosks write (they sort as times do)."""
        shift = timedelta(minutes=self.offset_min)

        def iso(d: date) -> str:
            moment = datetime(d.year, d.month, d.day, tzinfo=UTC) - shift
            return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

        return iso(self.since), iso(self.until)


def _local(conn: Connection, column: ColumnElement, offset_min: int) -> tuple[Any, Any, Any]:
    """(day 'YYYY-MM-DD', hour 0-23, weekday 0=Sunday) of an RFC 3339 UTC string column, in local time."""
    minutes = int(offset_min)
    if conn.dialect.name == "postgresql":
        utc = func.timezone("UTC", cast(column, TIMESTAMP(timezone=True)))  # the wall clock at UTC
        moment = utc + text(f"interval '{minutes} minutes'")
        return (
            func.to_char(moment, "YYYY-MM-DD"),
            cast(func.extract("hour", moment), Integer),
            cast(func.extract("dow", moment), Integer),
        )
    moment = func.datetime(func.substr(column, 1, 19), f"{minutes:+d} minutes")
    return (
        func.strftime("%Y-%m-%d", moment),
        cast(func.strftime("%H", moment), Integer),
        cast(func.strftime("%w", moment), Integer),
    )


def _paid_in(p: Period):
    since, until = p.utc_bounds()
    where = and_(orders.c.paid_at >= since, orders.c.paid_at < until)
    return and_(where, orders.c.store == p.store) if p.store else where


def _rows(conn: Connection, query) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query)]


def summary(conn: Connection, p: Period) -> list[dict[str, Any]]:
    """One row: orders, sales, average basket (amount, items), refunds."""
    q = select(
        func.count().label("orders"),
        func.coalesce(func.sum(orders.c.total), 0).label("sales"),
        func.coalesce(func.sum(orders.c.refunded), 0).label("refunded"),
    ).where(_paid_in(p))
    row = dict(conn.execute(q).one()._mapping)
    items = conn.execute(
        select(func.coalesce(func.sum(order_lines.c.qty), 0))
        .select_from(
            order_lines.join(
                orders,
                and_(
                    orders.c.store == order_lines.c.store,
                    orders.c.kiosk == order_lines.c.kiosk,
                    orders.c.order_no == order_lines.c.order_no,
                ),
            )
        )
        .where(_paid_in(p))
    ).scalar_one()
    n = row["orders"]
    row["items"] = int(items)
    row["avg_basket"] = round(row["sales"] / n) if n else 0  # minor units
    row["avg_items"] = round(int(items) / n, 2) if n else 0.0
    return [row]


def _by_local(conn: Connection, p: Period, part: int, name: str) -> list[dict[str, Any]]:
    """Orders and sales grouped by one part of the local time (0: day, 1: hour)."""
    key = _local(conn, orders.c.paid_at, p.offset_min)[part]
    q = (
        select(key.label(name), func.count().label("orders"), func.sum(orders.c.total).label("sales"))
        .where(_paid_in(p))
        .group_by(key)
        .order_by(key)
    )
    return _rows(conn, q)


def by_day(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _by_local(conn, p, 0, "day")


def by_hour(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _by_local(conn, p, 1, "hour")


def by_store(conn: Connection, p: Period) -> list[dict[str, Any]]:
    q = (
        select(orders.c.store, func.count().label("orders"), func.sum(orders.c.total).label("sales"))
        .where(_paid_in(p))
        .group_by(orders.c.store)
        .order_by(func.sum(orders.c.total).desc(), orders.c.store)
    )
    return _rows(conn, q)


def by_kiosk(conn: Connection, p: Period) -> list[dict[str, Any]]:
    q = (
        select(
            orders.c.store,
            orders.c.kiosk,
            func.count().label("orders"),
            func.sum(orders.c.total).label("sales"),
            func.avg(orders.c.total).label("avg_basket"),
        )
        .where(_paid_in(p))
        .group_by(orders.c.store, orders.c.kiosk)
        .order_by(orders.c.store, orders.c.kiosk)
    )
    return [{**r, "avg_basket": round(float(r["avg_basket"] or 0))} for r in _rows(conn, q)]


def _tried_in(p: Period):
    since, until = p.utc_bounds()
    where = and_(payments.c.updated_at >= since, payments.c.updated_at < until, payments.c.state.in_(SUCCESS + FAILURE))
    return and_(where, payments.c.store == p.store) if p.store else where


def _success_rate(conn: Connection, p: Period, *keys) -> list[dict[str, Any]]:
    ok = func.sum(case((payments.c.state.in_(SUCCESS), 1), else_=0))
    q = select(*keys, func.count().label("tried"), ok.label("paid")).where(_tried_in(p)).group_by(*keys).order_by(*keys)
    rows = _rows(conn, q)
    for r in rows:
        r["paid"] = int(r["paid"] or 0)
        r["failed"] = r["tried"] - r["paid"]
        r["success_rate"] = r["paid"] / r["tried"] if r["tried"] else None
    return rows


def success_by_channel(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _success_rate(conn, p, payments.c.channel)


def success_by_kiosk(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _success_rate(conn, p, payments.c.store, payments.c.kiosk)


def failure_reasons(conn: Connection, p: Period) -> list[dict[str, Any]]:
    reason = func.coalesce(payments.c.reason, payments.c.state)
    q = (
        select(payments.c.channel, reason.label("reason"), func.count().label("payments"))
        .where(and_(_tried_in(p), payments.c.state.in_(FAILURE)))
        .group_by(payments.c.channel, reason)
        .order_by(func.count().desc(), payments.c.channel, reason)
    )
    return _rows(conn, q)


def _lines_paid_in(p: Period):
    return order_lines.join(
        orders,
        and_(
            orders.c.store == order_lines.c.store,
            orders.c.kiosk == order_lines.c.kiosk,
            orders.c.order_no == order_lines.c.order_no,
        ),
    )


def top_products(conn: Connection, p: Period, limit: int = 10) -> list[dict[str, Any]]:
    q = (
        select(
            order_lines.c.sku,
            func.min(order_lines.c.name).label("name"),
            func.sum(order_lines.c.qty).label("qty"),
            func.sum(order_lines.c.amount).label("sales"),
            func.count(func.distinct(order_lines.c.order_no)).label("orders"),
        )
        .select_from(_lines_paid_in(p))
        .where(_paid_in(p))
        .group_by(order_lines.c.sku)
        .order_by(func.sum(order_lines.c.qty).desc(), order_lines.c.sku)
        .limit(limit)
    )
    return _rows(conn, q)


def pairs(conn: Connection, p: Period, limit: int = 10) -> list[dict[str, Any]]:
    """Products often bought together: pairs of skus in one order, by how many orders hold both."""
    a = order_lines.alias("a")
    b = order_lines.alias("b")
    joined = a.join(
        orders, and_(orders.c.store == a.c.store, orders.c.kiosk == a.c.kiosk, orders.c.order_no == a.c.order_no)
    ).join(b, and_(b.c.store == a.c.store, b.c.kiosk == a.c.kiosk, b.c.order_no == a.c.order_no, a.c.sku < b.c.sku))
    together = func.count(func.distinct(orders.c.store + "/" + orders.c.kiosk + "/" + orders.c.order_no))
    q = (
        select(
            a.c.sku.label("sku_a"),
            func.min(a.c.name).label("name_a"),
            b.c.sku.label("sku_b"),
            func.min(b.c.name).label("name_b"),
            together.label("orders"),
        )
        .select_from(joined)
        .where(_paid_in(p))
        .group_by(a.c.sku, b.c.sku)
        .order_by(together.desc(), a.c.sku, b.c.sku)
        .limit(limit)
    )
    return _rows(conn, q)


def refund_figures(conn: Connection, p: Period) -> list[dict[str, Any]]:
    since, until = p.utc_bounds()
    where = and_(refunds.c.updated_at >= since, refunds.c.updated_at < until)
    if p.store:
        where = and_(where, refunds.c.store == p.store)
    q = (
        select(
            refunds.c.store,
            refunds.c.kiosk,
            refunds.c.state,
            func.count().label("refunds"),
            func.sum(refunds.c.amount).label("amount"),
        )
        .where(where)
        .group_by(refunds.c.store, refunds.c.kiosk, refunds.c.state)
        .order_by(refunds.c.store, refunds.c.kiosk, refunds.c.state)
    )
    return _rows(conn, q)


def heat_map(conn: Connection, p: Period) -> list[dict[str, Any]]:
    """Orders by weekday (0 = Sunday) and hour: the busy hours."""
    _, hour, dow = _local(conn, orders.c.paid_at, p.offset_min)
    q = (
        select(dow.label("weekday"), hour.label("hour"), func.count().label("orders"))
        .where(_paid_in(p))
        .group_by(dow, hour)
        .order_by(dow, hour)
    )
    return _rows(conn, q)


TABLES: dict[str, Callable[[Connection, Period], list[dict[str, Any]]]] = {
    "summary": summary,
    "by_day": by_day,
    "by_hour": by_hour,
    "by_store": by_store,
    "by_kiosk": by_kiosk,
    "success_by_channel": success_by_channel,
    "success_by_kiosk": success_by_kiosk,
    "failure_reasons": failure_reasons,
    "top_products": top_products,
    "pairs": pairs,
    "refunds": refund_figures,
    "heat_map": heat_map,
}


def compute(engine: Engine, p: Period, names: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The named tables (default: all) for the period, in one read transaction."""
    with engine.connect() as conn:
        return {name: TABLES[name](conn, p) for name in (names or list(TABLES))}
