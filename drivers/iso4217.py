"""ISO 4217 numeric codes of the currencies the kiosk accepts (ISO 8583 DE 49, EMV 5F2A)."""

from __future__ import annotations

NUMERIC = {"EUR": "978", "CHF": "756", "GBP": "826", "USD": "840", "SEK": "752", "NOK": "578",
           "DKK": "208", "PLN": "985", "CZK": "203", "HUF": "348", "JPY": "392", "ISK": "352"}
ALPHA = {v: k for k, v in NUMERIC.items()}
