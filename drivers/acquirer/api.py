"""The payment host as the application sees it. Every call is idempotent by its reference.

The ISO 8583 link (:mod:`drivers.acquirer.iso_link`) and the host simulator implement it.
Amounts are integers in the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, repr=False)
class AuthRequest:
    ref: str  # the terminal's transaction reference, unique per session
    amount_minor: int
    currency: str
    pan: str  # memory only: never logged, never stored
    expiry: str
    icc_data: bytes = b""
    pin_block: bytes = b""  # enciphered ISO 9564 PIN block (format 4 under AES DUKPT)
    pin_ksn: bytes = b""  # the DUKPT key serial number of that block
    entry_mode: str = "051"  # ISO 8583 DE 22: 051 chip, 071 contactless chip
    estimated: bool = True  # a preauthorization of an estimate (EV charging)

    def __repr__(self) -> str:
        return f"AuthRequest(ref={self.ref!r}, amount_minor={self.amount_minor})"


@dataclass(frozen=True)
class AuthResult:
    approved: bool
    response_code: str  # ISO 8583 field 39
    message: str  # safe to show to the driver
    auth_code: str = ""
    approved_minor: int = 0
    icc_response: bytes = b""  # issuer data for the card (tag 91 ARPC, scripts): DE 55


@dataclass(frozen=True)
class Ack:
    ok: bool
    response_code: str
    message: str = ""


class HostError(Exception):
    """The host could not be reached or answered nonsense. Safe to show."""


class HostTimeout(HostError):
    """No answer within the timeout: the outcome at the host is unknown."""


class HostUnavailable(HostError):
    """The connection could not be made: the request surely did not reach the host."""


class PaymentHost(Protocol):
    def authorize(self, req: AuthRequest) -> AuthResult: ...

    def increment(self, ref: str, amount_minor: int, total_minor: int) -> AuthResult: ...

    def complete(self, ref: str, amount_minor: int) -> Ack:
        """Capture ``amount_minor`` of the hold ``ref`` and release the rest."""
        ...

    def reverse(self, ref: str, amount_minor: int, reason: str) -> Ack:
        """Release the hold ``ref`` entirely (also for a hold whose answer never came)."""
        ...

    def close(self) -> None: ...
