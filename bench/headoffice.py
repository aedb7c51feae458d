"""Head office under a simulated fleet: kiosks' real messages through one local mosquitto into head office.

The messages are made by real kiosk stores (orders with their payments and receipts, events, telemetry), one
store per simulated kiosk, before the clock starts.  Head office runs as its own process(es), as in production;
with two workers they share one MQTT 5 shared subscription.  Throughput: everything published at once, the clock
stops when head office's database holds every message.  Latency: a steady 500 messages/s, each timed from its
publish to head office's `ack` for it (sent only after the commit).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parent.parent
# as provisioning/mosquitto/kiosk-broker.conf: head office may have many messages in flight, and a long queue
BROKER = "max_inflight_messages 1000\nmax_queued_messages 1000000\n"
from bench.figures import RUNS, Row, percentiles  # noqa: E402


def fleet_messages(tmp: Path, kiosks: int, orders_each: int) -> list[tuple[str, bytes]]:
    from kiosk.catalog import DEMO_PRODUCTS
    from kiosk.store import Identity, Store
    from tests.factories import begin_payment

    out: list[tuple[str, bytes]] = []
    for k in range(kiosks):
        folder = tmp / f"k{k:04d}"
        folder.mkdir(parents=True)
        store = Store(folder / "kiosk.sqlite", Identity("s1", f"k{k:04d}", f"K{k % 100:02d}", "CNY"))
        store.seed_catalog(DEMO_PRODUCTS)
        for i in range(orders_each):
            order = store.complete_payment(begin_payment(store, DEMO_PRODUCTS[: 1 + i % 4]), trade_id=f"T{k}-{i}")
            store.mark_receipt(order.order_no, True)
            if i % 5 == 0:
                store.add_event("help_pressed", screen="cart")
        out += [
            (f"kiosk/v1/s1/k{k:04d}/{r['topic']}", r["payload"].encode()) for r in store.pending_outbox(limit=10**6)
        ]
        store.close()
    # the kiosks publish at the same time: interleave them as a broker would see them
    by_kiosk: dict[str, list] = {}
    for topic, payload in out:
        by_kiosk.setdefault(topic.split("/")[3], []).append((topic, payload))
    interleaved = []
    queues = list(by_kiosk.values())
    while queues:
        queues = [q for q in queues if q]
        for q in queues:
            interleaved.append(q.pop(0))
    return interleaved


class HeadOffices:
    """`workers` head-office processes on one shared subscription."""

    def __init__(self, tmp: Path, port: int, db_url: str, workers: int) -> None:
        self.procs = []
        for w in range(workers):
            conf = tmp / f"hq{w}.toml"
            conf.write_text(
                f'[database]\nurl = "{db_url}"\n[mqtt]\nport = {port}\nclient_id = "hq-bench-{w}"\n'
                f'shared = "{"hq" if workers > 1 else ""}"\n[ingest]\nbatch_max = 1000\nbatch_wait_ms = 20\n'
                "[http]\nenabled = false\n"
            )
            log = open(tmp / f"hq{w}.log", "ab")
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "headoffice", "--config", str(conf)], cwd=REPO, stdout=log, stderr=log
                )
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all("head office connected" in (tmp / f"hq{w}.log").read_text() for w in range(workers)):
                return
            time.sleep(0.1)
        raise RuntimeError("head office did not start: " + (tmp / "hq0.log").read_text()[-2000:])

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(20)


def publisher(port: int) -> tuple[mqtt.Client, dict[str, float]]:
    acked: dict[str, float] = {}

    def on_message(client, userdata, msg) -> None:
        now = time.monotonic()
        for i in json.loads(msg.payload)["data"]["ids"]:
            acked.setdefault(i, now)

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fleet-{time.time_ns()}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.subscribe("kiosk/v1/+/+/ack", qos=1)
    c.loop_start()
    time.sleep(0.3)
    return c, acked


def stored(db_url: str) -> int:
    from sqlalchemy import func, select

    from headoffice.db import make_engine, messages

    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(messages)).scalar_one()
    finally:
        engine.dispose()


def throughput(msgs: list[tuple[str, bytes]], db_url: str, workers: int, tmp: Path) -> float:
    from tests.loopback import Mosquitto

    broker = Mosquitto(tmp, extra=BROKER).start()
    hq = HeadOffices(tmp, broker.port, db_url, workers)
    client, _ = publisher(broker.port)
    try:
        t0 = time.monotonic()
        for topic, payload in msgs:
            client.publish(topic, payload, qos=1)
        while stored(db_url) < len(msgs):
            if time.monotonic() - t0 > 300:
                raise RuntimeError(f"only {stored(db_url)} of {len(msgs)} stored after 300 s")
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
    finally:
        client.loop_stop()
        hq.stop()
        broker.stop()
    return len(msgs) / elapsed


def latency(msgs: list[tuple[str, bytes]], db_url: str, rate: float, tmp: Path) -> list[float]:
    from tests.loopback import Mosquitto

    broker = Mosquitto(tmp, extra=BROKER).start()
    hq = HeadOffices(tmp, broker.port, db_url, 1)
    client, acked = publisher(broker.port)
    sent: dict[str, float] = {}
    try:
        t0 = time.monotonic()
        for n, (topic, payload) in enumerate(msgs):
            at = t0 + n / rate
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[json.loads(payload)["id"]] = time.monotonic()
            client.publish(topic, payload, qos=1)
        end = time.monotonic() + 30
        want = {i for i in sent if "telemetry" not in i and ":status:" not in i}
        while not want <= set(acked) and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        hq.stop()
        broker.stop()
    times = sorted((acked[i] - sent[i]) * 1000 for i in want if i in acked)
    if len(times) < len(want):
        raise RuntimeError(f"{len(want) - len(times)} messages never acknowledged")
    return times


def bench_headoffice() -> list[Row]:
    import statistics

    from tests.postgres import Cluster

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        msgs = fleet_messages(tmp / "fleet", 20, 50)  # 20 kiosks x 50 orders: ~4,200 messages
        steady = msgs[:2000]  # 4 s at 500 messages/s
        cluster = Cluster(fsync=True)
        try:
            for name in ("SQLite", "PostgreSQL"):
                rates: dict[int, list[float]] = {1: [], 2: []}
                for n in range(RUNS):
                    for workers in (1, 2):
                        run = tmp / f"{name}-{workers}-{n}"
                        run.mkdir()
                        url = f"sqlite:///{run / 'hq.sqlite'}" if name == "SQLite" else cluster.new_database()
                        rates[workers].append(throughput(msgs, url, workers, run))
                        print(f"{name}, {workers} worker(s): {rates[workers][-1]:.0f} messages/s stored once")
                median = {w: statistics.median(r) for w, r in rates.items()}
                rows.append(
                    (
                        f"head office: {len(msgs)} fleet messages through mosquitto, stored exactly once on {name}: "
                        f"1 worker / 2 workers on a shared subscription (median of {RUNS} runs, min-max)",
                        " / ".join(f"{median[w]:.0f} ({min(r):.0f}-{max(r):.0f})" for w, r in rates.items())
                        + " messages/s",
                        ">= 2000 messages/s",
                        max(median.values()) >= 2000,
                    )
                )
                runs = []
                for n in range(RUNS):
                    run = tmp / f"{name}-latency-{n}"
                    run.mkdir()
                    url = f"sqlite:///{run / 'hq.sqlite'}" if name == "SQLite" else cluster.new_database()
                    runs.append(latency(steady, url, 500, run))
                text, _, p99 = percentiles(runs, 0)
                print(f"{name}: publish -> committed (ack) at 500/s: {text}")
                rows.append(
                    (
                        f"head office on {name}: publish -> committed and acknowledged, 500 messages/s: p50 / p99, "
                        f"median of {RUNS} runs of {len(steady)} messages",
                        text,
                        "p99 <= 250 ms",
                        p99 <= 250,
                    )
                )
        finally:
            cluster.stop()
    return rows


if __name__ == "__main__":
    for row in bench_headoffice():
        print(row)
