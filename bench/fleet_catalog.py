"""Publishing a catalog to a fleet: head office (its own process) publishes a new version; 50 kiosks on one loopback
mosquitto receive it as `cmd/catalog`, check it, load it and switch; the clock stops when head office's fleet
table shows every kiosk on the new version.

The kiosks are the kiosk's own parts without a screen or devices: a Store, the MQTT link (birth, outbox, signed
commands) and the catalog updater, each with its own SQLite database, all in this process; "switch" happens as
soon as the catalog is loaded (a kiosk with nobody shopping).  Five versions are published in turn, each a run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import RUNS, Row, spread

REPO = Path(__file__).resolve().parent.parent


def catalog_csv(path: Path, products: int, version: int = 0) -> Path:
    """A head-office catalog file of `products` rows; `version` moves the prices (each version differs)."""
    from bench.scale import ean13

    with path.open("w", encoding="utf-8") as f:
        f.write("sku,barcodes,name_zh,name_en,category,tax_class,price,unit\n")
        for i in range(products):
            f.write(f"S{i:06d},{ean13(f'69{i:010d}')},商品名称{i}号,Product number {i},c{i % 40},standard,")
            f.write(f"{100 + (i + version) % 5000},piece\n")
    return path


def kiosks(port: int, folder: str, first: int, count: int) -> None:
    """In a process of its own: `count` kiosks from number `first` (the kiosk's store, MQTT link and catalog
    updater each), until the file `stop` appears in `folder`."""
    from kiosk import signing
    from kiosk.config import Config, replace
    from kiosk.services.catalog_updates import CatalogUpdates
    from kiosk.services.events import CatalogStaged
    from kiosk.services.jobs import Worker
    from kiosk.store import open_store
    from kiosk.telemetry import MqttLink

    tmp = Path(folder)
    public = str(tmp / "hq.pub")
    links = []
    for i in range(first, first + count):
        cfg = replace(
            Config(),
            kiosk={"store_id": "s1", "kiosk_id": f"k{i:02d}", "data_dir": str(tmp / f"k{i:02d}")},
            mqtt={"port": port, "hq_public_key_file": public, "retry_s": 0.5},
        )
        store = open_store(cfg)

        def staged(event, store=store) -> None:
            if isinstance(event, CatalogStaged):  # nobody shopping: sold from at once
                store.switch_catalog(event.gen, event.version)
                store.add_event("catalog_switched", version=event.version)

        key = signing.load_public_key(public)
        updates = CatalogUpdates(store, Worker(f"k{i:02d}", staged), staged, key=key, store_id="s1")
        link = MqttLink(
            cfg,
            store,
            on_command=lambda name, body, cmd_id, u=updates: u.receive(body, cmd_id)
            if name == "catalog"
            else {"ok": False, "error": "not in this benchmark"},
        )
        store.on_outbox(link.notify)
        link.start()
        links.append(link)
    while not (tmp / "stop").exists():
        time.sleep(0.2)
    for link in links:
        link.stop(timeout=1)


def bench_publish(kiosks_in_fleet: int = 50, products: int = 10_000) -> list[Row]:
    """The kiosks run in one process per core (as many machines share the work of a fleet of Pis)."""
    import os

    from sqlalchemy import select

    from headoffice import catalog, publish
    from headoffice.db import kiosks as fleet_table
    from headoffice.db import make_engine
    from headoffice.migrate import upgrade
    from kiosk import signing
    from tests.loopback import Mosquitto

    times = []
    procs = max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        broker = Mosquitto(tmp).start()
        signing.keygen(str(tmp / "hq"))
        key = signing.load_private_key(str(tmp / "hq.key"))
        url = f"sqlite:///{tmp / 'hq.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        conf = tmp / "hq.toml"
        conf.write_text(
            f'[database]\nurl = "{url}"\n[mqtt]\nport = {broker.port}\nclient_id = "hq-bench"\n'
            f'[commands]\nprivate_key_file = "{tmp / "hq.key"}"\ncatalog_check_s = 1.0\n[http]\nenabled = false\n'
        )
        log = open(tmp / "hq.log", "ab")
        command = [sys.executable, "-m", "headoffice", "--config", str(conf)]
        hq = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=log)
        share = -(-kiosks_in_fleet // procs)
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    f"from bench.fleet_catalog import kiosks; kiosks({broker.port}, {str(tmp)!r}, {first}, "
                    f"{min(share, kiosks_in_fleet - first)})",
                ],
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
            for first in range(0, kiosks_in_fleet, share)
        ]
        try:

            def on_version(label: str) -> int:
                with engine.connect() as c:
                    rows = c.execute(select(fleet_table.c.catalog_version)).scalars().all()
                return sum(v == label for v in rows)

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.connect() as c:
                    if len(c.execute(select(fleet_table.c.kiosk)).all()) == kiosks_in_fleet:
                        break
                time.sleep(0.2)
            for version in range(1, RUNS + 1):
                catalog.import_file(engine, catalog_csv(tmp / f"c{version}.csv", products, version))
                t0 = time.monotonic()
                [bundle] = publish.publish(engine, key, ["s1"])
                while on_version(bundle.label) < kiosks_in_fleet and time.monotonic() - t0 < 300:
                    time.sleep(0.1)
                times.append(time.monotonic() - t0)
                print(f"catalog {bundle.label}: {on_version(bundle.label)}/{kiosks_in_fleet} in {times[-1]:.1f} s")
        finally:
            (tmp / "stop").touch()
            for child in children:
                child.wait(30)
            hq.terminate()
            hq.wait(20)
            broker.stop()
            engine.dispose()
    return [
        (
            f"publish a {products:,}-product catalog -> all {kiosks_in_fleet} kiosks of the store on it at head "
            f"office (sent by cmd/catalog, checked, loaded, switched, reported; the kiosks in {procs} processes): "
            f"median of {RUNS} versions (min-max)",
            f"{spread(times, 1)} s",
            "<= 60 s",
            statistics.median(times) <= 60,
        )
    ]
