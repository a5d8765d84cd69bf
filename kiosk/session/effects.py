"""Effects: what the session machine wants done. Adapters perform them; the machine never does.

Every effect is idempotent by its session (and the host reference), because recovery after a
crash may ask for the same effect again: a capture is sent with the same reference, a record is
enqueued under the session id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.session.codec import register


@dataclass(frozen=True)
class Effect:
    """Base class of every effect."""


@register
@dataclass(frozen=True)
class ReadCard(Effect):
    session_id: str
    amount_minor: int


@register
@dataclass(frozen=True)
class CancelCardRead(Effect):
    session_id: str


@register
@dataclass(frozen=True)
class AskPin(Effect):
    session_id: str


@register
@dataclass(frozen=True)
class Authorize(Effect):
    session_id: str
    ref: str
    amount_minor: int


@register
@dataclass(frozen=True)
class Increment(Effect):
    session_id: str
    ref: str
    amount_minor: int
    new_total_minor: int


@register
@dataclass(frozen=True)
class EnableCharger(Effect):
    connector: int


@register
@dataclass(frozen=True)
class DisableCharger(Effect):
    connector: int


class SettleKind(StrEnum):
    """What the settlement queue sends for a session (ISO 8583 in brackets)."""

    CAPTURE = "capture"  # the final amount of a known approval (0220 completion)
    REVERSAL = "reversal"  # release a known approval entirely (0400)
    ADVICE = "advice"  # release an authorization whose answer never came (0420)


@register
@dataclass(frozen=True)
class Settle(Effect):
    """Queue the session's settlement with the host. The runner stores it in the same commit
    as the step that asks for it; the payments queue sends it until the host acknowledges."""

    session_id: str
    ref: str
    kind: SettleKind
    amount_minor: int


@register
@dataclass(frozen=True)
class Enqueue(Effect):
    """Put the session's final record in the back-office outbox (in the same commit)."""

    session_id: str
    kind: str
