"""Issue 11: with the screen loop frozen, telemetry kept arriving with every device "healthy", status stayed
online, and SIGTERM did not stop the process.  Now the screen loop alone pings systemd's watchdog (sd_notify over
a real unix datagram socket, as systemd listens), telemetry carries the age of the last frame, head office alerts a
frozen screen, and SIGTERM stops the kiosk cleanly."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from headoffice import queries
from headoffice.ingest import Ingest, Received
from kiosk.runtime.systemd import Watchdog
from tests.conftest import REPO, make_kiosk, write_config
from tests.test_headoffice import kiosk_store  # noqa: F401 - a fixture


class Systemd:
    """The listening end of NOTIFY_SOCKET, as systemd holds it."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.path = path
        self.got: list[str] = []

    def receive(self, seconds: float) -> list[str]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.got.append(self.sock.recv(4096).decode())
            except TimeoutError:
                pass
        return self.got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(tmp_path):
    s = Systemd(str(tmp_path / "notify.sock"))
    yield s
    s.close()


def test_ready_then_a_ping_every_half_interval_then_stopping(systemd):
    now = [100.0]
    dog = Watchdog({"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "2000000"}, clock=lambda: now[0])
    assert dog.interval == 1.0
    for t in (100.0, 100.4, 100.9, 101.0, 101.5, 102.1):
        now[0] = t
        dog.frame()
    dog.stopping()
    assert systemd.receive(0.2) == ["READY=1\nSTATUS=selling", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]
    assert Watchdog({}).interval == 0 and not Watchdog({"WATCHDOG_USEC": "2000000"}).interval  # not under systemd


def test_only_the_screen_loop_pings_so_a_frozen_screen_stops_the_pings_and_shows_in_telemetry(
    systemd, tmp_path, monkeypatch
):
    from kiosk.telemetry import MqttLink
    from kiosk.ui.loop import UI

    monkeypatch.setenv("NOTIFY_SOCKET", systemd.path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 50 ms
    k = make_kiosk(tmp_path)
    ui = UI(k)
    k.start()
    link = MqttLink(k.cfg, k.store, frame_age=k.watchdog.frame_age)
    try:
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            ui.frame()
            time.sleep(0.01)
        got = systemd.receive(0.1)
        assert got[0].startswith("READY=1") and got.count("WATCHDOG=1") >= 5
        assert link.heartbeat()["frame_age_s"] < 0.5
        systemd.got.clear()
        frozen = systemd.receive(0.6)  # the loop is stuck; the kiosk's other threads go on
        assert frozen == [] and link.heartbeat()["frame_age_s"] >= 0.6
    finally:
        k.stop()
        ui.close()


def test_head_office_alerts_a_kiosk_whose_screen_froze(hq_engine, kiosk_store):  # noqa: F811
    from kiosk import messages as kmsg

    ingest = Ingest(hq_engine)
    n = iter(range(100))

    def telemetry(age: float) -> Received:
        msg_id = f"s1:k1:{kiosk_store.installation}:telemetry:direct-{next(n)}"
        data = {"uptime_s": 100, "outbox_depth": 0, "devices": {}, "frame_age_s": age}
        body = kmsg.envelope(
            msg_id=msg_id, seq=0, ts="2026-12-04T08:00:00.000Z", store="s1", kiosk="k1", type_="telemetry", data=data
        )
        return Received("kiosk/v1/s1/k1/telemetry", body.encode())

    ingest.store_batch([telemetry(0.1)])
    assert queries.alerts(hq_engine) == []
    ingest.store_batch([telemetry(45.0)])
    [alert] = queries.alerts(hq_engine)
    assert alert["kind"] == "screen_frozen" and "45 s" in alert["detail"]
    ingest.store_batch([telemetry(0.0)])  # restarted by systemd: drawing again
    assert queries.alerts(hq_engine) == []


def test_a_kiosk_run_by_systemd_says_ready_pings_and_stops_on_sigterm(systemd, tmp_path):
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(tmp_path / "d")}, "mqtt": {"enabled": False}})
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "GPIOZERO_PIN_FACTORY": "mock",
        "NOTIFY_SOCKET": systemd.path,
        "WATCHDOG_USEC": "400000",
    }
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(cfg)], cwd=REPO, env=env)
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and systemd.got.count("WATCHDOG=1") < 3:
            systemd.receive(0.1)
        assert systemd.got[0] == "READY=1\nSTATUS=selling" and systemd.got.count("WATCHDOG=1") >= 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0  # a clean stop, well before the grace a frozen loop gets
        assert "STOPPING=1" in systemd.receive(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_under_systemd_every_log_line_carries_its_journal_priority(tmp_path):
    cfg = write_config(tmp_path / "k.toml", {"kiosk": {"data_dir": str(tmp_path / "d")}, "mqtt": {"enabled": False}})
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "JOURNAL_STREAM": "8:1234"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--config", str(cfg)], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    lines = [line for line in err.splitlines() if line]
    assert lines and all(re.match(r"<[2-7]>", line) for line in lines), lines[:5]
    assert any(line.startswith("<6>kiosk") for line in lines)  # info: the start, the stop
    from kiosk.runtime.systemd import JournalFormatter

    def as_journal(level: int, message: str) -> str:
        return JournalFormatter().format(logging.LogRecord("kiosk.x", level, __file__, 1, message, None, None))

    assert as_journal(logging.WARNING, "paper low") == "<4>kiosk.x: paper low"
    assert as_journal(logging.ERROR, "a\nb") == "<3>kiosk.x: a\n<3>b"  # every line of a traceback too
