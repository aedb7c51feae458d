"""Small builders the tests and benchmarks share."""

from __future__ import annotations

from collections.abc import Iterable

from kiosk.catalog import Product
from kiosk.checkout import Cart
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
