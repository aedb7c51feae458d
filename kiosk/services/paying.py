"""The shopper's payment, on the payment worker: a wallet code the kiosk read, or a QR the kiosk shows.

Progress (submitting, confirm on the phone, the QR to show) and the last word
(`PaymentDone`) go to the UI thread as events; the payment driver does the
work and keeps the journal.  One payment at a time; `cancel()` asks the one
running to stop waiting and cancel at the gateway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kiosk.checkout import Outcome, StartPayment, StartQrPayment
from kiosk.payments.driver import PaymentDriver, Result
from kiosk.services.events import Event, PaymentDone, PaymentStep, QrShown
from kiosk.services.jobs import Worker


class PaymentService:
    def __init__(
        self,
        driver: PaymentDriver,
        worker: Worker,
        post: Callable[[Event], None],
        *,
        subject: str,
        qr_expiry_s: float,
    ) -> None:
        self.driver = driver
        self.worker = worker
        self.post = post
        self.subject = subject  # what the shopper's wallet shows: the store and the kiosk
        self.qr_expiry_s = qr_expiry_s
        self._cancel = threading.Event()

    def pay(self, req: StartPayment, language: str) -> None:
        self._cancel = threading.Event()
        self.worker.submit("pay", "", self._pay, req, language, self._cancel)

    def present(self, req: StartQrPayment, language: str) -> None:
        self._cancel = threading.Event()
        self.worker.submit("present", "", self._present, req, language, self._cancel)

    def cancel(self) -> None:
        self._cancel.set()

    def _pay(self, req: StartPayment, language: str, cancel: threading.Event) -> None:
        try:
            result = self.driver.pay(
                req,
                language=language,
                subject=self.subject,
                progress=lambda step: self.post(PaymentStep(step)),
                cancel=cancel,
            )
        except Exception as exc:  # the store or gateway failed in a way the driver did not expect
            self._failed(exc)
            raise  # and the worker reports it (JobFailed): the light and head office hear of it
        self.post(PaymentDone(result))

    def _failed(self, exc: Exception) -> None:
        """The shopper's screen leaves "Processing…" at once; recovery finishes whatever the journal holds."""
        self.post(PaymentDone(Result(Outcome.FAILED, "", reason=f"ERROR:{type(exc).__name__}", settled=False)))

    def _present(self, req: StartQrPayment, language: str, cancel: threading.Event) -> None:
        try:
            result = self.driver.present(
                req.lines,
                req.totals,
                language=language,
                subject=self.subject,
                show_qr=lambda qr, deadline: self.post(QrShown(qr, deadline)),
                expires_s=self.qr_expiry_s,
                cancel=cancel,
                online_order=req.online_order,
            )
        except Exception as exc:  # the store or gateway failed in a way the driver did not expect
            self._failed(exc)
            raise
        self.post(PaymentDone(result))
