"""Pairing a new kiosk with head office, instead of editing its config on the device.

A kiosk with no identity shows a short code and its serial, and asks head office (`POST /api/v1/pairing`) with
that code, a certificate signing request for a key it made itself (the private key never leaves the device) and a
secret of its own to collect the answer with.  A technician gives head office the code and where the kiosk goes
(`python -m headoffice pair CODE --store S --kiosk K [--prefix P]`); head office checks the kiosk and the order
prefix are not taken, signs the kiosk's MQTT client certificate with its kiosk CA (CN `{store}-{kiosk}`, the
broker account the ACL names), and keeps the answer: identity, certificate, the broker's address and CA, head
office's command key and HTTP address.  The kiosk collects it once (`GET /api/v1/pairing/{id}` with its secret).

Codes are 8 characters of an alphabet without look-alikes (30^8, about 6.6x10^11), expire after
`pairing.code_ttl_s` (15 minutes) and pair one kiosk: an approved or collected code is never approved again, and
a code is looked up by its hash only (as is the kiosk's secret).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from headoffice import audit
from headoffice.db import kiosks, pairings
from headoffice.signing import canonical

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no I L O U 0 1: read off a screen, typed without doubt
CODE_LENGTH = 8
KIOSK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # as the kiosk's config demands (kiosk/config.py)
ORDER_PREFIX = re.compile(r"^[A-Z0-9]{1,6}$")
SERIAL = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_WAITING = 200  # kiosks waiting at once; more are refused (the request needs no login)


class PairingError(ValueError):
    """A request, approval or collection refused; the message says why (and names the field)."""


def normal_code(code: str) -> str:
    """A code as typed ("abcd-efgh", "ABCD EFGH") in its one form ("ABCDEFGH"); PairingError if it cannot be one."""
    plain = re.sub(r"[\s-]", "", code).upper()
    if len(plain) != CODE_LENGTH or any(c not in ALPHABET for c in plain):
        raise PairingError(f"code: {CODE_LENGTH} characters of {ALPHABET}, as the kiosk's screen shows it")
    return plain


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """How a screen shows a code: ABCD-EFGH."""
    return f"{code[:4]}-{code[4:]}"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Authority:
    """What head office pairs kiosks with: its kiosk CA (signs the kiosks' MQTT client certificates), the broker as
    kiosks reach it and the CA its certificate is from, head office's command key and HTTP address."""

    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    broker_host: str
    broker_port: int
    broker_ca_pem: str
    hq_public_key_pem: str = ""
    hq_url: str = ""
    cert_days: int = 825
    store_config_dir: str = ""

    def store_config(self, store: str) -> dict[str, Any]:
        """The config sections a store's kiosks get (store_config_dir/STORE.toml), checked for what pairing may
        give: no identity, broker or pairing keys (pairing decides those) and no secret inline."""
        if not self.store_config_dir:
            return {}
        path = Path(self.store_config_dir) / f"{store}.toml"
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PairingError(f"{path}: not a store's kiosk settings ({exc})") from None
        for section, values in doc.items():
            if section not in STORE_SECTIONS or not isinstance(values, dict):
                raise PairingError(f"{path}: [{section}] is not given at pairing (only {', '.join(STORE_SECTIONS)})")
            for key in values:
                if section == "kiosk" and key not in ("catalog", "default_language", "currency"):
                    raise PairingError(f"{path}: kiosk.{key} is the kiosk's own (pairing sets the ids)")
                if "private" in key and not key.endswith("_file"):
                    raise PairingError(f"{path}: {section}.{key}: keys travel as file names, installed on the kiosk")
        return doc

    @classmethod
    def load(
        cls, ca_cert_file: str, ca_key_file: str, broker_host: str, broker_port: int, broker_ca_file: str = "", **kw
    ) -> Authority:
        try:
            cert = x509.load_pem_x509_certificate(Path(ca_cert_file).read_bytes())
        except (OSError, ValueError) as exc:
            raise PairingError(f"pairing.ca_cert_file: {ca_cert_file}: not a PEM certificate ({exc})") from None
        try:
            key = serialization.load_pem_private_key(Path(ca_key_file).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise PairingError(f"pairing.ca_key_file: {ca_key_file}: not a PEM private key ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
            raise PairingError("pairing.ca_key_file: not the EC key of pairing.ca_cert_file")
        try:
            broker_ca = Path(broker_ca_file or ca_cert_file).read_text(encoding="ascii")
        except OSError as exc:
            raise PairingError(f"pairing.broker_ca_file: {broker_ca_file}: {exc.strerror}") from None
        return cls(cert, key, broker_host, broker_port, broker_ca, **kw)


def make_ca(directory: str, name: str = "kiosk-ca", days: int = 3650) -> tuple[Path, Path]:
    """A new kiosk CA: DIR/NAME.key (EC P-256, 0600, never overwritten) and DIR/NAME.pem."""
    import os

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk fleet CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(key, hashes.SHA256())
    )
    private, public = Path(directory) / f"{name}.key", Path(directory) / f"{name}.pem"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))  # fmt: skip
    public.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return private, public


def _field(body: Any, name: str, pattern: re.Pattern[str] | None = None, max_len: int = 200) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value or len(value) > max_len or (pattern and not pattern.match(value)):
        raise PairingError(f"{name}: missing or malformed")
    return value


def checked_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise PairingError("csr: not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise PairingError("csr: its signature does not match its key")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise PairingError("csr: the key must be EC P-256")
    return csr


def request(engine: Engine, body: Any, ttl_s: float = 900.0, now: float | None = None) -> dict[str, Any]:
    """A kiosk asks to be paired: {code, serial, csr, secret, firmware?} -> {id, expires_at}.  A code some other
    kiosk is waiting with is refused (the kiosk makes another)."""
    now = time.time() if now is None else now
    code = normal_code(_field(body, "code", max_len=16))
    serial = _field(body, "serial", SERIAL, 64)
    secret = _field(body, "secret", max_len=128)
    if len(secret) < 32:
        raise PairingError("secret: at least 32 characters")
    csr_pem = _field(body, "csr", max_len=4000)
    checked_csr(csr_pem)
    firmware = body.get("firmware", "")
    firmware = firmware[:64] if isinstance(firmware, str) else ""
    rid = secrets.token_hex(16)
    with engine.begin() as conn:
        taken = conn.execute(
            select(pairings.c.id).where(
                pairings.c.code_hash == _hash(code),
                or_(pairings.c.state != "pending", pairings.c.expires_at > now),
            )
        ).first()
        if taken:
            raise PairingError("code: in use; make another")
        crowd = conn.execute(
            select(func.count()).select_from(pairings).where(pairings.c.state == "pending", pairings.c.expires_at > now)
        ).scalar_one()
        if crowd >= MAX_WAITING:
            raise PairingError(f"too many kiosks waiting to be paired ({crowd}); try again later")
        conn.execute(
            insert(pairings).values(id=rid, code_hash=_hash(code), poll_hash=_hash(secret), serial=serial,
                                    firmware=firmware, csr=csr_pem, created_at=now, expires_at=now + ttl_s,
                                    state="pending")
        )  # fmt: skip
    return {"id": rid, "expires_at": now + ttl_s}


def approve(
    engine: Engine,
    authority: Authority,
    code: str,
    store: str,
    kiosk: str,
    order_prefix: str = "",
    by: str = "cli",
    now: float | None = None,
) -> dict[str, Any]:
    """A technician pairs the kiosk showing `code` as store/kiosk with `order_prefix` (default: "K" and the digits of
    the kiosk id, or the first free "K01".."K99"), `by` whom (written to the audit log in the same transaction).
    Returns {store, kiosk, order_prefix, serial, certificate}."""
    now = time.time() if now is None else now
    plain = normal_code(code)
    _check_ids(store, kiosk, order_prefix)
    with engine.begin() as conn:
        row = conn.execute(
            select(pairings).where(pairings.c.code_hash == _hash(plain)).order_by(pairings.c.created_at.desc())
        ).first()
        if row is None:
            raise PairingError("code: no kiosk is waiting with this code (check the kiosk's screen)")
        if row.state != "pending":
            raise PairingError("code: already used; the kiosk shows a new code after pairing fails")
        if row.expires_at <= now:
            raise PairingError("code: expired; the kiosk shows a new one")
        prefix = _free_identity(conn, store, kiosk, order_prefix)
        cert = sign(authority, checked_csr(row.csr), f"{store}-{kiosk}", row.serial, now)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        answer = _answer(authority, store, kiosk, prefix, cert_pem)
        try:
            done = conn.execute(
                update(pairings)
                .where(pairings.c.id == row.id, pairings.c.state == "pending")
                .values(state="approved", store=store, kiosk=kiosk, order_prefix=prefix, approved_by=by,
                        approved_at=now, answer=json.dumps(answer))
            ).rowcount  # fmt: skip
        except IntegrityError:
            raise PairingError(f"kiosk or prefix: taken a moment ago ({store}/{kiosk}, {prefix})") from None
        if done != 1:
            raise PairingError("code: already used")
        audit.record(conn, by, "pair", f"kiosk/{store}/{kiosk}", {"serial": row.serial, "order_prefix": prefix})
    return {"store": store, "kiosk": kiosk, "order_prefix": prefix, "serial": row.serial, "certificate": cert_pem}


def _check_ids(store: str, kiosk: str, order_prefix: str) -> None:
    if not KIOSK_ID.match(store):
        raise PairingError("store: 1-32 of a-z 0-9 - _, starting with a letter or digit")
    if not KIOSK_ID.match(kiosk):
        raise PairingError("kiosk: 1-32 of a-z 0-9 - _, starting with a letter or digit")
    if order_prefix and not ORDER_PREFIX.match(order_prefix):
        raise PairingError("prefix: 1-6 uppercase letters or digits")


def _free_identity(conn, store: str, kiosk: str, order_prefix: str) -> str:
    """The order prefix store/kiosk gets, once it is sure neither is taken (PairingError naming which is)."""
    if conn.execute(select(kiosks.c.kiosk).where(kiosks.c.store == store, kiosks.c.kiosk == kiosk)).first():
        raise PairingError(f"kiosk: {store}/{kiosk} is in the fleet already")
    if conn.execute(select(pairings.c.id).where(and_(pairings.c.store == store, pairings.c.kiosk == kiosk))).first():
        raise PairingError(f"kiosk: {store}/{kiosk} is paired already")
    used = set(conn.execute(select(pairings.c.order_prefix).where(pairings.c.order_prefix.is_not(None))).scalars())
    if order_prefix and order_prefix in used:
        raise PairingError(f"prefix: {order_prefix} is another kiosk's")
    return order_prefix or _free_prefix(kiosk, used)


def _answer(authority: Authority, store: str, kiosk: str, prefix: str, cert_pem: str) -> dict[str, Any]:
    """What a kiosk is given: its ids, its certificate, the broker, head office's command key and address."""
    return {
        "store_id": store,
        "kiosk_id": kiosk,
        "order_prefix": prefix,
        "certificate": cert_pem,
        "broker": {"host": authority.broker_host, "port": authority.broker_port, "ca": authority.broker_ca_pem},
        "hq_public_key": authority.hq_public_key_pem,
        "hq_url": authority.hq_url,
        "config": authority.store_config(store),
    }


STORE_SECTIONS = ("kiosk", "payment", "alipay", "wechatpay", "receipt", "weighed", "attendant")
QR_PREFIX = "KIOSKPAIR1:"  # a provisioning QR's text starts so (the kiosk's pairing screen looks for it)


def provisioning_qr(
    engine: Engine,
    authority: Authority,
    key: ed25519.Ed25519PrivateKey,
    store: str,
    kiosk: str,
    order_prefix: str = "",
    by: str = "cli",
    days: float = 7.0,
    now: float | None = None,
) -> str:
    """For a site head office cannot reach at install time: the text of a QR, signed with head office's command
    key (the kiosk holds its public key: pairing.hq_public_key_file), giving the kiosk its ids, the broker and
    head office's address and a token good for `days`.  Shown to the kiosk's camera, it sells at once under those
    ids; with the token it gets its certificate once head office is reachable (`enroll`).  The ids are reserved
    now, as a pairing would take them."""
    now = time.time() if now is None else now
    _check_ids(store, kiosk, order_prefix)
    token = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        prefix = _free_identity(conn, store, kiosk, order_prefix)
        try:
            conn.execute(
                insert(pairings).values(id=secrets.token_hex(16), code_hash=_hash(token), poll_hash=_hash(token),
                                        serial="", firmware="", csr="", created_at=now, expires_at=now + days * 86400,
                                        state="reserved", store=store, kiosk=kiosk, order_prefix=prefix,
                                        approved_by=by, approved_at=now)
            )  # fmt: skip
        except IntegrityError:
            raise PairingError(f"kiosk or prefix: taken a moment ago ({store}/{kiosk}, {prefix})") from None
        audit.record(conn, by, "pair_qr", f"kiosk/{store}/{kiosk}", {"order_prefix": prefix, "days": days})
    payload = {
        "v": 1,
        "store_id": store,
        "kiosk_id": kiosk,
        "order_prefix": prefix,
        "hq_url": authority.hq_url,
        "broker": {"host": authority.broker_host, "port": authority.broker_port},
        "token": token,
        "exp": int(now + days * 86400),
    }
    sig = base64.b64encode(key.sign(canonical(payload))).decode("ascii")  # as commands are signed
    return QR_PREFIX + json.dumps({**payload, "sig": sig}, sort_keys=True, separators=(",", ":"))


def enroll(engine: Engine, authority: Authority, body: Any, now: float | None = None) -> dict[str, Any]:
    """A kiosk provisioned by QR asks for its certificate: {token, serial, csr} -> the pairing's answer, once."""
    now = time.time() if now is None else now
    token = _field(body, "token", max_len=64)
    serial = _field(body, "serial", SERIAL, 64)
    csr_pem = _field(body, "csr", max_len=4000)
    csr = checked_csr(csr_pem)
    with engine.begin() as conn:
        row = conn.execute(select(pairings).where(pairings.c.code_hash == _hash(token))).first()
        if row is None or row.state not in ("reserved",):
            raise PairingError("token: unknown or used")
        if row.expires_at <= now:
            raise PairingError("token: expired; make a new provisioning QR")
        cert_pem = (
            sign(authority, csr, f"{row.store}-{row.kiosk}", serial, now)
            .public_bytes(serialization.Encoding.PEM)
            .decode("ascii")
        )
        answer = _answer(authority, row.store, row.kiosk, row.order_prefix, cert_pem)
        done = conn.execute(
            update(pairings).where(pairings.c.id == row.id, pairings.c.state == "reserved")
            .values(state="collected", serial=serial, csr=csr_pem, answer=json.dumps(answer), collected_at=now)
        ).rowcount  # fmt: skip
        if done != 1:
            raise PairingError("token: unknown or used")
    return answer


def _free_prefix(kiosk: str, used: set[str]) -> str:
    digits = re.sub(r"\D", "", kiosk)[-5:]
    if digits and f"K{digits}" not in used:
        return f"K{digits}"
    return next(f"K{n:02d}" for n in range(1, 100000) if f"K{n:02d}" not in used)


def sign(authority: Authority, csr: x509.CertificateSigningRequest, name: str, serial: str, now: float):
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.SERIAL_NUMBER, serial)]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(start + dt.timedelta(days=authority.cert_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(authority.ca_key, hashes.SHA256())
    )


def collect(engine: Engine, rid: str, secret: str, now: float | None = None) -> tuple[int, dict[str, Any]]:
    """The kiosk asks for its answer: (202, {state: pending}) until a technician approved its code, then
    (200, answer) once; (410, error) when expired or collected already; (404, error) for an unknown id or a
    wrong secret (the same answer: a stranger learns nothing)."""
    now = time.time() if now is None else now
    with engine.begin() as conn:
        row = conn.execute(select(pairings).where(pairings.c.id == rid)).first()
        if row is None or not secrets.compare_digest(row.poll_hash, _hash(secret)):
            return 404, {"error": "no such pairing request"}
        if row.state == "collected":
            return 410, {"error": "collected already: pair the kiosk again with a new code"}
        if row.state == "pending":
            if row.expires_at <= now:
                return 410, {"error": "the code expired: the kiosk makes a new one"}
            return 202, {"state": "pending", "expires_at": row.expires_at}
        done = conn.execute(
            update(pairings).where(pairings.c.id == rid, pairings.c.state == "approved")
            .values(state="collected", collected_at=now)
        ).rowcount  # fmt: skip
        if done != 1:
            return 410, {"error": "collected already: pair the kiosk again with a new code"}
        return 200, json.loads(row.answer)


def waiting(engine: Engine, now: float | None = None) -> list[dict[str, Any]]:
    """Kiosks waiting to be paired (not expired), newest first: serial, firmware, since, until."""
    now = time.time() if now is None else now
    with engine.connect() as conn:
        rows = conn.execute(
            select(pairings.c.serial, pairings.c.firmware, pairings.c.created_at, pairings.c.expires_at)
            .where(pairings.c.state == "pending", pairings.c.expires_at > now)
            .order_by(pairings.c.created_at.desc())
        ).all()
    return [dict(r._mapping) for r in rows]


def public_key_pem(key: ed25519.Ed25519PrivateKey | None) -> str:
    if key is None:
        return ""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
