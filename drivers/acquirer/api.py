"""The payment host as the application sees it. Every call is idempotent by its reference.

The ISO 8583 link (:mod:`drivers.acquirer.iso_link`) and the host simulator implement it.
Amounts are integers in the currency's minor unit.

Errors: every call raises only :class:`HostError` subclasses, and what they mean for the money
is fixed by the class, never by the message text:

* :class:`HostUnavailable`: the request surely did not reach the host (no connection, the TLS
  handshake failed, the request could not be built). Nothing happened at the host.
* every other :class:`HostError` (:class:`HostTimeout`, :class:`HostProtocolError`): the request
  may have reached the host and the outcome is unknown. After an authorization or an increment
  the caller sends a reversal advice (``reverse(ref, amount, advice=True)``); a capture or a
  reversal is sent again under the same reference (the host dedupes).
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
    approved_minor: int = 0  # what is held: 0 < approved_minor <= requested (partial approval)
    icc_response: bytes = b""  # issuer data for the card (tag 91 ARPC, scripts): DE 55


@dataclass(frozen=True)
class Ack:
    ok: bool
    response_code: str
    message: str = ""


class HostError(Exception):
    """The host could not be reached or answered nonsense: the outcome is unknown unless this is
    a :class:`HostUnavailable`. Safe to show and to log (never card data)."""


class HostTimeout(HostError):
    """No answer within the timeout, or the connection broke after sending: the outcome at the
    host is unknown (→ reversal advice)."""


class HostUnavailable(HostError):
    """The request surely did not reach the host: no connection, a failed TLS handshake, or a
    request that could not be built. Nothing to reverse."""


class HostProtocolError(HostError):
    """The host's answer broke the rules; the outcome is unknown (→ reversal advice).

    An answer with this request's MTI and STAN but another terminal, merchant, reference, kind
    or currency, a missing or malformed response code or authorization code, an amount that is
    not numeric or above the request, or an unreadable frame. ``field`` names what was wrong
    (never its value: it may be card data).
    """

    def __init__(self, field: str) -> None:
        super().__init__(f"The payment host's answer broke the rules ({field}); "
                         "the outcome is unknown.")
        self.field = field


class PaymentHost(Protocol):
    def authorize(self, req: AuthRequest) -> AuthResult:
        """Preauthorize ``req.amount_minor``; an approval may hold less (``approved_minor``)."""
        ...

    def increment(self, ref: str, amount_minor: int, total_minor: int) -> AuthResult:
        """Raise the hold ``ref`` by ``amount_minor`` to ``total_minor``; an approval holds
        exactly ``total_minor``."""
        ...

    def complete(self, ref: str, amount_minor: int) -> Ack:
        """Capture ``amount_minor`` of the hold ``ref`` and release the rest."""
        ...

    def reverse(self, ref: str, amount_minor: int, *, advice: bool) -> Ack:
        """Release the hold ``ref`` entirely. ``advice=False``: a reversal (0400) of an
        authorization the host approved; ``advice=True``: a reversal advice (0420) for an
        authorization whose outcome is unknown (no answer, a broken answer, a restart)."""
        ...

    def echo(self) -> float:
        """A network echo test (0800, DE 70 = 301): the round trip in seconds when the host
        answers that it is in service; :class:`HostError` otherwise."""
        ...

    def close(self) -> None: ...
