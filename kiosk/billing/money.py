"""Money: exact Decimal arithmetic, integer minor units, ONE rounding rule.

The rule (used everywhere money is rounded, documented in the README): keep exact ``Decimal``
values through the whole calculation and round once, at the end, to the currency's minor unit
with ROUND_HALF_UP (OCPI defines no rounding method; this is the common commercial rule).
Amounts that leave this module are ``int`` minor units (cents), never floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor-unit exponents of the currencies the kiosk accepts.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2, "CHF": 2, "GBP": 2, "USD": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
    "HUF": 2, "JPY": 0, "ISK": 0,
}


def exponent(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"unsupported currency {currency!r}") from None


def round_to_minor(amount: Decimal, currency: str) -> int:
    """The one rounding rule: exact ``amount`` (major units) → int minor units, ROUND_HALF_UP."""
    scaled = amount.scaleb(exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def format_money(minor: int, currency: str, *, symbol: bool = True) -> str:
    """``1234, "EUR"`` → ``"12.34 €"``. Language-neutral: the UI localises separators."""
    value = from_minor(minor, currency)
    text = f"{value:.{exponent(currency)}f}"
    sign = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF", "JPY": "¥"}.get(currency, currency)
    return f"{text} {sign}" if symbol else text
