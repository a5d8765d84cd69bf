"""The session machine's transition table: every state, every event, every failure branch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.session import codec
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import (
    IGNORED,
    TRANSITIONS,
    Outcome,
    Session,
    SessionMachine,
    State,
    UnexpectedEvent,
    pin_say,
    table_rows,
)
from kiosk.session.says import Say
from tests.support.machine import T0, Driver, policy

SID = "sess-1"


def sample_events(now=T0) -> list[ev.Event]:
    """One instance of every event type the machine can receive."""
    return [
        ev.CardRead(SID, "476173******0010", "tok", "visa"),
        ev.CardFailed(SID, "Card removed too early."),
        ev.PinRequested(SID, tries_left=2, wrong=True), ev.PinEntered(SID, offline=True),
        ev.PinEntered(SID), ev.Cancelled(SID), ev.StopRequested(SID), ev.Dismissed(SID),
        ev.HostApproved(SID, "A1", 5000), ev.HostDeclined(SID, "51", "Insufficient funds"),
        ev.HostTimedOut(SID), ev.CardDeclined(SID, "Your card declined the payment."),
        ev.IncrementApproved(SID, 7500),
        ev.IncrementDeclined(SID, "no"), ev.ChargerLinkLost(1, now), ev.ChargerLinkBack(1, now),
        ev.ChargingStarted(1, 0, now), ev.Reading(1, 10, 1000, now),
        ev.ChargingStopped(1, 10, now), ev.CarUnplugged(1, now), ev.ChargerFault(1, "GFI", now),
        ev.Tick(now), ev.Recover(now, False, None),
    ]


def session_in(state: State) -> Session:
    m = SessionMachine(policy())
    s, _ = m.start(SID, 1, T0)
    from dataclasses import replace
    return replace(s, state=state, held_minor=5000, charge_started_at=T0,
                   last_reading_at=T0, meter_start_wh=0, meter_now_wh=5)


def test_every_state_and_event_is_decided_or_raises_a_clear_error() -> None:
    m = SessionMachine(policy())
    decided = 0
    for state in State:
        for event in sample_events():
            s = session_in(state)
            key = (state, type(event))
            if key in TRANSITIONS or key in IGNORED:
                new, effects = m.handle(s, event, T0 + timedelta(seconds=5))
                assert isinstance(new, Session)
                assert all(isinstance(e, fx.Effect) for e in effects)
                if key in IGNORED:
                    assert new is s and effects == []
                decided += 1
            else:
                with pytest.raises(UnexpectedEvent) as info:
                    m.handle(s, event, T0)
                assert state.value in str(info.value)
                assert type(event).__name__ in str(info.value)
    assert decided > 100


def test_table_and_ignored_do_not_overlap_and_done_accepts_nothing() -> None:
    assert not set(TRANSITIONS) & IGNORED
    assert not [k for k in TRANSITIONS if k[0] is State.DONE]
    assert not [k for k in IGNORED if k[0] is State.DONE]
    assert ("CHARGING", "StopRequested", "_stop") in table_rows()


def test_happy_path_captures_the_priced_energy() -> None:
    d = Driver()
    assert d.effects == [fx.ReadCard(SID, 5000)]
    d.send(ev.CardRead(SID, "476173******0010", "tok", "visa"))
    assert d.s.state is State.AUTHORIZING and d.effects == [fx.Authorize(SID, SID, 5000)]
    d.send(ev.HostApproved(SID, "A1B2C3", 5000))
    assert d.s.state is State.WAIT_PLUG and d.effects == [fx.EnableCharger(1)]
    d.send(ev.ChargingStarted(1, 1000, d.now))
    d.reading(11_000)  # 10 kWh
    assert d.s.cost_minor == 702  # 10 × 0.59 × 1.19 = 7.021 → 7.02
    d.send(ev.StopRequested(SID))
    assert d.s.state is State.STOPPING and d.effects == [fx.DisableCharger(1)]
    d.send(ev.ChargingStopped(1, 11_000, d.now))
    # the receipt at once; the capture goes to the settlement queue in the same step
    assert d.s.state is State.RECEIPT and d.s.outcome is Outcome.CAPTURED
    assert d.effects == [fx.Settle(SID, SID, fx.SettleKind.CAPTURE, 702),
                         fx.Enqueue(SID, "session")]
    assert d.s.settle_kind is fx.SettleKind.CAPTURE
    d.send(ev.Dismissed(SID))
    assert d.s.state is State.DONE and d.s.final_minor == 702


def test_online_pin_is_asked_before_authorizing() -> None:
    d = Driver()
    d.send(ev.CardRead(SID, "541333******0011", "tok", "mastercard", needs_online_pin=True))
    assert d.s.state is State.PIN_ENTRY and d.effects == [fx.AskPin(SID)]
    d.send(ev.PinEntered(SID))
    assert d.s.state is State.AUTHORIZING


# --- offline PIN: the card read waits for the PIN pad ---------------------------------------
def test_offline_pin_goes_back_to_the_waiting_read_until_the_card_is_read() -> None:
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=3))
    assert d.s.state is State.PIN_ENTRY and d.effects == [fx.AskPin(SID)]
    assert d.s.pin_offline and d.s.say is Say.NONE and d.s.pin_tries_left == 3
    assert d.s.deadline == d.now + timedelta(seconds=60)  # the PIN timeout
    d.send(ev.PinEntered(SID, offline=True), after_s=7)
    assert d.s.state is State.READING_CARD and d.effects == []  # the card checks it
    assert d.s.deadline == d.now + timedelta(seconds=60)  # the card timeout again
    d.send(ev.PinRequested(SID, tries_left=2, wrong=True))  # it was wrong
    assert d.s.state is State.PIN_ENTRY and d.s.say is Say.PIN_WRONG
    assert d.s.pin_tries_left == 2
    d.send(ev.PinEntered(SID, offline=True))
    assert d.s.state is State.READING_CARD and d.s.say is Say.NONE
    d.send(ev.CardRead(SID, "476173******0044", "tok", "visa"))
    assert d.s.state is State.AUTHORIZING and d.effects == [fx.Authorize(SID, SID, 5000)]
    assert not any(isinstance(e, fx.CancelCardRead) for e in d.all_effects)


@pytest.mark.parametrize(("tries", "wrong", "say"), [
    (3, False, Say.NONE), (None, False, Say.NONE),
    (1, False, Say.PIN_LAST_TRY),
    (2, True, Say.PIN_WRONG),
    (1, True, Say.PIN_WRONG_LAST_TRY),
    (None, True, Say.PIN_WRONG),
])
def test_the_pin_page_says_what_the_card_said(tries: int | None, wrong: bool,
                                              say: Say) -> None:
    assert pin_say(ev.PinRequested(SID, tries_left=tries, wrong=wrong)) is say
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=tries, wrong=wrong))
    assert d.s.say is say and d.s.pin_tries_left == tries


def test_a_card_asking_again_while_the_pad_shows_updates_the_message() -> None:
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=3))
    d.send(ev.PinRequested(SID, tries_left=1, wrong=True))
    assert d.s.state is State.PIN_ENTRY and d.s.say is Say.PIN_WRONG_LAST_TRY
    assert d.effects == [fx.AskPin(SID)]


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_leaving_an_offline_pin_cancels_the_waiting_read(how: str) -> None:
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=3))
    if how == "cancel":
        d.send(ev.Cancelled(SID))
    else:
        d.send(ev.Tick(d.now + timedelta(seconds=59)), after_s=59)
        assert d.s.state is State.PIN_ENTRY
        d.send(ev.Tick(d.now + timedelta(seconds=2)), after_s=2)
    assert d.s.state is State.DONE and d.s.outcome is Outcome.ABORTED
    assert d.effects == [fx.CancelCardRead(SID)]


def test_leaving_an_online_pin_lets_the_card_go_too() -> None:
    """The card read is over, but its outcome (the PAN) waits in the adapter's memory and a
    contact card for its completion: the same effect lets both go."""
    d = Driver()
    d.send(ev.CardRead(SID, "541333******0011", "tok", "mastercard", needs_online_pin=True))
    d.send(ev.Cancelled(SID))
    assert d.s.state is State.DONE and d.effects == [fx.CancelCardRead(SID)]


def test_a_read_that_gives_up_while_the_pad_shows_is_an_error() -> None:
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=3))
    d.send(ev.CardFailed(SID, "PinTimedOut: no PIN entered within 60 s", say=Say.PIN_TIMEOUT))
    assert d.s.state is State.ERROR and d.s.outcome is Outcome.ABORTED
    assert d.s.say is Say.PIN_TIMEOUT and d.s.pin_tries_left is None and d.effects == []
    assert d.s.message == "PinTimedOut: no PIN entered within 60 s"  # the detail, kept


def test_pin_tries_exceeded_ends_the_read_as_a_blocked_pin() -> None:
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=1))
    d.send(ev.PinEntered(SID, offline=True))
    d.send(ev.CardFailed(SID, "PinBlocked: PIN try limit exceeded", declined=True,
                         say=Say.PIN_BLOCKED))
    assert d.s.state is State.DECLINED and d.s.say is Say.PIN_BLOCKED
    assert not any(isinstance(e, fx.Authorize) for e in d.all_effects)


@pytest.mark.parametrize("state", [State.AUTHORIZING, State.WAIT_PLUG, State.CHARGING,
                                   State.STOPPING, State.RECEIPT, State.DECLINED, State.ERROR])
def test_a_pin_request_after_the_read_changes_nothing(state: State) -> None:
    s = session_in(state)
    new, effects = SessionMachine(policy()).handle(s, ev.PinRequested(SID), T0)
    assert new is s and effects == []


@pytest.mark.parametrize("back_in_read", [False, True])
def test_recover_during_an_offline_pin_drops_the_session(back_in_read: bool) -> None:
    """After a restart the card read (and the card's PIN check) is gone: abort, no money."""
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=3))
    if back_in_read:
        d.send(ev.PinEntered(SID, offline=True))
    recover(d)
    assert d.s.state is State.DONE and d.s.outcome is Outcome.ABORTED and d.effects == []
    assert not any(isinstance(e, fx.Authorize | fx.Settle) for e in d.all_effects)


def test_pin_events_and_old_journals_decode() -> None:
    for e in (ev.PinRequested(SID, tries_left=2, wrong=True), ev.PinEntered(SID, offline=True),
              ev.CardDeclined(SID, "Your card declined the payment.")):
        assert codec.loads(codec.dumps(e)) == e
    # written before offline PIN existed: the new fields take their defaults
    assert codec.loads('{"type":"PinEntered","session_id":"s"}') == ev.PinEntered("s")
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=3))
    stored = codec.to_dict(d.s)
    assert codec.from_dict(stored) == d.s
    del stored["pin_offline"]
    assert codec.from_dict(stored).pin_offline is False


# --- the card's final word after the host approved ------------------------------------------
def test_card_declining_after_approval_reverses_the_hold() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.CardDeclined(SID, "Your card declined the payment.", 4000))  # 40.00 approved
    assert d.s.state is State.DECLINED and d.s.outcome is Outcome.REVERSED
    # a reversal (the host answered) of what the host approved, not of the configured hold
    assert d.effects == [fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 4000),
                         fx.Enqueue(SID, "session")]
    assert d.s.say is Say.DECLINED_BY_CARD
    assert "Your card declined the payment." in d.s.message  # the card's detail, kept
    d.send(ev.HostApproved(SID, "late", 5000))  # nothing enables the charger now
    d.send(ev.CardDeclined(SID, "again"))
    assert d.s.state is State.DECLINED and d.effects == []
    assert not any(isinstance(e, fx.EnableCharger) or (
        isinstance(e, fx.Settle) and e.kind is fx.SettleKind.CAPTURE) for e in d.all_effects)
    d.send(ev.Dismissed(SID))
    assert d.s.state is State.DONE


def test_a_card_decline_says_what_its_producer_chose_and_keeps_a_detail() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.CardDeclined(SID, "card gone", say=Say.CARD_REMOVED))
    assert d.s.say is Say.CARD_REMOVED and "card gone" in d.s.message
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.CardDeclined(SID, "  "))  # no say (an older journal): declined by the card
    assert d.s.say is Say.DECLINED_BY_CARD and d.s.message.strip()


def test_recover_after_a_card_decline_finishes_without_a_second_settlement() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.CardDeclined(SID, "Your card declined the payment."))
    recover(d)  # the reversal is in the settlement queue, which resends it by itself
    assert d.s.state is State.DONE and d.effects == []


def test_decline_ends_without_money_and_queues_the_record() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.HostDeclined(SID, "51", "Insufficient funds"))
    # no say from the producer: the response code decides, and stays in the detail
    assert d.s.state is State.DECLINED and d.s.say is Say.INSUFFICIENT_FUNDS
    assert "51" in d.s.message and "Insufficient funds" in d.s.message
    assert d.effects == [fx.Enqueue(SID, "session")]
    assert not any(isinstance(e, fx.Settle) for e in d.all_effects)


def test_card_removed_shows_the_reason() -> None:
    d = Driver()
    d.send(ev.CardFailed(SID, "CardRemoved: card left", say=Say.CARD_REMOVED))
    assert d.s.state is State.ERROR and d.s.say is Say.CARD_REMOVED
    assert d.s.outcome is Outcome.ABORTED


def test_a_card_failure_without_a_say_is_an_unreadable_card() -> None:
    d = Driver()
    d.send(ev.CardFailed(SID, "anything at all"))  # an older journal's event
    assert d.s.state is State.ERROR and d.s.say is Say.CARD_UNREADABLE
    assert d.s.message == "anything at all"


def test_a_card_that_declines_offline_is_a_decline_without_money() -> None:
    d = Driver()
    d.send(ev.CardFailed(SID, "Your card declined the payment.", declined=True))
    assert d.s.state is State.DECLINED and d.s.outcome is Outcome.DECLINED
    assert d.s.say is Say.DECLINED_BY_CARD
    assert d.effects == [fx.Enqueue(SID, "session")]
    assert not any(isinstance(e, fx.Authorize | fx.Settle) for e in d.all_effects)


def test_host_timeout_sends_a_reversal_advice() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.HostTimedOut(SID))
    assert d.s.state is State.ERROR and d.s.outcome is Outcome.REVERSED
    # the outcome is unknown: an advice (0420) of what was asked, chosen by type
    assert d.effects == [fx.Settle(SID, SID, fx.SettleKind.ADVICE, 5000),
                         fx.Enqueue(SID, "session")]
    assert d.s.settle_kind is fx.SettleKind.ADVICE
    d.send(ev.HostApproved(SID, "late", 5000))  # a late answer changes nothing
    assert d.s.state is State.ERROR and d.effects == []
    assert d.s.say is Say.SERVICE_TIMEOUT


def test_the_machine_times_out_a_silent_host_itself() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.Tick(d.now + timedelta(seconds=29)), after_s=29)
    assert d.s.state is State.AUTHORIZING
    d.send(ev.Tick(d.now + timedelta(seconds=2)), after_s=2)
    assert d.s.state is State.ERROR and d.effects[0].kind is fx.SettleKind.ADVICE


def test_car_never_plugged_in_voids_the_hold() -> None:
    d = Driver().to(State.WAIT_PLUG)
    d.send(ev.Tick(d.now + timedelta(seconds=181)), after_s=181)
    assert d.s.state is State.ERROR and d.s.stop_reason == "car not plugged in"
    assert d.s.say is Say.NO_CAR
    assert d.effects == [fx.DisableCharger(1), fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 5000),
                         fx.Enqueue(SID, "session")]


@pytest.mark.parametrize("event", [ev.Cancelled(SID), ev.StopRequested(SID)])
def test_driver_cancels_before_plugging(event: ev.Event) -> None:
    d = Driver().to(State.WAIT_PLUG)
    d.send(event)
    assert d.s.state is State.ERROR and d.s.stop_reason == "cancelled by driver"
    assert d.s.say is Say.CANCELLED
    assert d.effects[1] == fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 5000)


def test_charger_fault_while_waiting_voids_and_while_charging_captures() -> None:
    d = Driver().to(State.WAIT_PLUG)
    d.send(ev.ChargerFault(1, "Ground fault detected", d.now))
    assert d.s.state is State.ERROR and d.s.say is Say.CHARGER_FAULT
    assert "Ground fault" in d.s.message  # the technician's detail
    d = Driver().to(State.CHARGING)
    d.reading(3000)
    d.send(ev.ChargerFault(1, "Ground fault detected", d.now))
    assert d.s.state is State.STOPPING and d.effects == [fx.DisableCharger(1)]
    assert d.s.say is Say.CHARGER_FAULT_STOPPED
    d.send(ev.ChargingStopped(1, 3000, d.now))
    assert d.s.state is State.RECEIPT and d.s.final_minor > 0
    assert d.s.say is Say.CHARGER_FAULT_STOPPED  # the receipt says why charging stopped


def test_car_unplugged_mid_charge_captures_what_was_delivered() -> None:
    d = Driver().to(State.CHARGING)
    d.reading(6000)
    d.send(ev.ChargingStopped(1, 6000, d.now))  # the charger saw the car go
    assert d.s.state is State.RECEIPT
    d.send(ev.CarUnplugged(1, d.now))
    assert d.s.state is State.RECEIPT and d.effects == []


def test_no_energy_delivered_is_a_void() -> None:
    d = Driver().to(State.CHARGING)
    d.send(ev.StopRequested(SID))
    d.send(ev.ChargingStopped(1, 1000, d.now))
    assert d.s.state is State.ERROR and d.s.stop_reason == "stopped by driver"
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 5000)
    assert d.s.say is Say.NO_ENERGY


def test_hold_nearly_used_stops_when_increments_are_off() -> None:
    d = Driver().to(State.CHARGING)
    # 90 % of 50.00 € = 45.00 €; 0.7021 €/kWh → 64.1 kWh reaches it
    d.reading(1000 + 60_000)
    assert d.s.state is State.CHARGING
    d.reading(1000 + 64_200)
    assert d.s.state is State.STOPPING and d.s.stop_reason == "hold nearly used"
    assert d.s.say is Say.HOLD_USED_UP


def test_hold_nearly_used_asks_for_an_increment_then_stops_when_declined() -> None:
    d = Driver(SessionMachine(policy(allow_increments=True))).to(State.CHARGING)
    d.reading(1000 + 64_200)
    assert d.s.state is State.CHARGING and d.effects == [fx.Increment(SID, SID, 2500, 7500)]
    d.reading(1000 + 64_300)
    assert d.effects == []  # only one increment in flight
    d.send(ev.IncrementApproved(SID, 7500))
    assert d.s.held_minor == 7500 and not d.s.increment_pending
    d.reading(1000 + 96_200)  # 90 % of 75.00 €
    assert d.effects == [fx.Increment(SID, SID, 2500, 10000)]
    d.send(ev.IncrementDeclined(SID, "declined"))
    assert d.s.state is State.STOPPING and d.s.say is Say.INCREMENT_DECLINED
    d.send(ev.ChargingStopped(1, 1000 + 96_200, d.now))
    assert d.s.state is State.RECEIPT and d.s.say is Say.INCREMENT_DECLINED


def test_cost_never_exceeds_the_hold_in_the_capture() -> None:
    d = Driver(SessionMachine(policy(threshold_percent=99))).to(State.CHARGING)
    d.reading(1000 + 80_000)  # 56 € of energy at once: beyond the 50 € hold
    assert d.s.state is State.STOPPING and d.s.stop_reason == "hold used up"
    d.send(ev.ChargingStopped(1, 81_000, d.now))
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.CAPTURE, 5000)


def test_a_meter_running_backwards_is_not_billed() -> None:
    d = Driver().to(State.CHARGING)
    d.reading(5000)
    before = d.s
    d.reading(4000)
    assert d.s is before


def test_energy_that_costs_nothing_is_released_not_captured_as_zero() -> None:
    d = Driver().to(State.CHARGING)
    d.reading(1005)  # 5 Wh: 0.35 cent → 0.00
    d.send(ev.StopRequested(SID))
    d.send(ev.ChargingStopped(1, 1005, d.now))
    assert d.s.state is State.ERROR and d.s.outcome is Outcome.REVERSED
    assert d.s.say is Say.NOTHING_TO_PAY
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 5000)
    assert not any(isinstance(e, fx.Settle) and e.kind is fx.SettleKind.CAPTURE
                   for e in d.all_effects)


def test_a_void_releases_the_amount_held_not_the_configured_hold() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.HostApproved(SID, "A1", 3200))  # a partial approval of 32.00 of 50.00
    d.send(ev.Cancelled(SID))
    assert d.effects[1] == fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 3200)


def test_the_charger_link_lost_is_shown_at_once_and_cleared_when_back() -> None:
    d = Driver().to(State.CHARGING)
    d.reading(3000)
    d.send(ev.ChargerLinkLost(1, d.now))
    assert d.s.state is State.CHARGING and d.s.notice is Say.CHARGER_NOT_ANSWERING
    assert d.effects == [] and d.s.say is Say.NONE
    d.send(ev.ChargerLinkBack(1, d.now))
    assert d.s.notice is Say.NONE
    d.send(ev.ChargerLinkLost(1, d.now))
    d.send(ev.ChargerFault(1, "The charger does not answer.", d.now))  # after link_grace_s
    assert d.s.state is State.STOPPING and d.effects == [fx.DisableCharger(1)]
    d.send(ev.ChargingStopped(1, 3000, d.now))  # the adapter's stop on the last reading
    assert d.s.state is State.RECEIPT and d.s.notice is Say.NONE and d.s.final_minor > 0


def test_stop_never_confirmed_settles_on_the_last_reading() -> None:
    d = Driver().to(State.STOPPING)
    d.send(ev.Tick(d.now + timedelta(seconds=31)), after_s=31)
    assert d.s.state is State.RECEIPT
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.CAPTURE, 702)


def test_screens_time_out_to_idle() -> None:
    for state in (State.RECEIPT, State.DECLINED, State.ERROR):
        s = session_in(state)
        from dataclasses import replace
        s = replace(s, deadline=T0 + timedelta(seconds=60))
        m = SessionMachine(policy())
        assert m.handle(s, ev.Tick(T0 + timedelta(seconds=59)), T0)[0] is s
        assert m.handle(s, ev.Tick(T0 + timedelta(seconds=60)), T0)[0].state is State.DONE


# --- power loss: Recover in every state ----------------------------------------------------
def recover(d: Driver, charging: bool = False, meter: int | None = None) -> None:
    d.send(ev.Recover(d.now, charging, meter))


@pytest.mark.parametrize("state", [State.READING_CARD, State.PIN_ENTRY])
def test_recover_before_authorization_drops_the_session(state: State) -> None:
    d = Driver()
    if state is State.PIN_ENTRY:
        d.send(ev.CardRead(SID, "x", "t", "mc", needs_online_pin=True))
    recover(d)
    assert d.s.state is State.DONE and d.effects == [] and d.s.outcome is Outcome.ABORTED


def test_recover_during_authorization_reverses() -> None:
    d = Driver().to(State.AUTHORIZING)
    recover(d)
    assert d.s.state is State.ERROR and d.s.say is Say.RESTART_DURING_PAYMENT
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.ADVICE, 5000)


def test_recover_waiting_for_the_car_voids() -> None:
    d = Driver().to(State.WAIT_PLUG)
    recover(d, charging=True, meter=1500)
    assert d.s.state is State.ERROR and d.s.say is Say.RESTART_BEFORE_CHARGING
    assert fx.DisableCharger(1) in d.effects
    assert fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 5000) in d.effects


def test_recover_while_still_charging_resumes_monitoring() -> None:
    d = Driver().to(State.CHARGING)
    d.reading(4000)
    recover(d, charging=True, meter=4500)
    assert d.s.state is State.CHARGING and d.s.meter_now_wh == 4500
    assert d.effects == [fx.EnableCharger(1)]


def test_recover_after_charging_stopped_captures_the_journaled_energy() -> None:
    d = Driver().to(State.CHARGING)
    d.reading(11_000)
    recover(d, charging=False, meter=0)  # a fresh controller counter must not lower the bill
    assert d.s.state is State.RECEIPT
    assert d.effects == [fx.DisableCharger(1), fx.Settle(SID, SID, fx.SettleKind.CAPTURE, 702),
                         fx.Enqueue(SID, "session")]


def test_recover_while_stopping_captures() -> None:
    d = Driver().to(State.STOPPING)
    recover(d, charging=False, meter=None)
    assert d.s.state is State.RECEIPT


@pytest.mark.parametrize("state", [State.RECEIPT, State.DECLINED, State.ERROR])
def test_recover_on_a_final_screen_finishes(state: State) -> None:
    m = SessionMachine(policy())
    new, effects = m.handle(session_in(state), ev.Recover(T0, False, None), T0)
    assert new.state is State.DONE and effects == []


# --- properties ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(sample_events()) - 1), st.integers(0, 400)),
                max_size=40),
       st.lists(st.integers(0, 3000), min_size=40, max_size=40))
def test_random_event_streams_keep_the_money_invariants(steps, meters) -> None:
    """Whatever arrives in whatever order: no crash but UnexpectedEvent, seq grows by one,
    at most one of capture/reversal is ever asked for, and never more than the hold."""
    d = Driver(SessionMachine(policy(allow_increments=True)))
    meter = 0
    for i, (idx, dt) in enumerate(steps):
        event = sample_events(d.now + timedelta(seconds=dt))[idx]
        if isinstance(event, ev.Reading | ev.ChargingStopped):
            meter += meters[i]
            event = type(event)(*([1, meter, 7000, event.at] if isinstance(event, ev.Reading)
                                  else [1, meter, event.at]))
        try:
            d.send(event, after_s=dt)
        except UnexpectedEvent:
            continue
        if d.s.state is State.DONE:
            break
    settles = [e for e in d.all_effects if isinstance(e, fx.Settle)]
    assert len(settles) <= 1  # exactly one settlement is ever queued
    for e in settles:
        if e.kind is fx.SettleKind.CAPTURE:
            assert 0 < e.amount_minor <= max(d.s.held_minor, 1)


@pytest.mark.parametrize("state", [State.READING_CARD, State.WAIT_PLUG, State.CHARGING])
def test_the_drivers_language_goes_with_the_session_and_nonsense_changes_nothing(
        state: State) -> None:
    d = Driver().to(state)
    assert d.s.language == ""  # the station's
    d.send(ev.LanguageChosen(SID, "de"))
    assert d.s.language == "de" and d.s.state is state and d.effects == []
    before = d.s
    for bad in ("", "DE", "deu", "d\u00e9", "1x"):
        assert d.send(ev.LanguageChosen(SID, bad)) is before
    again = codec.loads(codec.dumps(d.s))
    assert again == d.s
