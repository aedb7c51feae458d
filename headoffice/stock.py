"""Stock per store and sku at head office: set by a count (a file, or the catalog file's `stock@STORE` columns),
lowered by every order stored, raised by goods a refund returned to the shelf; low and out of stock alerted.

An order lowers the stock in the transaction that stores its message, and a message is stored once (a replay
after head office was killed, or a kiosk's resend, is recognised by its id): an order never lowers the stock
twice.  The shelf is the truth: an item out of stock at head office still sells, and is flagged.  Skus with no
count are not tracked.  Store-wide alerts carry the kiosk "" (they are about the shelf, not a kiosk).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, tuple_, update

from headoffice.alerts import Pending
from headoffice.db import order_lines, stock, stock_returns


class StockFileError(ValueError):
    pass


Count = tuple[str, str, int, "int | None"]  # store, sku, quantity, low-stock threshold (None: keep it)


def set_counts(engine: Engine, counts: Iterable[Count]) -> int:
    """Set each (store, sku) as counted; returns how many."""
    rows = list(counts)
    with engine.begin() as conn:
        counted(conn, rows)
    return len(rows)


def counted(conn: Connection, rows: list[Count]) -> None:
    """In the caller's transaction: the stock of each (store, sku) is what was counted.  One look-up per 500
    rows finds the ones already tracked; the rest are inserted together (a catalog file may count 10^5)."""
    if not rows:
        return
    now = time.time()
    latest = {(st, sku): (qty, low) for st, sku, qty, low in rows}  # a sku counted twice: the last count
    keys = list(latest)
    known: dict[tuple[str, str], int | None] = {}
    for i in range(0, len(keys), 500):
        query = select(stock.c.store, stock.c.sku, stock.c.low).where(
            tuple_(stock.c.store, stock.c.sku).in_(keys[i : i + 500])
        )
        known.update({(st, sku): low for st, sku, low in conn.execute(query)})
    new = [
        {"store": st, "sku": sku, "qty": qty, "low": low, "updated_at": now}
        for (st, sku), (qty, low) in latest.items()
        if (st, sku) not in known
    ]
    changed = [
        {"s": st, "k": sku, "qty": qty, "low": low if low is not None else known[(st, sku)], "at": now}
        for (st, sku), (qty, low) in latest.items()
        if (st, sku) in known
    ]
    if new:
        conn.execute(insert(stock), new)
    if changed:
        conn.execute(_SET, changed)
    pending = Pending()
    for (st, sku), (qty, low) in latest.items():
        _alerts(pending, st, sku, qty, low if low is not None else known.get((st, sku)), now)
    pending.write(conn)


def read_counts(path: Path) -> list[Count]:
    """A stock count file: CSV with store, sku, qty and optionally low; StockFileError naming the row."""
    out = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"store", "sku", "qty"} - set(reader.fieldnames or ())
        if missing:
            raise StockFileError(f"{path.name}, row 1: missing column(s) {', '.join(sorted(missing))}")
        for n, row in enumerate(reader, start=2):
            try:
                qty = int(row["qty"])
                low = int(row["low"]) if row.get("low") else None
            except ValueError:
                raise StockFileError(f"{path.name}, row {n}: qty and low must be whole numbers") from None
            if not row["store"] or not row["sku"]:
                raise StockFileError(f"{path.name}, row {n}: store and sku are needed")
            out.append((row["store"], row["sku"], qty, low))
    return out


def sell(conn: Connection, lines: list[dict[str, Any]], pending: Pending, now: float) -> None:
    """The batch's order lines (being stored with their messages) lower their store's stock."""
    sold: dict[tuple[str, str], int] = {}
    for ln in lines:
        key = (ln["store"], ln["sku"])
        sold[key] = sold.get(key, 0) + int(ln.get("grams") or 1) * int(ln["qty"])  # goods sold by kg: in grams
    _change(conn, {k: -v for k, v in sold.items()}, pending, now)


def return_to_shelf(engine: Engine, store: str, kiosk: str, order_no: str) -> dict[str, int]:
    """The goods of a refunded order went back on the shelf: their stock rises, once per order (a second call
    changes nothing and returns {})."""
    now = time.time()
    with engine.begin() as conn:
        pending = Pending()
        back = returned(conn, store, kiosk, order_no, pending, now)
        pending.write(conn)
    return back


def returned(conn: Connection, store: str, kiosk: str, order_no: str, pending: Pending, now: float) -> dict[str, int]:
    """return_to_shelf in the caller's transaction (a refund marked "back on the shelf" when it succeeds)."""
    done = conn.execute(
        select(stock_returns.c.order_no).where(
            and_(
                stock_returns.c.store == store,
                stock_returns.c.kiosk == kiosk,
                stock_returns.c.order_no == order_no,
            )
        )
    ).first()
    if done is not None:
        return {}
    lines = conn.execute(
        select(order_lines.c.sku, func.coalesce(order_lines.c.grams, 1) * order_lines.c.qty).where(
            and_(order_lines.c.store == store, order_lines.c.kiosk == kiosk, order_lines.c.order_no == order_no)
        )
    ).all()
    if not lines:
        raise ValueError(f"no order {order_no} of {store}/{kiosk} at head office")
    back: dict[tuple[str, str], int] = {}
    for sku, qty in lines:
        back[(store, sku)] = back.get((store, sku), 0) + qty
    conn.execute(insert(stock_returns).values(store=store, kiosk=kiosk, order_no=order_no, at=now))
    _change(conn, back, pending, now)
    return {sku: n for (_, sku), n in back.items()}


def levels(engine: Engine, store: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(stock).where(stock.c.store == store).order_by(stock.c.sku))
        return [dict(r._mapping) for r in rows]


_SET = (
    update(stock)
    .where(and_(stock.c.store == bindparam("s"), stock.c.sku == bindparam("k")))
    .values(qty=bindparam("qty"), low=bindparam("low"), updated_at=bindparam("at"))
)
_ADD = (
    update(stock)
    .where(and_(stock.c.store == bindparam("s"), stock.c.sku == bindparam("k")))
    .values(qty=stock.c.qty + bindparam("n"), updated_at=bindparam("at"))
)


def _change(conn: Connection, delta: dict[tuple[str, str], int], pending: Pending, now: float) -> None:
    """Add `delta` to the tracked (counted) skus among its keys, and alert on their new levels.  One look-up a
    batch finds the tracked ones: a chain that counts nothing pays that query alone."""
    if not delta:
        return
    keys = list(delta)
    tracked = []
    for i in range(0, len(keys), 500):
        query = select(stock.c.store, stock.c.sku, stock.c.qty, stock.c.low).where(
            tuple_(stock.c.store, stock.c.sku).in_(keys[i : i + 500])
        )
        tracked += conn.execute(query).all()
    if not tracked:
        return
    conn.execute(_ADD, [{"s": st, "k": sku, "n": delta[(st, sku)], "at": now} for st, sku, _, _ in tracked])
    for st, sku, qty, low in tracked:
        _alerts(pending, st, sku, qty + delta[(st, sku)], low, now)


def _alerts(pending: Pending, store: str, sku: str, qty: int, low: int | None, now: float) -> None:
    if qty <= 0:
        pending.open(store, "", "out_of_stock", sku, now, f"{sku}: {qty} left (it still sells: the shelf decides)")
    else:
        pending.close(store, "", "out_of_stock", sku, now)
    if low is not None and 0 < qty <= low:
        pending.open(store, "", "low_stock", sku, now, f"{sku}: {qty} left (threshold {low})")
    else:
        pending.close(store, "", "low_stock", sku, now)
