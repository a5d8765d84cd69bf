"""Member plans on the assembled runtime (issue #18): the simulators, the host over TCP, a
member list in the data folder. A member card's session carries its plan from the card read
on; the live cost, the capture, the invoice and the record are the plan's price to the cent;
a non-member, an expired or a malformed list pays the full price."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.billing.member_file import MEMBERS_FILE
from kiosk.billing.plans import Plan, discounted, dumps_members
from kiosk.config import parse_config
from kiosk.maintenance import updates
from kiosk.runtime import build_runtime
from kiosk.security.cards import card_token
from kiosk.session import codec
from kiosk.session import events as ev
from kiosk.session.machine import Session, State
from tests.support.rig import Rig

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MEMBER = "visa_contactless"
OTHER = "debit_contactless"
NIGHT = Plan("night", "Night plan", Decimal("12.5"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def rig(host: HostSimulator, folder: Path) -> Iterator[Rig]:
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                       "[tariff]\nenergy_price_per_kwh = '0.50'\nvat_percent = '20'\n", demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=folder / "j.sqlite",
                       card_terminal=terminal, charger=charger, watch=False)
    yield Rig(rt, clock, charger, terminal)
    rt.close()


def token(folder: Path, card: str) -> str:
    """The card's token under the terminal's card token key (the operator's, provisioned)."""
    return card_token(TEST_CARDS[card].pan, (folder / "card-token.key").read_bytes())


def write_members(folder: Path, members: dict[str, str], *, plans: list[Plan] | None = None,
                  issued: datetime = T0 - timedelta(days=1), days: int = 30) -> bytes:
    data = dumps_members(issued_at=issued, valid_until=issued + timedelta(days=days),
                         currency="EUR", plans=plans or [NIGHT], members=members)
    (folder / MEMBERS_FILE).write_bytes(data)
    return data


def session_with(rig: Rig, card: str, seconds: float = 3600) -> tuple[Session, Session,
                                                                     dict[str, Any]]:
    """A whole session with ``card``: (the session while charging, at the receipt, its
    records by kind)."""
    s = rig.rt.runner.start_session(1)
    rig.terminal.present(TEST_CARDS[card])
    rig.reach(State.WAIT_PLUG)
    rig.charger.plug(1)
    charging = rig.reach(State.CHARGING)
    rig.charger.advance(seconds)
    rig.until(lambda: (a := rig.rt.runner.active()) is not None and a.energy_wh >= 11_000,
              "the energy")
    rig.rt.runner.post(ev.StopRequested(s.id))
    receipt = rig.reach(State.RECEIPT)
    rig.settled()
    rig.rt.runner.post(ev.Dismissed(s.id))
    rig.final()
    rig.charger.unplug(1)
    records = {r.kind: r.payload for r in rig.rt.journal.outbox() if r.session_id == s.id}
    return charging, receipt, records


def test_a_member_pays_the_plans_price_everywhere_to_the_cent(rig: Rig, folder: Path,
                                                              host: HostSimulator) -> None:
    write_members(folder, {token(folder, MEMBER): "night"})
    charging, receipt, records = session_with(rig, MEMBER)
    assert (charging.plan_id, charging.plan_name, charging.plan_percent) == (
        "night", "Night plan", "12.5")
    # the snapshot the journal keeps (a restart resumes with the plan)
    again = codec.loads(codec.dumps(charging))
    assert (again.plan_id, again.plan_percent) == ("night", "12.5")
    price = discounted(rig.rt.tariffs.cost(receipt).total_incl, "EUR", NIGHT)
    assert (price.full_minor, price.paid_minor, price.discount_minor) == (660, 578, 82)
    assert receipt.cost_minor == receipt.final_minor == price.paid_minor  # live cost, final
    assert host.ledger()[receipt.id].captured_minor == price.paid_minor
    invoice, record = records["invoice"], records["session"]
    assert invoice["total_minor"] == record["amount_minor"] == price.paid_minor
    assert invoice["full_total"] == "6.60" and invoice["discount"] == "0.82"
    assert invoice["discount_minor"] == record["discount_minor"] == 82
    assert invoice["plan"] == {"id": "night", "name": "Night plan", "percent_off": "12.5"}
    assert {"description": "Night plan", "amount_excl": None,
            "amount_incl": "-0.82"} in invoice["adjustments"]
    assert sum(Decimal(ln["amount_incl"]) for ln in invoice["lines"]) == Decimal("6.60")
    assert sum(Decimal(v["gross"]) for v in invoice["vat_summary"]) == Decimal("5.78")
    assert record["plan"] == "night"
    # the OCPI CDR's total is what was paid; its remark names the plan and the discount
    cdr = records["cdr"]
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == Decimal("5.78")
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) < Decimal("5.78")
    assert cdr["remark"] == "Night plan: 12.5 % off, -0.82 EUR"
    # the member list names no card but by token, and no record carries the PAN
    pan = TEST_CARDS[MEMBER].pan
    assert pan.encode() not in (folder / MEMBERS_FILE).read_bytes()
    assert pan not in str(records)
    # the screen's member prices: the unit prices after the plan
    shown = rig.rt.member_display(receipt, "en")
    assert shown is not None and "0.525" in shown.headline  # 0.60 incl. VAT - 12.5 %


def test_a_card_that_is_no_member_pays_the_full_price(rig: Rig, folder: Path,
                                                      host: HostSimulator) -> None:
    write_members(folder, {token(folder, MEMBER): "night"})
    charging, receipt, records = session_with(rig, OTHER)
    assert charging.plan_id == "" and rig.rt.member_display(receipt) is None
    assert receipt.final_minor == records["invoice"]["total_minor"] == 660
    assert host.ledger()[receipt.id].captured_minor == 660
    assert records["session"]["plan"] == "" and records["session"]["discount_minor"] == 0
    assert records["invoice"]["plan"] is None and records["invoice"]["discount"] is None
    assert records["invoice"]["adjustments"] == []
    assert Decimal(str(records["cdr"]["total_cost"]["incl_vat"])) == Decimal("6.60")
    assert "remark" not in records["cdr"]


@pytest.mark.parametrize("spoil", ["expired", "not yet valid", "malformed", "other currency",
                                   "outside its hours"])
def test_a_list_that_cannot_be_used_gives_the_full_price(rig: Rig, folder: Path, spoil: str,
                                                         host: HostSimulator) -> None:
    member = {token(folder, MEMBER): "night"}
    if spoil == "expired":
        write_members(folder, member, issued=T0 - timedelta(days=31), days=30)
    elif spoil == "not yet valid":
        write_members(folder, member, issued=T0 + timedelta(days=1))
    elif spoil == "malformed":
        good = write_members(folder, member)
        (folder / MEMBERS_FILE).write_bytes(good[:-2])
    elif spoil == "other currency":
        data = write_members(folder, member).replace(b'"EUR"', b'"CHF"')
        (folder / MEMBERS_FILE).write_bytes(data)
    else:  # 09:00 UTC is 10:00 in Berlin, the plan is for 22:00 to 06:00
        write_members(folder, member, plans=[Plan("night", "Night plan", Decimal(15),
                                                  (22, 6))])
    charging, receipt, records = session_with(rig, MEMBER)
    assert charging.plan_id == ""
    assert receipt.final_minor == records["session"]["amount_minor"] == 660
    assert host.ledger()[receipt.id].captured_minor == 660
    ok, text = rig.rt.member_status()
    if spoil in ("malformed", "other currency", "expired"):
        assert not ok and "full prices only" in text
    assert rig.rt.health.in_service  # a member list never stops charging


def test_a_new_member_list_takes_effect_at_the_next_card(rig: Rig, folder: Path) -> None:
    _, first, _ = session_with(rig, MEMBER)
    assert first.final_minor == 660 and rig.rt.member_status() == (True, "no member list")
    write_members(folder, {token(folder, MEMBER): "night"})
    _, second, _ = session_with(rig, MEMBER)
    assert second.final_minor == 578
    (folder / MEMBERS_FILE).unlink()
    _, third, _ = session_with(rig, MEMBER)
    assert third.final_minor == 660


def test_the_kiosk_and_the_updates_name_the_same_file() -> None:
    assert updates.MEMBERS_FILE == MEMBERS_FILE
