"""Printing: the shopper's receipt, reprints, the Z report, refund slips, reconciliation summaries, test pages.

Every print is rendered and sent on the printer worker's thread (never the UI
thread), through the `ReceiptPrinter` seam, whatever the printer is (the
simulator's is the virtual ESC/POS printer).  Each outcome is recorded (an
order's receipt status, an `events` message when it failed) and comes back
to the UI thread as a `PrintDone` event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from hardware import Paper, PrinterError, ReceiptPrinter
from kiosk.messages import utc_now
from kiosk.online_order import OnlineOrder
from kiosk.orders import Order
from kiosk.receipts import (
    Receipt,
    ReceiptSettings,
    collection_ticket,
    escpos_job,
    preview_image,
    printer_test_page,
    reconciliation_summary,
    refund_slip,
    sale_receipt,
    z_report,
)
from kiosk.services.events import AttendantNotice, Event, PrintDone
from kiosk.services.jobs import Worker
from kiosk.store import Store

log = logging.getLogger(__name__)
SHOPPER_DECLINED = "shopper_declined"  # the receipts message's reason when the shopper chose the e-receipt only


def job_name(label: str) -> str:
    """A unique name for one print job (the spool file's, with the virtual printer)."""
    return f"{label}-{int(time.time() * 1000)}"


class PrintService:
    def __init__(
        self,
        printer: ReceiptPrinter,
        store: Store,
        settings: ReceiptSettings,
        worker: Worker,
        post: Callable[[Event], None],
        *,
        currency: str,
        previews_dir: Path,
    ) -> None:
        self.printer = printer
        self.store = store
        self.settings = settings
        self.worker = worker
        self.post = post
        self.currency = currency
        self.previews_dir = previews_dir

    # -- what can be printed ---------------------------------------------------------
    def sale(self, order: Order) -> None:
        """The receipt of the sale just paid, for the shopper at the screen."""
        self.worker.submit("receipt", order.order_no, self._sale, order)

    def no_paper(self, order: Order) -> None:
        """The shopper chose the e-receipt only: the order's receipt is recorded (and reported) as not printed."""
        self.worker.submit("receipt", order.order_no, self.store.mark_receipt, order.order_no, False, SHOPPER_DECLINED)

    def reprint(self, order_no: str | None) -> None:
        """Staff reprint an order's receipt (None: the last order)."""
        self.worker.submit("reprint", order_no or "", self._reprint, order_no)

    def z_report(self, language: str, day: str | None = None) -> None:
        self.worker.submit("z_report", day or "", self._z_report, language, day)

    def test_page(self) -> None:
        self.worker.submit("test_page", "", self.print, printer_test_page(self.settings), "test-page", for_staff=True)

    def collection_ticket(self, order: OnlineOrder, kiosk_order_no: str | None, language: str) -> None:
        """An order made elsewhere handed over: its ticket, for the shopper at the screen."""
        ticket = collection_ticket(order, kiosk_order_no, self.settings, language, utc_now())
        self.worker.submit("ticket", order.order_no, self.print, ticket, order.order_no, for_shopper=True)

    def refund_slip(self, order: Order, refund: dict[str, Any]) -> None:
        slip = refund_slip(order, refund, self.settings)
        self.worker.submit(
            "refund_slip", refund["out_request_no"], self.print, slip, f"refund-{refund['out_request_no']}"
        )

    def reconciliation(self, report: dict[str, Any], day: str, language: str) -> None:
        summary = reconciliation_summary(report, self.settings, language, self.currency)
        self.worker.submit("reconcile_summary", day, self.print, summary, f"reconcile-{day}")

    # -- on the printer thread -----------------------------------------------------------
    def _sale(self, order: Order) -> None:
        self.print(sale_receipt(order, self.settings), order.order_no, order.order_no, for_shopper=True)

    def _reprint(self, order_no: str | None) -> None:
        order_no = order_no or self.store.last_order_no()
        order = self.store.find_order(order_no) if order_no else None
        if order is None:
            self.post(AttendantNotice("unknown_order"))
            return
        receipt = sale_receipt(order, self.settings, reprint=True)
        self.print(receipt, order.order_no, order.order_no, for_staff=True, reprint=True)

    def _z_report(self, language: str, day: str | None) -> None:
        summary = self.store.day_summary(day or date.today().isoformat())
        receipt = z_report(summary, self.settings, language, self.currency)
        if self.print(receipt, "Z" + summary["date"].replace("-", ""), for_staff=True):
            self.store.add_event("z_report", **summary)

    def print(
        self,
        receipt: Receipt,
        label: str,
        order_no: str | None = None,
        *,
        for_shopper: bool = False,
        for_staff: bool = False,
        reprint: bool = False,
    ) -> bool:
        """Render and print one receipt; record and report the outcome.  True when it printed.

        `order_no`: the order whose receipt this is (its fate is recorded and goes to head office as `receipts`);
        a reprint that fails leaves the order's earlier outcome as it was."""
        s = self.settings
        try:
            data = escpos_job(receipt, s)
            if self.printer.keeps_previews:  # the simulator keeps a picture of every receipt
                self.previews_dir.mkdir(parents=True, exist_ok=True)
                preview_image(receipt, s).save(self.previews_dir / f"{label}.png")
            result = self.printer.send(data, job_name(label))
        except (PrinterError, OSError) as exc:
            reason = exc.reason if isinstance(exc, PrinterError) else "printer_error"
            paper = exc.status.paper if isinstance(exc, PrinterError) else Paper.UNKNOWN
            log.warning("%s not printed: %s", label, exc)
            if order_no and not reprint:
                self.store.mark_receipt(order_no, False, reason)
            self.store.add_event(reason, order_no=order_no, message=str(exc))
            self.post(PrintDone(label, False, reason, paper, for_shopper, for_staff))
            return False
        if order_no:
            self.store.mark_receipt(order_no, True, reprint=reprint)
        paper = result.after.paper if result.after.paper is not Paper.UNKNOWN else result.before.paper
        self.post(PrintDone(label, True, "", paper, for_shopper, for_staff))
        return True
