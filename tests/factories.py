"""Small builders the tests and benchmarks share."""

from __future__ import annotations

from collections.abc import Iterable

from kiosk.cart import Cart
from kiosk.catalog import Product
from kiosk.orders import Order, OrderLine, PaidWith
from kiosk.store import Store


def begin_payment(
    store: Store,
    products: Iterable[Product],
    *,
    language: str = "en",
    channel: str = "alipay",
    masked: str = "2812********3451",
    code_digest: bytes | None = None,
) -> str:
    """A sandbox payment in SUBMITTING for one of each product; returns its out_trade_no."""
    cart = Cart()
    for p in products:
        cart.add(p)
    return store.begin_payment(
        gateway="sandbox",
        channel=channel,
        code_masked=masked,
        lines=cart.snapshot(),
        totals=cart.totals(),
        language=language,
        code_digest=code_digest,
    )


def an_order(order_no: str, total: int = 200) -> Order:
    """A paid order as the store hands it out, without a store (for the domain's tests)."""
    line = OrderLine(1, "P001", "6901234000016", "Mineral water 550ml", 1, total, total, "standard")
    paid = PaidWith(f"T-{order_no}", "sandbox", "alipay", total, "PAID", "2026112422001", "2812********3451", False)
    now = "2026-11-24T08:00:00.000Z"
    return Order(order_no, f"T-{order_no}", now, now, "CNY", total, 0, 0, total, "en", "queued", (line,), paid)
