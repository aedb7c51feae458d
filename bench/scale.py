"""`python -m bench.scale` (`make bench-scale`): do the kiosk's costs stay flat as its history and catalog grow?

Builds kiosk databases of 10^3, 10^4 and 10^5 orders (10^5 is about a year of a busy kiosk) through the real
store (payments, orders with 1-8 lines, receipts, a refund in fifty, the outbox acknowledged and pruned as
head office would), 274 orders a day back from today (so every size has the same day and only its history
differs), and catalogs of 10^2, 10^4 and 10^5 products.  On each it
measures what a kiosk does every day: start (`python -m kiosk` to its first frame), resident memory, the order
commit, the Z report, reconciliation's journal, the open payments recovery reads, the last order, the
wallet-code memory, a product look-up, and the file's size.  Each timing is a median with its min-max: of 5
starts, of 50 runs of the rest, in rounds that visit the sizes in turn.  The table goes into bench/RESULTS.md
between the scaling markers.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORDERS = (1_000, 10_000, 100_000)
PRODUCTS = (100, 10_000, 100_000)
PER_DAY = 274  # 10^5 orders a year: every size has the same busy day, and only its history differs
from bench.figures import RUNS  # noqa: E402

BEGIN, END = "<!-- scaling: written by make bench-scale -->", "<!-- /scaling -->"


def ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def catalog(n: int):
    from kiosk.catalog import Product

    return [
        Product(f"S{i:06d}", ean13(f"69{i:010d}"), f"商品名称{i}号", f"Product number {i}", 100 + i % 5000, "standard")
        for i in range(n)
    ]


def build(folder: Path, orders: int, products: int) -> Path:
    """A kiosk data folder with `orders` orders over the past year and `products` products."""
    from kiosk.store import Identity, Store
    from tests.factories import begin_payment

    folder.mkdir(parents=True, exist_ok=True)
    store = Store(folder / "kiosk.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    items = catalog(products)
    store.seed_catalog(items)
    store.conn().execute("PRAGMA synchronous=OFF")  # building only: the kiosk itself always runs FULL
    for i in range(orders):
        lines = [items[(i * 7 + k) % len(items)] for k in range(1 + i % 8)]
        order = store.complete_payment(begin_payment(store, lines, language="zh_CN"), trade_id=f"T{i:08d}")
        store.mark_receipt(order.order_no, True)
        if i % 50 == 0:
            store.begin_refund(order.order_no, 100, requested_by="attendant")
    db = store.conn()
    with store.tx() as w:  # a busy kiosk's days (PER_DAY orders each) back from now, in the kiosk's own format
        for table, cols in (("payments", ("created_at", "updated_at")), ("orders", ("created_at", "paid_at"))):
            ago = f"printf('-%d seconds', ({orders} - rowid) * 86400 / {PER_DAY})"
            sets = ", ".join(f"{c} = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', {ago})" for c in cols)
            w.execute(f"UPDATE {table} SET {sets}")
        w.execute(  # a refund on its order's day
            "UPDATE refunds SET created_at = (SELECT paid_at FROM orders WHERE orders.order_no = refunds.order_no),"
            " updated_at = (SELECT paid_at FROM orders WHERE orders.order_no = refunds.order_no)"
        )
    rows = store.pending_outbox(limit=10**7)
    store.mark_sent(r["seq"] for r in rows)
    store.mark_acked([r["id"] for r in rows])  # head office has them all ...
    db.execute("UPDATE outbox SET acked_at = '2000-01-01T00:00:00.000Z'")  # ... long ago: past any retention
    while store.prune_outbox(0):  # what housekeeping does, 100,000 rows a round
        pass
    store.forget_old_codes()
    while store.reclaim_space(10_000):
        pass
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return folder


def timed(fn: Callable[[], object], runs: int = 10) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def time_to_ready(conf: Path, ready: Path, limit_s: float = 60) -> tuple[float, subprocess.Popen]:
    """Start `python -m kiosk --config conf`; seconds until its first frame (the ready file), and the process
    (still running: the caller reads what it needs and stops it)."""
    ready.unlink(missing_ok=True)
    t0 = time.monotonic()
    p = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--config", str(conf), "--ready-file", str(ready)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not ready.exists() and time.monotonic() - t0 < limit_s:
        time.sleep(0.005)
    return time.monotonic() - t0, p


def start_and_rss(folder: Path) -> tuple[float, float]:
    """`python -m kiosk` on this data folder: seconds to the first frame, and its RSS once ready."""
    conf = folder.parent / f"{folder.name}.toml"
    conf.write_text(f'[kiosk]\ndata_dir = "{folder}"\n[mqtt]\nenabled = false\n[simulator]\npanel = false\n')
    seconds, p = time_to_ready(conf, folder.parent / f"{folder.name}.ready")
    time.sleep(0.5)
    with open(f"/proc/{p.pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    p.terminate()
    p.wait(20)
    return seconds, rss


def measure_once(folder: Path, into: dict[str, list[float]]) -> None:
    """One round on one data folder: a start, and each daily cost 10 times (the order commit too)."""
    from kiosk.catalog import DEMO_PRODUCTS
    from kiosk.payments.driver import PaymentDriver
    from kiosk.payments.sandbox import SandboxGateway
    from kiosk.store import Identity, Store
    from tests.factories import begin_payment

    seconds, rss = start_and_rss(folder)
    into["start_s"].append(seconds)
    into["rss_mb"].append(rss)
    store = Store(folder / "kiosk.sqlite", Identity("demo-store", "kiosk-01", "K01", "CNY"))
    today, sample = date.today().isoformat(), store.product_codes(8)
    lookup = store.catalog()
    driver = PaymentDriver(SandboxGateway(folder / "sandbox.sqlite", latency_s=0), store)
    into["z_report_ms"] += timed(lambda: store.day_summary(today))
    into["journal_ms"] += timed(lambda: store.journal_rows(today))
    into["open_payments_ms"] += timed(store.open_payments)
    into["recovery_ms"] += timed(driver.recover_all)
    into["last_order_ms"] += timed(store.last_order_no)
    into["codes_ms"] += timed(store.recent_code_digests)
    into["lookup_ms"] += timed(lambda: [lookup.forget(), [lookup.get(c) for c in sample]])
    items = [lookup[c] for c in sample] or DEMO_PRODUCTS[:8]
    for _ in range(10):
        otn = begin_payment(store, items, language="zh_CN")
        t0 = time.perf_counter()
        store.complete_payment(otn, trade_id="T")
        into["commit_ms"].append((time.perf_counter() - t0) * 1000)
    store.close()


def measure(folders: list[Path]) -> list[dict[str, object]]:
    """Every figure of every folder, in RUNS rounds that visit the folders in turn: a busy moment of the machine
    falls on every size alike instead of on whichever was measured then.  Timings: median (min-max)."""
    samples: list[dict[str, list[float]]] = [defaultdict(list) for _ in folders]
    for n in range(RUNS):
        for folder, into in zip(folders, samples, strict=True):
            measure_once(folder, into)
        print(f"round {n + 1} of {RUNS} done", flush=True)
    results: list[dict[str, object]] = []
    for folder, got in zip(folders, samples, strict=True):
        out: dict[str, object] = {"size_mb": (folder / "kiosk.sqlite").stat().st_size / 2**20}
        for key, values in got.items():
            out[key] = max(values) if key == "rss_mb" else (statistics.median(values), min(values), max(values))
        results.append(out)
        print(folder.name, json.dumps(out, default=str), flush=True)
    return results


def fmt(v: object) -> str:
    if isinstance(v, tuple):
        return f"{v[0]:.3g} ({v[1]:.3g}-{v[2]:.3g})"
    return f"{v:.0f}" if isinstance(v, float) and v >= 10 else f"{v:.1f}"


FIGURES = [
    ("start_s", "start to first frame, s"),
    ("rss_mb", "resident memory when ready, MB"),
    ("commit_ms", "order commit (8 lines), ms"),
    ("z_report_ms", "Z report (day_summary), ms"),
    ("journal_ms", "reconciliation's journal of a day, ms"),
    ("open_payments_ms", "open payments (recovery's read), ms"),
    ("recovery_ms", "recovery round, nothing open, ms"),
    ("last_order_ms", "last order, ms"),
    ("codes_ms", "wallet codes of the last 24 h, ms"),
    ("lookup_ms", "8 product look-ups, cold cache, ms"),
    ("size_mb", "database file, MB"),
]


def table(title: str, sizes: tuple[int, ...], results: list[dict[str, object]]) -> list[str]:
    lines = [f"| {title} | " + " | ".join(f"{n:,}" for n in sizes) + " | largest / smallest |"]
    lines.append("|---|" + "---|" * (len(sizes) + 1))
    for key, label in FIGURES:
        values = [r[key] for r in results]
        first = values[0][0] if isinstance(values[0], tuple) else values[0]
        last = values[-1][0] if isinstance(values[-1], tuple) else values[-1]
        ratio = f"{last / first:.2f}x" if first else "-"
        lines.append(f"| {label} | " + " | ".join(fmt(v) for v in values) + f" | {ratio} |")
    return lines


def main() -> int:
    sys.path.insert(0, str(REPO))
    from kiosk import use_headless_drivers

    use_headless_drivers()
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        for n in ORDERS:
            t0 = time.monotonic()
            folders.append(build(Path(tmp) / f"orders-{n}", n, 32))
            print(f"built {n} orders in {time.monotonic() - t0:.0f} s", flush=True)
        by_orders = measure(folders)
        for folder in folders:  # room on the disk for the next ones
            shutil.rmtree(folder)
        by_products = measure([build(Path(tmp) / f"products-{n}", 1_000, n) for n in PRODUCTS])
    per_100k = by_orders[-1]["size_mb"] * 100_000 / ORDERS[-1]
    lines = [
        BEGIN,
        "## Scaling: costs as the history and the catalog grow (`make bench-scale`)",
        "",
        f"Each timing is a median with its min-max: of {RUNS} starts, of {RUNS * 10} runs of the rest, measured",
        f"in {RUNS} rounds that visit the sizes in turn (a busy moment of the machine falls on all of them);",
        f"memory is the largest of the starts. Every history has {PER_DAY} orders a day back from today (10^5 is",
        "a year), so a day's queries see the same day at every size; the outbox is acknowledged and pruned as",
        "head office and housekeeping leave it. Target: the largest within 1.5x of the smallest, and at most",
        f"100 MB of database per 10^5 orders (here {per_100k:.0f} MB).",
        "",
        *table("orders in the history (32 products)", ORDERS, by_orders),
        "",
        *table("products in the catalog (1,000 orders)", PRODUCTS, by_products),
        END,
    ]
    print("\n".join(lines))
    results = REPO / "bench" / "RESULTS.md"
    text = results.read_text()
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + "\n".join(lines) + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    results.write_text(text)
    print("wrote the scaling table to bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
