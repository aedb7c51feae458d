"""`make demo` (`python -m headoffice.demo [--seconds N]`): a broker, head office and three simulated kiosks
selling on their own, all on this machine; head office's view of the fleet is printed every few seconds, and its
console is on http://127.0.0.1:8080 (another free port when 8080 is taken; user `demo`, password printed).

Everything lives in ./demo-data (made fresh each time).  The broker listens on 127.0.0.1 on a free port; the
kiosks run headless with the simulator's autopilot shopper; head office signs its commands and acks with a key
made for the demo.  Try `python -m headoffice --config demo-data/hq.toml cmd demo-store/kiosk-02 ping` in
another terminal while it runs.  Ctrl+C (or --seconds) stops everything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parent.parent
KIOSKS = ("kiosk-01", "kiosk-02", "kiosk-03")
DEMO_PASSWORD = "demo-console"  # the demo's own operator: demo-data only, made fresh each time


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml(sections: dict[str, dict]) -> str:
    lines = []
    for name, body in sections.items():
        lines.append(f"[{name}]")
        for k, v in body.items():
            value = str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, (int, float)) else f'"{v}"'
            lines.append(f"{k} = {value}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m headoffice.demo")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (default: until Ctrl+C)")
    ap.add_argument("--dir", default="demo-data")
    args = ap.parse_args(argv)
    base = Path(args.dir).resolve()
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    port = free_port()
    (base / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    procs: list[subprocess.Popen] = []
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "GPIOZERO_PIN_FACTORY": "mock"}

    def spawn(name: str, *cmd: str) -> subprocess.Popen:
        log = open(base / f"{name}.log", "ab")
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        spawn("mosquitto", shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(base / "mosquitto.conf"))
        subprocess.run([sys.executable, "-m", "headoffice", "keygen", str(base / "hq")], check=True, cwd=REPO)
        db_url = f"sqlite:///{base / 'hq.sqlite'}"
        web = 8080 if port_free(8080) else free_port()
        (base / "hq.toml").write_text(
            toml(
                {
                    "database": {"url": db_url},
                    "mqtt": {"port": port},
                    "ingest": {"telemetry_interval_s": 10.0},
                    "commands": {"private_key_file": str(base / "hq.key")},
                    "http": {"port": web},
                }
            )
        )
        hq = [sys.executable, "-m", "headoffice", "--config", str(base / "hq.toml")]
        subprocess.run(
            [*hq, "adduser", "demo", "--role", "operator"], input=DEMO_PASSWORD, text=True, check=True, cwd=REPO
        )
        time.sleep(0.5)
        spawn("headoffice", sys.executable, "-m", "headoffice", "--config", str(base / "hq.toml"))
        for n, kiosk in enumerate(KIOSKS):
            conf = base / f"{kiosk}.toml"
            conf.write_text(
                toml(
                    {
                        "kiosk": {
                            "store_id": "demo-store",
                            "kiosk_id": kiosk,
                            "order_prefix": f"K0{n + 1}",
                            "data_dir": str(base / kiosk),
                            "result_timeout_s": 2.0,
                        },
                        "mqtt": {
                            "port": port,
                            "hq_public_key_file": str(base / "hq.pub"),
                            "telemetry_interval_s": 10.0,
                        },
                        "sandbox": {"latency_ms": 100, "state_file": str(base / kiosk / "sandbox.sqlite")},
                        "simulator": {"autopilot_s": 3.0 + n},
                    }
                )
            )
            spawn(kiosk, sys.executable, "-m", "kiosk", "--config", str(conf))
        print(f"demo running in {base}: broker 127.0.0.1:{port}, head office, {', '.join(KIOSKS)} (Ctrl+C stops)")
        print(f"the console: http://127.0.0.1:{web}/ (user demo, password {DEMO_PASSWORD})")
        return watch(db_url, args.seconds, procs)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def watch(db_url: str, seconds: float, procs: list[subprocess.Popen]) -> int:
    from headoffice.db import make_engine, orders
    from headoffice.migrate import upgrade
    from headoffice.queries import fleet

    engine = make_engine(db_url)
    upgrade(engine)
    end = time.monotonic() + seconds if seconds else float("inf")
    try:
        while time.monotonic() < end:
            time.sleep(min(3.0, max(0.1, end - time.monotonic())))
            if any(p.poll() is not None for p in procs):
                print("a demo process ended; see demo-data/*.log", file=sys.stderr)
                return 1
            with engine.connect() as c:
                counts = dict(c.execute(select(orders.c.kiosk, func.count()).group_by(orders.c.kiosk)).all())
            line = "  ".join(f"{k['kiosk']}: {k['state']}, {counts.get(k['kiosk'], 0)} orders" for k in fleet(engine))
            print(f"[head office] {line or 'waiting for the kiosks...'}", flush=True)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
