"""Issue 12: the console's figures are computed in SQL and equal what a person computes by hand from a known set of
orders and payments, on SQLite and PostgreSQL.  Times are UTC in the tables and local (UTC+8) in the figures, so
an order paid at 16:00 UTC belongs to the next local day, and one a second before local midnight to the day before."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, update

from headoffice import rollup, stats
from headoffice.db import order_lines, orders, payments, refunds

CHINA = 8 * 60


def add_order(conn, store, kiosk, no, paid_at, lines, refunded=0):
    total = sum(q * p for _, q, p in lines)
    conn.execute(
        insert(orders).values(
            store=store,
            kiosk=kiosk,
            order_no=no,
            msg_id=f"{store}:{kiosk}:{no}",
            created_at=paid_at,
            paid_at=paid_at,
            currency="CNY",
            subtotal=total,
            discount=0,
            tax=0,
            total=total,
            channel="alipay",
            gateway="sandbox",
            out_trade_no=f"T{no}",
            masked_code="28**********3451",
            language="zh_CN",
            catalog_version="1-abc",
            receipt="printed",
            refunded=refunded,
            stored_at=0.0,
        )
    )
    for n, (sku, qty, price) in enumerate(lines, start=1):
        conn.execute(
            insert(order_lines).values(
                store=store,
                kiosk=kiosk,
                order_no=no,
                line_no=n,
                sku=sku,
                barcode="690",
                name=f"name {sku}",
                qty=qty,
                unit_price=price,
                amount=qty * price,
                tax_class="standard",
            )
        )


def add_payment(conn, store, kiosk, no, channel, state, reason=None, at="2026-12-01T03:00:00.000Z"):
    conn.execute(
        insert(payments).values(
            store=store,
            kiosk=kiosk,
            out_trade_no=no,
            state=state,
            amount=100,
            currency="CNY",
            channel=channel,
            gateway="sandbox",
            seq=1,
            updated_at=at,
            reason=reason,
        )
    )


@pytest.fixture
def known(hq_engine):
    with hq_engine.begin() as conn:
        add_order(conn, "s1", "k1", "O1", "2026-12-01T01:30:00.000Z", [("A", 2, 300), ("B", 1, 400)], refunded=200)
        add_order(conn, "s1", "k1", "O2", "2026-12-01T02:10:00.000Z", [("A", 1, 300), ("C", 1, 400)])
        add_order(conn, "s1", "k2", "O3", "2026-12-01T15:59:00.000Z", [("B", 1, 400), ("D", 1, 100)])  # 23:59 local
        add_order(conn, "s2", "k1", "O4", "2026-12-01T16:00:00.000Z", [("A", 1, 300), ("B", 1, 400), ("C", 1, 200)])
        add_order(conn, "s1", "k1", "O5", "2026-11-30T15:59:59.000Z", [("A", 9, 300)])  # Nov 30 local: outside
        for store, kiosk, no, channel, state, reason in [
            ("s1", "k1", "p1", "alipay", "PAID", None),
            ("s1", "k1", "p2", "wechat", "PAID", None),
            ("s1", "k2", "p3", "alipay", "FAILED", "NOT_ENOUGH"),
            ("s2", "k1", "p4", "alipay", "REFUNDED", None),
            ("s1", "k1", "p5", "wechat", "CANCELLED", "SHOPPER_CANCELLED"),
            ("s1", "k2", "p6", "alipay", "USER_PAYING", None),  # not final: not counted
            ("s1", "k2", "p7", "alipay", "PAID", None),
            ("s2", "k1", "p8", "wechat", "FAILED", None),
        ]:
            add_payment(conn, store, kiosk, no, channel, state, reason)
        add_payment(conn, "s1", "k1", "p9", "alipay", "FAILED", "OLD", at="2026-11-30T10:00:00.000Z")  # outside
        for no, order_no, amount, state in [("r1", "O1", 200, "REFUNDED"), ("r2", "O2", 100, "FAILED")]:
            conn.execute(
                insert(refunds).values(
                    store="s1",
                    kiosk="k1",
                    out_request_no=no,
                    order_no=order_no,
                    amount=amount,
                    currency="CNY",
                    state=state,
                    requested_by="hq",
                    seq=1,
                    updated_at="2026-12-01T05:00:00.000Z",
                )
            )
    assert rollup.run(hq_engine, CHINA, settle_s=0) == 5  # what the service does every half minute
    assert rollup.run(hq_engine, CHINA, settle_s=0) == 0  # each order counted once
    return hq_engine


def test_every_figure_equals_the_hand_computed_one(known):
    got = stats.compute(known, stats.Period(date(2026, 12, 1), date(2026, 12, 3), offset_min=CHINA))
    assert got["summary"] == [
        {"orders": 4, "sales": 3100, "refunded": 200, "items": 10, "avg_basket": 775, "avg_items": 2.5}
    ]
    assert got["by_day"] == [
        {"day": "2026-12-01", "orders": 3, "sales": 2200},
        {"day": "2026-12-02", "orders": 1, "sales": 900},
    ]
    assert got["by_hour"] == [
        {"hour": 0, "orders": 1, "sales": 900},
        {"hour": 9, "orders": 1, "sales": 1000},
        {"hour": 10, "orders": 1, "sales": 700},
        {"hour": 23, "orders": 1, "sales": 500},
    ]
    assert got["by_store"] == [{"store": "s1", "orders": 3, "sales": 2200}, {"store": "s2", "orders": 1, "sales": 900}]
    assert got["by_kiosk"] == [
        {"store": "s1", "kiosk": "k1", "orders": 2, "sales": 1700, "avg_basket": 850},
        {"store": "s1", "kiosk": "k2", "orders": 1, "sales": 500, "avg_basket": 500},
        {"store": "s2", "kiosk": "k1", "orders": 1, "sales": 900, "avg_basket": 900},
    ]
    channel = {r["channel"]: (r["tried"], r["paid"], r["failed"], r["success_rate"]) for r in got["success_by_channel"]}
    assert channel == {"alipay": (4, 3, 1, 0.75), "wechat": (3, 1, 2, pytest.approx(1 / 3))}
    kiosk = {(r["store"], r["kiosk"]): (r["tried"], r["paid"]) for r in got["success_by_kiosk"]}
    assert kiosk == {("s1", "k1"): (3, 2), ("s1", "k2"): (2, 1), ("s2", "k1"): (2, 1)}
    assert got["failure_reasons"] == [
        {"channel": "alipay", "reason": "NOT_ENOUGH", "payments": 1},
        {"channel": "wechat", "reason": "FAILED", "payments": 1},
        {"channel": "wechat", "reason": "SHOPPER_CANCELLED", "payments": 1},
    ]
    assert [(r["sku"], r["qty"], r["sales"], r["orders"]) for r in got["top_products"]] == [
        ("A", 4, 1200, 3),
        ("B", 3, 1200, 3),
        ("C", 2, 600, 2),
        ("D", 1, 100, 1),
    ]
    assert [(r["sku_a"], r["sku_b"], r["orders"]) for r in got["pairs"]] == [
        ("A", "B", 2),
        ("A", "C", 2),
        ("B", "C", 1),
        ("B", "D", 1),
    ]
    assert got["refunds"] == [
        {"store": "s1", "kiosk": "k1", "state": "FAILED", "refunds": 1, "amount": 100},
        {"store": "s1", "kiosk": "k1", "state": "REFUNDED", "refunds": 1, "amount": 200},
    ]
    assert got["heat_map"] == [  # 2026-12-01 is a Tuesday (2), the 2nd a Wednesday (3)
        {"weekday": 2, "hour": 9, "orders": 1},
        {"weekday": 2, "hour": 10, "orders": 1},
        {"weekday": 2, "hour": 23, "orders": 1},
        {"weekday": 3, "hour": 0, "orders": 1},
    ]


def test_one_store_and_one_day(known):
    got = stats.compute(known, stats.Period(date(2026, 12, 2), date(2026, 12, 3), store="s2", offset_min=CHINA))
    assert got["summary"][0]["orders"] == 1 and got["summary"][0]["sales"] == 900
    assert [(r["sku_a"], r["sku_b"]) for r in got["pairs"]] == [("A", "B"), ("A", "C"), ("B", "C")]
    rollup.run(known, 0, settle_s=0)  # head office's time zone changed: the roll-ups are rebuilt
    in_utc = stats.compute(known, stats.Period(date(2026, 12, 1), date(2026, 12, 2)), ["by_day"])
    assert in_utc["by_day"] == [{"day": "2026-12-01", "orders": 4, "sales": 3100}]  # no offset: O4 is the 1st


def test_a_pair_counts_in_its_local_week(hq_engine):
    """The chain's pairs by week: an order at 23:30 on a Sunday (local) is that week's; one at 00:30 on the Monday
    after is the next week's, though both are Sunday in UTC."""
    from sqlalchemy import select

    from headoffice.db import stats_pair_weeks

    with hq_engine.begin() as conn:
        add_order(conn, "s1", "k1", "W1", "2026-11-29T15:30:00.000Z", [("A", 1, 100), ("B", 1, 100)])  # Sun 23:30
        add_order(conn, "s2", "k1", "W2", "2026-11-29T16:30:00.000Z", [("A", 1, 100), ("B", 1, 100)])  # Mon 00:30
        add_order(conn, "s2", "k1", "W3", "2026-11-30T01:00:00.000Z", [("B", 1, 100), ("A", 1, 100)])
    rollup.run(hq_engine, CHINA, settle_s=0)
    with hq_engine.connect() as conn:
        rows = conn.execute(select(stats_pair_weeks).order_by(stats_pair_weeks.c.week)).all()
    assert [(r.store, r.week, r.sku_a, r.sku_b, r.orders) for r in rows] == [
        ("*", "2026-11-23", "A", "B", 1),
        ("*", "2026-11-30", "A", "B", 2),
    ]


def _busy_chain(engine, days: int, seed: int) -> None:
    """Orders on every day of `days` up to 2026-12-03 (local), baskets drawn with a few products far more popular
    than the rest (as shops' are), at times all over the day: in UTC, around local midnight too."""
    import random
    from datetime import UTC, datetime, timedelta

    rnd = random.Random(seed)
    skus = [f"P{n:03d}" for n in range(60)]
    weights = [1 / (n + 1) for n in range(60)]
    start = datetime(2026, 12, 4, tzinfo=UTC) - timedelta(days=days, hours=8)
    with engine.begin() as conn:
        for n in range(days * 40):
            at = start + timedelta(seconds=rnd.randrange(days * 86400))
            basket = sorted(set(rnd.choices(skus, weights, k=rnd.randint(1, 5))))
            lines = [(sku, 1, 100) for sku in basket]
            add_order(conn, f"s{n % 3}", "k1", f"B{n}", at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), lines)


def test_the_chains_pairs_of_long_periods_are_read_by_weeks_and_exact(hq_engine):
    """A long period's top pairs for the whole chain, read from whole weeks and the few pairs bought together often
    (headoffice/stats.py), are exactly every day's pairs summed, for periods starting on any weekday; the roll-up
    adding orders in several runs gives the same weeks as one run."""
    _busy_chain(hq_engine, 45, seed=3)
    rollup.run(hq_engine, CHINA, settle_s=0, now=1000.0)  # these orders were stored at 0
    with hq_engine.begin() as conn:  # a kiosk that was offline sends an order of two weeks ago
        add_order(conn, "s1", "k9", "late", "2026-11-20T04:00:00.000Z", [("P000", 1, 100), ("P001", 1, 100)])
        conn.execute(update(orders).where(orders.c.order_no == "late").values(stored_at=2000.0))
    assert rollup.run(hq_engine, CHINA, settle_s=0, now=3000.0) == 1
    answered = 0
    with hq_engine.connect() as conn:
        for since, until in [
            (date(2026, 11, 3), date(2026, 12, 4)),  # 31 days from a Tuesday
            (date(2026, 11, 2), date(2026, 11, 30)),  # 4 whole weeks, no other day
            (date(2026, 11, 8), date(2026, 11, 24)),  # a Sunday, 2 weeks, a Monday
            (date(2026, 10, 21), date(2026, 12, 4)),
        ]:
            p = stats.Period(since, until, offset_min=CHINA)
            by_weeks = stats._chain_pairs_by_weeks(conn, p, 10)
            summed = stats._pairs_summed(conn, p, 10)
            assert len(summed) == 10
            if by_weeks is not None:
                answered += 1
                assert by_weeks == summed, (since, until)
            got = stats.pairs(conn, p)
            assert [(r["sku_a"], r["sku_b"], r["orders"]) for r in got] == summed
            assert got[0]["name_a"] == f"name {got[0]['sku_a']}"
    assert answered == 4  # the data is busy enough for every one to be read by weeks


def test_a_period_without_often_bought_pairs_is_summed_by_days(known):
    """Four orders over three weeks: the weeks' bound proves nothing, so every day's pairs are summed."""
    p = stats.Period(date(2026, 11, 16), date(2026, 12, 7), offset_min=CHINA)
    with known.connect() as conn:
        assert stats._chain_pairs_by_weeks(conn, p, 10) is None
    got = stats.compute(known, p, ["pairs"])["pairs"]
    assert [(r["sku_a"], r["sku_b"], r["orders"]) for r in got][:2] == [("A", "B", 2), ("A", "C", 2)]
