"""What the driver is told: one :class:`Say` per situation, never a text.

The session carries a ``Say`` (:attr:`~kiosk.session.machine.Session.say`, and
:attr:`~kiosk.session.machine.Session.notice` for a passing condition); the screens turn it into
the driver's words in the driver's language (``kiosk/ui/driver_texts.py``). The technician's
detail (an exception's text, a response code) stays in ``Session.message`` and the log and is
never shown to a driver. Nothing decides on a text: a ``Say`` is chosen from types (the class
of an exception, an ISO 8583 response code, the event itself), and :func:`for_response_code`
is the one table from response codes to what the driver is told.

The values are stored in the journal: rename a member freely, never its value.
"""

from __future__ import annotations

from enum import StrEnum


class Say(StrEnum):
    NONE = ""  # nothing to tell (falsy, like an empty text)

    # --- the card ------------------------------------------------------------------------
    CARD_UNREADABLE = "card_unreadable"  # garbage, a broken card, an unusable answer
    CARD_NOT_SUPPORTED = "card_not_supported"  # no application this terminal accepts
    CARD_BLOCKED = "card_blocked"  # the card's application is blocked
    INSERT_CARD = "insert_card"  # cannot be used contactless here: insert it
    CARD_REMOVED = "card_removed"  # taken away before the card was done
    CARD_TIMEOUT = "card_timeout"  # no card presented in time
    READER_UNAVAILABLE = "reader_unavailable"  # the card reader is gone

    # --- the PIN -------------------------------------------------------------------------
    PIN_WRONG = "pin_wrong"  # asked again; ``pin_tries_left`` when the card tells
    PIN_LAST_TRY = "pin_last_try"  # the next wrong PIN blocks it
    PIN_WRONG_LAST_TRY = "pin_wrong_last_try"  # wrong, and the next wrong PIN blocks it
    PIN_BLOCKED = "pin_blocked"  # too many wrong PINs
    PIN_TIMEOUT = "pin_timeout"  # no PIN entered in time
    DECLINED_WRONG_PIN = "declined_wrong_pin"  # the bank refused the (online) PIN

    # --- declines ------------------------------------------------------------------------
    DECLINED = "declined"  # a decline with nothing more known (journals before says)
    DECLINED_BY_BANK = "declined_by_bank"
    DECLINED_BY_CARD = "declined_by_card"  # the card itself refused (its AAC)
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LIMIT_EXCEEDED = "limit_exceeded"  # over the card's amount or contactless limit
    CARD_EXPIRED = "card_expired"

    # --- the payment service -------------------------------------------------------------
    SERVICE_UNREACHABLE = "service_unreachable"  # nothing reached the host, or its bank
    SERVICE_TIMEOUT = "service_timeout"  # no usable answer: the hold is advised back
    PAYMENT_FAILED = "payment_failed"  # could not be processed; try again

    # --- the session ---------------------------------------------------------------------
    CANCELLED = "cancelled"  # by the driver
    NO_CAR = "no_car"  # no car plugged in in time
    NO_ENERGY = "no_energy"  # charging ended without energy
    NOTHING_TO_PAY = "nothing_to_pay"  # a few Wh that cost nothing
    CHARGER_FAULT = "charger_fault"  # before charging: it cannot start
    CHARGER_FAULT_STOPPED = "charger_fault_stopped"  # charging stopped by a charger fault
    CHARGER_NOT_ANSWERING = "charger_not_answering"  # the passing notice while it lasts
    RESTART_DURING_PAYMENT = "restart_during_payment"
    RESTART_BEFORE_CHARGING = "restart_before_charging"
    INCREMENT_DECLINED = "increment_declined"  # charging stopped: the bank refused more
    HOLD_USED_UP = "hold_used_up"  # charging stopped: the amount reserved is used up


# ISO 8583 field 39 → what the driver is told (ISO 8583:1987 codes as acquirers use them).
RESPONSE_CODES: dict[str, Say] = {
    "01": Say.DECLINED_BY_BANK,  # refer to card issuer
    "03": Say.CARD_NOT_SUPPORTED,  # invalid merchant: this terminal cannot take the card
    "04": Say.DECLINED_BY_BANK,  # pick up card
    "05": Say.DECLINED_BY_BANK,  # do not honour
    "12": Say.PAYMENT_FAILED,  # invalid transaction
    "13": Say.PAYMENT_FAILED,  # invalid amount
    "14": Say.DECLINED_BY_BANK,  # invalid card number
    "30": Say.PAYMENT_FAILED,  # format error
    "33": Say.CARD_EXPIRED,  # expired card, pick up
    "41": Say.DECLINED_BY_BANK,  # lost card
    "43": Say.DECLINED_BY_BANK,  # stolen card
    "51": Say.INSUFFICIENT_FUNDS,
    "54": Say.CARD_EXPIRED,
    "55": Say.DECLINED_WRONG_PIN,  # incorrect PIN
    "57": Say.CARD_NOT_SUPPORTED,  # transaction not permitted to cardholder
    "58": Say.CARD_NOT_SUPPORTED,  # transaction not permitted to terminal
    "61": Say.LIMIT_EXCEEDED,  # exceeds withdrawal amount limit
    "62": Say.CARD_NOT_SUPPORTED,  # restricted card
    "65": Say.LIMIT_EXCEEDED,  # exceeds withdrawal frequency (the contactless soft decline)
    "75": Say.PIN_BLOCKED,  # allowable number of PIN tries exceeded
    "91": Say.SERVICE_UNREACHABLE,  # issuer or switch inoperative
    "94": Say.PAYMENT_FAILED,  # duplicate transmission
    "96": Say.SERVICE_UNREACHABLE,  # system malfunction
}
DEFAULT_DECLINE = Say.DECLINED_BY_BANK


def for_response_code(code: str) -> Say:
    """What the driver is told of a declined authorization with ISO 8583 field 39 ``code``;
    a code not in the table is a decline by the bank."""
    return RESPONSE_CODES.get(code, DEFAULT_DECLINE)


__all__ = ["DEFAULT_DECLINE", "RESPONSE_CODES", "Say", "for_response_code"]
