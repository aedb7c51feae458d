"""RSA key files for the gateways: PEM, or the bare Base64 DER that Alipay's key tool writes."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file."""


def _load(path: str, private: bool) -> rsa.RSAPrivateKey | rsa.RSAPublicKey:
    kind = "private" if private else "public"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path} ({exc.strerror})") from None
    try:
        if b"-----BEGIN" in data:
            key = (
                serialization.load_pem_private_key(data, password=None)
                if private
                else serialization.load_pem_public_key(data)
            )
        else:
            der = base64.b64decode(data)
            key = (
                serialization.load_der_private_key(der, password=None)
                if private
                else serialization.load_der_public_key(der)
            )
    except (ValueError, TypeError) as exc:
        detail = "an unencrypted RSA private key" if private else "an RSA public key"
        raise KeyFileError(f"{path} is not {detail} ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey if private else rsa.RSAPublicKey):
        raise KeyFileError(f"{path} is not an RSA {kind} key")
    return key


def load_private_key(path: str) -> rsa.RSAPrivateKey:
    return _load(path, private=True)  # type: ignore[return-value]


def load_public_key(path: str) -> rsa.RSAPublicKey:
    return _load(path, private=False)  # type: ignore[return-value]
