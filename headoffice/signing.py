"""Head office's Ed25519 signature on what it sends the kiosks (commands and acks).

The signed bytes are the envelope without `sig`, as JSON with sorted keys, no
spaces, UTF-8; `sig` is the Base64 of the signature.  The kiosk checks it with
head office's public key (kiosk/signing.py is the kiosk's side, written apart:
the tests run one against the other).  No key configured: nothing is signed,
and kiosks without a head-office key obey only `ping` and take acks unsigned.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def load_key(path: str) -> Ed25519PrivateKey | None:
    """Head office's private key (PEM, PKCS#8), or None for ""; ValueError naming the file otherwise."""
    if not path:
        return None
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def canonical(doc: dict[str, Any]) -> bytes:
    """The bytes head office signs: JSON with sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed(envelope: dict[str, Any], key: Ed25519PrivateKey | None) -> dict[str, Any]:
    if key is None:
        return envelope
    return {**envelope, "sig": base64.b64encode(key.sign(canonical(envelope))).decode("ascii")}


def keygen(prefix: str) -> tuple[Path, Path]:
    """PREFIX.key (PKCS#8 PEM, mode 0600, never overwritten) and PREFIX.pub (for the kiosks)."""
    import os

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
    return private, public
