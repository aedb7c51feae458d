"""The figures the business asks for, computed in SQL on head office's tables (SQLite and PostgreSQL alike).

Every figure covers the orders paid (and the payments tried) in a period [since, until) of local dates, for
every store or one.  Local means head office's time zone as a fixed offset from UTC (`offset_min`; China has no
daylight saving time).  Orders, sales, items, hours, kiosks, products and pairs are summed from the roll-ups
(headoffice/rollup.py: at most its period behind); payments and refunds are read as they are.  Money is in minor
units.  Each function returns rows (dicts) ready for a table and for CSV; `TABLES` names them for the console and
its CSV export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    String,
    and_,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    union_all,
    values,
)

from headoffice.db import (
    DAY_OFTEN,
    WEEK_OFTEN,
    hq_settings,
    payments,
    refunds,
    stats_kiosk_days,
    stats_pair_weeks,
    stats_pairs,
    stats_products,
    stats_store_hours,
)
from headoffice.rollup import CHAIN

SUCCESS = ("PAID", "REFUNDED", "PARTIALLY_REFUNDED")
FAILURE = ("FAILED", "CANCELLED")


@dataclass(frozen=True)
class Period:
    """Local dates [since, until) in a zone `offset_min` minutes east of UTC, for `store` ("": every store)."""

    since: date
    until: date
    store: str = ""
    offset_min: int = 0

    @classmethod
    def last_days(cls, n: int, offset_min: int, store: str = "") -> Period:
        """The last `n` local days, today included: the console's default view (n = 7)."""
        today = (datetime.now(UTC) + timedelta(minutes=offset_min)).date()
        return cls(today - timedelta(days=n - 1), today + timedelta(days=1), store, offset_min)

    def utc_bounds(self) -> tuple[str, str]:
        """The period's ends as the RFC 3339 UTC strings the kiosks write (they sort as times do)."""
        shift = timedelta(minutes=self.offset_min)

        def iso(d: date) -> str:
            moment = datetime(d.year, d.month, d.day, tzinfo=UTC) - shift
            return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

        return iso(self.since), iso(self.until)


def _days(p: Period, table):
    where = and_(table.c.day >= p.since.isoformat(), table.c.day < p.until.isoformat())
    return and_(where, table.c.store == p.store) if p.store else where


def _rows(conn: Connection, query) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query)]


def _hours(conn: Connection, p: Period, *keys) -> list[dict[str, Any]]:
    h = stats_store_hours
    cols = [h.c[k] for k in keys]
    q = (
        select(*cols, func.sum(h.c.orders).label("orders"), func.sum(h.c.sales).label("sales"))
        .where(_days(p, h))
        .group_by(*cols)
        .order_by(*cols)
    )
    return [{**r, "orders": int(r["orders"]), "sales": int(r["sales"])} for r in _rows(conn, q)]


def summary(conn: Connection, p: Period) -> list[dict[str, Any]]:
    """One row: orders, sales, average basket (amount, items), refunds made in the period."""
    h = stats_store_hours
    q = select(
        func.coalesce(func.sum(h.c.orders), 0).label("orders"),
        func.coalesce(func.sum(h.c.sales), 0).label("sales"),
        func.coalesce(func.sum(h.c["items"]), 0).label("items"),
    ).where(_days(p, h))
    row = {k: int(v) for k, v in conn.execute(q).one()._mapping.items()}
    refunded = sum(r["amount"] for r in refund_figures(conn, p) if r["state"] == "REFUNDED")
    n = row["orders"]
    return [
        {
            "orders": n,
            "sales": row["sales"],
            "refunded": int(refunded),
            "items": row["items"],
            "avg_basket": round(row["sales"] / n) if n else 0,  # minor units
            "avg_items": round(row["items"] / n, 2) if n else 0.0,
        }
    ]


def by_day(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _hours(conn, p, "day")


def by_hour(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _hours(conn, p, "hour")


def by_store(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return sorted(_hours(conn, p, "store"), key=lambda r: (-r["sales"], r["store"]))


def heat_map(conn: Connection, p: Period) -> list[dict[str, Any]]:
    """Orders by weekday (0 = Sunday) and hour: the busy hours."""
    return [
        {"weekday": r["weekday"], "hour": r["hour"], "orders": r["orders"]} for r in _hours(conn, p, "weekday", "hour")
    ]


def by_kiosk(conn: Connection, p: Period) -> list[dict[str, Any]]:
    k = stats_kiosk_days
    q = (
        select(k.c.store, k.c.kiosk, func.sum(k.c.orders).label("orders"), func.sum(k.c.sales).label("sales"))
        .where(_days(p, k))
        .group_by(k.c.store, k.c.kiosk)
        .order_by(k.c.store, k.c.kiosk)
    )
    rows = [{**r, "orders": int(r["orders"]), "sales": int(r["sales"])} for r in _rows(conn, q)]
    return [{**r, "avg_basket": round(r["sales"] / r["orders"]) if r["orders"] else 0} for r in rows]


def _payments(conn: Connection, p: Period) -> list[dict[str, Any]]:
    """Final payments tried in the period, counted by store, kiosk, channel, state and reason: one query for the
    three payment tables (kept for the period on the connection while `compute` runs)."""
    memo = conn.info.setdefault("stats_payments", {})
    if p not in memo:
        since, until = p.utc_bounds()
        where = and_(
            payments.c.updated_at >= since, payments.c.updated_at < until, payments.c.state.in_(SUCCESS + FAILURE)
        )
        if p.store:
            where = and_(where, payments.c.store == p.store)
        keys = (payments.c.store, payments.c.kiosk, payments.c.channel, payments.c.state, payments.c.reason)
        q = select(*keys, func.count().label("n")).where(where).group_by(*keys)
        memo[p] = _rows(conn, q)
    return memo[p]


def _success_rate(conn: Connection, p: Period, *keys: str) -> list[dict[str, Any]]:
    out: dict[tuple, dict[str, Any]] = {}
    for r in _payments(conn, p):
        key = tuple(r[k] for k in keys)
        row = out.setdefault(key, {**dict(zip(keys, key, strict=True)), "tried": 0, "paid": 0})
        row["tried"] += r["n"]
        row["paid"] += r["n"] if r["state"] in SUCCESS else 0
    rows = [out[k] for k in sorted(out)]
    for r in rows:
        r["failed"] = r["tried"] - r["paid"]
        r["success_rate"] = r["paid"] / r["tried"] if r["tried"] else None
    return rows


def success_by_channel(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _success_rate(conn, p, "channel")


def success_by_kiosk(conn: Connection, p: Period) -> list[dict[str, Any]]:
    return _success_rate(conn, p, "store", "kiosk")


def failure_reasons(conn: Connection, p: Period) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = {}
    for r in _payments(conn, p):
        if r["state"] in FAILURE:
            key = (r["channel"], r["reason"] or r["state"])
            counts[key] = counts.get(key, 0) + r["n"]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"channel": c, "reason": why, "payments": n} for (c, why), n in ranked]


def top_products(conn: Connection, p: Period, limit: int = 10) -> list[dict[str, Any]]:
    t = stats_products
    q = (
        select(
            t.c.sku,
            func.min(t.c.name).label("name"),
            func.sum(t.c.qty).label("qty"),
            func.sum(t.c.sales).label("sales"),
            func.sum(t.c.orders).label("orders"),
        )
        .where(_days(p, t))
        .group_by(t.c.sku)
        .order_by(func.sum(t.c.qty).desc(), t.c.sku)
        .limit(limit)
    )
    return [{**r, **{k: int(r[k]) for k in ("qty", "sales", "orders")}} for r in _rows(conn, q)]


def pairs(conn: Connection, p: Period, limit: int = 10) -> list[dict[str, Any]]:
    """Products often bought together: pairs of skus in one order, by how many orders hold both.  The whole chain's
    pairs over two weeks or more are counted by `_chain_pairs_by_weeks` (exact, and far fewer rows to read)."""
    top = None if p.store else _chain_pairs_by_weeks(conn, p, limit)
    if top is None:
        top = _pairs_summed(conn, p, limit)
    names = _names(conn, p, {a for a, _, _ in top} | {b for _, b, _ in top})
    return [
        {"sku_a": a, "name_a": names.get(a, a), "sku_b": b, "name_b": names.get(b, b), "orders": int(n)}
        for a, b, n in top
    ]


def _pairs_summed(conn: Connection, p: Period, limit: int) -> list[tuple[str, str, int]]:
    """Every day's pairs of the period summed: exact, and as dear as the period has pairs."""
    t = stats_pairs
    together = func.sum(t.c.orders)
    whose = t.c.store == (p.store or CHAIN)  # the whole chain: its own rows, not every store's summed
    q = (
        select(t.c.sku_a, t.c.sku_b, together)  # names only for the winners: a narrower hash
        .where(and_(t.c.day >= p.since.isoformat(), t.c.day < p.until.isoformat(), whose))
        .group_by(t.c.sku_a, t.c.sku_b)
        .order_by(together.desc(), t.c.sku_a, t.c.sku_b)
        .limit(limit)
    )
    return [(a, b, int(n)) for a, b, n in conn.execute(q)]


MAX_CANDIDATES = 5000  # more pairs than this near the top: summing every day's is as quick


def _chain_pairs_by_weeks(conn: Connection, p: Period, limit: int) -> list[tuple[str, str, int]] | None:
    """The chain's top pairs of a period holding two whole weeks or more, exactly, from its whole weeks' rows and
    its other days' rows, reading first only the pairs bought together often (WEEK_OFTEN times in a week,
    DAY_OFTEN in a day: a partial index each).  A pair left out of a week had at most WEEK_OFTEN - 1 orders there
    (DAY_OFTEN - 1 in a day), which bounds what it can reach.  The `limit`-th best count read so far is a floor
    for the top; the pairs whose bound reaches it get their left-out rows added (exact counts), and no other pair
    can reach it.  None when the bound proves nothing (then every day's pairs are summed)."""
    d = stats_pairs
    first, last = conn.execute(select(func.min(d.c.day), func.max(d.c.day)).where(d.c.store == CHAIN)).one()
    if first is None:
        return None
    weeks, days = _whole_weeks(p, date.fromisoformat(first), date.fromisoformat(last))
    if len(weeks) < 2:
        return None
    w = stats_pair_weeks
    often = union_all(
        select(w.c.sku_a, w.c.sku_b, w.c.orders, literal(1).label("weeks"), literal(0).label("days")).where(
            w.c.store == CHAIN, w.c.week.in_(weeks), w.c.orders >= literal_column(str(WEEK_OFTEN))
        ),
        select(d.c.sku_a, d.c.sku_b, d.c.orders, literal(0), literal(1)).where(
            d.c.store == CHAIN, d.c.day.in_(days), d.c.orders >= literal_column(str(DAY_OFTEN))
        ),
    ).subquery()
    together = cast(func.sum(often.c.orders), BigInteger).label("orders")
    seen = (
        select(often.c.sku_a, often.c.sku_b, together, func.sum(often.c.weeks).label("weeks"),
               func.sum(often.c.days).label("days"))
        .group_by(often.c.sku_a, often.c.sku_b)
        .cte("seen")
    )  # fmt: skip
    floor = select(seen.c.orders).order_by(seen.c.orders.desc()).limit(1).offset(limit - 1).scalar_subquery()
    reach = seen.c.orders + (len(weeks) - seen.c.weeks) * (WEEK_OFTEN - 1) + (len(days) - seen.c.days) * (DAY_OFTEN - 1)
    near = conn.execute(select(seen.c.sku_a, seen.c.sku_b, seen.c.orders, floor).where(reach >= floor)).all()
    if not near:  # fewer than `limit` pairs bought together often
        return None
    if len(weeks) * (WEEK_OFTEN - 1) + len(days) * (DAY_OFTEN - 1) >= near[0][3]:
        return None  # a pair read nowhere could still reach the top
    if len(near) > MAX_CANDIDATES:
        return None
    counts = {(a, b): int(n) for a, b, n, _ in near}
    for table, block, blocks, often_n in ((w, w.c.week, weeks, WEEK_OFTEN), (d, d.c.day, days, DAY_OFTEN)):
        if blocks:
            for a, b, n in _left_out(conn, table, block, blocks, list(counts), often_n):
                counts[(a, b)] += int(n)
    return sorted(((a, b, n) for (a, b), n in counts.items()), key=lambda r: (-r[2], r[0], r[1]))[:limit]


def _whole_weeks(p: Period, first: date, last: date) -> tuple[list[str], list[str]]:
    """The Mondays of the weeks the period holds whole, and the period's days outside them.  A week counts as whole
    when its days outside the period hold no orders: before the chain's `first` day or after its `last` (this
    week, in a period up to today)."""
    weeks, covered = [], set()
    monday = p.since - timedelta(days=p.since.weekday())
    while monday < p.until:
        week = [monday + timedelta(days=k) for k in range(7)]
        if all(p.since <= day < p.until or day < first or day > last for day in week):
            weeks.append(monday.isoformat())
            covered.update(week)
        monday += timedelta(days=7)
    days = [p.since + timedelta(days=k) for k in range((p.until - p.since).days)]
    return weeks, [day.isoformat() for day in days if day not in covered]


def _left_out(conn: Connection, table, block, blocks: list[str], wanted: list[tuple[str, str]], often: int):
    """(sku_a, sku_b, orders) of the chain's rows in `blocks` under `often` orders, for the wanted pairs."""
    where = and_(table.c.store == CHAIN, block.in_(blocks), table.c.orders < often)
    if conn.dialect.name == "postgresql":  # a VALUES list joined: an index look-up per pair and block
        want = values(column("a", String), column("b", String), name="want").data(wanted)
        on = and_(table.c.sku_a == want.c.a, table.c.sku_b == want.c.b)
        q = select(table.c.sku_a, table.c.sku_b, table.c.orders).select_from(table.join(want, on)).where(where)
    else:
        pair = tuple_(table.c.sku_a, table.c.sku_b)
        q = select(table.c.sku_a, table.c.sku_b, table.c.orders).where(where, pair.in_(wanted))
    return conn.execute(q).all()


def _names(conn: Connection, p: Period, skus: set[str]) -> dict[str, str]:
    t = stats_products
    q = select(t.c.sku, func.min(t.c.name)).where(and_(_days(p, t), t.c.sku.in_(sorted(skus)))).group_by(t.c.sku)
    return dict(conn.execute(q).all()) if skus else {}


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
    return [{**r, "amount": int(r["amount"])} for r in _rows(conn, q)]


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


# The statistics page shows PAGE at once and loads each of PARTS (the dearest figures) in a request of its own.
PARTS = {"pairs": ["pairs"], "payments": ["success_by_channel", "success_by_kiosk", "failure_reasons"]}
PAGE = [name for name in TABLES if not any(name in part for part in PARTS.values())]
_CACHE: dict[tuple[str, Period, tuple[str, ...]], tuple[str, dict[str, list[dict[str, Any]]]]] = {}
CACHE_SIZE = 64


def compute(engine: Engine, p: Period, names: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The named tables (default: all) for the period, from one snapshot of the database.  The figures change when the
    roll-up runs, so they are kept until it runs again (payments and refunds too: at most one roll-up period
    behind); the running service computes the console's default view right after each roll-up."""
    key = (str(engine.url), p, tuple(names or ()))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # every figure (and the mark) from one snapshot
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:  # SQLite's driver begins no transaction for a SELECT: one read transaction, one snapshot
            conn.exec_driver_sql("BEGIN")
        mark = conn.execute(select(hq_settings.c.value).where(hq_settings.c.key == "stats_rollup_until")).scalar()
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == str(mark):
            return hit[1]
        if conn.dialect.name == "postgresql":  # the pairs' hash table fits in memory (4 MB by default spills)
            conn.execute(text("SET LOCAL work_mem = '64MB'"))
        try:
            figures = {name: TABLES[name](conn, p) for name in (names or list(TABLES))}
        finally:
            conn.info.pop("stats_payments", None)
    if len(_CACHE) >= CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (str(mark), figures)
    return figures
