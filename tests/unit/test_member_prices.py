"""The member price on the terminal (issue #18), piece by piece: the session carries the plan
from the card read, the pricer and the invoice use kiosk.billing.plans.discounted, the member
list file is read again when it changes and a bad one gives the full price."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.billing.display import price_display
from kiosk.billing.live import LivePricer, TariffBook
from kiosk.billing.member_file import MemberFile, member_tariff, plan_of
from kiosk.billing.plans import Plan, discounted, dumps_members
from kiosk.billing.tariff import parse_tariff
from kiosk.records.invoice import Seller, build_invoice
from kiosk.records.record import session_record
from kiosk.session import codec
from kiosk.session import events as ev
from kiosk.session.machine import Mark, Outcome, Policy, Session, SessionMachine, State

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TOKEN = "0123456789abcdef0123456789abcdef"
NIGHT = Plan("night", "Night plan", Decimal("12.5"))
SELLER = Seller("Open EV Kiosk", "Musterstrasse 1", "ST-1", "Test station")
TARIFF = parse_tariff(json.dumps({"currency": "EUR", "elements": [{"price_components": [
    {"type": "FLAT", "price": 1.0, "vat": 19, "step_size": 1},
    {"type": "ENERGY", "price": 0.5, "vat": 19, "step_size": 1}]}]}))


def member(s: Session, plan: Plan | None = NIGHT) -> Session:
    if plan is None:
        return s
    return replace(s, plan_id=plan.id, plan_name=plan.name, plan_percent=str(plan.percent_off))


def charged(wh: int = 12_345, held: int = 5000) -> Session:
    end = T0 + timedelta(hours=1)
    return Session("sess", 1, State.RECEIPT, T0, end, masked_pan="476173******0119",
                   token=TOKEN, held_minor=held, charge_started_at=T0, meter_start_wh=10_000,
                   meter_now_wh=10_000 + wh, last_reading_at=end,
                   marks=(Mark(T0, 10_000, 11_000, True),), outcome=Outcome.CAPTURED)


# --- the session ------------------------------------------------------------------------------

def test_the_card_read_gives_the_session_its_plan_and_the_journal_keeps_it() -> None:
    machine = SessionMachine(Policy(hold_minor=5000, pricer=lambda s: 0))
    s, _ = machine.start("s1", 1, T0)
    s, _ = machine.handle(s, ev.CardRead("s1", "476173******0119", TOKEN, "visa",
                                               plan_id="night", plan_name="Night plan",
                                               plan_percent="12.5"), T0)
    assert s.state is State.AUTHORIZING and (s.plan_id, s.plan_percent) == ("night", "12.5")
    assert codec.loads(codec.dumps(s)) == s
    old = codec.to_dict(s)
    for name in ("plan_id", "plan_name", "plan_percent"):
        old.pop(name)  # a snapshot of an earlier version: no plan
    assert codec.from_dict(old).plan_id == ""


@pytest.mark.parametrize("percent", ["", "abc", "NaN", "-5", "0", "101"])
def test_a_snapshots_plan_that_does_not_read_is_the_full_price(percent: str) -> None:
    s = replace(charged(), plan_id="night", plan_name="Night plan", plan_percent=percent)
    assert plan_of(s) is None
    assert TariffBook([TARIFF], BERLIN).price(s) == LivePricer(TARIFF, BERLIN).cost(s) \
        .total_incl_minor


def test_the_pricer_is_the_discounted_total() -> None:
    book = TariffBook([TARIFF], BERLIN)
    s = charged()
    cost = book.cost(s)  # 1.00 + 12.345 x 0.50 = 7.1725 net, 8.535275 gross
    assert book.price(s) == 854
    price = book.plan_price(member(s))
    assert price == discounted(cost.total_incl, "EUR", NIGHT)
    assert (price.full_minor, price.paid_minor, price.discount_minor) == (854, 747, 107)
    assert book.price(member(s)) == LivePricer(TARIFF, BERLIN).price(member(s)) == 747


# --- the invoice and the record ---------------------------------------------------------------

def invoice_of(s: Session, final: int | None = None) -> dict[str, Any]:
    book = TariffBook([TARIFF], BERLIN)
    s = replace(s, final_minor=book.price(s) if final is None else final)
    return build_invoice(s, book.cost(s), 1, seller=SELLER, connector_label="", zone=BERLIN,
                         key=bytes(32), base_url="https://bo.example/", tariff_id="t")


def test_the_invoice_shows_the_full_price_the_plans_line_and_the_paid_total() -> None:
    inv = invoice_of(member(charged()))
    assert [ln["amount_incl"] for ln in inv["lines"]] == ["1.19", "7.35"]  # the full price
    assert inv["adjustments"] == [{"description": "Night plan", "amount_excl": None,
                                   "amount_incl": "-1.07"}]
    assert inv["full_total"] == "8.54" and inv["discount"] == "1.07"
    assert inv["total"] == "7.47" and inv["total_minor"] == 747
    assert inv["vat_summary"] == [{"vat_percent": "19", "net": "6.28", "vat": "1.19",
                                   "gross": "7.47"}]
    assert inv["rounding"] is None
    assert inv["plan"] == {"id": "night", "name": "Night plan", "percent_off": "12.5"}
    plain = invoice_of(charged())
    assert plain["plan"] is None and plain["discount"] is None and plain["adjustments"] == []
    assert plain["total_minor"] == plain["discount_minor"] + 854


def test_a_members_total_capped_at_the_hold_shows_both_lines() -> None:
    inv = invoice_of(member(charged(wh=200_000, held=5000)), final=5000)
    # 1.00 + 100.00 net = 120.19 gross, 12.5 % off = 105.17: the hold's 50.00 is paid
    assert [a["description"] for a in inv["adjustments"]] == [
        "Night plan", "Limited to the amount reserved on the card"]
    assert inv["adjustments"][0]["amount_incl"] == "-15.02"
    assert inv["adjustments"][1]["amount_incl"] == "-55.17"
    assert inv["total"] == "50.00"
    assert sum(Decimal(v["gross"]) for v in inv["vat_summary"]) == Decimal("50.00")


def test_the_record_names_the_plan_and_the_discount() -> None:
    s = replace(member(charged()), final_minor=747)
    rec = session_record(s, station_id="ST-1", currency="EUR", discount_minor=107)
    assert (rec["plan"], rec["discount_minor"], rec["amount_minor"]) == ("night", 107, 747)
    aborted = replace(s, outcome=Outcome.ABORTED)
    assert session_record(aborted, station_id="ST-1", currency="EUR",
                          discount_minor=107)["discount_minor"] == 0
    assert session_record(charged(), station_id="ST-1", currency="EUR")["plan"] == ""


def test_the_member_unit_prices() -> None:
    shown = price_display(member_tariff(TARIFF, NIGHT), hold_minor=5000)
    assert "0.52" in shown.headline  # 0.50 x 1.19 x 0.875 = 0.520625
    assert price_display(TARIFF, hold_minor=5000).headline != shown.headline


# --- the member list file ---------------------------------------------------------------------

def listing(percent: str = "12.5", hours: tuple[int, int] | None = None,
            issued: datetime = T0 - timedelta(days=1), days: int = 30) -> bytes:
    return dumps_members(issued_at=issued, valid_until=issued + timedelta(days=days),
                         currency="EUR", plans=[Plan("night", "Night plan", Decimal(percent),
                                                     hours)], members={TOKEN: "night"})


@pytest.fixture
def members(tmp_path: Path) -> MemberFile:
    return MemberFile(tmp_path / "members.json", currency="EUR", zone=BERLIN,
                      clock=lambda: T0)


def test_no_file_no_plan(members: MemberFile) -> None:
    assert members.plan_for(TOKEN) is None
    assert members.status().ok and members.status().text == "no member list"


def test_a_list_is_read_again_when_it_changes(members: MemberFile) -> None:
    members.path.write_bytes(listing("12.5"))
    assert members.plan_for(TOKEN) == NIGHT
    assert members.plan_for("f" * 32) is None and members.plan_for("") is None
    members.path.write_bytes(listing("20"))
    os.utime(members.path, ns=(1, 1))  # another mtime even on a coarse clock
    found = members.plan_for(TOKEN)
    assert found is not None and found.percent_off == 20
    members.path.unlink()
    assert members.plan_for(TOKEN) is None


def test_the_plans_hours_are_the_stations_local_hours(members: MemberFile) -> None:
    members.path.write_bytes(listing(hours=(22, 6)))  # 09:00 UTC is 10:00 in Berlin
    assert members.plan_for(TOKEN) is None
    assert members.plan_for(TOKEN, datetime(2026, 11, 25, 21, 30, tzinfo=UTC)) is not None
    members.path.write_bytes(listing(hours=(10, 11)))
    os.utime(members.path, ns=(2, 2))
    assert members.plan_for(TOKEN) is not None


def test_an_expired_list_gives_no_plan_and_says_so(members: MemberFile) -> None:
    members.path.write_bytes(listing(issued=T0 - timedelta(days=31), days=30))
    assert members.plan_for(TOKEN) is None
    assert not members.status().ok and "expired" in members.status().text


@pytest.mark.parametrize("data, words", [
    (b"{", "not JSON"), (b"\xff", "not UTF-8"),
    (listing().replace(b'"EUR"', b'"CHF"'), "the station's is EUR"),
])
def test_a_bad_list_is_logged_once_and_gives_the_full_price(
        members: MemberFile, data: bytes, words: str, caplog: pytest.LogCaptureFixture) -> None:
    members.path.write_bytes(data)
    with caplog.at_level(logging.ERROR, "kiosk.billing.member_file"):
        for _ in range(3):
            assert members.plan_for(TOKEN) is None
    assert len(caplog.records) == 1 and words in caplog.records[0].getMessage()
    assert TOKEN not in caplog.text
    st = members.status()
    assert not st.ok and words in st.text and "full prices only" in st.text


def test_a_list_that_is_no_regular_file_is_refused(members: MemberFile) -> None:
    members.path.mkdir()
    assert members.plan_for(TOKEN) is None and not members.status().ok
