"""Money: integer minor units in, text for people out.  No floats anywhere."""

from __future__ import annotations

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£"}


def format_money(minor: int, currency: str = "CNY") -> str:
    """1250 -> '¥12.50' (two-decimal currencies only, which covers the kiosk's)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{whole:,}.{cents:02d}"


def included_tax(gross: int, rate_bp: int) -> int:
    """The tax inside a tax-inclusive amount, rounded half up, for a rate in basis points."""
    return (gross * rate_bp * 2 + (10000 + rate_bp)) // (2 * (10000 + rate_bp))
