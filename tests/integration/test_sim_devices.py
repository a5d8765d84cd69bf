"""The v0 card terminal and charger simulators behind their real interfaces."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from drivers.charger.api import ChargerError, ChargerEvent, MeterReading, PilotState, StateChanged
from drivers.emv.api import CardRemoved, CardUnreadable, Cvm, NoCard
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from kiosk.security.cards import luhn_valid

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_every_test_card_has_a_valid_test_number() -> None:
    assert all(luhn_valid(c.pan) for c in TEST_CARDS.values())
    assert all(c.pan not in repr(c) for c in TEST_CARDS.values())


def test_a_presented_card_is_read_once() -> None:
    t = SimCardTerminal()
    t.present(TEST_CARDS["mastercard_pin"])
    out = t.read_card(5000, "EUR", 1)
    assert out.pan == TEST_CARDS["mastercard_pin"].pan and out.cvm is Cvm.ONLINE_PIN
    assert out.pan not in repr(out)
    with pytest.raises(NoCard, match="No card"):
        t.read_card(5000, "EUR", 0.05)


def test_a_waiting_read_takes_a_card_tapped_later_or_is_cancelled() -> None:
    t = SimCardTerminal()
    threading.Timer(0.05, t.present, args=(TEST_CARDS["visa_contactless"],)).start()
    assert t.read_card(5000, "EUR", 5).scheme == "visa"
    threading.Timer(0.05, t.cancel).start()
    with pytest.raises(NoCard, match="cancelled"):
        t.read_card(5000, "EUR", 5)


def test_cancel_without_a_waiting_read_does_not_spoil_the_next() -> None:
    t = SimCardTerminal()
    t.cancel()
    t.present(TEST_CARDS["visa_contactless"])
    assert t.read_card(5000, "EUR", 1).scheme == "visa"


@pytest.mark.parametrize(("card", "error"), [("removed_card", CardRemoved),
                                             ("garbage_card", CardUnreadable)])
def test_bad_cards_fail_with_a_message(card: str, error: type[Exception]) -> None:
    t = SimCardTerminal()
    t.present(TEST_CARDS[card])
    with pytest.raises(error, match="Please"):
        t.read_card(5000, "EUR", 1)


def test_charger_states_and_energy() -> None:
    clock = SimClock(T0)
    c = SimCharger((1, 2), auto=False, clock=clock, power_w=7200, start_wh=500)
    seen: list[ChargerEvent] = []
    c.subscribe(seen.append)
    c.plug(1)
    c.advance(60)
    assert c.status(1).energy_wh == 500  # plugged but not enabled: B, no energy
    c.enable(1)
    c.advance(3600)
    s = c.status(1)
    assert (s.state, s.energy_wh, s.power_w, s.at) == (PilotState.C, 7700, 7200,
                                                        clock.now())
    c.disable(1)
    c.unplug(1)
    states = [e.state for e in seen if isinstance(e, StateChanged)]
    assert states == [PilotState.B, PilotState.C, PilotState.B, PilotState.A]
    assert [e.energy_wh for e in seen if isinstance(e, MeterReading)] == [7700]
    assert c.status(2).state is PilotState.A
    with pytest.raises(ChargerError, match="no connector 3"):
        c.enable(3)


def test_charger_fault_and_car_full() -> None:
    c = SimCharger((1,), auto=False, clock=SimClock(T0))
    seen: list[ChargerEvent] = []
    c.subscribe(seen.append)
    c.enable(1)
    c.plug(1)
    c.car_full(1)
    assert c.status(1).state is PilotState.B
    c.fault(1, "Ground fault")
    assert c.status(1).state is PilotState.FAULT and c.status(1).fault == "Ground fault"
    c.clear_fault(1)
    assert c.status(1).state is PilotState.B


def test_auto_charger_reports_on_its_own() -> None:
    c = SimCharger((1,), auto=True, speed=60)
    got = threading.Event()
    c.subscribe(lambda e: got.set() if isinstance(e, MeterReading) else None)
    try:
        c.enable(1)
        c.plug(1)
        assert got.wait(5)
        assert c.status(1).energy_wh > 1000
    finally:
        c.close()
