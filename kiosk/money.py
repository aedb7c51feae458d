"""Money: integer minor units in, text for people out.  No floats anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£"}


def format_money(minor: int, currency: str = "CNY") -> str:
    """1250 -> '¥12.50' (two-decimal currencies only, which covers the kiosk's)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{whole:,}.{cents:02d}"


def tax_breakdown(gross_by_class: Mapping[str, int], rates_bp: Mapping[str, int]) -> dict[str, int]:
    """The tax inside tax-inclusive amounts, per tax class (rounded once per class, not per line)."""
    return {c: included_tax(g, rates_bp[c]) for c, g in sorted(gross_by_class.items())}


def included_tax(gross: int, rate_bp: int) -> int:
    """The tax inside a tax-inclusive amount, rounded half up, for a rate in basis points."""
    return (gross * rate_bp * 2 + (10000 + rate_bp)) // (2 * (10000 + rate_bp))


def minor_units(yuan: str) -> int:
    """'12.50' or '-1.00' (a statement's yuan) -> 1250 / -100."""
    try:
        return int((Decimal(yuan.strip().replace(",", "")) * 100).to_integral_value())
    except InvalidOperation:
        raise ValueError(f"not an amount: {yuan!r}") from None
