"""Weighed and price-embedded goods: the in-store EAN-13 a scale's label printer makes (GS1 prefixes 20-29).

A chain says how its labels are laid out (config `weighed.layouts`), one layout per prefix, as a pattern of the
13 digits and what the value is:

    "20:PPIIIIIVVVVVC:price"    prefix 20, item 5 digits, price 5 digits (minor units), EAN check digit
    "21:PPIIIIQVVVVC:price"     (12 letters: one is missing) -> refused
    "22:PPIIIIQVVVVVC:price"    ... with a price verifier digit Q over the 5-digit price (GS1 7.9.3)
    "28:PPIIIIIQVVVVC:price"    ... over a 4-digit price (GS1 7.9.2)
    "29:PPIIIIIVVVVVC:weight"   the value is the weight in grams; the price comes from the product's price per kg

P: the prefix; I: the item code; V: the value; Q: the price (or measure) verifier digit; C: the EAN check digit.
The product is the catalog's item whose barcode is the label with its value (and Q) set to 0 and the check digit
made again: `base_code()`.  Plain Python, no I/O; the check-digit tables are GS1 General Specifications 7.9.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kiosk.catalog import Product, gtin_valid

VALUES = ("price", "weight")
# GS1 General Specifications 7.9: each weighting factor as a table digit -> product digit
_WEIGHT = {
    "2-": (0, 2, 4, 6, 8, 9, 1, 3, 5, 7),
    "3": (0, 3, 6, 9, 2, 5, 8, 1, 4, 7),
    "5+": (0, 5, 1, 6, 2, 7, 3, 8, 4, 9),
    "5-": (0, 5, 9, 4, 8, 3, 7, 2, 6, 1),
}


class LayoutError(ValueError):
    """A layout the config gives that cannot describe a label; the message says why."""


class LabelError(ValueError):
    """A label whose digits do not add up (its price verifier digit is wrong): a misread, not a price."""


@dataclass(frozen=True)
class Layout:
    prefix: str
    pattern: str
    value: str  # price (minor units) or weight (grams)

    def digits(self, letter: str, code: str) -> str:
        return "".join(d for d, p in zip(code, self.pattern, strict=True) if p == letter)


@dataclass(frozen=True)
class Label:
    code: str  # the label as scanned
    base: str  # the catalog's barcode of its item
    price: int | None  # minor units, when the label says the price
    grams: int | None  # when the label says the weight


def price_check_digit(value: str) -> int:
    """The GS1 price/measure verifier digit of a 4- or 5-digit value (General Specifications 7.9.2, 7.9.3)."""
    if len(value) not in (4, 5) or not value.isdigit():
        raise ValueError("a price verifier digit is made of 4 or 5 digits")
    d = [int(c) for c in value]
    if len(value) == 4:
        total = _WEIGHT["2-"][d[0]] + _WEIGHT["2-"][d[1]] + _WEIGHT["3"][d[2]] + _WEIGHT["5-"][d[3]]
        return total * 3 % 10
    total = _WEIGHT["5+"][d[0]] + _WEIGHT["2-"][d[1]] + _WEIGHT["5-"][d[2]] + _WEIGHT["5+"][d[3]] + _WEIGHT["2-"][d[4]]
    return _WEIGHT["5-"].index((10 - total % 10) % 10)


def parse_layouts(text: str) -> dict[str, Layout]:
    """`weighed.layouts`: space-separated PREFIX:PATTERN:VALUE; LayoutError naming the wrong one."""
    layouts: dict[str, Layout] = {}
    for spec in text.split():
        parts = spec.split(":")
        if len(parts) != 3:
            raise LayoutError(f"{spec!r}: write PREFIX:PATTERN:VALUE, like 20:PPIIIIIVVVVVC:price")
        prefix, pattern, value = parts
        if not re.fullmatch(r"2\d", prefix):
            raise LayoutError(f"{spec!r}: the prefix must be 20-29 (GS1's in-store numbers)")
        if prefix in layouts:
            raise LayoutError(f"{spec!r}: prefix {prefix} has a layout already")
        if value not in VALUES:
            raise LayoutError(f"{spec!r}: the value is price or weight, not {value!r}")
        if len(pattern) != 13 or not re.fullmatch(r"PPI+Q?V+C", pattern):
            raise LayoutError(
                f"{spec!r}: the pattern is 13 letters: PP, the item code (I), an optional verifier digit (Q),"
                " the value (V), the check digit (C)"
            )
        if "Q" in pattern and pattern.count("V") not in (4, 5):
            raise LayoutError(f"{spec!r}: a verifier digit (Q) covers a value of 4 or 5 digits")
        layouts[prefix] = Layout(prefix, pattern, value)
    return layouts


def read_label(code: str, layouts: dict[str, Layout]) -> Label | None:
    """The label's item and value, or None if `code` is not an in-store label of a configured layout (then it is
    an ordinary barcode).  LabelError if its verifier digit does not match its value."""
    if len(code) != 13 or not gtin_valid(code) or code[:2] not in layouts:
        return None
    layout = layouts[code[:2]]
    value = layout.digits("V", code)
    if "Q" in layout.pattern and int(layout.digits("Q", code)) != price_check_digit(value):
        raise LabelError(f"{code}: the price verifier digit does not match the price: a misread label")
    base = "".join("0" if p in "VQ" else d for d, p in zip(code, layout.pattern, strict=True))[:12]
    base += str(_ean_check(base))
    number = int(value)
    return Label(code, base, number if layout.value == "price" else None, number if layout.value == "weight" else None)


def priced_by(product: Product, label: Label) -> Product:
    """The catalog's item as this label sells it: its price (from the label, or the weight at the item's price
    per kg), the weight in its name, the label as its barcode; a line of its own in the cart."""
    if label.grams is None:  # a price label: an item sold by kg weighed about price / price per kg
        grams = round((label.price or 0) * 1000 / product.price) if product.unit == "kg" and product.price else None
        return replace(product, price=label.price or 0, barcode=label.code, label=label.code, grams=grams)
    kg = f" {label.grams / 1000:.3f} kg"
    return replace(
        product,
        price=weighed_price(product.price, label.grams),
        barcode=label.code,
        label=label.code,
        grams=label.grams,
        name_zh=product.name_zh + kg,
        name_en=product.name_en + kg,
        names=tuple((language, name + kg) for language, name in product.names),
    )


def weighed_price(price_per_kg: int, grams: int) -> int:
    """A weight's price in minor units, rounded half up (as the scale prints it)."""
    return (price_per_kg * grams + 500) // 1000


def _ean_check(body12: str) -> int:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return (10 - total % 10) % 10
