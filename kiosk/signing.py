"""Head office's signature on what it sends a kiosk (commands and acks): Ed25519 over the envelope.

The broker's ACLs decide who may publish to a kiosk's topics; this decides
what the kiosk obeys, even if the broker is misconfigured or breached.  Head
office signs each HQ -> kiosk envelope (`v`, `id`, `ts`, `type`, `store`,
`kiosk`, `data`) with its private key; the kiosk holds the public key
(`mqtt.hq_public_key_file`) and refuses an envelope whose signature does not
verify, that is meant for another kiosk or another topic, or whose `ts` is
more than `mqtt.command_max_age_s` away from the kiosk's clock.  Within that
window a replay carries a command id the kiosk has answered already, so it is
answered again and never carried out twice.

What is signed: the envelope without `sig`, as JSON with sorted keys, no
spaces, UTF-8 (`canonical`).  `sig` is the Base64 of the 64-byte signature.

`python -m kiosk.signing keygen PREFIX` makes a key pair (PREFIX.key, 0600, for
head office; PREFIX.pub for the kiosks); `python -m kiosk.signing command …`
prints a signed command, for tests and for sending one by hand (head office's
`python -m headoffice cmd` is the usual way).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Refused(ValueError):
    """An envelope the kiosk will not obey; the message says why (for cmd-result and the log)."""


def canonical(envelope: dict[str, Any]) -> bytes:
    body = {k: v for k, v in envelope.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sign(envelope: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    return {**envelope, "sig": base64.b64encode(key.sign(canonical(envelope))).decode()}


def envelope(
    type_: str, data: dict[str, Any], *, store: str, kiosk: str, key: Ed25519PrivateKey, id_: str = "", ts: float = 0
) -> dict[str, Any]:
    """A signed HQ -> kiosk envelope (type is `cmd/<name>` or `ack`)."""
    body = {
        "v": 1,
        "id": id_ or uuid.uuid4().hex,
        "ts": rfc3339(ts or time.time()),
        "type": type_,
        "store": store,
        "kiosk": kiosk,
        "data": data,
    }
    return sign(body, key)


class Verifier:
    """The kiosk's checks on an HQ -> kiosk envelope; `check()` raises Refused or returns nothing."""

    def __init__(
        self, key: Ed25519PublicKey | None, store: str, kiosk: str, max_age_s: float = 300.0, clock=time.time
    ) -> None:
        self.key, self.store, self.kiosk = key, store, kiosk
        self.max_age_s, self.clock = max_age_s, clock

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def check(self, type_: str, body: dict[str, Any]) -> None:
        if self.key is None:
            raise Refused("this kiosk has no head-office key (mqtt.hq_public_key_file): it obeys only ping")
        sig = body.get("sig")
        if not isinstance(sig, str):
            raise Refused("not signed by head office")
        try:
            self.key.verify(base64.b64decode(sig, validate=True), canonical(body))
        except (InvalidSignature, binascii.Error, ValueError):
            raise Refused("the signature does not verify with head office's key") from None
        if body.get("type") != type_:
            raise Refused(f"signed for {body.get('type')!r}, received on {type_!r}")
        if body.get("store") != self.store or body.get("kiosk") != self.kiosk:
            raise Refused(f"signed for {body.get('store')}/{body.get('kiosk')}, not this kiosk")
        ts = body.get("ts")
        try:
            sent = datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise Refused(f"'ts' is not an RFC 3339 time: {ts!r}") from None
        age = self.clock() - sent
        if abs(age) > self.max_age_s:
            raise Refused(f"expired: sent {age:+.0f} s from now, more than {self.max_age_s:.0f} s")


def load_public_key(path: str) -> Ed25519PublicKey | None:
    """Head office's public key (PEM), or None for ""; ValueError naming the file if it is not an Ed25519 key."""
    if not path:
        return None
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def load_private_key(path: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def keygen(prefix: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = Path(prefix + ".key"), Path(prefix + ".pub")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    public.chmod(0o644)
    return private, public


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kiosk.signing", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    k = sub.add_parser("keygen", help="make PREFIX.key (head office, 0600) and PREFIX.pub (kiosks)")
    k.add_argument("prefix")
    c = sub.add_parser("command", help="print a signed command payload")
    c.add_argument("--key", required=True, help="head office's private key (PEM)")
    c.add_argument("--store", required=True)
    c.add_argument("--kiosk", required=True)
    c.add_argument("--id", default="", help="command id (default: random)")
    c.add_argument("name", help="refund, reconcile, ping, ...")
    c.add_argument("data", nargs="?", default="{}", help="the command's data, JSON")
    args = ap.parse_args(argv)
    if args.what == "keygen":
        try:
            private, public = keygen(args.prefix)
        except FileExistsError as exc:
            print(f"{exc.filename} exists already; not overwritten", file=sys.stderr)
            return 1
        print(f"{private} (head office only, mode 0600)\n{public} (copy to each kiosk: mqtt.hq_public_key_file)")
        return 0
    try:
        data = json.loads(args.data)
        key = load_private_key(args.key)
    except (OSError, ValueError) as exc:
        print(f"cannot sign: {exc}", file=sys.stderr)
        return 2
    body = envelope(f"cmd/{args.name}", data, store=args.store, kiosk=args.kiosk, key=key, id_=args.id)
    print(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
