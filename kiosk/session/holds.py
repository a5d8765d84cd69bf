"""The money rules of a session, pure: how much to hold, when to ask for more, what to capture.

The session machine asks these functions and turns the answers into effects; the adapters send
them to the host (ISO 8583: 0100 preauth, 0100 ``kind=inc``, 0220 completion, 0400 reversal,
0420 advice when the outcome is unknown). Every step is journaled before it is sent, so a
capture or a reversal that cannot reach the host is stored and sent again (with backoff) until
the host acknowledges it, across restarts, always under the session's one reference: the host
dedupes, so a late or repeated answer can never cause a second capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HoldAction(StrEnum):
    NONE = "none"  # the hold covers the cost comfortably
    INCREMENT = "increment"  # ask the host for more before the hold runs out
    STOP = "stop"  # stop charging: the hold is (nearly) used and cannot grow


@dataclass(frozen=True)
class HoldDecision:
    action: HoldAction
    increment_minor: int = 0
    new_total_minor: int = 0
    reason: str = ""


def decide_hold(cost_minor: int, held_minor: int, *, increment_pending: bool,
                threshold_percent: int, allow_increments: bool, increment_minor: int,
                max_total_hold_minor: int) -> HoldDecision:
    """After a meter reading: keep going, ask for an increment, or stop."""
    if cost_minor >= held_minor:
        return HoldDecision(HoldAction.STOP, reason="hold used up")
    if cost_minor < held_minor * threshold_percent // 100 or increment_pending:
        return HoldDecision(HoldAction.NONE)
    if allow_increments and increment_minor > 0 and (
            held_minor + increment_minor <= max_total_hold_minor):
        return HoldDecision(HoldAction.INCREMENT, increment_minor, held_minor + increment_minor)
    return HoldDecision(HoldAction.STOP, reason="hold nearly used")


def capture_amount(cost_minor: int, held_minor: int) -> int:
    """The invoice amount, never more than the host holds for us."""
    return max(0, min(cost_minor, held_minor))
