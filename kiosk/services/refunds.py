"""Refunds asked for by head office (a command) or by staff at the kiosk (scan a receipt, confirm the amount).

A refund is recorded as SUBMITTING before anything is sent (the store),
driven to a final state by the payment driver on the back-office worker, and
a refund slip is printed once the money went back.  Staff hear how it went
through `AttendantNotice` events; a refund whose job fails is reported by the
worker (`JobFailed`) and finished by the recovery loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.orders import RefundOffer
from kiosk.payments.driver import PaymentDriver
from kiosk.services.events import AttendantNotice, Event, RefundOffered
from kiosk.services.jobs import Worker
from kiosk.services.printing import PrintService
from kiosk.store import RefundRefused, Store

log = logging.getLogger(__name__)
REFUNDABLE = ("PAID", "PARTIALLY_REFUNDED")


class RefundService:
    def __init__(
        self,
        store: Store,
        driver: PaymentDriver,
        printing: PrintService,
        worker: Worker,
        post: Callable[[Event], None],
    ) -> None:
        self.store = store
        self.driver = driver
        self.printing = printing
        self.worker = worker
        self.post = post

    # -- head office -------------------------------------------------------------
    def from_head_office(self, body: dict[str, Any], command_id: str) -> dict[str, Any]:
        """The `refund` command (on the MQTT thread): checked, recorded, then sent on the back-office worker.
        The answer says what was recorded; the refund's outcome follows on the `refunds` topic."""
        order_no, amount, reason = body.get("order_no"), body.get("amount"), body.get("reason", "")
        if not isinstance(order_no, str) or not order_no:
            return {"ok": False, "error": "refund needs 'order_no' (a string)"}
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
            return {"ok": False, "error": "'amount' must be a positive whole number of minor units, or absent"}
        if not isinstance(reason, str):
            return {"ok": False, "error": "'reason' must be a string"}
        try:
            refund = self.store.begin_refund(
                order_no, amount, requested_by="hq", command_id=command_id, reason=reason[:200]
            )
        except RefundRefused as exc:
            return {"ok": False, "error": str(exc)}
        if refund["state"] == "SUBMITTING":
            self.worker.submit("refund", refund["out_request_no"], self._send, refund)
        return {
            "ok": True,
            "out_request_no": refund["out_request_no"],
            "amount": refund["amount"],
            "state": refund["state"],
        }

    # -- staff at the kiosk ------------------------------------------------------------
    def look_up(self, order_no: str) -> None:
        """Staff scanned a receipt to refund: how much is left?  Answered as a RefundOffered event."""
        self.worker.submit("refund_lookup", order_no, self._look_up, order_no)

    def _look_up(self, order_no: str) -> None:
        try:
            order, left = self.store.refundable(self.store.conn(), order_no)
        except RefundRefused:
            self.post(AttendantNotice("unknown_order"))
            return
        if left <= 0 or order["state"] not in REFUNDABLE:
            self.post(AttendantNotice("nothing_to_refund"))
            return
        self.post(RefundOffered(RefundOffer(order_no, left)))

    def by_attendant(self, order_no: str, amount: int) -> None:
        """Staff confirmed `amount` of `order_no`."""
        self.worker.submit("refund", order_no, self._by_attendant, order_no, amount)

    def _by_attendant(self, order_no: str, amount: int) -> None:
        try:
            refund = self.store.begin_refund(order_no, amount, requested_by="attendant")
        except RefundRefused:
            self.post(AttendantNotice("nothing_to_refund"))
            return
        self.store.add_event("attendant_refund", order_no=order_no, amount=amount)
        self._send(refund)

    # -- on the back-office worker ---------------------------------------------------------
    def _send(self, refund: dict[str, Any]) -> None:
        done = self.driver.refund(refund)
        if refund["requested_by"] == "attendant":
            self.post(AttendantNotice("refunded" if done["state"] == "REFUNDED" else "refund_failed"))
        if done["state"] == "REFUNDED":
            order = self.store.find_order(done["order_no"])
            if order is not None:
                self.printing.refund_slip(order, done)
