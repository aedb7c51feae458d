"""Every text the screens show, in English (the msgid); kiosk/locale holds the translations."""

from __future__ import annotations

from kiosk.checkout import PayStep

NOTICES = {
    "added": "Added: {item} {amount}",
    "quantity": "{item}: {qty} in the cart",
    "removed": "Removed: {item} {amount}",
    "put_back": "Put back: {item} {amount}",
    "unknown_barcode": "Barcode {code} is not known here. Scan it again, or tap Help for staff.",
    "not_a_product": "This is not a product barcode",
    "label_misread": "This label did not read right. Scan it again, or tap Help for staff.",
    "online_order": "Order {order_no}: {amount} to pay. Show your payment code to collect it.",
    "order_handed_over": "Order {order_no} is paid: take your ticket.",
    "order_collected": "Order {order_no} was collected here at {when}. Please ask staff if this is wrong.",
    "order_collected_at": (
        "Order {order_no} was collected at kiosk {where} at {when}. Please ask staff if this is wrong."
    ),
    "order_checking": "Checking order {order_no}…",
    "order_refused": "This order code cannot be used: {why}.",
    "order_fixed": "Order {order_no} is paid as it was ordered: its lines cannot change here.",
    "finish_first": "Please finish or clear the current purchase first.",
    "not_a_payment_code": "This is not a payment code",
    "scan_products_first": "Scan your items first",
    "code_used": "This payment code was already used. Refresh it in your wallet app.",
    "payment_cancelled": "Payment cancelled. You have not been charged.",
    "payment_timed_out": "The payment took too long and was cancelled. You have not been charged. Please try again.",
    "payment_declined": "Payment failed: {reason}. You have not been charged.",
    "payment_failed": "Payment failed: {reason}",
    "max_qty": "At most {max} of one item",
    "payments_unavailable": "Payments are unavailable right now. Please ask staff for help.",
    "wallet_not_accepted": "This wallet is not accepted here. Please use another one.",
    "out_of_service": "This checkout is out of service. Nothing was charged.",
    "paid_not_recorded": "Please wait here: staff will bring your receipt.",
    "age_restricted_added": "Added: {item} {amount}. Staff will check your age before you pay.",
    "age_check_needed": "Staff must check your age before you pay. They are on the way.",
    "age_approved": "Age check done. You can pay now.",
    "age_declined": "Staff took the age-restricted items off.",
    "badge_refused": "This staff badge is not known here.",
    "removal_needs_staff": "Staff will take {item} off for you. They are on the way.",
    "voided": "Staff took off: {item} ×{qty}",
    "repriced": "New price: {item} {amount}",
    "weigh_first": "Weigh {item} on the scale, then scan its label.",
}
CATEGORY_TEXT = {  # the catalog's categories (head office's `category` column) as the shopper reads them
    "": "Other",
    "drinks": "Drinks",
    "dairy": "Dairy",
    "bakery": "Bakery",
    "fresh": "Fresh food",
    "fruit": "Fruit and vegetables",
    "pantry": "Pantry",
    "snacks": "Snacks",
    "household": "Household",
    "stationery": "Stationery",
    "bags": "Bags",
}
AGE_CHECK_BANNER = "Age check: staff are on the way"
ORDER_REFUSALS = {  # kiosk.online_order.OrderQrError's keys, for the shopper
    "not_an_order": "it is not an order code",
    "damaged": "it is damaged",
    "not_signed": "it was not issued by this shop",
    "other_store": "the order is for another store",
    "expired": "it has expired",
    "no_key": "this checkout cannot check order codes; please ask staff",
}
REASONS = {
    "NOTENOUGH": "Insufficient balance",
    "ACQ.BUYER_BALANCE_NOT_ENOUGH": "Insufficient balance",
    "AUTH_CODE_INVALID": "This payment code has expired. Refresh it and try again.",
    "ACQ.PAYMENT_AUTH_CODE_INVALID": "This payment code has expired. Refresh it and try again.",
    "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR": "Your wallet's payment limit has been reached",
    "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR": "Your wallet's payment limit has been reached",
    "ACQ.PAYMENT_FAIL": "The payment was declined",
    "PAYERROR": "The payment was declined",
    "BANKERROR": "The payment was declined",
    "PAYER_ACCOUNT_ABNORMAL": "The payment was declined",
    "CANCEL_PENDING": "The payment is being reversed. You will not be charged.",
}
STEP_TEXT = {
    PayStep.SUBMITTING: "Processing payment…",
    PayStep.USER_PAYING: "Confirm the payment on your phone",
    PayStep.CANCELLING: "Cancelling…",
}
E_RECEIPT = (
    "Your payment went through, but the receipt could not be printed."
    " Scan this code with your phone for your e-receipt."
)
E_RECEIPT_CHOSEN = "Your e-receipt: scan this code with your phone. No paper receipt was printed."
RECEIPT_TEXT = {"printing": "Printing your receipt…", "printed": "Please take your receipt"}
ATTENDANT_TEXT = {
    "wrong_pin": "Wrong PIN",
    "locked": "Too many wrong PINs. Try again later.",
    "printed": "Printed",
    "print_failed": "The printer is unavailable",
    "unknown_order": "No order with this number",
    "refunding": "Refunding…",
    "refunded": "Refunded",
    "refund_failed": "The refund did not go through",
    "nothing_to_refund": "Nothing left to refund on this order",
    "amount_invalid": "Type an amount up to what is left",
    "repriced": "Price changed",
    "price_invalid": "Type the new price first",
}
PRICE_REASON_TEXT = {  # kiosk.checkout.PRICE_REASONS: why staff changed a price
    "damaged": "Damaged",
    "shelf_price": "Shelf price differs",
    "manager_discount": "Manager's discount",
}
# what the shopper is told about devices (head office being unreachable is not their concern: orders queue)
DEVICE_TEXT = {
    "scanner": "Scanner offline",
    "camera": "Camera offline",
    "printer": "Printer offline",
    "gateway": "Payments unavailable",
}
# what staff are told is wrong with the printer (the printer's own answer to the status queries)
PRINTER_FAULTS = {
    "printer_paper_out": "Printer: out of paper",
    "printer_cover_open": "Printer: cover open",
    "printer_offline": "Printer: offline",
    "printer_missing": "No printer fitted",
    "printer_error": "Printer: error",
}
NO_PAPER_RECEIPT = "The printer is not working: you will get an e-receipt code instead of a paper receipt."
NEEDS_STAFF = "Kiosk needs staff attention"  # a background job failed; the attendant menu says which
JOB_FAILED = "A task failed: {what}"
