"""What the application sees of a card: the outcome of the terminal kernel.

The EMV kernel proper (selection, GPO, records, ODA, CVM, GENERATE AC) lands with the card
reader issue; this module fixes the seam it plugs into. A :class:`CardOutcome` holds the PAN in
memory only: the application turns it into a masked PAN and a keyed token at once and never
stores it (DESIGN.md, security model).
"""

from __future__ import annotations

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

    def __repr__(self) -> str:  # never print the PAN
        return (f"CardOutcome(scheme={self.scheme!r}, interface={self.interface.value}, "
                f"cvm={self.cvm.value})")


class CardError(Exception):
    """A card could not be read. The message is safe to show to a driver."""


class CardRemoved(CardError):
    """The card left the reader or the field before the read was complete."""


class CardUnreadable(CardError):
    """The card answered something the kernel cannot use (garbage, unknown application)."""


class NoCard(CardError):
    """No card was presented before the wait ended or was cancelled."""


class ReaderUnavailable(CardError):
    """The reader is missing (unplugged, pcscd down)."""


class CardTerminal(Protocol):
    """A card reader plus the terminal kernel above it."""

    def read_card(self, amount_minor: int, currency: str, timeout_s: float) -> CardOutcome:
        """Wait for a card and run the kernel up to the online request. Blocks: call it from the
        reader's worker thread. Raises a :class:`CardError` subclass."""
        ...

    def cancel(self) -> None:
        """Abort a pending :meth:`read_card` (it raises :class:`NoCard`)."""
        ...

    def close(self) -> None: ...
