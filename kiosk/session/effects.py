"""Effects: what the session machine wants done. Adapters perform them; the machine never does.

Every effect is idempotent by its session (and the host reference), because recovery after a
crash may ask for the same effect again: a capture is sent with the same reference, a record is
enqueued under the session id.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@register
@dataclass(frozen=True)
class Capture(Effect):
    session_id: str
    ref: str
    amount_minor: int


@register
@dataclass(frozen=True)
class Reverse(Effect):
    session_id: str
    ref: str
    amount_minor: int
    reason: str


@register
@dataclass(frozen=True)
class Enqueue(Effect):
    """Put the session's final record in the back-office outbox (in the same commit)."""

    session_id: str
    kind: str
