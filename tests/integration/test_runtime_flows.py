"""The assembled runtime (runner, journal, adapters, simulators, host over TCP) headless:
the branches a driver meets, each ending in the right host operation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drivers.emv.api import Cvm, Interface
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.billing.cdr import parse_cdr, price_cdr
from kiosk.config import RESOURCES, parse_config
from kiosk.runtime import build_runtime
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State
from kiosk.session.says import Say
from tests.support.ledger import check_settled
from tests.support.rig import Rig

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "j.sqlite"


@pytest.fixture
def rig(host: HostSimulator, journal_path: Path) -> Iterator[Rig]:
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                       "[tariff]\nenergy_price_per_kwh = '0.50'\nvat_percent = '20'\n", demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=journal_path,
                       card_terminal=terminal, charger=charger, watch=False)
    yield Rig(rt, clock, charger, terminal)
    rt.close()


def test_full_session_captures_what_the_screen_showed(rig: Rig, host: HostSimulator) -> None:
    s = rig.charging()
    rig.charger.advance(3600)  # 11 kWh at 0.50 + 20 % VAT = 6.60
    rig.until(lambda: rig.rt.runner.active().cost_minor == 660, "the live cost")
    rig.rt.runner.post(ev.StopRequested(s.id))
    receipt = rig.reach(State.RECEIPT)
    assert receipt.final_minor == 660 and receipt.masked_pan == "476173******0119"
    rig.settled()
    assert host.ledger()[s.id].captured_minor == 660
    rig.rt.runner.post(ev.Dismissed(s.id))
    assert rig.final().outcome is Outcome.CAPTURED
    kinds = {r.kind: r.payload for r in rig.rt.journal.outbox() if r.session_id == s.id}
    assert kinds["session"]["amount_minor"] == 660
    assert kinds["invoice"]["total_minor"] == 660 and kinds["invoice"]["total"] == "6.60"
    assert kinds["session"]["invoice_number"] == kinds["invoice"]["number"] == "DEMO-0001-00000001"


def test_online_pin_then_decline_for_a_wrong_pin(rig: Rig, host: HostSimulator) -> None:
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["mastercard_pin"])
    rig.reach(State.PIN_ENTRY)
    rig.rt.adapters.submit_pin(s.id, "9999")
    declined = rig.reach(State.DECLINED)
    assert declined.say is Say.DECLINED_WRONG_PIN and host.ledger()[s.id].held_minor == 0


# --- offline PIN and the card's final word ----------------------------------------------------
OFFLINE_PIN_CARD = "visa_contact_sda_pin"


def wait_for_pin_prompt(rig: Rig, say: Say, tries_left: int | None = None) -> Session:
    rig.until(lambda: (a := rig.rt.runner.active()) is not None
              and a.state is State.PIN_ENTRY and a.say is say
              and (tries_left is None or a.pin_tries_left == tries_left),
              f"the prompt {say!r} ({tries_left} tries left)")
    s = rig.rt.runner.active()
    assert s is not None and s.pin_offline
    return s


def test_offline_pin_wrong_then_right_charges_and_captures(rig: Rig, host: HostSimulator,
                                                           journal_path: Path) -> None:
    card = TEST_CARDS[OFFLINE_PIN_CARD]
    assert card.cvm is Cvm.OFFLINE_PIN and card.interface is Interface.CONTACT
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(card)
    wait_for_pin_prompt(rig, Say.NONE)
    rig.rt.adapters.submit_pin(s.id, "1111")
    asked = wait_for_pin_prompt(rig, Say.PIN_WRONG, tries_left=2)
    assert asked.masked_pan == ""  # the card is still being read
    rig.rt.adapters.submit_pin(s.id, card.offline_pin)
    approved = rig.reach(State.WAIT_PLUG)
    assert approved.masked_pan == "476173******0044" and approved.pin_offline
    assert host.ledger()[s.id].held_minor == 5000
    rig.charger.plug(1)
    rig.reach(State.CHARGING)
    rig.charger.advance(600)
    rig.until(lambda: rig.rt.runner.active().energy_wh > 0, "energy")
    rig.rt.runner.post(ev.StopRequested(s.id))
    receipt = rig.reach(State.RECEIPT)
    rig.settled()
    assert host.ledger()[s.id].captured_minor == receipt.final_minor > 0
    rig.rt.runner.post(ev.Dismissed(s.id))
    assert rig.final().outcome is Outcome.CAPTURED
    states = [r.to_state for r in rig.rt.journal.transitions(s.id)]
    assert states[:5] == ["READING_CARD", "PIN_ENTRY", "READING_CARD", "PIN_ENTRY",
                          "READING_CARD"]
    check_settled(journal_path, host)


def test_offline_pin_tries_exceeded_goes_online_and_the_issuer_declines(
        rig: Rig, host: HostSimulator) -> None:
    """Three wrong PINs block the card's PIN; the CVM fails and the TVR says why; the kernel
    goes online as EMV wants and the issuer declines (75). No hold is left."""
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS[OFFLINE_PIN_CARD])
    for prompt, tries in ((Say.NONE, 3), (Say.PIN_WRONG, 2), (Say.PIN_WRONG_LAST_TRY, 1)):
        wait_for_pin_prompt(rig, prompt, tries)
        rig.rt.adapters.submit_pin(s.id, "0000")
    failed = rig.reach(State.DECLINED)
    assert failed.say is Say.PIN_BLOCKED and failed.outcome is Outcome.DECLINED
    assert "(75)" in failed.message  # the response code, for the technician
    assert host.ledger()[s.id].response_code == "75" and not host.ledger()[s.id].open
    tx = rig.terminal.last
    assert tx is not None and "PIN try limit exceeded" in tx.tvr


def test_cancel_at_the_offline_pin_pad_frees_the_reader(rig: Rig, host: HostSimulator) -> None:
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS[OFFLINE_PIN_CARD])
    wait_for_pin_prompt(rig, Say.NONE)
    rig.rt.runner.post(ev.Cancelled(s.id))
    assert rig.final().outcome is Outcome.ABORTED
    assert s.id not in host.ledger()
    rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_contactless"])
    rig.reach(State.WAIT_PLUG)


def test_a_card_the_kernel_declines_offline_never_reaches_the_host(rig: Rig,
                                                                     host: HostSimulator) -> None:
    """An ATM-only card: "requested service not allowed" hits the Visa denial code, the
    kernel asks for an AAC, the card gives it: a decline, and no request to the host."""
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_atm_only"])
    declined = rig.reach(State.DECLINED)
    assert declined.say is Say.DECLINED_BY_CARD
    assert s.id not in host.ledger()
    tx = rig.terminal.last
    assert tx is not None and "requested service not allowed" in tx.tvr
    rig.rt.runner.post(ev.Dismissed(s.id))
    assert rig.final().outcome is Outcome.DECLINED


def test_card_declining_after_approval_reverses_the_hold(rig: Rig, host: HostSimulator,
                                                         journal_path: Path) -> None:
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_declines_at_end"])
    declined = rig.reach(State.DECLINED)
    assert declined.say is Say.DECLINED_BY_CARD
    assert declined.outcome is Outcome.REVERSED
    rig.settled()
    entry = host.ledger()[s.id]
    assert entry.reversed and entry.captured_minor is None and not entry.open
    assert entry.operations[0] == "authorize" and len(entry.operations) == 2
    assert s.id not in host.open_holds()
    states = [r.to_state for r in rig.rt.journal.transitions(s.id)]
    # never WAIT_PLUG: the charger was never enabled for this card
    assert states == ["READING_CARD", "AUTHORIZING", "DECLINED"]
    record = next(r for r in rig.rt.journal.outbox() if r.session_id == s.id)
    assert record.payload["outcome"] == "reversed" and record.payload["amount_minor"] == 0
    rig.rt.runner.post(ev.Dismissed(s.id))
    rig.final()
    check_settled(journal_path, host)


def test_cancel_while_waiting_for_a_card(rig: Rig) -> None:
    s = rig.rt.runner.start_session(1)
    rig.until(lambda: rig.terminal.waiting, "the read to wait")
    rig.rt.runner.post(ev.Cancelled(s.id))
    assert rig.final().outcome is Outcome.ABORTED
    # the reader is free again: the next driver's card is read at once
    rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_contactless"])
    rig.reach(State.WAIT_PLUG)


def test_cancel_before_the_read_began_does_not_block_the_reader(rig: Rig) -> None:
    s = rig.rt.runner.start_session(1)
    rig.rt.runner.process_pending()
    rig.rt.runner.post(ev.Cancelled(s.id))  # may come before the worker starts reading
    rig.final()
    rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_contactless"])
    rig.reach(State.WAIT_PLUG)


def test_card_pulled_out_ends_with_a_message(rig: Rig) -> None:
    rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["removed_card"])
    s = rig.reach(State.ERROR)
    assert s.say is Say.CARD_REMOVED and "CardRemoved" in s.message


def test_no_energy_voids_the_hold(rig: Rig, host: HostSimulator) -> None:
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_contactless"])
    rig.reach(State.WAIT_PLUG)
    rig.rt.runner.post(ev.Cancelled(s.id))
    rig.until(lambda: rig.state() in (State.ERROR, None), "the void")
    rig.settled()
    assert host.ledger()[s.id].reversed and s.id not in host.open_holds()


def test_charger_fault_mid_charge_captures_the_energy_so_far(rig: Rig,
                                                             host: HostSimulator) -> None:
    s = rig.charging()
    rig.charger.advance(1800)
    rig.charger.fault(1, "Ground fault")
    receipt = rig.reach(State.RECEIPT)
    rig.settled()
    assert receipt.final_minor == 330 and host.ledger()[s.id].captured_minor == 330


def test_host_down_at_capture_frees_the_connector_and_settles_later(
        rig: Rig, host: HostSimulator) -> None:
    s = rig.charging()
    rig.charger.advance(600)
    host.inject("refuse")
    rig.rt.runner.post(ev.StopRequested(s.id))
    receipt = rig.reach(State.RECEIPT)  # the receipt at once, with the payment pending
    rig.until(lambda: (job := rig.rt.journal.settlement(s.id)) is not None
              and job.attempts == 1, "the failed capture")
    assert rig.rt.settlement_pending(s.id)
    assert host.ledger()[s.id].captured_minor is None
    rig.rt.runner.post(ev.Dismissed(s.id))
    rig.final()  # the connector is free while the capture waits
    nxt = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_contactless"])
    rig.reach(State.WAIT_PLUG)
    rig.rt.runner.post(ev.Cancelled(nxt.id))
    rig.reach(State.ERROR)
    rig.rt.runner.post(ev.Dismissed(nxt.id))
    rig.final()
    rig.until(lambda: rig.rt.settlement.pending_count() == 1, "the void's reversal")
    job = rig.rt.journal.settlement(s.id)
    assert job is not None and job.status == "pending"
    due = job.next_at
    assert due > rig.clock.now()  # the retry waits for its backoff
    rig.clock.advance((due - rig.clock.now()).total_seconds())
    rig.rt.settlement.kick()
    rig.settled()
    assert not rig.rt.settlement_pending(s.id)
    assert host.ledger()[s.id].captured_minor == receipt.final_minor == 110
    job = rig.rt.journal.settlement(s.id)
    assert job is not None and job.status == "done" and job.attempts == 1
    assert [r.payload["status"] for r in rig.rt.journal.outbox()
            if r.kind == "settlement" and r.session_id == s.id] == ["done"]


@pytest.fixture
def ocpi_rig(host: HostSimulator, tmp_path: Path) -> Iterator[Rig]:
    clock = SimClock(datetime(2026, 11, 25, 20, 30, tzinfo=UTC))  # 21:30 in Berlin
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    tariff = RESOURCES / "tariffs" / "demo.json"
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                       f"[tariff]\nfile = '{tariff}'\n", demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=tmp_path / "j.sqlite",
                       card_terminal=terminal, charger=charger, watch=False)
    yield Rig(rt, clock, charger, terminal)
    rt.close()


def test_ocpi_tariff_screen_capture_invoice_and_cdr_agree(ocpi_rig: Rig,
                                                         host: HostSimulator) -> None:
    """Across the 22:00 price change: the live cost on screen when the driver stops, the
    capture, the invoice, the session record and the exported CDR (priced again from its own
    periods) are the same amount."""
    rig = ocpi_rig
    s = rig.charging()
    for _ in range(6):  # 6 x 15 min at 11 kW, through 22:00 local
        rig.charger.advance(900)
        rig.until(lambda: rig.rt.runner.active().last_reading_at == rig.clock.now(), "reading")
    live = rig.rt.runner.active()
    assert len(live.marks) == 2  # the 22:00 boundary
    # 30 min day (5.5 kWh x 0.50) + 60 min night (11 kWh x 0.42), x 1.19
    expected = round((Decimal("5.5") * Decimal("0.50") + 11 * Decimal("0.42"))
                     * Decimal("1.19") * 100)
    assert live.cost_minor == expected
    rig.rt.runner.post(ev.StopRequested(s.id))
    receipt = rig.reach(State.RECEIPT)
    rig.settled()
    assert receipt.final_minor == live.cost_minor == host.ledger()[s.id].captured_minor
    records = {r.kind: r.payload for r in rig.rt.journal.outbox() if r.session_id == s.id}
    assert records["session"]["amount_minor"] == expected
    assert records["invoice"]["total_minor"] == expected
    cdr = records["cdr"]
    assert cdr["invoice_reference_id"] == records["invoice"]["number"]
    assert round(Decimal(str(cdr["total_cost"]["incl_vat"])) * 100) == expected
    repriced = price_cdr(rig.rt.tariffs.pricers[0].tariff,
                         parse_cdr(json.dumps(cdr)), ZoneInfo("Europe/Berlin"))
    assert repriced.total_incl_minor == expected
    inv = records["invoice"]
    assert [ln["unit_price_excl"] for ln in inv["lines"]] == ["0.50", "0.42"]
    assert inv["vat_summary"] == [{"vat_percent": "19", "net": "7.37", "vat": "1.40",
                                   "gross": "8.77"}]
    assert inv["rounding"] is None and inv["hold_released"] == "41.23"


@pytest.mark.parametrize("fault", ["forged", "over", "bad_amount", "wrong_currency"])
def test_a_hostile_host_answer_never_becomes_a_hold_and_is_advised_back(
        rig: Rig, host: HostSimulator, journal_path: Path, fault: str) -> None:
    """The forged answer of the issue (another reference, terminal and currency, DE 4 =
    999999999999): the outcome is unknown, so the hold is released with a reversal advice and
    the charger is never enabled."""
    host.inject(fault)
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS["visa_contactless"])
    ended = rig.reach(State.ERROR)
    assert ended.outcome is Outcome.REVERSED and ended.held_minor == 0
    assert ended.say is Say.SERVICE_TIMEOUT
    rig.settled()
    job = rig.rt.journal.settlement(s.id)
    assert job is not None and job.kind == "advice" and job.amount_minor == 5000
    entry = host.ledger()[s.id]
    assert entry.reversed and not entry.open and entry.operations[-1] == "advice"
    assert not any(isinstance(e, fx.EnableCharger) for r in rig.rt.journal.transitions(s.id)
                   for e in r.effects)
    rig.rt.runner.post(ev.Dismissed(s.id))
    rig.final()
    check_settled(journal_path, host)
