"""Stop a charge by tapping (or inserting) the card that started it: the card is identified
without a payment (selection, GPO, records; no GENERATE AC, no PIN), its keyed token picks the
charging session, and the stop is the usual one (the energy so far is captured). Another card
changes nothing but says so; while nobody charges a card starts a session as before. On the
simulated terminal and on the real pcscd with the vpcd reader."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.emv.api import Interface
from drivers.pcsc.reader import reader_state
from drivers.pcsc.terminal import PcscCardTerminal
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.emv_card import EmvCardApp
from drivers.sim.host import HostSimulator
from drivers.sim.vpcd import VirtualCard
from kiosk.config import RESOURCES, parse_config
from kiosk.devices.card import CardNotice, NotTheSameCard
from kiosk.runtime import Runtime, build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State
from tests.support.pcsc import READER
from tests.support.rig import Rig

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
A, B = "visa_contactless", "mastercard_contactless"
CONFIG = ("schema_version = 1\n[host]\nport = {port}\ntimeout_s = 2\n"
          "[tariff]\nenergy_price_per_kwh = '0.50'\nvat_percent = '20'\n"
          "[[connectors]]\nid = 1\nlabel = '1'\n[[connectors]]\nid = 2\nlabel = '2'\n")


class Notices:
    """What the runtime tells the screen about presented cards (from the card worker)."""

    def __init__(self, rt: Runtime) -> None:
        self.seen: list[CardNotice] = []
        self._lock = threading.Lock()
        rt.card_notices.append(self._add)

    def _add(self, notice: CardNotice) -> None:
        with self._lock:
            self.seen.append(notice)

    def count(self) -> int:
        with self._lock:
            return len(self.seen)


@pytest.fixture
def rig(host: HostSimulator, tmp_path: Path) -> Iterator[Rig]:
    clock = SimClock(T0)
    charger = SimCharger((1, 2), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(CONFIG.format(port=host.port), demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=tmp_path / "j.sqlite",
                       card_terminal=terminal, charger=charger, watch=False)
    yield Rig(rt, clock, charger, terminal)
    rt.close()


def charging_on(rig: Rig, connector: int, card: str) -> Session:
    s = rig.rt.runner.start_session(connector)
    rig.terminal.present(TEST_CARDS[card])
    rig.until(lambda: state_of(rig, s.id) is State.WAIT_PLUG, f"{card} authorized")
    rig.charger.plug(connector)
    rig.until(lambda: state_of(rig, s.id) is State.CHARGING, f"{card} charging")
    return s


def state_of(rig: Rig, sid: str) -> State | None:
    s = rig.rt.runner.sessions.get(sid)
    if s is not None:
        return s.state
    done = [x for x in rig.seen if x.id == sid]
    return done[-1].state if done else None


def identified(rig: Rig, n: int) -> Callable[[], bool]:
    return lambda: rig.terminal.identified >= n


def test_the_same_card_stops_the_charge_and_the_energy_so_far_is_captured(
        rig: Rig, host: HostSimulator) -> None:
    s = charging_on(rig, 1, A)
    rig.charger.advance(3600)  # 11 kWh at 0.50 + 20 % VAT = 6.60
    rig.until(lambda: rig.rt.runner.sessions[s.id].cost_minor == 660, "the live cost")
    rig.terminal.present(TEST_CARDS[A])
    receipt = rig.reach(State.RECEIPT)
    assert receipt.final_minor == 660 and receipt.masked_pan == "476173******0119"
    assert rig.terminal.reads == 1 and rig.terminal.identified == 1  # no second payment
    rig.settled()
    assert host.ledger()[s.id].captured_minor == 660
    stops = [t.event for t in rig.rt.journal.transitions(s.id) if t.to_state == "STOPPING"]
    assert stops == [ev.StopRequested(s.id, by="card")]
    rig.rt.runner.post(ev.Dismissed(s.id))
    assert rig.final().outcome is Outcome.CAPTURED


def test_another_card_changes_nothing_but_says_so(rig: Rig) -> None:
    notices = Notices(rig.rt)
    s = charging_on(rig, 1, A)
    rig.terminal.present(TEST_CARDS[B])
    rig.until(lambda: notices.count() == 1, "the notice")
    assert notices.seen == [NotTheSameCard("mastercard")]
    assert state_of(rig, s.id) is State.CHARGING
    rig.charger.advance(600)
    rig.terminal.present(TEST_CARDS[A])  # still watching: the right card stops it
    rig.reach(State.RECEIPT)
    assert notices.count() == 1


def test_with_two_connectors_the_card_picks_its_session(rig: Rig, host: HostSimulator) -> None:
    a = charging_on(rig, 1, A)
    b = charging_on(rig, 2, B)
    rig.charger.advance(1800)
    rig.terminal.present(TEST_CARDS[B])
    rig.until(lambda: state_of(rig, b.id) is State.RECEIPT, "B's receipt")
    assert state_of(rig, a.id) is State.CHARGING
    rig.settled()
    assert host.ledger()[b.id].captured_minor == rig.rt.runner.sessions[b.id].final_minor > 0
    assert host.ledger()[a.id].captured_minor is None  # A charges on, its hold open
    rig.terminal.present(TEST_CARDS[A])
    rig.until(lambda: state_of(rig, a.id) is State.RECEIPT, "A's receipt")
    rig.settled()
    assert host.ledger()[a.id].captured_minor == rig.rt.runner.sessions[a.id].final_minor > 0


def test_while_nobody_charges_a_card_starts_a_session_as_before(rig: Rig) -> None:
    rig.terminal.present(TEST_CARDS[A])  # tapped before Start: the read takes it
    s = rig.rt.runner.start_session(1)
    rig.until(lambda: state_of(rig, s.id) is State.WAIT_PLUG, "authorized")
    assert rig.terminal.identified == 0 and rig.terminal.reads == 1


def test_a_card_for_a_new_session_beside_a_charge_starts_it(rig: Rig) -> None:
    """A session charges on connector 1; a driver starts on 2: the reader is theirs (the
    card is read for a payment, not identified), even with the card charging on 1."""
    a = charging_on(rig, 1, A)
    b = rig.rt.runner.start_session(2)
    rig.terminal.present(TEST_CARDS[A])
    rig.until(lambda: state_of(rig, b.id) is State.WAIT_PLUG, "the second start")
    assert state_of(rig, a.id) is State.CHARGING and rig.terminal.identified == 0
    assert rig.terminal.reads == 2


def test_a_card_that_leaves_mid_identification_changes_nothing(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    notices = Notices(rig.rt)
    s = charging_on(rig, 1, A)
    leaving = dataclasses.replace(TEST_CARDS[A], name="leaves", behaviour="removed",
                                  leave_at="gpo")
    with caplog.at_level(logging.INFO):
        rig.terminal.present(leaving)
        rig.until(identified(rig, 1), "the identification")
        rig.until(lambda: "not identified: CardRemoved" in caplog.text, "the log line")
    assert state_of(rig, s.id) is State.CHARGING and notices.count() == 0
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    rig.charger.advance(600)
    rig.terminal.present(TEST_CARDS[A])  # the watch goes on
    rig.reach(State.RECEIPT)


def test_no_card_number_or_token_in_the_logs(rig: Rig, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    notices = Notices(rig.rt)
    with caplog.at_level(logging.DEBUG):
        s = charging_on(rig, 1, A)
        rig.terminal.present(TEST_CARDS[B])
        rig.until(lambda: notices.count() == 1, "the notice")
        rig.charger.advance(600)
        rig.terminal.present(TEST_CARDS[A])
        rig.reach(State.RECEIPT)
    token = rig.rt.runner.sessions[s.id].token
    text = caplog.text + repr(notices.seen)
    for pan in (TEST_CARDS[A].pan, TEST_CARDS[B].pan):
        assert pan not in text
    assert token and token not in text
    b = TEST_CARDS[B].pan
    for f in tmp_path.glob("j.sqlite*"):  # the other card is not stored, not even masked
        data = f.read_bytes()
        assert b.encode() not in data and (b[:6] + "******" + b[-4:]).encode() not in data


def test_identify_reads_contact_and_contactless_cards_without_a_payment() -> None:
    terminal = SimCardTerminal()
    for name in (A, "mastercard_contact_cda", "visa_contact_sda_pin"):
        card = TEST_CARDS[name]
        terminal.present(card)
        got = terminal.identify_card("EUR", 5, lambda: False)
        assert (got.pan, got.scheme, got.interface) == (card.pan, card.scheme, card.interface)
        assert card.pan not in repr(got)
    assert terminal.reads == 0 and terminal.identified == 3


# --- on the real pcscd with the vpcd reader -------------------------------------------------
@pytest.mark.usefixtures("pcscd")
def test_the_same_card_on_the_vpcd_reader_stops_the_charge(
        host: HostSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    cfg = parse_config(f"schema_version = 1\n[reader]\nkind = 'pcsc'\nname = '{READER}'\n"
                       f"[host]\nport = {host.port}\n", "<test>", RESOURCES, demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=tmp_path / "j.sqlite",
                       charger=charger, watch=False)
    rig = Rig(rt, clock, charger, SimCardTerminal())  # its loop helpers; the card is on vpcd
    terminal = rt.card_terminal
    assert isinstance(terminal, PcscCardTerminal)
    app = EmvCardApp(TEST_CARDS[A])
    card = VirtualCard(app.apdu, atr=app.atr)
    caplog.set_level(logging.DEBUG)  # every APDU in the trace
    try:
        s = rt.runner.start_session(1)
        card.insert()
        rig.until(lambda: state_of(rig, s.id) in (State.WAIT_PLUG, State.ERROR), "read", 15)
        assert state_of(rig, s.id) is State.WAIT_PLUG, rig.seen[-1].message
        charger.plug(1)
        rig.until(lambda: state_of(rig, s.id) is State.CHARGING, "charging")
        # the card that paid is still on the reader: it is not a new tap
        assert terminal.waits_for_removal and state_of(rig, s.id) is State.CHARGING
        charger.advance(600)
        card.remove()
        rig.until(lambda: not terminal.waits_for_removal, "the reader saw the card leave")
        card.insert()
        rig.until(lambda: state_of(rig, s.id) is State.RECEIPT, "the receipt", 15)
        done = rt.runner.sessions[s.id]
        assert done.final_minor > 0 and app.card.interface is Interface.CONTACTLESS
        assert rt.settlement.wait_idle(10)
        assert host.ledger()[s.id].captured_minor == done.final_minor
        assert caplog.text.count("APDU 80A8") == 2  # the read's GPO, the identification's
        # ... in the trace
        assert TEST_CARDS[A].pan not in caplog.text  # without the card number
    finally:
        card.remove()
        rt.close()
    end = time.monotonic() + 5  # leave the reader empty for the next test
    while reader_state(READER)[1] and time.monotonic() < end:
        time.sleep(0.05)
