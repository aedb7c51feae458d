"""The kiosk's side of pairing with head office (head office's side: headoffice/pairing.py).

A kiosk whose config names `pairing.hq_url` and that has no `paired.toml` in its data directory yet makes an EC
P-256 key (kept in the data directory, 0600: it never leaves the device), a code of 8 characters and a secret of its
own, and asks head office (`POST /api/v1/pairing`) with the code, its serial and a certificate signing request. The
screen shows the code and the serial (so does `pairing-code` in the data directory, 0600, for a technician over
SSH); a technician gives the code to head office with the kiosk's store and id. The kiosk asks for its answer every
few seconds (`GET /api/v1/pairing/{id}` with its secret) and, once approved, checks the certificate is for its own
key, writes the broker's CA, its certificate with its key (one file, 0600: kiosk/services/certificates.py rotates
it) and head office's command key, and `paired.toml` last (identity, broker, head office), each written whole and
renamed into place; the config then reads them over its own values (kiosk/config.py). A code that expires is
replaced by a new one; head office unreachable is retried and shown.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.config import ENROLL_FILE, ConfigError, from_dict
from kiosk.services.hq_http import HqHttp, HqUnreachable
from kiosk.signing import canonical, load_public_key

log = logging.getLogger(__name__)
ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # head office's (no look-alikes)
KEY_FILE, CERT_FILE, CA_FILE, HQ_KEY_FILE = "mqtt-client.key", "mqtt-client.pem", "mqtt-ca.pem", "hq-command.pub"
QR_PREFIX = "KIOSKPAIR1:"  # head office's provisioning QR (headoffice/pairing.py)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_PREFIX = re.compile(r"^[A-Z0-9]{1,6}$")
CODE_FILE = "pairing-code"  # the code on screen, for a technician over SSH (sudo cat /var/lib/kiosk/pairing-code)


class PairingRefused(Exception):
    """Head office's answer cannot be used (not for this kiosk's key, malformed); the message says why."""


def serial_number() -> str:
    """The Raspberry Pi's serial (device tree), else this machine's id: what the technician sees on screen."""
    for path, size in (("/proc/device-tree/serial-number", 64), ("/etc/machine-id", 16)):
        try:
            text = Path(path).read_text(encoding="ascii", errors="ignore").strip("\0 \n")
        except OSError:
            continue
        if text:
            return text[-size:]
    return "unknown"


@dataclass
class PairingState:
    """What the pairing screen shows."""

    code: str = ""
    serial: str = ""
    status: str = "starting"  # starting, waiting, unreachable, paired
    detail: str = ""
    qr_refused: str = ""  # why the last provisioning QR shown was not taken
    expires_at: float = 0.0
    identity: dict[str, str] = field(default_factory=dict)

    @property
    def shown_code(self) -> str:
        return f"{self.code[:4]}-{self.code[4:]}" if self.code else ""


class Pairing:
    """Pairs this kiosk with head office; `step()` does one request (the worker thread runs it every `poll_s`)."""

    def __init__(self, hq_url: str, data_dir: str, ca_file: str = "", firmware: str = "", serial: str = "",
                 poll_s: float = 3.0, hq_key_file: str = "") -> None:  # fmt: skip
        self.http = HqHttp(hq_url, ca_file)
        self.hq_key_file = hq_key_file
        self.hq_key = load_public_key(hq_key_file)  # ValueError naming the file: --check says so first
        self.dir = Path(data_dir)
        self.firmware = firmware
        self.poll_s = poll_s
        self.state = PairingState(serial=serial or serial_number())
        self._rid = ""
        self._secret = ""
        self._lock = threading.Lock()
        self.done = threading.Event()

    def snapshot(self) -> PairingState:
        with self._lock:
            return PairingState(**vars(self.state))

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self.state, k, v)

    def key(self) -> ec.EllipticCurvePrivateKey:
        """This kiosk's MQTT key: made once, 0600, kept across codes."""
        path = self.dir / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key
        self.dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        write_whole(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)  # fmt: skip
        return key

    def csr_pem(self) -> str:
        """A certificate signing request for this kiosk's key, naming its serial."""
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, self.state.serial[:64])]))
            .sign(self.key(), hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def install_certificate(self, cert_pem: str, ca_pem: str) -> None:
        """The certificate with this kiosk's key in one file (0600: rotate-cert replaces both with one rename),
        and the broker's CA."""
        both = cert_pem.strip().encode("ascii") + b"\n" + (self.dir / KEY_FILE).read_bytes()
        write_whole(self.dir / CERT_FILE, both, 0o600)
        write_whole(self.dir / CA_FILE, ca_pem.encode("ascii"), 0o644)

    def _ask(self) -> None:
        code = "".join(secrets.choice(ALPHABET) for _ in range(8))
        secret = secrets.token_urlsafe(32)
        body = {
            "code": code,
            "serial": self.state.serial,
            "secret": secret,
            "firmware": self.firmware,
            "csr": self.csr_pem(),
        }
        answer = self.http.post_json("/api/v1/pairing", body, timeout=10.0)
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise HqUnreachable(f"head office's answer has no id: {str(answer)[:100]}")
        self._rid, self._secret = answer["id"], secret
        expires = float(answer.get("expires_at", 0))
        self._set(code=code, status="waiting", detail="", expires_at=expires)
        until = time.strftime("%H:%M", time.localtime(expires))
        write_whole(
            self.dir / CODE_FILE, f"{code[:4]}-{code[4:]} serial {self.state.serial} until {until}\n".encode(), 0o600
        )

    def _collect(self) -> dict[str, Any] | None:
        request = urllib.request.Request(
            f"{self.http.base_url}/api/v1/pairing/{self._rid}", headers={"X-Pairing-Secret": self._secret}
        )
        try:
            with self.http.open(request, 10.0) as resp:
                status, raw = resp.status, resp.read(64 * 1024)
        except HqUnreachable as exc:
            if exc.status in (404, 410):  # expired or forgotten: a new code
                log.info("pairing code expired: a new one")
                self._rid = ""
                return None
            raise
        if status == 202:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise HqUnreachable("head office's answer is not JSON") from None

    def step(self) -> bool:
        """Ask for a code, or for the answer; True once paired (the files are written)."""
        try:
            if not self._rid or time.time() > self.state.expires_at > 0:
                self._ask()
                return False
            answer = self._collect()
            if answer is None:
                if self.state.status != "waiting":
                    self._set(status="waiting", detail="")
                return False
            self.install(answer)
            self._set(status="paired", identity={k: answer[k] for k in ("store_id", "kiosk_id", "order_prefix")})
            self.done.set()
            return True
        except HqUnreachable as exc:
            log.warning("pairing: %s", exc)
            self._set(status="unreachable", detail=str(exc)[:200])
        except PairingRefused as exc:
            log.error("pairing: head office's answer refused: %s", exc)
            self._rid = ""
            self._set(status="unreachable", detail=str(exc)[:200])
        return False

    def install(self, answer: dict[str, Any]) -> None:
        """Check head office's answer and write it: the certificate must be for this kiosk's key."""
        try:
            store, kiosk, prefix = answer["store_id"], answer["kiosk_id"], answer["order_prefix"]
            cert = x509.load_pem_x509_certificate(answer["certificate"].encode("ascii"))
            broker = answer["broker"]
            host, port, ca = str(broker["host"]), int(broker["port"]), str(broker["ca"])
            x509.load_pem_x509_certificate(ca.encode("ascii"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PairingRefused(f"malformed answer ({type(exc).__name__}: {exc})") from None
        if cert.public_key() != self.key().public_key():
            raise PairingRefused("the certificate is not for this kiosk's key")
        settings = answer.get("config") or {}
        if not isinstance(settings, dict) or any(not isinstance(v, dict) for v in settings.values()):
            raise PairingRefused("head office's store settings are not sections of a config")
        try:  # the kiosk's own rules on every key, before anything is written
            from_dict({s: dict(v) for s, v in settings.items()})
        except ConfigError as exc:
            raise PairingRefused(f"head office's store settings: {exc}") from None
        for name, value, pattern in (
            ("store_id", store, _ID),
            ("kiosk_id", kiosk, _ID),
            ("order_prefix", prefix, _PREFIX),
        ):
            if not isinstance(value, str) or not pattern.match(value):
                raise PairingRefused(f"{name}: {value!r}")
        self.install_certificate(answer["certificate"], ca)
        hq_key = ""
        if answer.get("hq_public_key"):
            write_whole(self.dir / HQ_KEY_FILE, str(answer["hq_public_key"]).encode("ascii"), 0o644)
            hq_key = str((self.dir / HQ_KEY_FILE).resolve())
        self._write_paired(store, kiosk, prefix, {"host": host, "port": port}, str(answer.get("hq_url") or ""), hq_key,
                           settings=settings)  # fmt: skip
        log.info("paired with head office as %s/%s (orders %s-…)", store, kiosk, prefix)

    def _write_paired(
        self,
        store: str,
        kiosk: str,
        prefix: str,
        broker: dict[str, Any],
        hq_url: str,
        hq_key: str,
        enroll: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """paired.toml (and, for a QR, the token its certificate is to be asked with), written last."""
        self.dir.mkdir(parents=True, exist_ok=True)
        mqtt: dict[str, Any] = {
            "host": broker["host"],
            "port": broker["port"],
            "tls": True,
            "ca_file": str((self.dir / CA_FILE).resolve()),
            "cert_file": str((self.dir / CERT_FILE).resolve()),
            "key_file": str((self.dir / CERT_FILE).resolve()),
        }
        if hq_key:
            mqtt["hq_public_key_file"] = hq_key
        if hq_url:
            mqtt["hq_url"] = hq_url
        lines = [
            f"# what pairing with head office gave this kiosk ({time.strftime('%Y-%m-%d %H:%M:%S')});"
            " remove this file to pair it again",
            "[kiosk]",
            f"store_id = {json.dumps(store)}",
            f"kiosk_id = {json.dumps(kiosk)}",
            f"order_prefix = {json.dumps(prefix)}",
            *(f"{k} = {_toml(v)}" for k, v in (settings or {}).get("kiosk", {}).items()),
            "",
            "[mqtt]",
            *(f"{k} = {json.dumps(v)}" for k, v in mqtt.items()),
        ]
        for section, values in (settings or {}).items():  # the store's settings from head office
            if section != "kiosk":
                lines += ["", f"[{section}]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
        if enroll is not None:
            write_whole(self.dir / ENROLL_FILE, json.dumps({**enroll, "serial": self.state.serial}).encode(), 0o600)
        write_whole(self.dir / "paired.toml", ("\n".join(lines) + "\n").encode("utf-8"), 0o644)
        (self.dir / CODE_FILE).unlink(missing_ok=True)

    def offer(self, text: str, now: float | None = None) -> bool:
        """A code the camera read on the pairing screen: a provisioning QR head office signed (QR_PREFIX) pairs the
        kiosk at once, its certificate to come (`Enrollment`); True when taken.  Anything else is left alone; a QR
        that is unsigned, tampered with, expired or for no kiosk says why on the screen."""
        if not text.startswith(QR_PREFIX) or self.done.is_set():
            return False
        try:
            payload = self._checked_qr(text[len(QR_PREFIX) :], time.time() if now is None else now)
        except PairingRefused as exc:
            log.warning("provisioning QR refused: %s", exc)
            self._set(qr_refused=str(exc))
            return False
        with self._lock:
            if self.done.is_set():
                return False
            self._write_paired(payload["store_id"], payload["kiosk_id"], payload["order_prefix"],
                               {"host": payload["broker"]["host"], "port": payload["broker"]["port"]},
                               payload["hq_url"], self.hq_key_file,
                               enroll={"token": payload["token"], "hq_url": payload["hq_url"]})  # fmt: skip
            self.state.status, self.state.qr_refused = "paired", ""
            self.state.identity = {k: payload[k] for k in ("store_id", "kiosk_id", "order_prefix")}
            self.done.set()
        log.info("paired by a provisioning QR as %s/%s; the certificate comes when head office is reachable",
                 payload["store_id"], payload["kiosk_id"])  # fmt: skip
        return True

    def _checked_qr(self, raw: str, now: float) -> dict[str, Any]:
        if self.hq_key is None:
            raise PairingRefused("this kiosk takes no provisioning QR (pairing.hq_public_key_file is not set)")
        if len(raw) > 2000:
            raise PairingRefused("too long for a provisioning QR")
        try:
            doc = json.loads(raw)
            sig = base64.b64decode(doc["sig"], validate=True)
            self.hq_key.verify(sig, canonical(doc))
        except (ValueError, KeyError, TypeError, InvalidSignature, binascii.Error):
            raise PairingRefused("not signed by head office (or changed since)") from None
        try:
            ok = (
                doc["v"] == 1
                and _ID.match(doc["store_id"]) and _ID.match(doc["kiosk_id"]) and _PREFIX.match(doc["order_prefix"])
                and isinstance(doc["token"], str) and isinstance(doc["hq_url"], str)
                and isinstance(doc["broker"]["host"], str) and isinstance(doc["broker"]["port"], int)
            )  # fmt: skip
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise PairingRefused("signed, but not a provisioning QR this firmware knows")
        if not isinstance(doc.get("exp"), int) or doc["exp"] <= now:
            raise PairingRefused("expired: ask head office for a new one")
        return doc

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set() and not self.step():
            stop.wait(self.poll_s)


def _toml(value: Any) -> str:
    """A TOML value: JSON's strings, numbers and booleans are TOML's; a table (one text per language) inline."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_whole(path: Path, data: bytes, mode: int) -> None:
    """Write whole, then rename into place (a power cut leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Enrollment:
    """A kiosk provisioned by QR sells under its ids at once; this asks head office for its certificate with the
    QR's token (`POST /api/v1/pairing/enroll`) until head office answers, then writes the certificate with its
    key and the broker's CA where the config expects them (the MQTT link, which waited for them, connects)."""

    def __init__(self, data_dir: str, ca_file: str = "") -> None:
        self.dir = Path(data_dir)
        self.ca_file = ca_file

    def needed(self) -> bool:
        return (self.dir / ENROLL_FILE).exists()

    def step(self) -> bool:
        """One try; True once the certificate is in place."""
        try:
            ticket = json.loads((self.dir / ENROLL_FILE).read_text())
            pairing = Pairing(ticket["hq_url"], str(self.dir), self.ca_file, serial=ticket.get("serial", ""))
            key = pairing.key()
            body = {"token": ticket["token"], "serial": pairing.state.serial, "csr": pairing.csr_pem()}
            answer = pairing.http.post_json("/api/v1/pairing/enroll", body, timeout=10.0)
            cert = x509.load_pem_x509_certificate(answer["certificate"].encode("ascii"))
            ca = str(answer["broker"]["ca"])
            x509.load_pem_x509_certificate(ca.encode("ascii"))
        except HqUnreachable as exc:
            log.warning("enrollment: %s; trying again", exc)
            return False
        except (OSError, KeyError, TypeError, ValueError) as exc:
            log.error("enrollment: head office's answer cannot be used (%s); trying again", exc)
            return False
        if cert.public_key() != key.public_key():
            log.error("enrollment: the certificate is not for this kiosk's key; trying again")
            return False
        pairing.install_certificate(answer["certificate"], ca)
        (self.dir / ENROLL_FILE).unlink(missing_ok=True)
        log.info("enrollment: head office gave this kiosk its certificate (good until %s)", cert.not_valid_after_utc)
        return True

    def run(self, stop: threading.Event, every_s: float = 10.0) -> None:
        while not stop.is_set() and self.needed() and not self.step():
            stop.wait(every_s)
