"""The hold rules: increments before the hold runs out, never beyond the maximum, and a
capture never above what the host holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kiosk.session.holds import HoldAction, capture_amount, decide_hold

RULES = {"threshold_percent": 90, "allow_increments": True, "increment_minor": 2500,
         "max_total_hold_minor": 10_000}


def test_the_three_answers() -> None:
    assert decide_hold(1000, 5000, increment_pending=False, **RULES).action is HoldAction.NONE
    inc = decide_hold(4600, 5000, increment_pending=False, **RULES)
    assert (inc.action, inc.increment_minor, inc.new_total_minor) == (
        HoldAction.INCREMENT, 2500, 7500)
    assert decide_hold(4600, 5000, increment_pending=True, **RULES).action is HoldAction.NONE
    assert decide_hold(9100, 10_000, increment_pending=False, **RULES).reason == \
        "hold nearly used"
    assert decide_hold(5000, 5000, increment_pending=True, **RULES).reason == "hold used up"
    no_inc = {**RULES, "allow_increments": False}
    assert decide_hold(4600, 5000, increment_pending=False, **no_inc).action is HoldAction.STOP


@given(cost=st.integers(0, 20_000), held=st.integers(1, 10_000), pending=st.booleans())
def test_never_above_the_maximum_and_never_capture_more_than_held(cost: int, held: int,
                                                                  pending: bool) -> None:
    d = decide_hold(cost, held, increment_pending=pending, **RULES)
    if d.action is HoldAction.INCREMENT:
        assert d.new_total_minor <= RULES["max_total_hold_minor"] and not pending
        assert cost < held
    if cost >= held:
        assert d.action is HoldAction.STOP
    if cost < held * 90 // 100:
        assert d.action is HoldAction.NONE
    assert 0 <= capture_amount(cost, held) <= held and capture_amount(cost, held) <= cost
