"""A place to pair kiosks in, with real parts (tests/test_pairing.py and `python -m bench pairing`): head office's
HTTP API and its CLI's config with a kiosk CA (made by `python -m headoffice ca`), and a mosquitto that knows kiosks
by their certificates alone (its TLS listener) beside a plain loopback listener for head office's view, and the
kiosk process, started and paired as a technician would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, write_config
from tests.loopback import Subscriber, free_port, wait_until


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def broker_cert(directory: Path, ca_key: Path, ca_pem: Path) -> None:
    """The broker's certificate for 127.0.0.1, signed by the kiosk CA (openssl, as an operator would)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=broker",
            "-keyout", "broker.key", "-out", "broker.csr", cwd=directory)  # fmt: skip
    (directory / "broker.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", "broker.ext", "-out", "broker.pem", cwd=directory)  # fmt: skip


def _up(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class PairingSite:
    def __init__(self, tmp: Path, kiosks: tuple[str, ...] = ("s001/kiosk-07",)) -> None:
        self.tmp = tmp
        self.kiosks = kiosks

    def __enter__(self) -> PairingSite:
        from headoffice.db import make_engine
        from headoffice.migrate import upgrade
        from headoffice.pairing import Authority
        from provisioning.broker_acl import acl

        hq = self.tmp / "hq"
        hq.mkdir()
        run = [sys.executable, "-m", "headoffice"]
        assert subprocess.run([*run, "ca", str(hq)], cwd=REPO, capture_output=True).returncode == 0
        assert subprocess.run([*run, "keygen", str(hq / "command")], cwd=REPO, capture_output=True).returncode == 0
        broker_cert(hq, hq / "kiosk-ca.key", hq / "kiosk-ca.pem")
        tls, self.plain, self.http = free_port(), free_port(), free_port()
        (hq / "acl").write_text(acl([tuple(k.split("/")) for k in self.kiosks]))  # type: ignore[misc]
        conf = hq / "mosquitto.conf"
        conf.write_text(
            f"user root\nper_listener_settings true\n"
            f"listener {tls} 127.0.0.1\ncafile {hq / 'kiosk-ca.pem'}\ncertfile {hq / 'broker.pem'}\n"
            f"keyfile {hq / 'broker.key'}\nrequire_certificate true\nuse_identity_as_username true\n"
            f"acl_file {hq / 'acl'}\nallow_anonymous false\n"
            f"listener {self.plain} 127.0.0.1\nallow_anonymous true\n"
        )
        self.broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
        (hq / "stores").mkdir()
        (hq / "stores" / "s001.toml").write_text(  # what head office gives store s001's kiosks at pairing
            '[kiosk]\ndefault_language = "en"\n[payment]\nrequest_timeout_s = 8.0\n'
            '[receipt]\nstore_name = { zh_CN = "静安店", en = "Jing\'an Store" }\nfooter = "谢谢惠顾"\n'
        )
        url = f"sqlite:///{hq / 'hq.sqlite'}"
        self.hq_toml = write_config(
            hq / "hq.toml",
            {
                "database": {"url": url},
                "commands": {"private_key_file": str(hq / "command.key")},
                "http": {"port": self.http},
                "pairing": {"ca_cert_file": str(hq / "kiosk-ca.pem"), "ca_key_file": str(hq / "kiosk-ca.key"),
                            "broker_host": "127.0.0.1", "broker_port": tls, "store_config_dir": str(hq / "stores")},
            },
        )  # fmt: skip
        # head office's service (ingest, commands) as its own process reads the broker's plain listener
        self.service_toml = write_config(
            hq / "hq-service.toml",
            {
                "database": {"url": url},
                "mqtt": {"port": self.plain},
                "commands": {"private_key_file": str(hq / "command.key"), "releases_dir": str(hq / "releases")},
                "http": {"enabled": False, "port": self.http},  # the address head office gives the kiosks
                "pairing": {"ca_cert_file": str(hq / "kiosk-ca.pem"), "ca_key_file": str(hq / "kiosk-ca.key"),
                            "broker_host": "127.0.0.1", "broker_port": tls, "store_config_dir": str(hq / "stores")},
            },
        )  # fmt: skip
        self.service: subprocess.Popen | None = None
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.authority = Authority.load(str(hq / "kiosk-ca.pem"), str(hq / "kiosk-ca.key"), "127.0.0.1", tls,
                                        hq_public_key_pem=(hq / "command.pub").read_text(),
                                        hq_url=f"http://127.0.0.1:{self.http}")  # fmt: skip
        self.start_web()
        assert wait_until(lambda: _up(self.plain), 15)
        return self

    def start_web(self) -> None:
        from headoffice.web import WebServer, make_app

        app = make_app(self.engine, None, pairing_ttl_s=900.0, pairing_authority=self.authority,
                       releases_dir=str(self.tmp / "hq" / "releases"))  # fmt: skip
        self.server = WebServer(app, "127.0.0.1", self.http)
        self.server.start()
        assert wait_until(lambda: self.server.started, 15)

    def stop_web(self) -> None:
        """Head office out of reach (its HTTP API stopped)."""
        self.server.stop()

    def start_service(self) -> None:
        """Head office's service, to send commands and hear the kiosks' answers."""
        self.service = subprocess.Popen([sys.executable, "-m", "headoffice", "--config", str(self.service_toml)],
                                        cwd=REPO, stdout=open(self.tmp / "hq-service.log", "wb"),
                                        stderr=subprocess.STDOUT)  # fmt: skip

    def headoffice(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`python -m headoffice ARGS` with the service's config, as a technician at head office types it."""
        return subprocess.run([sys.executable, "-m", "headoffice", "--config", str(self.service_toml), *args],
                              cwd=REPO, capture_output=True, text=True, timeout=timeout)  # fmt: skip

    def __exit__(self, *exc) -> None:
        if self.service is not None:
            self.service.terminate()
            self.service.wait(10)
        self.server.stop()
        self.engine.dispose()
        self.broker.terminate()
        self.broker.wait(5)

    def kiosk_config(self, name: str) -> tuple[Path, Path]:
        """A blank kiosk's config (simulated devices, pairing with this head office) and its data directory."""
        data = self.tmp / f"{name}-data"
        cfg = write_config(
            self.tmp / f"{name}.toml",
            {
                "kiosk": {"data_dir": str(data)},
                "gpio": {"pin_factory": "mock"},
                "mqtt": {"retry_s": 0.3},
                "simulator": {"panel": False},
                "pairing": {"hq_url": f"http://127.0.0.1:{self.http}"},
            },
        )
        return cfg, data

    def start_kiosk(self, cfg: Path, log: Path, *args: str) -> subprocess.Popen:
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "GPIOZERO_PIN_FACTORY": "mock"}
        return subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(cfg), *args], cwd=REPO, env=env,
                                stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # fmt: skip

    def pair(self, code: str, store: str, kiosk: str) -> subprocess.CompletedProcess:
        """`python -m headoffice pair` as a technician types it."""
        return subprocess.run(
            [sys.executable, "-m", "headoffice", "--config", str(self.hq_toml), "pair", code, "--store", store,
             "--kiosk", kiosk],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip

    @contextlib.contextmanager
    def paired_kiosk(self, name: str, store: str, kiosk: str):
        """A blank kiosk started and paired as store/kiosk: yields (process, data dir, head office's view of the
        broker, seconds from its start to its code, seconds from the code typed to its birth)."""
        cfg, data = self.kiosk_config(name)
        office = Subscriber(self.plain)
        t0 = time.monotonic()
        proc = self.start_kiosk(cfg, self.tmp / f"{name}.log")
        try:
            assert wait_until((data / "pairing-code").exists, 30)
            shown = time.monotonic() - t0
            code = (data / "pairing-code").read_text().split()[0]
            t1 = time.monotonic()
            typed = self.pair(code, store, kiosk)
            assert typed.returncode == 0, typed.stdout + typed.stderr + self.logs(name)
            seen = lambda: sorted({t.rsplit("/", 1)[-1] for t, _, _ in office.messages})  # noqa: E731
            assert wait_until(lambda: office.payloads("birth"), 60), f"head office saw {seen()}\n{self.logs(name)}"
            yield proc, data, office, shown, time.monotonic() - t1
        finally:
            proc.terminate()
            proc.wait(15)
            office.close()

    def logs(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def time_pairing(self, name: str, store: str, kiosk: str) -> tuple[float, float]:
        """A blank kiosk started: (seconds from its start to its code, seconds from the code typed to its birth)."""
        with self.paired_kiosk(name, store, kiosk) as (_, _, _, shown, paired):
            return shown, paired
