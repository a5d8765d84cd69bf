"""Real-world CDRs (issue #11): OCPI prices the charging periods, also where a CPO's periods
reach outside the CDR's start/end (periods aligned to the full hour); the mismatch is a
warning. What no price could be meant by is still refused, with its JSON path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.billing.cdr import CdrError, parse_cdr, price_cdr, read_cdr
from kiosk.billing.tariff import load_tariffs
from kiosk.cli import main

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "ocpi"
ALIGNED = DATA / "cdr_aligned_periods.json"
STEP_ZERO = DATA / "tariff_step_zero.json"
BERLIN = ZoneInfo("Europe/Berlin")


def aligned(**changes: Any) -> str:
    """The aligned CDR with ``changes`` at ``a__0__b`` paths."""
    data = json.loads(ALIGNED.read_text())
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value
    return json.dumps(data)


def test_a_period_starting_at_the_full_hour_before_the_session_is_priced() -> None:
    cdr = read_cdr(ALIGNED)
    assert cdr.warnings == (
        "$.charging_periods[0].start_date_time: 2026-03-12T18:00:00Z is before the session "
        "start 2026-03-12T18:23:00Z (by 23 min); priced as the periods say",)
    (tariff,) = load_tariffs(STEP_ZERO, warnings=[])
    cost = price_cdr(tariff, cdr, BERLIN)
    # 18:00Z is 19:00 in Berlin (0.35/kWh), 19:00Z and 20:00Z are in the 20-22 peak (0.45):
    # 7.5 x 0.35 + 15.25 x 0.45 = 9.4875; 2.3 h x 0.60 = 1.38; FLAT 1.00 -> 11.8675 excl.
    assert (cost.total_excl, cost.total_incl) == (Decimal("11.8675"), Decimal("14.122325"))
    assert cost.total_incl_minor == 1412
    assert cost.total_excl_minor == 1187  # what the CPO's CDR says: 11.87 / 14.12


def test_kiosk_price_reports_the_mismatch_and_the_step_size(
        capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["price", "--tariff", str(STEP_ZERO), "--cdr", str(ALIGNED),
               "--time-zone", "Europe/Berlin"])
    out, err = capsys.readouterr()
    assert (rc, err) == (0, "")
    totals = json.loads(out)
    assert totals["total_cost"] == {"excl_vat": 11.87, "incl_vat": 14.12}
    assert totals["tariff_id"] == "peak-2026"
    assert totals["warnings"] == [
        f"{STEP_ZERO}: $.elements[{i}].price_components[{j}].step_size: 0 read as 1 (no "
        f"stepping; OCPI asks for at least 1)" for i, j in ((0, 0), (1, 0), (2, 0), (2, 1))
    ] + [f"{ALIGNED}: $.charging_periods[0].start_date_time: 2026-03-12T18:00:00Z is before "
         f"the session start 2026-03-12T18:23:00Z (by 23 min); priced as the periods say"]


def test_a_consistent_cdr_has_no_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["price", "--tariff", str(DATA / "tariff_day_night.json"), "--cdr",
               str(DATA / "cdr_day_night.json"), "--time-zone", "Europe/Berlin"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["warnings"] == []


def test_periods_past_the_session_end_are_priced_with_a_warning() -> None:
    # the CDR says the session ended at 20:00, but the CPO's last period starts at 20:00 and
    # holds 41 min of charging: the period after the end, and time running past it
    cdr = parse_cdr(aligned(end_date_time="2026-03-12T19:59:00Z"))
    assert cdr.warnings[1:] == (
        "$.charging_periods[2].start_date_time: 2026-03-12T20:00:00Z is after the session end "
        "2026-03-12T19:59:00Z (by 1 min); priced as the periods say",
        "$.charging_periods[2].dimensions: 0.6833 h of TIME and PARKING_TIME run until "
        "2026-03-12T20:40:59.880000Z, after the session end 2026-03-12T19:59:00Z (by 41 min "
        "59 s); priced as the periods say")
    assert sum(p.time_h for p in cdr.periods) == Decimal("2.3")


def test_a_day_aligned_period_is_within_the_bounds() -> None:
    cdr = parse_cdr(aligned(charging_periods__0__start_date_time="2026-03-11T18:23:00Z"))
    assert "(by 1 d)" in cdr.warnings[0]


@pytest.mark.parametrize(("changes", "message"), [
    ({"charging_periods__0__start_date_time": "2026-03-11T18:22:59Z"},
     r"^\$\.charging_periods\[0\]\.start_date_time: 2026-03-11T18:22:59Z is 1 d 1 s before "
     r"the session start: more than 1 d outside the session$"),
    ({"charging_periods__2__start_date_time": "2026-03-14T20:00:00Z"},
     r"^\$\.charging_periods\[2\]\.start_date_time: .* after the session end: more than 1 d"),
    ({"charging_periods__2__start_date_time": "2026-03-12T18:30:00Z"},
     r"^\$\.charging_periods\[2\]\.start_date_time: before the previous period$"),
    ({"charging_periods__0__dimensions__1__volume": 1.5},
     r"^\$\.charging_periods\[0\]\.dimensions: 1\.5 h of TIME and PARKING_TIME, but the next "
     r"period starts after 1 h: the periods overlap$"),
    ({"charging_periods__1__start_date_time": "2026-03-12T18:00:00Z"},
     r"^\$\.charging_periods\[0\]\.dimensions: 0\.6167 h .* after 0 s: the periods overlap"),
    ({"charging_periods__2__dimensions__1__volume": 30},
     r"^\$\.charging_periods\[2\]\.dimensions: 30 h of TIME and PARKING_TIME run until "
     r"2026-03-14T02:00:00Z: more than 1 d after the session end"),
    ({"end_date_time": "2027-03-14T00:00:00Z"},
     r"^\$\.end_date_time: the session lasts 366 d .*, more than 366 days$"),
    ({"start_date_time": "0001-01-01T00:00:00Z", "end_date_time": "9999-12-31T23:59:59Z"},
     r"^\$\.start_date_time: '0001-01-01T00:00:00Z' is not between 2000 and 2100$"),
    ({"end_date_time": "9999-12-31T23:59:59-14:00"},
     r"^\$\.end_date_time: '9999-12-31T23:59:59-14:00' is not between 2000 and 2100$"),
    ({"end_date_time": "2099-12-31T23:00:00-14:00"}, r"is not between 2000 and 2100$"),
    ({"charging_periods__0__start_date_time": "1999-12-31T23:59:59Z"},
     r"^\$\.charging_periods\[0\]\.start_date_time: .*not between 2000 and 2100$"),
    ({"charging_periods__0__dimensions__0__volume": 1e30},
     r"^\$\.charging_periods\[0\]\.dimensions\[0\]\.volume: expected a finite number of at "
     r"least 0 and at most 10\^7$"),
    ({"charging_periods__0__dimensions__0__volume": 10**7 + 1}, r"at most 10\^7$"),
    ({"charging_periods__0__dimensions__0__volume": -0.5}, r"at least 0"),
    ({"charging_periods__0__dimensions__2__volume": "11"}, r"volume: expected a number$"),
    ({"charging_periods__0__dimensions__0__volume": True}, r"volume: expected a number$"),
])
def test_what_no_price_could_be_meant_by_is_refused(changes: dict[str, Any],
                                                    message: str) -> None:
    with pytest.raises(CdrError, match=message):
        parse_cdr(aligned(**changes))


@pytest.mark.parametrize(("raw", "message"), [
    ("1e999999", r"dimensions\[0\]\.volume: expected a finite number"),
    ("1e-999999", r"dimensions\[0\]\.volume: more than 18 decimal places$"),
    ("9" * 5000, r"^\$: an integer of more than 40 digits$"),
    ("0." + "1" * 19, r"more than 18 decimal places$"),
    ("NaN", r"^\$: NaN is not a number$"),
    ("-Infinity", r"^\$: -Infinity is not a number$"),
])
def test_huge_and_tiny_numbers_are_refused(raw: str, message: str) -> None:
    text = aligned().replace('"volume": 7.5', f'"volume": {raw}', 1)
    with pytest.raises(CdrError, match=message):
        parse_cdr(text)


def test_volumes_as_a_float_printed_them_still_read() -> None:
    text = aligned().replace('"volume": 7.5', '"volume": 7.500000000000001', 1)
    assert str(parse_cdr(text).periods[0].energy_kwh) == "7.500000000000001"
    assert parse_cdr(aligned().replace('"volume": 7.5', '"volume": 7.5e0', 1))


def test_energy_summing_past_the_bound_is_refused() -> None:
    data = json.loads(aligned())
    for p in data["charging_periods"]:
        p["dimensions"][0]["volume"] = 4_000_000
    with pytest.raises(CdrError, match=r"^\$\.charging_periods: ENERGY sums to more than"):
        parse_cdr(json.dumps(data))


def test_a_currency_is_quoted_on_one_line(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(aligned(currency="E\nUR" * 1000))
    rc = main(["price", "--tariff", str(STEP_ZERO), "--cdr", str(tmp_path / "c.json")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == f"kiosk: {tmp_path / 'c.json'}: $.currency: the CDR is in 'E\\nURE\\nUR', the " \
                  f"tariff in EUR\n"
