"""Receipts: what is printed (document), how it is laid out (layout), and how it reaches paper (render).

A receipt is a short list of blocks built from an order (or a report); layout
turns blocks into rows of text fitted to the paper's columns by display width
(CJK characters are two columns); render prints the rows as a raster picture
made with a CJK font (any ESC/POS printer) or as GB18030 text for printers
with a Chinese font, then the barcode, the QR and the cut.  The PNG preview is
the same picture.
"""

from kiosk.receipts.document import (
    Receipt,
    ReceiptSettings,
    collection_ticket,
    printer_test_page,
    reconciliation_summary,
    refund_slip,
    sale_receipt,
    selftest_slip,
    z_report,
)
from kiosk.receipts.render import escpos_job, preview_image

__all__ = [
    "collection_ticket",
    "reconciliation_summary",
    "refund_slip",
    "Receipt",
    "ReceiptSettings",
    "escpos_job",
    "preview_image",
    "sale_receipt",
    "printer_test_page",
    "selftest_slip",
    "z_report",
]
