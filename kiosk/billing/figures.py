"""Numbers and amounts in the driver's language (en, de, fr, nl), from decimal text, exact.

The kiosk's price list, the receipt's figures on screen (through QLocale, checked against
these in the UI tests) and the invoice pages write a number the same way:

====  ==============  ==================
lang  1234.5 (number)  money (EUR)
====  ==============  ==================
en    1,234.5          €1,234.50
de    1.234,5          1.234,50 €
fr    1 234,5          1 234,50 €
nl    1.234,5          € 1.234,50
====  ==============  ==================

(fr groups with a narrow no-break space, U+202F; negative amounts take a minus sign, U+2212.)
Formatting works on the decimal TEXT (``"1234.50"``): the digits are regrouped and the
separator swapped, nothing is converted to a float or rounded. A text that is not a plain
decimal number gives ``None``.
"""

from __future__ import annotations

import re

__all__ = ["NBSP", "decimal", "money", "percent", "symbol"]

_DECIMAL = re.compile(r"^(-?)(\d{1,15})(?:\.(\d{1,12}))?$")
NBSP = "\u00a0"
_NNBSP = "\u202f"  # narrow no-break space: the French thousands separator
_MINUS = "\u2212"
_SEPARATORS = {"en": (",", "."), "de": (".", ","), "fr": (_NNBSP, ","), "nl": (".", ",")}
_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}


def _group(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


def decimal(text: object, lang: str, *, min_places: int = 0, max_places: int | None = None,
            trim: bool = False) -> str | None:
    """``"1234.5"`` in ``lang``'s format, exact: the fraction is padded with zeros to
    ``min_places``, trailing zeros are dropped down to ``min_places`` when ``trim``; never
    rounded (``max_places`` only refuses a longer fraction: None). Not a plain decimal: None."""
    if not isinstance(text, str):
        return None
    m = _DECIMAL.fullmatch(text)
    if m is None:
        return None
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    if trim:
        frac = frac.rstrip("0")
    frac = frac.ljust(min_places, "0")
    if max_places is not None and len(frac) > max_places:
        return None
    whole = whole.lstrip("0") or "0"
    group, point = _SEPARATORS.get(lang, _SEPARATORS["en"])
    body = _group(whole, group) + (point + frac if frac else "")
    negative = sign and any(c != "0" for c in whole + frac)
    return (_MINUS if negative else "") + body


def symbol(currency: str) -> str:
    return _SYMBOLS.get(currency, currency)


def money(text: object, currency: str, lang: str, places: int, *,
          trim: bool = False) -> str | None:
    """An amount of ``currency`` (its decimal text, major units) with its symbol, in
    ``lang``'s format: padded to the currency's ``places``, never rounded (a unit price may
    have more decimals: all are kept; ``trim`` drops trailing zeros beyond ``places``)."""
    number = decimal(text, lang, min_places=places, trim=trim)
    if number is None:
        return None
    negative = number.startswith(_MINUS)
    digits = number.removeprefix(_MINUS)
    sign = _MINUS if negative else ""
    sym = symbol(currency)
    if lang == "en":
        spaced = len(sym) > 1
        return f"{sign}{sym}{NBSP if spaced else ''}{digits}"
    if lang == "nl":
        return f"{sym}{NBSP}{sign}{digits}"
    return f"{sign}{digits}{NBSP}{sym}"


def percent(text: object, lang: str) -> str | None:
    number = decimal(text, lang, trim=True)
    if number is None:
        return None
    return f"{number}%" if lang == "en" else f"{number}{NBSP}%"
