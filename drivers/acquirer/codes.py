"""ISO 8583 response codes (field 39) and what the driver is told.

The messages are safe to show on the screen: they never say more about the card than the
driver already knows, and they say what to do next.
"""

from __future__ import annotations

APPROVED = "00"

MESSAGES: dict[str, str] = {
    "00": "Approved.",
    "01": "Declined by your bank. Please contact your bank.",
    "03": "This terminal cannot accept the card. Please try another card.",
    "04": "Declined. Please try another card.",
    "05": "Declined by your bank. Please try another card.",
    "12": "The payment could not be processed. Please try again.",
    "13": "The amount was not accepted. Please try again.",
    "14": "The card number is not valid. Please try another card.",
    "30": "The payment could not be processed. Please try again.",
    "41": "Declined. Please contact your bank.",
    "43": "Declined. Please contact your bank.",
    "51": "Declined: not enough funds. Please try another card.",
    "54": "This card has expired. Please try another card.",
    "55": "Wrong PIN. Please try again.",
    "57": "This card cannot be used here. Please try another card.",
    "61": "Declined: the amount exceeds your card's limit. Please try another card.",
    "62": "This card cannot be used here. Please try another card.",
    "65": "Declined: please insert the card and use your PIN.",
    "75": "Too many wrong PINs. Please contact your bank.",
    "91": "Your bank cannot be reached right now. Please try again later.",
    "94": "This payment was already processed.",
    "96": "The payment system has a problem. Please try again later.",
}

FALLBACK = "Declined. Please try another card."


def message_for(code: str) -> str:
    return MESSAGES.get(code, FALLBACK)
