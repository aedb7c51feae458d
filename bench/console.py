"""The web console at chain size (issue 12): every page's p50/p95 with 1,000 kiosks and 1,000,000 orders on
PostgreSQL (`python -m bench console`).

The data is generated straight into head office's tables with COPY (what the kiosks' messages would have made):
50 stores x 20 kiosks, 10^6 orders over the last 90 days with 1-5 lines each (about 3x10^6 lines), a payment per
order and 1 in 20 failing, 0.5 % refunded, a reconciliation per kiosk and day for 30 days, open and closed alerts,
and a day of heartbeats per kiosk (one every 5 minutes; the kiosk page reads the last 24 h through an index, so a
fortnight's worth only makes its index deeper).  The console runs in uvicorn as head office serves it; a logged-in
session asks each page PAGE_RUNS times after one warm-up.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime

from bench.figures import Row

KIOSKS_PER_STORE, STORES = 20, 50
ORDERS = 1_000_000
DAYS = 90
PAGE_RUNS = 40
TARGET_MS = 300.0
PRODUCTS = [(f"P{n:04d}", f"Product {n}", 100 + (n * 37) % 5000) for n in range(1, 2001)]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def fill(url: str, now: float) -> str:
    """Generate the chain's data; returns one order's "store/kiosk/order_no" to look at."""
    import json

    import psycopg

    rnd = random.Random(7)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    kiosks = [(f"s{s:03d}", f"k{k:02d}") for s in range(1, STORES + 1) for k in range(1, KIOSKS_PER_STORE + 1)]
    health = {d: {"ok": True, "message": "ok"} for d in ("scanner", "camera", "printer", "gateway")}
    sample = ""
    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as conn2, conn.cursor() as cur, conn2.cursor() as cur2:
        with cur.copy(
            "COPY kiosks (store, kiosk, state, state_since, state_ts, installation, firmware, catalog_version,"
            " config_digest, gateway, sandbox, session, last_seen, telemetry, telemetry_at, outbox_depth, seq_done,"
            " seq_max) FROM STDIN"
        ) as cp:
            for n, (store, kiosk) in enumerate(kiosks):
                tel = {"uptime_s": 86400, "outbox_depth": 0, "devices": {"health": health}}
                state = "online" if n % 97 else "lost"
                cp.write_row(
                    (store, kiosk, state, now - 3600, iso(now - 3600), f"i{n}", "1.4.2", "3-ab12cd34ef56", "c0ffee",
                     "alipay", False, 1, now - 30, json.dumps(tel), now - 30, 0, 1000, 1000)
                )  # fmt: skip
        with (
            cur.copy(
                "COPY orders (store, kiosk, order_no, msg_id, created_at, paid_at, currency, subtotal, discount, tax,"
                " total, channel, gateway, out_trade_no, trade_id, masked_code, language, catalog_version, receipt,"
                " refunded, stored_at, acked_at) FROM STDIN"
            ) as orders,
            cur2.copy(
                "COPY order_lines (store, kiosk, order_no, line_no, sku, barcode, name, qty, unit_price, amount,"
                " tax_class) FROM STDIN"
            ) as lines,
        ):
            for i in range(ORDERS):
                store, kiosk = kiosks[i % len(kiosks)]
                t = now - DAYS * 86400 * (1 - i / ORDERS) + rnd.random() * 60
                paid = iso(t)
                order_no = f"K-{i:09d}"
                basket = rnd.sample(PRODUCTS[: 200 if i % 3 else 2000], 1 + i % 5)
                total = 0
                for line_no, (sku, name, price) in enumerate(basket, start=1):
                    qty = 1 + (i + line_no) % 3
                    total += qty * price
                    lines.write_row((store, kiosk, order_no, line_no, sku, "6901234000016", name, qty, price,
                                     qty * price, "standard"))  # fmt: skip
                refunded = total if i % 200 == 0 else 0
                orders.write_row(
                    (store, kiosk, order_no, f"{store}:{kiosk}:i:orders:{i}", paid, paid, "CNY", total, 0, total // 10,
                     total, "alipay" if i % 3 else "wechat", "alipay", f"T{i:012d}", f"2026{i:016d}",
                     "28**********3451", "zh_CN", "3-ab12cd34ef56", "printed", refunded, t + 1, t + 2)
                )  # fmt: skip
                if i == ORDERS - 10:
                    sample = f"{store}/{kiosk}/{order_no}"
        conn2.commit()
        with cur.copy(
            "COPY payments (store, kiosk, out_trade_no, state, amount, currency, channel, gateway, trade_id,"
            " order_no, seq, updated_at, reason) FROM STDIN"
        ) as cp:
            for i in range(int(ORDERS * 1.05)):
                store, kiosk = kiosks[i % len(kiosks)]
                t = now - DAYS * 86400 * (1 - min(i, ORDERS - 1) / ORDERS)
                failed = i >= ORDERS
                cp.write_row(
                    (store, kiosk, f"T{i:012d}", "FAILED" if failed else "PAID", 1000, "CNY",
                     "alipay" if i % 3 else "wechat", "alipay", None if failed else f"2026{i:016d}",
                     None if failed else f"K-{i:09d}", 2, iso(t), "USER_CANCELLED" if failed else None)
                )  # fmt: skip
        with cur.copy(
            "COPY refunds (store, kiosk, out_request_no, order_no, amount, currency, state, requested_by, seq,"
            " updated_at) FROM STDIN"
        ) as cp:
            for i in range(0, ORDERS, 200):
                store, kiosk = kiosks[i % len(kiosks)]
                t = now - DAYS * 86400 * (1 - i / ORDERS) + 600
                cp.write_row((store, kiosk, f"R{i}", f"K-{i:09d}", 500, "CNY", "REFUNDED", "hq", 3, iso(t)))
        with cur.copy("COPY events (store, kiosk, msg_id, kind, ts, data) FROM STDIN") as cp:
            for day in range(30):
                for store, kiosk in kiosks:
                    data = {"kind": "reconciled", "date": f"d{day}", "gateway": "alipay", "clean": True,
                            "matched": [], "differing": []}  # fmt: skip
                    cp.write_row((store, kiosk, f"{store}:{kiosk}:r{day}", "reconciled", iso(now - day * 86400),
                                  json.dumps(data)))  # fmt: skip
        with cur.copy("COPY alerts (store, kiosk, kind, key, open, opened_at, closed_at, detail) FROM STDIN") as cp:
            for i in range(20_000):
                store, kiosk = kiosks[i % len(kiosks)]
                is_open = i % 10 == 0
                cp.write_row((store, kiosk, "paper_low", str(i), is_open, now - i * 60, None if is_open else now,
                              "paper near its end"))  # fmt: skip
        with cur.copy("COPY telemetry_history (store, kiosk, at, data) FROM STDIN") as cp:
            for step in range(288):
                for store, kiosk in kiosks:
                    data = {"uptime_s": step * 300, "outbox_depth": step % 4, "frame_age_s": 0.02, "rss_mb": 97}
                    cp.write_row((store, kiosk, now - 86400 + step * 300, json.dumps(data)))
        conn.commit()
        cur.execute("ANALYZE")
    return sample


def bench_console() -> list[Row]:
    import requests

    from headoffice import rollup, stats, users
    from headoffice.db import make_engine
    from headoffice.migrate import upgrade
    from headoffice.web import WebServer, make_app
    from tests.loopback import free_port, wait_until
    from tests.postgres import Cluster

    rows: list[Row] = []
    with tempfile.TemporaryDirectory():
        cluster = Cluster(fsync=True)
        try:
            url = cluster.new_database()
            engine = make_engine(url)
            upgrade(engine)
            now = time.time()
            t0 = time.perf_counter()
            sample = fill(url, now)
            print(f"generated 1,000 kiosks and {ORDERS:,} orders in {time.perf_counter() - t0:.0f} s")
            t0 = time.perf_counter()
            rolled = rollup.run(engine, 480, settle_s=0)
            took = time.perf_counter() - t0
            with engine.connect() as conn:  # what PostgreSQL's autovacuum does soon after such a load
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("VACUUM ANALYZE")
            print(f"roll-up of {rolled:,} orders: {took:.0f} s")
            rows.append(
                (
                    "console at chain size: the statistics' roll-up catching up with 10^6 orders at once (an existing "
                    "chain's first start; then every 30 s with what arrived since)",
                    f"{took:.0f} s",
                    "-",
                    True,
                )
            )
            users.add_user(engine, "bench", "viewer", "bench-password")
            port = free_port()
            server = WebServer(make_app(engine, None, time_zone="Asia/Shanghai"), "127.0.0.1", port)
            server.start()
            assert wait_until(lambda: server.started, 10)
            base = f"http://127.0.0.1:{port}"
            s = requests.Session()
            import re

            token = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{base}/login").text).group(1)
            s.post(f"{base}/login", data={"csrf": token, "name": "bench", "password": "bench-password"})
            store, kiosk, order_no = sample.split("/")
            today = datetime.now().date().isoformat()
            pages = {
                "fleet": "/fleet",
                "fleet, page 5": "/fleet?page=5",
                "fleet, one store": "/fleet?store=s017",
                "kiosk (24 h of heartbeats)": f"/kiosks/{store}/{kiosk}",
                "orders, live first page": "/orders/rows",
                "orders by number": f"/orders?q={order_no}",
                "orders by trade id": f"/orders?q=2026{ORDERS - 10:016d}",
                "orders of a kiosk, one day": f"/orders?store={store}&kiosk={kiosk}&since={today}&until={today}",
                "orders by amount, page 3": "/orders?min=100&max=120&page=3",
                "an order": f"/orders/{sample}",
                "statistics, 7 days, all stores": "/stats",
                "statistics, 7 days: its payments (loaded after the page)": "/stats/payments",
                "statistics, 7 days: its pairs (loaded after the page)": "/stats/pairs",
                "statistics, 30 days, one store": "/stats?store=s003&since=" + _days_ago(30),
                "statistics, 30 days: its pairs": "/stats/pairs?since=" + _days_ago(30),
                "reconciliation": "/reconciliation",
                "alerts": "/alerts",
                "alerts, closed, page 10": "/alerts?state=closed&page=10",
                "audit log": "/audit",
            }
            for name, path in pages.items():
                r = s.get(base + path, timeout=120)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                cold = path.startswith("/stats")
                for label, runs, clear in ((name, PAGE_RUNS, False), (f"{name}, cold", 10, True)):
                    if clear and not cold:
                        continue
                    times = []
                    for _ in range(runs):
                        if clear:  # the first view of this period since the last roll-up
                            stats._CACHE.clear()
                        t = time.perf_counter()
                        s.get(base + path, timeout=120)
                        times.append((time.perf_counter() - t) * 1000)
                    times.sort()
                    p50, p95 = statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]
                    print(f"{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
                    rows.append(
                        (
                            f"console at chain size (PostgreSQL, 1,000 kiosks, 10^6 orders): {label}, p50 / p95 of "
                            f"{runs}",
                            f"{p50:.0f} / {p95:.0f} ms",
                            f"p95 <= {TARGET_MS:.0f} ms",
                            p95 <= TARGET_MS,
                        )
                    )
            server.stop()
            engine.dispose()
        finally:
            cluster.stop()
    return rows


def _days_ago(n: int) -> str:
    from datetime import date, timedelta

    return (date.today() - timedelta(days=n)).isoformat()


if __name__ == "__main__":
    for row in bench_console():
        print(row)
