"""Shared fixtures: headless environment, config files, loopback devices."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk import use_headless_drivers

use_headless_drivers()

from kiosk.config import DEMO_PIN_HASH, Config, replace  # noqa: E402
from kiosk.runtime.wiring import Runtime  # noqa: E402
from tests.loopback import Mosquitto  # noqa: E402
from tests.photos import PHOTOS  # noqa: E402, F401  (the shared photos, for the tests that read them)

REPO = Path(__file__).resolve().parent.parent


def kiosk_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `python -m kiosk ARGS` from the repository, as a technician would; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def write_config(path: Path, sections: dict[str, dict]) -> Path:
    """Write a TOML config from {section: {key: value}} (strings, numbers and booleans)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(v)

    lines = []
    for name, body in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(autouse=True)
def _let_go_of_stopped_kiosks():
    """A stopped kiosk sits in reference cycles with its open files (SQLite connections) until the garbage
    collector's next full pass; past 1024 open files, paho-mqtt's select() fails and MQTT goes silent in
    whichever test comes next.  So a full collection whenever many files are open."""
    yield
    if len(os.listdir("/proc/self/fd")) > 300:
        gc.collect()


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path).start()
    yield b
    b.stop()


def make_kiosk(tmp_path, clock=time.monotonic, **sections):
    base = {
        "kiosk": {"data_dir": str(tmp_path / "data")},
        "mqtt": {"enabled": False},
        "sandbox": {"latency_ms": 0, "user_paying_s": 0.3},
        "payment": {"poll_interval_s": 0.1},
        "gpio": {"pin_factory": "mock"},
        "attendant": {"pin_hash": DEMO_PIN_HASH},  # PIN 1234
    }
    for name, vals in sections.items():
        base[name] = {**base.get(name, {}), **vals}
    return Runtime(replace(Config(), **base), clock=clock)


@pytest.fixture
def ui_for(tmp_path):
    from kiosk.ui.loop import UI

    made = []

    def build(**sections):
        clock = sections.pop("clock", time.monotonic)
        k = make_kiosk(tmp_path, clock, **sections)
        ui = UI(k)
        k.start()
        made.append((k, ui))
        return k, ui

    yield build
    for k, ui in made:
        k.stop()
        ui.close()


@pytest.fixture(scope="session")
def postgres_cluster():
    from tests.postgres import Cluster

    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_engine(request, tmp_path):
    """Head office's database, on SQLite and on a real PostgreSQL, schema made by its Alembic migrations."""
    from headoffice.db import make_engine
    from headoffice.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hq.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_cluster").new_database()
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def printer_listener():
    """A port-9100 printer on loopback (tests.loopback.NetworkPrinter): answers status queries, keeps jobs."""
    from tests.loopback import NetworkPrinter

    lp = NetworkPrinter()
    yield lp
    lp.close()


def headoffice_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m headoffice ARGS` on an SQLite database in tmp_path (its config written there)."""
    conf = tmp_path / "hq-cli.toml"
    if not conf.exists():
        conf.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "hq.sqlite"}"\n')
    return subprocess.run(
        [sys.executable, "-m", "headoffice", "--config", str(conf), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
