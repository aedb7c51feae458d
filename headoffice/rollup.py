"""The statistics' roll-ups: head office's orders summed by store and local hour, by kiosk and local day, by product
and day, and by pair of products bought together and day (and, for the whole chain, week), so the console's figures
read thousands of rows, not a chain's millions (headoffice/stats.py reads them).

`run()` adds the orders stored since its last run (a watermark on orders.stored_at, kept in hq_settings and moved
in the same transaction as the sums, so every order is counted once) with INSERT ... SELECT ... ON CONFLICT DO
UPDATE, on SQLite and PostgreSQL alike.  Orders stored in the last `settle_s` seconds wait for the next run (an
ingest transaction still open then could commit an earlier stored_at).  The running service calls it every
`ingest.stats_every_s` (30 s); the figures are at most that much behind.

"Local" is head office's time zone (`http.time_zone`) as a fixed offset from UTC (China keeps no daylight saving
time); when the offset changes, the roll-ups are emptied and rebuilt from every order.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Connection, Engine, Integer, String, and_, cast, func, literal, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TIMESTAMP

from headoffice.db import (
    hq_settings,
    order_lines,
    orders,
    stats_kiosk_days,
    stats_pair_weeks,
    stats_pairs,
    stats_products,
    stats_store_hours,
)

log = logging.getLogger(__name__)
CHAIN = "*"  # the store of stats_pairs' rows for the whole chain (a week of a chain's pairs is read 1.5x faster)
TABLES = (stats_store_hours, stats_kiosk_days, stats_products, stats_pairs, stats_pair_weeks)


def local_parts(conn: Connection, column: ColumnElement, offset_min: int) -> tuple[Any, Any, Any, Any]:
    """(day 'YYYY-MM-DD', hour 0-23, weekday 0=Sunday, week's Monday 'YYYY-MM-DD') of an RFC 3339 UTC string
    column, in local time."""
    minutes = int(offset_min)
    if conn.dialect.name == "postgresql":
        utc = func.timezone("UTC", cast(column, TIMESTAMP(timezone=True)))  # the wall clock at UTC
        moment = utc + text(f"interval '{minutes} minutes'")
        return (
            func.to_char(moment, "YYYY-MM-DD"),
            cast(func.extract("hour", moment), Integer),
            cast(func.extract("dow", moment), Integer),
            func.to_char(func.date_trunc("week", moment), "YYYY-MM-DD"),
        )
    moment = func.datetime(func.substr(column, 1, 19), f"{minutes:+d} minutes")
    return (
        func.strftime("%Y-%m-%d", moment),
        cast(func.strftime("%H", moment), Integer),
        cast(func.strftime("%w", moment), Integer),
        func.date(moment, "-6 days", "weekday 1"),  # back 6 days, then on to a Monday: this week's
    )


def _insert(conn: Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _add(conn: Connection, table, query, sums: tuple[str, ...]) -> None:
    """INSERT the query's rows into `table`, adding `sums` to a row that is there already."""
    stmt = _insert(conn)(table).from_select([c.name for c in query.selected_columns], query)
    keys = [c.name for c in table.primary_key.columns]
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_={s: table.c[s] + stmt.excluded[s] for s in sums}))


def _setting(conn: Connection, key: str, default: str, lock: bool = False) -> str:
    q = select(hq_settings.c.value).where(hq_settings.c.key == key)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    found = conn.execute(q).scalar()
    if found is None:
        conn.execute(_insert(conn)(hq_settings).values(key=key, value=default).on_conflict_do_nothing())
        found = conn.execute(q).scalar()
    return found


def run(engine: Engine, offset_min: int, *, settle_s: float = 10.0, now: float | None = None) -> int:
    """Add the orders stored since the last run (up to `settle_s` ago); returns how many.  Safe to run from several
    head-office workers at once: one adds, the others find nothing new (PostgreSQL locks the watermark; SQLite
    refuses the second writer, which tries again at its next run)."""
    upto = (time.time() if now is None else now) - settle_s
    try:
        with engine.begin() as conn:
            since = float(_setting(conn, "stats_rollup_until", "-1", lock=True))
            if _setting(conn, "stats_offset_min", str(int(offset_min))) != str(int(offset_min)):
                log.info("statistics: the time zone changed; rebuilding the roll-ups from every order")
                for table in TABLES:
                    conn.execute(table.delete())
                since = -1.0
                conn.execute(
                    update(hq_settings)
                    .where(hq_settings.c.key == "stats_offset_min")
                    .values(value=str(int(offset_min)))
                )
            n = _roll(conn, since, upto, offset_min)
            conn.execute(update(hq_settings).where(hq_settings.c.key == "stats_rollup_until").values(value=repr(upto)))
            return n
    except OperationalError as exc:  # SQLite: another worker wrote first; its sums stand, ours wait
        log.info("statistics roll-up deferred: %s", exc.orig)
        return 0


def _roll(conn: Connection, since: float, upto: float, offset_min: int) -> int:
    window = and_(orders.c.stored_at > since, orders.c.stored_at <= upto)
    n = conn.execute(select(func.count()).select_from(orders).where(window)).scalar_one()
    if not n:
        return 0
    day, hour, weekday, week = local_parts(conn, orders.c.paid_at, offset_min)
    zero = cast(0, Integer)
    hours = (
        select(
            orders.c.store,
            day.label("day"),
            hour.label("hour"),
            weekday.label("weekday"),
            func.count().label("orders"),
            func.sum(orders.c.total).label("sales"),
            zero.label("items"),
        )
        .where(window)
        .group_by(orders.c.store, day, hour, weekday)
    )
    _add(conn, stats_store_hours, hours, ("orders", "sales", "items"))
    same_order = and_(
        order_lines.c.store == orders.c.store,
        order_lines.c.kiosk == orders.c.kiosk,
        order_lines.c.order_no == orders.c.order_no,
    )
    items = (
        select(
            orders.c.store,
            day.label("day"),
            hour.label("hour"),
            weekday.label("weekday"),
            zero.label("orders"),
            zero.label("sales"),
            func.sum(order_lines.c.qty).label("items"),
        )
        .select_from(orders.join(order_lines, same_order))
        .where(window)
        .group_by(orders.c.store, day, hour, weekday)
    )
    _add(conn, stats_store_hours, items, ("orders", "sales", "items"))
    kiosk_days = (
        select(
            orders.c.store,
            orders.c.kiosk,
            day.label("day"),
            func.count().label("orders"),
            func.sum(orders.c.total).label("sales"),
        )
        .where(window)
        .group_by(orders.c.store, orders.c.kiosk, day)
    )
    _add(conn, stats_kiosk_days, kiosk_days, ("orders", "sales"))
    products = (
        select(
            orders.c.store,
            day.label("day"),
            order_lines.c.sku,
            func.min(order_lines.c.name).label("name"),
            func.sum(order_lines.c.qty).label("qty"),
            func.sum(order_lines.c.amount).label("sales"),
            func.count(func.distinct(orders.c.kiosk + "/" + orders.c.order_no)).label("orders"),
        )
        .select_from(orders.join(order_lines, same_order))
        .where(window)
        .group_by(orders.c.store, day, order_lines.c.sku)
    )
    _add(conn, stats_products, products, ("qty", "sales", "orders"))
    a, b = order_lines.alias("a"), order_lines.alias("b")
    both = orders.join(
        a, and_(a.c.store == orders.c.store, a.c.kiosk == orders.c.kiosk, a.c.order_no == orders.c.order_no)
    ).join(b, and_(b.c.store == a.c.store, b.c.kiosk == a.c.kiosk, b.c.order_no == a.c.order_no, a.c.sku < b.c.sku))
    key = orders.c.store + "/" + orders.c.kiosk + "/" + orders.c.order_no
    chain = literal(CHAIN, String).label("store")
    for store in (orders.c.store, chain):  # each store's, and the chain's
        pairs = (
            select(
                store,
                day.label("day"),
                a.c.sku.label("sku_a"),
                b.c.sku.label("sku_b"),
                func.min(a.c.name).label("name_a"),
                func.min(b.c.name).label("name_b"),
                func.count(func.distinct(key)).label("orders"),
            )
            .select_from(both)
            .where(window)
            .group_by(store, day, a.c.sku, b.c.sku)
        )
        _add(conn, stats_pairs, pairs, ("orders",))
    weeks = (
        select(
            chain,
            week.label("week"),
            a.c.sku.label("sku_a"),
            b.c.sku.label("sku_b"),
            func.count(func.distinct(key)).label("orders"),
        )
        .select_from(both)
        .where(window)
        .group_by(week, a.c.sku, b.c.sku)
    )
    _add(conn, stats_pair_weeks, weeks, ("orders",))
    return n
