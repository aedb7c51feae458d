"""The pay / query / cancel loop that drives every payment to a final state.

Rules from ../shared/spec/payments.md: the journal row is SUBMITTING before the
first byte goes out; PAID comes only from the gateway; an unclear answer is
queried, and what is still not paid is cancelled until the gateway says it is
closed.  Each transition is one store transaction with its outbox message.
`recover()` does the same for payments found open after a restart.

Runs on a worker thread; it reports progress through a callback and stops
waiting when `cancel` is set.

A kiosk that cannot write must not charge: before each payment the disk is
checked (free space, and a write the disk refused before), and the journal row
must be on disk before the request goes out; otherwise the result is
OUT_OF_SERVICE and nothing is sent.  If the disk refuses a write after the
request went out, the payment stays open in the journal for recovery to finish
(NOT_RECORDED); when the gateway had said PAID, the shopper is told so.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.checkout import Outcome, PayStep, StartPayment
from kiosk.codes import code_digest, mask
from kiosk.orders import Order
from kiosk.payments import Answer, Gateway, PaymentState, PayRequest, Status
from kiosk.store import Store

log = logging.getLogger(__name__)


OUT_OF_SERVICE = "OUT_OF_SERVICE"  # nothing was sent: the kiosk cannot write safely
NOT_RECORDED = "NOT_RECORDED"  # sent, but the outcome could not be written: recovery finishes it
STORE_ERRORS = (sqlite3.Error, OSError)


class Unrecorded(Exception):
    """The gateway said PAID, but the order could not be written."""


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    out_trade_no: str
    order: Order | None = None
    reason: str = ""
    settled: bool = True  # False: not final yet; the recovery task carries on


class PaymentDriver:
    def __init__(
        self,
        gateway: Gateway,
        store: Store,
        *,
        poll_interval_s: float = 3.0,
        paying_limit_s: float = 60.0,
        cancel_attempts: int = 5,
        clock: Callable[[], float] = time.monotonic,
        min_free_bytes: int = 0,
    ) -> None:
        self.gateway = gateway
        self.min_free_bytes = min_free_bytes
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.paying_limit_s = paying_limit_s
        self.cancel_attempts = cancel_attempts
        self.clock = clock
        # Payments a live pay() is driving.  Recovery must never touch them: it would query a trade the
        # gateway has not seen yet, cancel it, and the shopper could then be charged with no order.
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()

    def pay(
        self,
        req: StartPayment,
        *,
        language: str,
        subject: str,
        progress: Callable[[PayStep], None] = lambda step: None,
        cancel: threading.Event | None = None,
    ) -> Result:
        cancel = cancel or threading.Event()
        out_trade_no = self._begin(
            channel=req.scheme.value,
            code_masked=mask(req.code),
            code_digest=code_digest(self.store.code_key, req.code),
            lines=req.lines,
            totals=req.totals,
            language=language,
            online_order=req.online_order,
        )
        if out_trade_no is None:
            return Result(Outcome.FAILED, "", reason=OUT_OF_SERVICE)
        try:
            log.info("pay %s %s code %s", out_trade_no, req.totals.total, mask(req.code))
            request = PayRequest(out_trade_no, req.code, req.totals.total, self.store.id.currency, subject)
            return self._unrecorded_safe(
                out_trade_no, lambda: self._settle(out_trade_no, self.gateway.pay(request), progress, cancel)
            )
        finally:
            with self._lock:
                self._in_flight.discard(out_trade_no)

    def _begin(self, **payment: Any) -> str | None:
        """Journal a new payment as SUBMITTING and own it; None (nothing written, nothing to send) when the
        disk cannot be trusted with it."""
        problem = self.store.storage_problem(self.min_free_bytes)
        if problem:
            log.error("no payment taken: %s", problem)
            return None
        with self._lock:  # journaled and owned at once: recover_all() never takes this one for an orphan
            try:
                out_trade_no = self.store.begin_payment(gateway=self.gateway.name, **payment)
            except STORE_ERRORS as exc:
                log.error("no payment taken: the journal cannot be written (%s)", exc)
                return None
            self._in_flight.add(out_trade_no)
        return out_trade_no

    def _unrecorded_safe(self, out_trade_no: str, run: Callable[[], Result]) -> Result:
        """Run the rest of a payment; a write the disk refuses leaves it open for recovery, never lost."""
        try:
            return run()
        except Unrecorded:
            log.error("payment %s is PAID at the gateway but not recorded; recovery will finish it", out_trade_no)
            return Result(Outcome.PAID, out_trade_no, reason=NOT_RECORDED, settled=False)
        except STORE_ERRORS as exc:
            log.error("payment %s: the journal cannot be written (%s); recovery will finish it", out_trade_no, exc)
            return Result(Outcome.FAILED, out_trade_no, reason=NOT_RECORDED, settled=False)

    def _complete(self, out_trade_no: str, trade_id: str, recovered: bool = False) -> Order:
        try:
            return self.store.complete_payment(out_trade_no, trade_id=trade_id, recovered=recovered)
        except STORE_ERRORS as exc:
            raise Unrecorded(out_trade_no) from exc

    def present(
        self,
        lines: tuple,
        totals: Any,
        *,
        language: str,
        subject: str,
        show_qr: Callable[[str, float], None],
        expires_s: float,
        cancel: threading.Event | None = None,
        online_order: str = "",
    ) -> Result:
        """ "Scan to pay": precreate a QR, show it, poll until paid, cancelled or expired; close what is left."""
        cancel = cancel or threading.Event()
        out_trade_no = self._begin(
            channel=self.gateway.qr_channel,
            code_masked="-",
            lines=lines,
            totals=totals,
            language=language,
            online_order=online_order,
        )
        if out_trade_no is None:
            return Result(Outcome.FAILED, "", reason=OUT_OF_SERVICE)
        try:
            return self._unrecorded_safe(
                out_trade_no, lambda: self._present(out_trade_no, totals, subject, show_qr, expires_s, cancel)
            )
        finally:
            with self._lock:
                self._in_flight.discard(out_trade_no)

    def _present(
        self,
        out_trade_no: str,
        totals: Any,
        subject: str,
        show_qr: Callable[[str, float], None],
        expires_s: float,
        cancel: threading.Event,
    ) -> Result:
        answer = self.gateway.precreate(out_trade_no, totals.total, subject)
        if not answer.qr:
            log.warning("payment %s: no QR from the gateway (%s)", out_trade_no, answer.reason)
            if answer.status is Status.FAILED:
                self.store.set_payment_state(out_trade_no, PaymentState.FAILED, reason=answer.reason)
                return Result(Outcome.FAILED, out_trade_no, reason=answer.reason)
            return self._close(out_trade_no)
        self.store.set_payment_state(out_trade_no, PaymentState.USER_PAYING)
        deadline = self.clock() + expires_s
        show_qr(answer.qr, deadline)
        while not cancel.wait(self.poll_interval_s) and self.clock() < deadline:
            answer = self.gateway.query(out_trade_no)
            if answer.status is Status.PAID:
                order = self._complete(out_trade_no, answer.trade_id)
                return Result(Outcome.PAID, out_trade_no, order=order)
            if answer.status is Status.CLOSED:
                return self._closed(out_trade_no, answer, recovered=False)
        return self._close(out_trade_no)

    def _close(self, out_trade_no: str) -> Result:
        """The shopper gave up or the QR expired: close the trade, then let a final query have the last word."""
        self.store.set_payment_state(out_trade_no, PaymentState.CANCELLING)
        closed = self.gateway.close(out_trade_no)
        final = self.gateway.query(out_trade_no)
        if final.status is Status.PAID or closed.status is Status.PAID:  # paid at the last moment: a sale after all
            order = self._complete(out_trade_no, final.trade_id or closed.trade_id)
            return Result(Outcome.PAID, out_trade_no, order=order)
        if closed.status is Status.CLOSED or final.status in (Status.NOT_FOUND, Status.CLOSED):
            return self._closed(out_trade_no, closed if closed.status is Status.CLOSED else final, recovered=False)
        return self._cancel(out_trade_no, recovered=False)  # no clear word: cancel, which also refunds

    def _settle(
        self,
        out_trade_no: str,
        answer: Answer,
        progress: Callable[[PayStep], None],
        cancel: threading.Event,
        recovered: bool = False,
    ) -> Result:
        deadline = self.clock() + self.paying_limit_s
        queried_unknown = False
        while True:
            log.info("payment %s: %s %s", out_trade_no, answer.status.value, answer.reason)
            if answer.status is Status.PAID:
                order = self._complete(out_trade_no, answer.trade_id, recovered)
                return Result(Outcome.PAID, out_trade_no, order=order)
            if answer.status is Status.FAILED:
                self.store.set_payment_state(
                    out_trade_no,
                    PaymentState.FAILED,
                    trade_id=answer.trade_id,
                    reason=answer.reason,
                    recovered=recovered,
                )
                return Result(Outcome.FAILED, out_trade_no, reason=answer.reason)
            if answer.status is Status.CLOSED:
                return self._closed(out_trade_no, answer, recovered)
            if answer.status is Status.PAYING and not recovered:
                self.store.set_payment_state(out_trade_no, PaymentState.USER_PAYING, trade_id=answer.trade_id)
                progress(PayStep.USER_PAYING)
                if cancel.wait(self.poll_interval_s) or self.clock() >= deadline:
                    break
                answer = self.gateway.query(out_trade_no)
                continue
            if answer.status is Status.UNKNOWN and not queried_unknown and not recovered:
                self.store.set_payment_state(out_trade_no, PaymentState.UNKNOWN, reason=answer.reason)
                queried_unknown = True
                if cancel.wait(min(self.poll_interval_s, 5.0)):
                    break
                answer = self.gateway.query(out_trade_no)
                continue
            break  # NOT_FOUND, a second UNKNOWN, or PAYING found by recovery: not paid, so cancel
        progress(PayStep.CANCELLING)
        return self._cancel(out_trade_no, recovered)

    def _cancel(self, out_trade_no: str, recovered: bool) -> Result:
        self.store.set_payment_state(out_trade_no, PaymentState.CANCELLING, recovered=recovered)
        for attempt in range(self.cancel_attempts):
            answer = self.gateway.cancel(out_trade_no)
            if answer.status is Status.CLOSED:
                return self._closed(out_trade_no, answer, recovered)
            if answer.status is Status.PAID:  # a gateway that cannot cancel a paid trade: keep the order
                order = self._complete(out_trade_no, answer.trade_id, recovered)
                return Result(Outcome.PAID, out_trade_no, order=order)
            time.sleep(min(0.5 * 2**attempt, 5.0))
        log.warning("payment %s: cancel not confirmed yet; recovery will retry", out_trade_no)
        return Result(Outcome.FAILED, out_trade_no, reason="CANCEL_PENDING", settled=False)

    def _closed(self, out_trade_no: str, answer: Answer, recovered: bool) -> Result:
        reason = "REFUNDED_BY_CANCEL" if answer.refunded else answer.reason
        self.store.set_payment_state(
            out_trade_no, PaymentState.CANCELLED, trade_id=answer.trade_id, reason=reason, recovered=recovered
        )
        return Result(Outcome.CANCELLED, out_trade_no, reason=reason)

    def refund(self, r: dict[str, Any], attempts: int = 3) -> dict[str, Any]:
        """Drive one refund (already SUBMITTING in the journal) to REFUNDED or FAILED.

        An unclear answer is queried first; only a refund the gateway says it never made is sent again, with the
        same out_request_no, so it can never be paid out twice.  Still unclear: left UNKNOWN for recovery.
        """
        otn, orn = r["out_trade_no"], r["out_request_no"]
        with self._lock:
            self._in_flight.add(orn)
        try:
            return self._refund(r, otn, orn, attempts)
        finally:
            with self._lock:
                self._in_flight.discard(orn)

    def _refund(self, r: dict[str, Any], otn: str, orn: str, attempts: int) -> dict[str, Any]:
        for attempt in range(attempts):
            answer = self.gateway.refund(otn, orn, r["amount"], total=self.store.payment(otn)["amount"])
            if answer.status is Status.UNKNOWN:
                answer = self.gateway.refund_query(otn, orn)
                if answer.status is Status.NOT_FOUND:
                    time.sleep(min(0.5 * 2**attempt, 5.0))
                    continue  # it never arrived: the same request again
            if answer.status is Status.REFUNDED:
                return self.store.set_refund_state(orn, "REFUNDED")
            if answer.status is Status.FAILED:
                return self.store.set_refund_state(orn, "FAILED", reason=answer.reason)
            break
        log.warning("refund %s: outcome unclear; recovery will query it", orn)
        return self.store.set_refund_state(orn, "UNKNOWN")

    def recover_refunds(self) -> list[dict[str, Any]]:
        candidates = self.store.open_refunds()  # read without the lock: see recover_all
        with self._lock:
            orphans = [r for r in candidates if r["out_request_no"] not in self._in_flight]
        results = []
        for r in orphans:
            try:
                answer = self.gateway.refund_query(r["out_trade_no"], r["out_request_no"])
                if answer.status is Status.REFUNDED:
                    results.append(self.store.set_refund_state(r["out_request_no"], "REFUNDED"))
                elif answer.status is Status.NOT_FOUND:
                    results.append(self.refund(r))
            except Exception:  # one stuck refund must not stop the others; next round retries it
                log.exception("recovery of refund %s failed; will retry", r["out_request_no"])
        return results

    def reachable(self) -> bool:
        """Does the gateway answer at all?  A query for a trade that does not exist is the cheapest question."""
        return self.gateway.query(f"{self.store.id.order_prefix}PROBE").status is not Status.UNKNOWN

    def recover(self, out_trade_no: str) -> Result:
        """Drive one payment found open (after a restart, or a cancel that did not go through) to a final state.
        One that became final since it was found (its own pay() finished it) is left as it is."""
        state = PaymentState(self.store.payment(out_trade_no)["state"])
        if state.final:
            outcome = {PaymentState.FAILED: Outcome.FAILED, PaymentState.CANCELLED: Outcome.CANCELLED}
            return Result(outcome.get(state, Outcome.PAID), out_trade_no, reason="already final")
        answer = self.gateway.query(out_trade_no)
        return self._settle(out_trade_no, answer, lambda step: None, threading.Event(), recovered=True)

    def recover_all(self) -> list[Result]:
        """Drive every open payment that no live pay() owns to a final state.

        The journal is read without the lock, so a shopper's payment never waits on it.  _begin() journals and
        owns a payment under the lock, so one read here is owned by now (skipped) or has no owner (recovered);
        one whose pay() finished in between is final, and recover() leaves it."""
        candidates = self.store.open_payments()
        with self._lock:
            orphans = [p for p in candidates if p["out_trade_no"] not in self._in_flight]
        results = []
        for p in orphans:
            try:
                results.append(self.recover(p["out_trade_no"]))
            except Exception:  # one stuck payment must not stop the others; next round retries it
                log.exception("recovery of %s failed; will retry", p["out_trade_no"])
        return results
