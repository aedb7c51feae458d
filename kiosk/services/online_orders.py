"""Orders made elsewhere, at the kiosk: is a scanned order QR head office's, for this store, still good, and not
collected already?

The signature is checked with head office's public key (`mqtt.hq_public_key_file`), so a kiosk needs nobody's
answer to trust an order; a QR signed by anyone else, for another store, or past its expiry is refused with the
reason.  What this kiosk handed over is in its store (kiosk.store), so a second scan here says when.

With head office's address (`mqtt.hq_url`) the kiosk also asks head office, on a worker and for at most
ASK_TIMEOUT_S, what became of the order since its QR was made: collected at another kiosk (the guest is told
where and when, nothing is handed over) or paid since (handed over without asking for money).  The answer is
signed by head office for a nonce the kiosk made, so neither a forged nor a replayed answer is taken.  No answer
in time: the QR and this kiosk's own record decide, and head office raises `collected_twice` if the same order
was handed over twice meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.online_order import OnlineOrder, OrderQrError, parse, split
from kiosk.services.events import Event, OnlineOrderChecked
from kiosk.services.hq_http import HqHttp, HqUnreachable
from kiosk.services.jobs import Worker
from kiosk.signing import canonical
from kiosk.store import Store

log = logging.getLogger(__name__)
ASK_TIMEOUT_S = 3.0


class OnlineOrders:
    def __init__(
        self,
        store: Store,
        key: Ed25519PublicKey | None,
        store_id: str,
        clock=time.time,
        *,
        hq: HqHttp | None = None,
        worker: Worker | None = None,
        post: Callable[[Event], None] = lambda event: None,
    ) -> None:
        self.store, self.key, self.store_id, self.clock = store, key, store_id, clock
        self.hq, self.worker, self.post = hq, worker, post

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

    def check(self, text: str, order: OnlineOrder) -> bool:
        """Ask head office about the order on the worker (an OnlineOrderChecked event follows); False when this
        kiosk has no head-office address to ask."""
        if self.hq is None or not self.hq.base_url or self.worker is None or self.key is None:
            return False
        self.worker.submit("order-status", order.order_no, self._ask, text, order)
        return True

    def _ask(self, text: str, order: OnlineOrder) -> None:
        """On the worker: the answer always reaches the controller, which waits for it before this order's QR is
        read again; an unexpected failure is an answer of None (the QR decides) and is logged."""
        try:
            status = self.ask(text, order)
        except Exception:  # noqa: BLE001 - the hand-over must not wait for ever on one failed question
            log.exception("order %s: asking head office failed", order.order_no)
            status = None
        self.post(OnlineOrderChecked(order, status))

    def ask(self, text: str, order: OnlineOrder) -> dict[str, Any] | None:
        """Head office's signed word on the order now, or None (unreachable, too slow, or not to be trusted)."""
        assert self.hq is not None and self.key is not None
        nonce = secrets.token_urlsafe(18)
        try:
            answer = self.hq.post_json("/api/v1/order-status", {"qr": text, "nonce": nonce}, ASK_TIMEOUT_S)
        except HqUnreachable as exc:
            log.warning("order %s: head office not asked (%s); the QR decides", order.order_no, exc)
            return None
        try:
            status, sig = answer["status"], answer["sig"]
            self.key.verify(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), canonical(status))
        except (AttributeError, KeyError, TypeError, ValueError, binascii.Error, InvalidSignature):
            log.warning("order %s: head office's answer is not signed as it should be: ignored", order.order_no)
            return None
        if status.get("nonce") != nonce or status.get("order_no") != order.order_no:
            log.warning("order %s: head office's answer is for another question: ignored", order.order_no)
            return None
        return status

    def decide(self, order: OnlineOrder, status: dict[str, Any] | None) -> tuple[OnlineOrder, dict[str, Any] | None]:
        """The order as it is to be handled (paid since its QR was made?) and where and when it was collected
        (this kiosk's own record first, then head office's), or None."""
        here = self.collected(order.order_no)
        if here is not None or status is None:
            return order, here
        if status.get("collected_at"):
            when = datetime.fromtimestamp(float(status["collected_at"]), UTC).isoformat()
            where = str(status.get("collected_by") or "").rsplit("/", 1)[-1]
            return order, {"collected_at": when, "where": where}
        if status.get("paid") and not order.paid:
            return replace(order, paid=True), None
        return order, None
