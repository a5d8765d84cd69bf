"""The driver's words for each :class:`~kiosk.session.says.Say`.

The session says *what* happened (``Session.say``, ``Session.notice``); this catalog words it
for the driver, in the installed language: every text is a literal inside
``QCoreApplication.translate("DriverText", ...)`` so ``pyside6-lupdate`` extracts it; a number
is a ``{n}`` placeholder in a wording without plural (not Qt's ``%n``: lupdate's Python reader
does not keep plural forms in every version). The texts are plain, say what to do next and
whether the card was charged, and never carry technical detail (that is ``Session.message``,
for the log and the technician). ``Say.NONE`` has no words: there is nothing to tell.

The tables are built on each call, so a language switched meanwhile is used at once.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from kiosk.session.says import Say


def _titles() -> dict[Say, str]:
    return {
        Say.NONE: "",
        Say.CARD_UNREADABLE: QCoreApplication.translate("DriverText", "Card cannot be read"),
        Say.CARD_NOT_SUPPORTED: QCoreApplication.translate("DriverText", "Card not accepted"),
        Say.CARD_BLOCKED: QCoreApplication.translate("DriverText", "Card blocked"),
        Say.INSERT_CARD: QCoreApplication.translate("DriverText", "Please insert your card"),
        Say.CARD_REMOVED: QCoreApplication.translate("DriverText", "Card removed too early"),
        Say.CARD_TIMEOUT: QCoreApplication.translate("DriverText", "No card"),
        Say.READER_UNAVAILABLE: QCoreApplication.translate(
            "DriverText", "Card reader not available"),
        Say.PIN_WRONG: QCoreApplication.translate("DriverText", "Wrong PIN"),
        Say.PIN_LAST_TRY: QCoreApplication.translate("DriverText", "Last try"),
        Say.PIN_WRONG_LAST_TRY: QCoreApplication.translate("DriverText", "Wrong PIN"),
        Say.PIN_BLOCKED: QCoreApplication.translate("DriverText", "PIN blocked"),
        Say.PIN_TIMEOUT: QCoreApplication.translate("DriverText", "No PIN entered"),
        Say.DECLINED_WRONG_PIN: QCoreApplication.translate("DriverText", "Wrong PIN"),
        Say.DECLINED: QCoreApplication.translate("DriverText", "Payment declined"),
        Say.DECLINED_BY_BANK: QCoreApplication.translate("DriverText", "Payment declined"),
        Say.DECLINED_BY_CARD: QCoreApplication.translate("DriverText", "Payment declined"),
        Say.INSUFFICIENT_FUNDS: QCoreApplication.translate("DriverText", "Payment declined"),
        Say.LIMIT_EXCEEDED: QCoreApplication.translate("DriverText", "Payment declined"),
        Say.CARD_EXPIRED: QCoreApplication.translate("DriverText", "Card expired"),
        Say.SERVICE_UNREACHABLE: QCoreApplication.translate("DriverText", "Payment not possible"),
        Say.SERVICE_TIMEOUT: QCoreApplication.translate("DriverText", "Payment not possible"),
        Say.PAYMENT_FAILED: QCoreApplication.translate("DriverText", "Payment not possible"),
        Say.CANCELLED: QCoreApplication.translate("DriverText", "Charging cancelled"),
        Say.NO_CAR: QCoreApplication.translate("DriverText", "No car connected"),
        Say.NO_ENERGY: QCoreApplication.translate("DriverText", "No energy delivered"),
        Say.NOTHING_TO_PAY: QCoreApplication.translate("DriverText", "Nothing to pay"),
        Say.CHARGER_FAULT: QCoreApplication.translate("DriverText", "Charger fault"),
        Say.CHARGER_FAULT_STOPPED: QCoreApplication.translate("DriverText", "Charging stopped"),
        Say.CHARGER_NOT_ANSWERING: QCoreApplication.translate(
            "DriverText", "Charger not answering"),
        Say.RESTART_DURING_PAYMENT: QCoreApplication.translate("DriverText", "Terminal restarted"),
        Say.RESTART_BEFORE_CHARGING: QCoreApplication.translate("DriverText", "Terminal restarted"),
        Say.INCREMENT_DECLINED: QCoreApplication.translate("DriverText", "Charging stopped"),
        Say.HOLD_USED_UP: QCoreApplication.translate("DriverText", "Charging stopped"),
    }


def _texts() -> dict[Say, str]:
    return {
        Say.NONE: "",
        Say.CARD_UNREADABLE: QCoreApplication.translate(
            "DriverText", "This card cannot be read. Please try another card. "
            "Your card has not been charged."),
        Say.CARD_NOT_SUPPORTED: QCoreApplication.translate(
            "DriverText", "This card cannot be used at this charger. Please try another "
            "card. Your card has not been charged."),
        Say.CARD_BLOCKED: QCoreApplication.translate(
            "DriverText", "This card is blocked. Please try another card or contact your "
            "bank. Your card has not been charged."),
        Say.INSERT_CARD: QCoreApplication.translate(
            "DriverText", "This card cannot be used contactless here. Please start again "
            "and insert it into the card reader. Your card has not been charged."),
        Say.CARD_REMOVED: QCoreApplication.translate(
            "DriverText", "The card was removed before the payment was complete. Please "
            "start again and leave your card in place until you are asked to take it. "
            "Your card has not been charged."),
        Say.CARD_TIMEOUT: QCoreApplication.translate(
            "DriverText", "No card was presented in time. Please start again. "
            "Your card has not been charged."),
        Say.READER_UNAVAILABLE: QCoreApplication.translate(
            "DriverText", "The card reader is not working right now. Please try again "
            "later. Your card has not been charged."),
        Say.PIN_LAST_TRY: QCoreApplication.translate(
            "DriverText", "Last try before your PIN is blocked."),
        Say.PIN_WRONG_LAST_TRY: QCoreApplication.translate(
            "DriverText", "Wrong PIN. Last try before your PIN is blocked."),
        Say.PIN_BLOCKED: QCoreApplication.translate(
            "DriverText", "Too many wrong PINs: your PIN is blocked. Please contact your "
            "bank. Your card has not been charged."),
        Say.PIN_TIMEOUT: QCoreApplication.translate(
            "DriverText", "No PIN was entered in time. Please start again. "
            "Your card has not been charged."),
        Say.DECLINED_WRONG_PIN: QCoreApplication.translate(
            "DriverText", "The PIN was wrong. Please start again and enter your PIN. "
            "Your card has not been charged."),
        Say.DECLINED: QCoreApplication.translate(
            "DriverText", "The payment was declined. Please try another card. "
            "Your card has not been charged."),
        Say.DECLINED_BY_BANK: QCoreApplication.translate(
            "DriverText", "Your bank declined the payment. Please try another card or "
            "contact your bank. Your card has not been charged."),
        Say.DECLINED_BY_CARD: QCoreApplication.translate(
            "DriverText", "Your card declined the payment. Please try another card. "
            "Your card has not been charged."),
        Say.INSUFFICIENT_FUNDS: QCoreApplication.translate(
            "DriverText", "Your bank declined the payment: not enough funds. Please try "
            "another card. Your card has not been charged."),
        Say.LIMIT_EXCEEDED: QCoreApplication.translate(
            "DriverText", "The amount is above a limit of your card. Please insert your "
            "card and use your PIN, or try another card. Your card has not been charged."),
        Say.CARD_EXPIRED: QCoreApplication.translate(
            "DriverText", "This card has expired. Please try another card. "
            "Your card has not been charged."),
        Say.SERVICE_UNREACHABLE: QCoreApplication.translate(
            "DriverText", "The payment service cannot be reached right now. Please try "
            "again later. Your card has not been charged."),
        Say.SERVICE_TIMEOUT: QCoreApplication.translate(
            "DriverText", "The payment service did not answer. Please try again later. "
            "Your card has not been charged."),
        Say.PAYMENT_FAILED: QCoreApplication.translate(
            "DriverText", "The payment could not be completed. Please try again. "
            "Your card has not been charged."),
        Say.CANCELLED: QCoreApplication.translate(
            "DriverText", "Charging was cancelled. Your card has not been charged."),
        Say.NO_CAR: QCoreApplication.translate(
            "DriverText", "No car was connected in time. Your card has not been charged. "
            "Please start again when your car is ready."),
        Say.NO_ENERGY: QCoreApplication.translate(
            "DriverText", "No energy was delivered. Your card has not been charged."),
        Say.NOTHING_TO_PAY: QCoreApplication.translate(
            "DriverText", "The energy delivered costs nothing. "
            "Your card has not been charged."),
        Say.CHARGER_FAULT: QCoreApplication.translate(
            "DriverText", "The charger reported a fault, so charging could not start. "
            "Please use another charger or try again later. Your card has not been charged."),
        Say.CHARGER_FAULT_STOPPED: QCoreApplication.translate(
            "DriverText", "The charger reported a fault and charging stopped. "
            "You pay only for the energy delivered."),
        Say.CHARGER_NOT_ANSWERING: QCoreApplication.translate(
            "DriverText", "The charger does not answer. Charging stops if it does not come "
            "back soon."),
        Say.RESTART_DURING_PAYMENT: QCoreApplication.translate(
            "DriverText", "The terminal restarted during your payment. Please start again. "
            "Your card has not been charged."),
        Say.RESTART_BEFORE_CHARGING: QCoreApplication.translate(
            "DriverText", "The terminal restarted before charging began. Please start "
            "again. Your card has not been charged."),
        Say.INCREMENT_DECLINED: QCoreApplication.translate(
            "DriverText", "Your bank did not allow a larger amount to be reserved, so "
            "charging stopped. You pay only for the energy delivered."),
        Say.HOLD_USED_UP: QCoreApplication.translate(
            "DriverText", "The amount reserved on your card is used up, so charging "
            "stopped. You pay only for the energy delivered."),
    }


def title(say: Say) -> str:
    """A short heading for ``say`` in the installed language; "" for ``Say.NONE``."""
    return _titles()[say]


def text(say: Say, *, tries_left: int | None = None) -> str:
    """What the driver is told of ``say``, in the installed language; "" for ``Say.NONE``.
    ``tries_left``: the card's PIN try counter (``Session.pin_tries_left``) for the PIN says."""
    if say is Say.PIN_WRONG:
        if tries_left == 1:
            return _texts()[Say.PIN_WRONG_LAST_TRY]
        if tries_left is not None and tries_left > 1:
            return QCoreApplication.translate(
                "DriverText", "Wrong PIN. Please enter it again. Tries left: {n}.").format(
                    n=tries_left)
        return QCoreApplication.translate("DriverText", "Wrong PIN. Please enter it again.")
    return _texts()[say]


__all__ = ["text", "title"]
