"""The shopper's cart: lines of products and quantities, and its totals in integer minor units (tax included,
broken down by tax class).  Plain Python, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from kiosk.catalog import TAX_RATES_BP, Product
from kiosk.money import tax_breakdown

MAX_QTY = 99


@dataclass
class CartLine:
    product: Product
    qty: int = 1

    @property
    def amount(self) -> int:
        return self.product.price * self.qty


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount: int
    tax: int
    total: int
    tax_by_class: Mapping[str, int]
    items: int


class Cart:
    def __init__(self) -> None:
        self.lines: list[CartLine] = []

    def _find(self, key: str) -> CartLine | None:
        """The line of `key` (Product.key: the sku, or the sku and the scale label that priced it)."""
        return next((ln for ln in self.lines if ln.product.key == key), None)

    def add(self, product: Product) -> bool:
        """Add one; False (and no change) when the line is already at MAX_QTY."""
        line = self._find(product.key)
        if line is None:
            self.lines.append(CartLine(product))
            return True
        if line.qty >= MAX_QTY:
            return False
        line.qty += 1
        return True

    def increment(self, sku: str) -> bool:
        line = self._find(sku)
        return line is not None and self.add(line.product)

    def decrement(self, sku: str) -> tuple[int, CartLine] | None:
        """One fewer; a line that reaches 0 leaves the cart and is returned with its place (for undo)."""
        line = self._find(sku)
        if line is None:
            return None
        if line.qty > 1:
            line.qty -= 1
            return None
        return self.remove(sku)

    def remove(self, sku: str) -> tuple[int, CartLine] | None:
        """The line leaves the cart; returns its place and the line as it was (for undo), or None."""
        line = self._find(sku)
        if line is None:
            return None
        index = self.lines.index(line)
        del self.lines[index]
        return index, CartLine(line.product, line.qty)

    def put_back(self, index: int, line: CartLine) -> None:
        """Undo a removal: the line returns to its place (merged if the product was scanned again meanwhile)."""
        there = self._find(line.product.key)
        if there is not None:
            there.qty = min(MAX_QTY, there.qty + line.qty)
        else:
            self.lines.insert(min(index, len(self.lines)), CartLine(line.product, line.qty))

    def reprice(self, sku: str, price: int) -> int | None:
        """The line's unit price becomes `price` (an attendant's override); returns the price it had, or None."""
        line = self._find(sku)
        if line is None:
            return None
        was = line.product.price
        line.product = replace(line.product, price=price)
        return was

    def line(self, sku: str) -> CartLine | None:
        return self._find(sku)

    def clear(self) -> None:
        self.lines = []

    def __bool__(self) -> bool:
        return bool(self.lines)

    def totals(self) -> Totals:
        by_class: dict[str, int] = {}
        for ln in self.lines:
            by_class[ln.product.tax_class] = by_class.get(ln.product.tax_class, 0) + ln.amount
        tax_by_class = tax_breakdown(by_class, TAX_RATES_BP)
        subtotal = sum(by_class.values())
        discount = 0
        return Totals(
            subtotal=subtotal,
            discount=discount,
            tax=sum(tax_by_class.values()),
            total=subtotal - discount,
            tax_by_class=tax_by_class,
            items=sum(ln.qty for ln in self.lines),
        )

    def snapshot(self) -> tuple[tuple[Product, int], ...]:
        return tuple((ln.product, ln.qty) for ln in self.lines)
