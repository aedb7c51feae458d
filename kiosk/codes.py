"""What a scanned text is: a product barcode, a wallet payment code, or neither.

Rules from ../shared/spec/payments.md.  Pure functions, no I/O.  A payment code
is a bearer token: `mask()` is the only form of it that may reach a log, a
screen, SQLite or MQTT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from kiosk.catalog import gtin_valid
from kiosk.online_order import is_order_qr


class CodeKind(Enum):
    PRODUCT = "product"
    PAYMENT = "payment"
    ONLINE_ORDER = "online_order"  # an order made elsewhere, its QR signed by head office (kiosk.online_order)
    OTHER = "other"


class Scheme(Enum):
    ALIPAY = "alipay"
    WECHAT = "wechat"
    UNIONPAY = "unionpay"
    EMVCO = "emvco"


@dataclass(frozen=True)
class Scanned:
    kind: CodeKind
    text: str
    scheme: Scheme | None = None

    @property
    def masked(self) -> str:
        return mask(self.text) if self.kind is CodeKind.PAYMENT else self.text


_EMV_CPM_PREFIX = bytes.fromhex("85 05 43 50 56 30 31")  # tag 85, "CPV01"
MAX_TEXT = 512


def payment_scheme(text: str) -> Scheme | None:
    """The wallet scheme of a consumer-presented payment code, or None."""
    if text.isascii() and text.isdigit():
        n, head = len(text), int(text[:2]) if len(text) >= 2 else -1
        if n == 18 and 10 <= head <= 15:
            return Scheme.WECHAT
        if 16 <= n <= 24 and 25 <= head <= 30:
            return Scheme.ALIPAY
        if n == 19 and text.startswith("62"):
            return Scheme.UNIONPAY
        return None
    if text.startswith("hQVDUFYwMW") and len(text) <= MAX_TEXT:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
        if raw.startswith(_EMV_CPM_PREFIX) and _ber_tlv_well_formed(raw):
            return Scheme.EMVCO
    return None


def _ber_tlv_well_formed(raw: bytes) -> bool:
    """Walk BER-TLV objects (EMV Book 3 rules) and say whether they fill `raw` exactly."""
    i = 0
    while i < len(raw):
        if raw[i] in (0x00, 0xFF):  # padding between objects
            i += 1
            continue
        tag_first = raw[i]
        i += 1
        if tag_first & 0x1F == 0x1F:  # multi-byte tag
            while i < len(raw) and raw[i] & 0x80:
                i += 1
            i += 1
        if i >= len(raw):
            return False
        length = raw[i]
        i += 1
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 3 or i + count > len(raw):
                return False
            length = int.from_bytes(raw[i : i + count], "big")
            i += count
        if tag_first & 0x20:  # constructed: its value is itself TLV
            if not _ber_tlv_well_formed(raw[i : i + length]):
                return False
        i += length
        if i > len(raw):
            return False
    return True


def classify(text: str) -> Scanned:
    """Sort a decoded text into product barcode, payment code or other."""
    scheme = payment_scheme(text)
    if scheme is not None:
        return Scanned(CodeKind.PAYMENT, text, scheme)
    if gtin_valid(text):
        return Scanned(CodeKind.PRODUCT, text)
    if is_order_qr(text):
        return Scanned(CodeKind.ONLINE_ORDER, text)
    return Scanned(CodeKind.OTHER, text)


def mask(code: str) -> str:
    """First 4 and last 4 characters, the rest hidden: '2812****7788'."""
    if len(code) <= 8:
        return "*" * len(code)
    return f"{code[:4]}{'*' * min(len(code) - 8, 8)}{code[-4:]}"


def code_digest(key: bytes, code: str) -> bytes:
    """What may be kept of a wallet code: an HMAC under a secret key, which cannot be turned back into the code."""
    return hmac.new(key, code.encode(), hashlib.sha256).digest()


class CodeMemory:
    """Remembers which payment codes were already tried, without keeping them.

    Each code is kept only as an HMAC (`code_digest`) under the installation's
    key; the store keeps the same digests, so the memory survives a restart.
    """

    def __init__(self, key: bytes | None = None, seen: Iterable[bytes] = ()) -> None:
        self._key = key or os.urandom(32)
        self._seen: set[bytes] = set(seen)

    def digest(self, code: str) -> bytes:
        return code_digest(self._key, code)

    def seen(self, code: str) -> bool:
        return self.digest(code) in self._seen

    def remember(self, code: str) -> None:
        self._seen.add(self.digest(code))
