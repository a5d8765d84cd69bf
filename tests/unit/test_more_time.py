"""More time (EN 301 549: timeouts the user can extend): ``MoreTime`` in every state whose timer
the driver faces, its limit, its count per state, the screen's warning, the journal, and the
card device's backstops that outlast every extension."""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from kiosk.devices.card import CardDevice
from kiosk.session import codec
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import (
    EXTENDABLE,
    IGNORED,
    TRANSITIONS,
    Outcome,
    Policy,
    Session,
    SessionMachine,
    State,
    UnexpectedEvent,
)
from kiosk.session.says import Say
from tests.support.machine import Driver, policy

SID = "sess-1"
# every timeout different, so that each state is seen to restart its own
TIMEOUTS = dict(card_timeout_s=60, pin_timeout_s=45, plug_timeout_s=180, receipt_timeout_s=90,
                message_timeout_s=20)
WAITING = (State.READING_CARD, State.PIN_ENTRY, State.WAIT_PLUG, State.RECEIPT, State.DECLINED,
           State.ERROR)


def machine(**kw: object) -> SessionMachine:
    return SessionMachine(policy(**{**TIMEOUTS, **kw}))


def driver_in(state: State, m: SessionMachine | None = None) -> Driver:
    """A session freshly in ``state`` (its deadline just set, no extension taken)."""
    d = Driver(m or machine())
    if state is State.PIN_ENTRY:
        d.send(ev.PinRequested(SID, offline=True, tries_left=3))
    elif state is State.ERROR:
        d.send(ev.CardFailed(SID, "NoCard: no card was presented", say=Say.CARD_UNREADABLE))
    elif state is State.DECLINED:
        d.to(State.AUTHORIZING)
        d.send(ev.HostDeclined(SID, "51", "insufficient funds"))
    elif state is not State.READING_CARD:
        d.to(state)
    assert d.s.state is state and d.s.extensions == 0 and d.s.deadline is not None
    return d


def at(d: Driver, when: datetime, event: ev.Event) -> Session:
    """Send ``event`` at ``when`` (the runner's clock)."""
    return d.send(event, after_s=(when - d.now).total_seconds())


def timeout_of(d: Driver) -> timedelta:
    seconds = d.m.policy.timeout_s(d.s.state)
    assert seconds is not None
    return timedelta(seconds=seconds)


def assert_acted(d: Driver, state: State) -> None:
    """The Tick at the deadline did what the state's timeout does."""
    if state in (State.READING_CARD, State.PIN_ENTRY):
        assert d.s.state is State.DONE and d.s.outcome is Outcome.ABORTED
        assert d.effects == [fx.CancelCardRead(SID)]
    elif state is State.WAIT_PLUG:
        assert d.s.state is State.ERROR and d.s.say is Say.NO_CAR
        assert any(isinstance(e, fx.Settle) and e.kind is fx.SettleKind.REVERSAL
                   for e in d.effects)
    else:
        assert d.s.state is State.DONE and d.effects == []


# --- one extension ---------------------------------------------------------------------------
@pytest.mark.parametrize("state", WAITING, ids=lambda s: s.value)
def test_more_time_restarts_the_full_timeout_and_the_old_deadline_passes(state: State) -> None:
    d = driver_in(state)
    old = d.s.deadline
    assert old is not None
    pressed = old - timedelta(seconds=5)  # the driver answers the warning
    extended = at(d, pressed, ev.MoreTime(SID))
    assert d.effects == [] and extended.state is state and extended.extensions == 1
    assert extended.deadline == pressed + timeout_of(d)
    assert at(d, old, ev.Tick(old)) is extended  # the old deadline: nothing happens
    new = extended.deadline
    assert new is not None
    at(d, new - timedelta(seconds=1), ev.Tick(new - timedelta(seconds=1)))
    assert d.s is extended
    at(d, new, ev.Tick(new))
    assert_acted(d, state)


@pytest.mark.parametrize("state", WAITING, ids=lambda s: s.value)
def test_the_fourth_more_time_changes_nothing(state: State) -> None:
    d = driver_in(state)
    assert d.m.policy.max_extensions == 3
    for n in (1, 2, 3):
        assert d.m.more_time_allowed(d.s)
        d.send(ev.MoreTime(SID), after_s=10)
        assert d.s.extensions == n and d.s.deadline == d.now + timeout_of(d)
    assert not d.m.more_time_allowed(d.s)
    last = d.s
    assert d.send(ev.MoreTime(SID), after_s=10) is last and d.effects == []
    assert last.deadline is not None
    at(d, last.deadline, ev.Tick(last.deadline))
    assert_acted(d, state)


def test_the_limit_is_the_policy_s() -> None:
    d = driver_in(State.RECEIPT, machine(max_extensions=1))
    d.send(ev.MoreTime(SID))
    assert d.s.extensions == 1
    assert d.send(ev.MoreTime(SID)) is d.s
    none = driver_in(State.RECEIPT, machine(max_extensions=0))
    assert none.send(ev.MoreTime(SID)) is none.s and not none.m.more_time_allowed(none.s)


def test_more_time_after_the_deadline_is_too_late() -> None:
    """The Tick that ends the state may come a moment after its deadline: a MoreTime in
    between does not revive it (the next Tick acts as it would have)."""
    d = driver_in(State.READING_CARD)
    deadline = d.s.deadline
    assert deadline is not None
    before = d.s
    assert at(d, deadline, ev.MoreTime(SID)) is before
    at(d, deadline + timedelta(seconds=1), ev.Tick(deadline + timedelta(seconds=1)))
    assert_acted(d, State.READING_CARD)


def test_more_time_never_shortens_a_deadline() -> None:
    """A snapshot from before a shorter timeout was configured keeps its later deadline."""
    d = driver_in(State.WAIT_PLUG)
    long = d.s.deadline
    d.m = machine(plug_timeout_s=30)
    d.send(ev.MoreTime(SID))
    assert d.s.deadline == long and d.s.extensions == 1


# --- a new state, a new count --------------------------------------------------------------
def test_a_new_state_starts_its_own_count() -> None:
    d = driver_in(State.READING_CARD)
    for _ in range(3):
        d.send(ev.MoreTime(SID))
    assert d.s.extensions == 3 and not d.m.more_time_allowed(d.s)
    d.send(ev.PinRequested(SID, offline=True))  # the card asks for its PIN
    assert d.s.state is State.PIN_ENTRY and d.s.extensions == 0
    assert d.s.deadline == d.now + timedelta(seconds=45)
    d.send(ev.MoreTime(SID))
    d.send(ev.MoreTime(SID))
    assert d.s.extensions == 2
    d.send(ev.PinRequested(SID, offline=True, wrong=True))  # asked again: a new PIN wait
    assert d.s.state is State.PIN_ENTRY and d.s.extensions == 0
    d.send(ev.MoreTime(SID))
    d.send(ev.PinEntered(SID, offline=True))  # back to the read: a new timer
    assert d.s.state is State.READING_CARD and d.s.extensions == 0
    assert d.m.more_time_allowed(d.s)


def test_the_count_starts_again_after_each_state_up_to_the_receipt() -> None:
    d = Driver(machine())
    d.send(ev.MoreTime(SID))
    d.send(ev.CardRead(SID, "476173******0010", "tok", "visa"))
    assert d.s.state is State.AUTHORIZING and d.s.extensions == 0
    d.send(ev.HostApproved(SID, "A1", 5000))
    d.send(ev.MoreTime(SID))
    assert d.s.state is State.WAIT_PLUG and d.s.extensions == 1
    d.send(ev.ChargingStarted(1, 1000, d.now))
    assert d.s.state is State.CHARGING and d.s.extensions == 0


def test_other_events_keep_the_count() -> None:
    d = driver_in(State.WAIT_PLUG)
    d.send(ev.MoreTime(SID))
    deadline = d.s.deadline
    d.send(ev.ChargerLinkLost(1, d.now))
    d.send(ev.LanguageChosen(SID, "de"))
    d.send(ev.Tick(d.now))
    assert d.s.extensions == 1 and d.s.deadline == deadline


# --- where there is no timer of the driver's -------------------------------------------------
@pytest.mark.parametrize("state", [State.AUTHORIZING, State.CHARGING, State.STOPPING],
                         ids=lambda s: s.value)
def test_more_time_is_ignored_where_the_driver_has_no_timer(state: State) -> None:
    d = Driver(machine()).to(state)
    before = d.s
    assert d.send(ev.MoreTime(SID)) is before and d.effects == []
    assert (state, ev.MoreTime) in IGNORED and not d.m.more_time_allowed(before)
    assert d.m.timeout_warning(before) is None


def test_every_live_state_takes_more_time_and_done_none() -> None:
    for state in State:
        key = (state, ev.MoreTime)
        if state is State.DONE:
            assert key not in TRANSITIONS and key not in IGNORED
            s = replace(Driver(machine()).s, state=State.DONE, deadline=None)
            with pytest.raises(UnexpectedEvent):
                machine().handle(s, ev.MoreTime(SID), s.updated_at)
        else:
            assert (key in TRANSITIONS) is (state in EXTENDABLE)
            assert (key in IGNORED) is (state not in EXTENDABLE)
    assert set(EXTENDABLE) == set(WAITING)


# --- what the screen asks ---------------------------------------------------------------------
@pytest.mark.parametrize(("timeout", "before"), [(180, 20), (60, 20), (45, 15), (20, 6),
                                                 (15, 5), (9, 5), (3, 5)])
def test_warn_before_is_a_third_between_5_and_20_s(timeout: int, before: int) -> None:
    p = policy(message_timeout_s=timeout)
    assert p.warn_before_s(State.ERROR) == p.warn_before_s(State.DECLINED) == before


def test_the_warning_names_the_deadline_and_whether_more_time_is_offered() -> None:
    d = driver_in(State.READING_CARD)
    assert d.m.policy.warn_before_s(State.READING_CARD) == 20
    assert d.m.policy.warn_before_s(State.CHARGING) is None
    w = d.m.timeout_warning(d.s)
    assert w is not None and w.deadline == d.s.deadline and w.more_time
    assert w.warn_at == w.deadline - timedelta(seconds=20)
    for _ in range(3):
        d.send(ev.MoreTime(SID))
    w = d.m.timeout_warning(d.s)
    assert w is not None and w.deadline == d.s.deadline and not w.more_time


def test_the_timeouts_the_driver_may_extend_are_the_policy_s() -> None:
    p = policy(**TIMEOUTS)
    assert [p.timeout_s(s) for s in State] == [60, 45, None, 180, None, None, 90, 20, 20, None]
    assert p.longest_wait_s(60) == 240 and policy(max_extensions=0).longest_wait_s(5) == 5


# --- the journal ------------------------------------------------------------------------------
def test_more_time_and_the_count_round_trip_through_the_journal() -> None:
    assert codec.loads(codec.dumps(ev.MoreTime(SID))) == ev.MoreTime(SID)
    d = driver_in(State.PIN_ENTRY)
    d.send(ev.MoreTime(SID))
    d.send(ev.MoreTime(SID))
    assert codec.loads(codec.dumps(d.s)) == d.s and d.s.extensions == 2


def test_a_snapshot_from_before_more_time_decodes_with_no_extension() -> None:
    d = driver_in(State.RECEIPT)
    stored = codec.to_dict(d.s)
    del stored["extensions"]
    old = codec.from_dict(stored)
    assert isinstance(old, Session) and old.extensions == 0 and old == d.s
    d.s = old
    d.send(ev.MoreTime(SID))
    assert d.s.extensions == 1


# --- any sequence -----------------------------------------------------------------------------
steps = st.lists(st.tuples(st.sampled_from(["more", "tick"]),
                           st.floats(min_value=0, max_value=120, allow_nan=False)),
                 max_size=25)


@settings(max_examples=300, deadline=None)
@given(state=st.sampled_from(WAITING), seq=steps, limit=st.integers(0, 4))
def test_any_sequence_of_more_time_and_ticks(state: State, seq: list[tuple[str, float]],
                                             limit: int) -> None:
    """Never raises; in the same state a deadline never moves backwards nor beyond now + the
    state's timeout; a Tick moves it not at all; the count stays within the limit; and no
    state lasts longer than its timeout times (extensions + 1)."""
    d = driver_in(state, machine(max_extensions=limit))
    entered = d.now
    p = d.m.policy
    for kind, after_s in seq:
        before = d.s
        if before.state is State.DONE:
            break
        when = d.now + timedelta(seconds=after_s)
        event: ev.Event = ev.MoreTime(SID) if kind == "more" else ev.Tick(when)
        new = at(d, when, event)
        if new.state is not before.state:
            assert kind == "tick" and before.deadline is not None and when >= before.deadline
            assert new.extensions == 0
            break
        assert before.deadline is not None and new.deadline is not None
        assert new.deadline >= before.deadline
        timeout = timedelta(seconds=p.timeout_s(state) or 0)
        assert new.deadline <= max(before.deadline, when + timeout)
        assert new.deadline - entered <= timeout * (new.extensions + 1)
        assert new.deadline - entered <= timedelta(seconds=p.longest_wait_s(timeout.seconds))
        assert 0 <= new.extensions <= limit
        if kind == "tick":
            assert new is before
        if kind == "more":
            assert d.effects == []


# --- the card device: backstops ---------------------------------------------------------------
def device(post: Callable[[ev.Event], None], terminal: SimCardTerminal, **kw: float
           ) -> CardDevice:
    return CardDevice(terminal, post=post, currency="EUR", token_key=bytes(32), **kw)


def test_the_pin_wait_has_its_own_backstop() -> None:
    """The offline PIN waits ``pin_timeout_s``, not the card's wait; at its end PIN_TIMEOUT."""
    posted: queue.Queue[ev.Event] = queue.Queue()
    terminal = SimCardTerminal()
    card = device(posted.put, terminal, card_timeout_s=60.0, pin_timeout_s=0.3)
    try:
        terminal.present(TEST_CARDS["visa_contact_sda_pin"])
        card.read(fx.ReadCard(SID, 5000))
        assert isinstance(posted.get(timeout=10), ev.PinRequested)
        failed = posted.get(timeout=5)
    finally:
        card.close()
    assert isinstance(failed, ev.CardFailed) and failed.say is Say.PIN_TIMEOUT


def test_the_card_wait_backstop_still_says_card_timeout() -> None:
    posted: queue.Queue[ev.Event] = queue.Queue()
    terminal = SimCardTerminal()
    card = device(posted.put, terminal, card_timeout_s=0.2)
    assert card.pin_timeout_s == 0.2  # without its own: the card's
    try:
        card.read(fx.ReadCard(SID, 5000))
        failed = posted.get(timeout=5)
    finally:
        card.close()
    assert isinstance(failed, ev.CardFailed) and failed.say is Say.CARD_TIMEOUT


def test_the_policy_default_allows_three_extensions() -> None:
    p = Policy(hold_minor=5000, pricer=lambda s: 0)
    assert p.max_extensions == 3
