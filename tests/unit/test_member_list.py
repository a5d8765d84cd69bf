"""The member list's format and the one discount arithmetic (kiosk.billing.plans)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.billing.money import round_to_minor
from kiosk.billing.plans import (
    MAX_MEMBERS,
    MembersError,
    Plan,
    discounted,
    dumps_members,
    parse_members,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TOKEN = "0123456789abcdef0123456789abcdef"
NIGHT = Plan("night", "Night plan", Decimal(15), (22, 6))
LOYAL = Plan("loyal", "Loyalty", Decimal("12.5"))


def _list(**change: Any) -> bytes:
    obj: dict[str, Any] = {
        "format": "evkiosk-members/1", "issued_at": NOW.isoformat(),
        "valid_until": (NOW + timedelta(days=30)).isoformat(), "currency": "EUR",
        "plans": {"night": NIGHT.as_json(), "loyal": LOYAL.as_json()},
        "members": {TOKEN: "night", "f" * 32: "loyal"},
    }
    obj.update(change)
    return json.dumps(obj).encode()


def test_a_list_reads_back_and_names_the_plans() -> None:
    data = dumps_members(issued_at=NOW, valid_until=NOW + timedelta(days=30), currency="EUR",
                         plans=[NIGHT, LOYAL], members={TOKEN: "night", "f" * 32: "loyal"})
    members = parse_members(data, currency="EUR")
    assert members.plan_for(TOKEN, NOW) == NIGHT
    assert members.plan_for("f" * 32, NOW) == LOYAL
    assert members.plan_for("e" * 32, NOW) is None
    # outside its validity the list gives no plan (never a stale discount)
    assert members.plan_for(TOKEN, NOW + timedelta(days=30)) is None
    assert members.plan_for(TOKEN, NOW - timedelta(minutes=6)) is None


def test_hours_wrap_midnight() -> None:
    assert [h for h in range(24) if NIGHT.applies_at(h)] == [0, 1, 2, 3, 4, 5, 22, 23]
    day = Plan("day", "Day", Decimal(5), (9, 17))
    assert [h for h in range(24) if day.applies_at(h)] == list(range(9, 17))
    assert all(LOYAL.applies_at(h) for h in range(24))


@pytest.mark.parametrize(("change", "named"), [
    ({"format": "evkiosk-members/2"}, "format"),
    ({"currency": "XXX"}, "currency"),
    ({"valid_until": (NOW + timedelta(days=63)).isoformat()}, "valid_until"),
    ({"valid_until": NOW.isoformat()}, "valid_until"),
    ({"issued_at": "2026-12-02T12:00:00"}, "issued_at"),
    ({"plans": {"Night!": NIGHT.as_json()}, "members": {}}, "plans"),
    ({"plans": {"night": {**NIGHT.as_json(), "percent_off": "51"}}, "members": {}},
     "percent_off"),
    ({"plans": {"night": {**NIGHT.as_json(), "percent_off": "0"}}, "members": {}},
     "percent_off"),
    ({"plans": {"night": {**NIGHT.as_json(), "percent_off": "1e1"}}, "members": {}},
     "percent_off"),
    ({"plans": {"night": {**NIGHT.as_json(), "hours": [22, 22]}}, "members": {}}, "hours"),
    ({"plans": {"night": {**NIGHT.as_json(), "hours": [True, 6]}}, "members": {}}, "hours"),
    ({"plans": {"night": {**NIGHT.as_json(), "name": "x" * 41}}, "members": {}}, "name"),
    ({"plans": {"night": {**NIGHT.as_json(), "name": "a\nb"}}, "members": {}}, "name"),
    ({"plans": {"night": {**NIGHT.as_json(), "extra": 1}}, "members": {}}, "plans.night"),
    ({"members": {"4761739001010119": "night"}}, "card token"),
    ({"members": {TOKEN: "gold"}}, "gold"),
])
def test_a_doubtful_list_is_refused_naming_the_field(change: dict[str, Any],
                                                     named: str) -> None:
    with pytest.raises(MembersError, match=named):
        parse_members(_list(**change))


def test_other_garbage_is_one_typed_error() -> None:
    for data in (b"\xff\xfe", b"[]", b"{", b'{"a": 1.5}', b"[" * 100_000,
                 _list().replace(b'"currency"', b'"currency": "EUR", "currency"')):
        with pytest.raises(MembersError):
            parse_members(data)
    with pytest.raises(MembersError, match="currency"):
        parse_members(_list(), currency="CHF")


def test_the_size_is_bounded() -> None:
    many = {f"{i:032x}": "night" for i in range(MAX_MEMBERS + 1)}
    with pytest.raises(MembersError):
        parse_members(_list(members=many))


@given(st.decimals(min_value=0, max_value=10_000, places=6),
       st.sampled_from([Decimal(1), Decimal("12.5"), Decimal(15), Decimal(50)]))
def test_the_discount_is_rounded_once_and_lines_add_up(total: Decimal, pct: Decimal) -> None:
    plan = Plan("p", "P", pct)
    price = discounted(total, "EUR", plan)
    assert price.full_minor == round_to_minor(total, "EUR")
    assert price.paid_minor == round_to_minor(total * (100 - pct) / 100, "EUR")
    assert price.full_minor - price.discount_minor == price.paid_minor
    assert 0 <= price.discount_minor <= price.full_minor
    assert discounted(total, "EUR", None).discount_minor == 0


def test_a_hand_computed_discount() -> None:
    # 12.345 € at 15 % off: 10.49325 € → 10.49 €; the full price 12.35 €; the line 1.86 €
    price = discounted(Decimal("12.345"), "EUR", NIGHT)
    assert (price.full_minor, price.paid_minor, price.discount_minor) == (1235, 1049, 186)
    assert discounted(Decimal("1000"), "JPY", LOYAL).paid_minor == 875
