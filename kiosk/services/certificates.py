"""Head office's `rotate-cert`: a new MQTT client certificate for a new key made on the kiosk, without a visit.

Two commands of that name: without data the kiosk makes a new EC P-256 key (kept beside its certificate as
`….next-key`, 0600) and answers a certificate signing request for it; with `{"certificate": PEM}` it checks the
certificate is for that key and still good, and puts certificate and key (one file, as pairing writes them:
kiosk/pairing.py) in place with one rename, keeping the old file as `….old`, then reconnects.  If the broker does not
take the new certificate within three tries, the old one is put back (and head office hears of it in an event);
the first connection with the new one drops the old file.

Only a certificate the kiosk keeps itself (in its data directory, as pairing put it) is rotated: one installed
by hand under /etc/kiosk belongs to root (provisioning.secrets) and is refused with that reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.pairing import write_whole

log = logging.getLogger(__name__)
TRIES = 3  # connections refused with a new certificate before the old one is put back


class CertificateRotation:
    def __init__(self, cert_file: str, key_file: str, data_dir: Path, reconnect: Callable[[], None],
                 event: Callable[..., None] = lambda kind, **data: None) -> None:  # fmt: skip
        self.cert = Path(cert_file) if cert_file else None
        self.key_file = key_file
        self.data_dir = data_dir
        self.reconnect = reconnect
        self.event = event
        self._lock = threading.Lock()
        self._failures = -1  # -1: no new certificate waiting for its first connection

    @property
    def _next_key(self) -> Path:
        assert self.cert is not None
        return self.cert.with_name(self.cert.name + ".next-key")

    @property
    def _old(self) -> Path:
        assert self.cert is not None
        return self.cert.with_name(self.cert.name + ".old")

    def _refusal(self) -> str:
        if self.cert is None:
            return "this kiosk has no MQTT client certificate"
        if self.key_file != str(self.cert):
            return f"the certificate {self.cert} and its key are separate files installed by hand: rotate them with provisioning.secrets"  # noqa: E501
        try:
            self.cert.resolve().relative_to(self.data_dir.resolve())
        except ValueError:
            return f"the certificate {self.cert} is not the kiosk's own (not in {self.data_dir})"
        return ""

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        refusal = self._refusal()
        if refusal:
            return {"ok": False, "error": refusal}
        if "certificate" not in body:
            return self._request()
        if not isinstance(body["certificate"], str):
            return {"ok": False, "error": "'certificate' must be a PEM certificate"}
        return self._install(body["certificate"])

    def _request(self) -> dict[str, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        write_whole(self._next_key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), 0o600)  # fmt: skip
        current = x509.load_pem_x509_certificate(self.cert.read_bytes())  # type: ignore[union-attr]
        serial = current.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        subject = x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, str(serial[0].value))] if serial else [])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        log.info("rotate-cert: a new key made; its signing request goes to head office")
        return {"ok": True, "csr": csr.public_bytes(serialization.Encoding.PEM).decode("ascii")}

    def _install(self, pem: str) -> dict[str, Any]:
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return {"ok": False, "error": "'certificate' is not a PEM certificate"}
        try:
            key = serialization.load_pem_private_key(self._next_key.read_bytes(), password=None)
        except (OSError, ValueError):
            return {"ok": False, "error": "no new key is waiting: send rotate-cert without data first"}
        if cert.public_key() != key.public_key():
            return {"ok": False, "error": "the certificate is not for the key this kiosk made"}
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            return {"ok": False, "error": "the certificate is not valid now"}
        with self._lock:
            assert self.cert is not None
            both = pem.strip().encode("ascii") + b"\n" + self._next_key.read_bytes()
            write_whole(self._old, self.cert.read_bytes(), 0o600)
            write_whole(self.cert, both, 0o600)  # written beside, renamed over: the old pair or the new, never half
            self._next_key.unlink(missing_ok=True)
            self._failures = 0
        log.info("rotate-cert: the new certificate is in place (good until %s); reconnecting", cert.not_valid_after_utc)
        self.reconnect()
        return {"ok": True, "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def link_status(self, ok: bool, message: str) -> None:
        """The MQTT link's news: a new certificate is kept once a connection takes it, given up after TRIES."""
        with self._lock:
            if self._failures < 0 or self.cert is None:
                return
            if ok:
                self._failures = -1
                self._old.unlink(missing_ok=True)
                log.info("rotate-cert: the broker took the new certificate")
                return
            self._failures += 1
            if self._failures < TRIES:
                return
            self._failures = -1
            write_whole(self.cert, self._old.read_bytes(), 0o600)
            self._old.unlink(missing_ok=True)
        log.error("rotate-cert: the broker refused the new certificate %d times (%s): the old one is back", TRIES,
                  message)  # fmt: skip
        self.event("certificate_rolled_back", reason=message[:200])
        self.reconnect()
