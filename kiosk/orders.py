"""Orders as the rest of the kiosk sees them: frozen values that cross threads safely.

An `Order` is what the store hands out once a payment is PAID (its lines and
how it was paid); receipts, head-office messages and the screens read it and
nobody can change it on the way.  `RefundOffer` is what the attendant is asked
to confirm after scanning a receipt to refund.  Plain Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    sku: str
    barcode: str
    name: str  # in the shopper's language at the time of sale
    qty: int
    unit_price: int  # minor units
    amount: int
    tax_class: str
    grams: int | None = None  # a weighed item's weight (its label's, or its price over the price per kg)


@dataclass(frozen=True)
class PaidWith:
    """The payment behind an order (never the wallet code: only its masked form)."""

    out_trade_no: str
    gateway: str
    channel: str  # alipay, wechat, unionpay, emvco
    amount: int
    state: str  # PAID, PARTIALLY_REFUNDED, REFUNDED
    trade_id: str
    code_masked: str
    recovered: bool  # finished by recovery after a restart or an outage


@dataclass(frozen=True)
class Order:
    order_no: str
    out_trade_no: str
    created_at: str  # UTC ISO-8601
    paid_at: str
    currency: str
    subtotal: int
    discount: int
    tax: int
    total: int
    language: str
    receipt_status: str  # queued, printed, not_printed
    lines: tuple[OrderLine, ...]
    payment: PaidWith

    @property
    def receipt_printed(self) -> bool:
        return self.receipt_status == "printed"

    @classmethod
    def from_rows(cls, order: Mapping[str, Any], lines: list[Mapping[str, Any]], payment: Mapping[str, Any]) -> Order:
        """Built from the store's rows (column names as in the schema)."""
        return cls(
            order_no=order["order_no"],
            out_trade_no=order["out_trade_no"],
            created_at=order["created_at"],
            paid_at=order["paid_at"],
            currency=order["currency"],
            subtotal=order["subtotal"],
            discount=order["discount"],
            tax=order["tax"],
            total=order["total"],
            language=order["language"],
            receipt_status=order["receipt_status"],
            lines=tuple(
                OrderLine(
                    ln["line_no"],
                    ln["sku"],
                    ln["barcode"],
                    ln["name"],
                    ln["qty"],
                    ln["unit_price"],
                    ln["amount"],
                    ln["tax_class"],
                    ln["grams"] if "grams" in ln.keys() else None,
                )
                for ln in lines
            ),
            payment=PaidWith(
                out_trade_no=payment["out_trade_no"],
                gateway=payment["gateway"],
                channel=payment["channel"],
                amount=payment["amount"],
                state=payment["state"],
                trade_id=payment["trade_id"] or "",
                code_masked=payment["code_masked"],
                recovered=bool(payment["recovered"]),
            ),
        )


@dataclass(frozen=True)
class RefundOffer:
    """A scanned receipt that can be refunded: at most `left` minor units of `order_no`."""

    order_no: str
    left: int
