"""An order made elsewhere (a web shop, a table booking), as its QR brings it to the kiosk.  Plain data, no I/O.

The QR reads `KO1.<payload>.<signature>` (head office's format, headoffice/online_orders.py): the payload is the
order as canonical JSON in unpadded Base64url (`o` number, `s` store, `c` currency, `t` total, `p` paid, `l`
lines as [name, qty, unit price], `x` expiry in Unix seconds), the signature head office's Ed25519 signature of
the payload's bytes.  `split()` and `parse()` read it; whether to trust it is kiosk.services.online_orders'.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from kiosk.catalog import Product

PREFIX = "KO1."
_NUMBER = re.compile(r"W-\d{6,16}")


class OrderQrError(ValueError):
    """Why a scanned order QR is not one the kiosk can use, as a key (kiosk/ui/texts.py ORDER_REFUSALS words it
    for the shopper): not_an_order, damaged, not_signed, other_store, expired, no_key."""


@dataclass(frozen=True)
class OnlineOrder:
    order_no: str
    store: str
    currency: str
    total: int
    paid: bool
    lines: tuple[tuple[str, int, int], ...]  # name, qty, unit price (minor units)
    expires_at: int

    def products(self) -> list[tuple[Product, int]]:
        """The lines as the cart holds them: one product a line (its price fixed by the order), and its qty."""
        return [
            (Product(f"{self.order_no}#{n}", self.order_no, name, name, price, "standard"), qty)
            for n, (name, qty, price) in enumerate(self.lines, start=1)
        ]


def is_order_qr(text: str) -> bool:
    return text.startswith(PREFIX)


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise OrderQrError("not_an_order")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise OrderQrError("not_an_order") from None


def split(text: str) -> tuple[bytes, bytes]:
    """(payload bytes, signature bytes) of an order QR; OrderQrError if it is not one."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] + "." != PREFIX or len(text) > 4000:
        raise OrderQrError("not_an_order")
    return _unb64(parts[1]), _unb64(parts[2])


def parse(payload: bytes) -> OnlineOrder:
    """The order a (verified) payload describes; OrderQrError for anything malformed."""
    try:
        d = json.loads(payload)
        lines = tuple((str(n), int(q), int(p)) for n, q, p in d["l"])
        order = OnlineOrder(d["o"], d["s"], d["c"], int(d["t"]), bool(d["p"]), lines, int(d["x"]))
    except (ValueError, KeyError, TypeError):
        raise OrderQrError("damaged") from None
    if not isinstance(order.order_no, str) or not _NUMBER.fullmatch(order.order_no) or not order.lines:
        raise OrderQrError("damaged")
    if any(q < 1 or p < 0 for _, q, p in lines) or sum(q * p for _, q, p in lines) != order.total:
        raise OrderQrError("damaged")
    return order
