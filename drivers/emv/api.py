"""What the application sees of a card: the outcome of the terminal kernel, and the seam the
kernel and the payment adapter meet at.

A read runs the kernel up to the online request (first GENERATE AC, or the qVSDC cryptogram);
offline PIN is asked through a :data:`PinEntry` callback while the card waits. After the host
answers, :meth:`CardTerminal.complete` gives a contact card the issuer's data (ARPC, scripts)
and its second GENERATE AC; the card's last word decides (a card that declines after the host
approved means the hold must be reversed). A :class:`CardOutcome` holds the PAN in memory only:
the application turns it into a masked PAN and a keyed token at once and never stores it
(DESIGN.md, security model). :meth:`CardTerminal.identify_card` reads only who a card is (a
:class:`CardId`), without a payment: to stop a charge with the card that started it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Interface(StrEnum):
    CONTACT = "contact"
    CONTACTLESS = "contactless"


class Cvm(StrEnum):
    """The cardholder verification the card asked for (EMV Book 3 §10.5)."""

    NO_CVM = "no_cvm"
    ONLINE_PIN = "online_pin"
    OFFLINE_PIN = "offline_pin"  # verified by the card itself during the read
    CDCVM = "cdcvm"  # consumer device CVM (phone, watch): already done on the device


@dataclass(frozen=True, repr=False)
class CardOutcome:
    """The result of reading a card for a transaction. Lives in memory only."""

    pan: str
    expiry: str  # YYMM
    scheme: str  # "visa", "mastercard", ...
    interface: Interface
    cvm: Cvm
    icc_data: bytes = b""  # field 55 TLV for the host (ARQC etc.)
    pan_sequence: str = "00"
    extra: dict[str, str] = field(default_factory=dict)
    needs_completion: bool = False  # a contact card waits for the host answer (complete())

    def __repr__(self) -> str:  # never print the PAN
        return (f"CardOutcome(scheme={self.scheme!r}, interface={self.interface.value}, "
                f"cvm={self.cvm.value})")


@dataclass(frozen=True, repr=False)
class CardId:
    """Who a card is, read without a payment (:meth:`CardTerminal.identify_card`): enough to
    recognise the card that started a charge. Lives in memory only, like :class:`CardOutcome`."""

    pan: str
    scheme: str
    interface: Interface

    def __repr__(self) -> str:  # never print the PAN
        return f"CardId(scheme={self.scheme!r}, interface={self.interface.value})"


@dataclass(frozen=True)
class PinRequest:
    """The kernel needs a PIN for the card (offline: the card checks it in VERIFY)."""

    offline: bool = True
    tries_left: int | None = None  # from the card's PIN try counter, when it tells
    wrong: bool = False  # the last PIN entered was wrong


# Blocks until the driver entered a PIN; returns it (digits) or raises PinCancelled.
PinEntry = Callable[[PinRequest], str]


@dataclass(frozen=True)
class Completion:
    """The card's final word after the host answered (second GENERATE AC)."""

    approved: bool  # the card agreed (TC); False: the card declined (AAC) or went away
    message: str = ""  # when not approved: why, for the log (the driver is told by type)
    icc_data: bytes = b""  # TLV for the records/capture: TVR, TSI, final cryptogram, script results
    removed: bool = False  # not approved because the card left (or stopped answering) first


class CardError(Exception):
    """A card could not be read. The message names the problem for the log and the technician
    (never card data); what the driver is told follows from the class alone, so a case the
    driver should hear of apart is a subclass."""


class CardRemoved(CardError):
    """The card left the reader or the field before the read was complete."""


class CardUnreadable(CardError):
    """The card answered something the kernel cannot use (garbage, unknown application)."""


class CardNotSupported(CardUnreadable):
    """The card has no application this terminal accepts (EMV Book 1 §12.4: the candidate
    list is empty), or no contactless payment application at all."""


class CardBlocked(CardUnreadable):
    """The card (or its only application) is blocked: SELECT answered 6A81."""


class ContactRequired(CardUnreadable):
    """The card cannot pay contactless here (not qVSDC, or its GPO asks for the contact
    interface: 6984/6986): the driver should insert it."""


class CardDeclined(CardError):
    """The card itself declined (an AAC): no host request is made."""


class PinBlocked(CardDeclined):
    """The card declined because its PIN try limit was exceeded (EMV Book 3 §10.5: "PIN try
    limit exceeded" in the TVR) during this read."""


class PinCancelled(CardError):
    """The driver cancelled PIN entry (or it timed out): the transaction is abandoned."""


class PinTimedOut(PinCancelled):
    """No PIN was entered before the PIN entry's time ran out."""


class NoCard(CardError):
    """No card was presented before the wait ended or was cancelled."""


class ReaderUnavailable(CardError):
    """The reader is missing (unplugged, pcscd down)."""


class CardTerminal(Protocol):
    """A card reader plus the terminal kernel above it."""

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        """Wait for a card and run the kernel up to the online request. Blocks: call it from the
        reader's worker thread. ``pin_entry`` is asked for an offline PIN (None: a card that
        needs one fails its CVM). Raises a :class:`CardError` subclass."""
        ...

    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        """After the host answered: issuer authentication, scripts and the second GENERATE AC
        of the card the last :meth:`read_card` left waiting (``needs_completion``); then the card
        may be removed. Without such a card: ``Completion(approved)``. Never raises."""
        ...

    def identify_card(self, currency: str, timeout_s: float,
                      cancelled: Callable[[], bool]) -> CardId:
        """Wait for a card presented anew (a card left in the reader by the last read or
        identification must leave first) and read who it is: application selection, GET
        PROCESSING OPTIONS and READ RECORD, no GENERATE AC, no PIN, nothing kept. Stops
        waiting (:class:`NoCard`) after ``timeout_s`` or once ``cancelled()`` is true (a
        :meth:`cancel` makes it look at once). Never touches a card waiting for
        :meth:`complete`. Raises a :class:`CardError` subclass. Blocks: the reader's worker."""
        ...

    def cancel(self) -> None:
        """Abort a pending :meth:`read_card` (it raises :class:`NoCard`); a waiting
        :meth:`identify_card` looks at its ``cancelled`` again."""
        ...

    @property
    def available(self) -> bool:
        """The reader is there (cheap: the screen asks it every refresh)."""
        ...

    def close(self) -> None: ...
