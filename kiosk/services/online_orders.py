"""Orders made elsewhere, at the kiosk: is a scanned order QR head office's, for this store, still good, and not
collected here already?

The signature is checked with head office's public key (`mqtt.hq_public_key_file`), so a kiosk needs nobody's
answer to trust an order; a QR signed by anyone else, for another store, or past its expiry is refused with the
reason.  What this kiosk handed over is in its store (kiosk.store), so a second scan says when it was collected.
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.online_order import OnlineOrder, OrderQrError, parse, split
from kiosk.store import Store


class OnlineOrders:
    def __init__(self, store: Store, key: Ed25519PublicKey | None, store_id: str, clock=time.time) -> None:
        self.store, self.key, self.store_id, self.clock = store, key, store_id, clock

    def read(self, text: str) -> OnlineOrder:
        """The order a scanned QR carries, checked; OrderQrError with the reason otherwise."""
        payload, signature = split(text)
        if self.key is None:
            raise OrderQrError("no_key")
        try:
            self.key.verify(signature, payload)
        except InvalidSignature:
            raise OrderQrError("not_signed") from None
        order = parse(payload)
        if order.store != self.store_id:
            raise OrderQrError("other_store")
        if order.expires_at < self.clock():
            raise OrderQrError("expired")
        return order

    def collected(self, order_no: str) -> dict[str, Any] | None:
        """When and by which order this kiosk handed the order over, or None."""
        return self.store.online_collected(order_no)
