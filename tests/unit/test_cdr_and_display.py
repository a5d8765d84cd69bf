"""CDRs in (the ``kiosk price`` command) and out (the session CDR), and the price display."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.billing.cdr import CdrError, parse_cdr, price_cdr
from kiosk.billing.display import price_display, unit_price
from kiosk.billing.tariff import load_tariffs, parse_tariff
from kiosk.config import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ocpi"


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


def test_price_command_on_a_cpo_cdr() -> None:
    out = kiosk("price", "--tariff", str(DATA / "tariff_day_night.json"), "--cdr",
                str(DATA / "cdr_day_night.json"), "--time-zone", "Europe/Berlin")
    assert out.returncode == 0, out.stderr
    totals = json.loads(out.stdout)
    # 14:10Z is 16:10 in Berlin (day price), 15:00Z is 17:00 (evening price): the worked
    # example 4.3 x 0.20 + 1.2 x 0.27 = 1.184 (5.4 kWh billed as 5.5 in 500 Wh steps)
    assert totals["total_cost"] == {"excl_vat": 1.18, "incl_vat": 1.18}
    assert totals["total_energy"] == 5.4 and totals["total_time"] == 2.5
    assert set(totals) >= {"total_energy_cost", "total_time_cost", "total_parking_cost",
                           "total_fixed_cost", "total_parking_time"}


def test_price_command_time_zone_matters() -> None:
    out = kiosk("price", "--tariff", str(DATA / "tariff_day_night.json"), "--cdr",
                str(DATA / "cdr_day_night.json"), "--time-zone", "UTC")
    assert out.returncode == 0, out.stderr
    # in UTC both periods are before 17:00: 5.5 kWh x 0.20
    assert json.loads(out.stdout)["total_cost"]["excl_vat"] == 1.1


@pytest.mark.parametrize(("args", "message"), [
    (["--time-zone", "Mars/Olympus"], "unknown time zone"),
    (["--cdr", "/nonexistent.json"], "kiosk: /nonexistent.json: no such file"),
])
def test_price_command_errors(args: list[str], message: str) -> None:
    base = {"--tariff": str(DATA / "tariff_day_night.json"),
            "--cdr": str(DATA / "cdr_day_night.json")}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    out = kiosk("price", *[x for kv in base.items() for x in kv])
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def cdr_text(**changes: object) -> str:
    data = json.loads((DATA / "cdr_day_night.json").read_text())
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value
    return json.dumps(data)


@pytest.mark.parametrize(("changes", "message"), [
    ({"start_date_time": "yesterday"}, r"^\$\.start_date_time: .*not an ISO 8601"),
    ({"end_date_time": "2015-06-29T10:00:00Z"}, r"^\$\.end_date_time: before"),
    ({"charging_periods": []}, r"^\$\.charging_periods: "),
    ({"charging_periods__1__start_date_time": "2015-06-29T14:00:00Z"},
     r"^\$\.charging_periods\[1\]\.start_date_time: before the previous"),
    ({"charging_periods__0__dimensions__0__type": "ENERGIE"},
     r"^\$\.charging_periods\[0\]\.dimensions\[0\]\.type: unknown dimension"),
    ({"charging_periods__0__dimensions__1__type": []},  # found by hypothesis: unhashable
     r"^\$\.charging_periods\[0\]\.dimensions\[1\]\.type: expected a text, not list"),
    ({"charging_periods__0__dimensions__0__type": {"a": 1}},
     r"dimensions\[0\]\.type: expected a text, not dict"),
    ({"charging_periods__0__dimensions__0__volume": "4.3"},
     r"dimensions\[0\]\.volume: expected a number"),
    ({"charging_periods__0__dimensions__0__volume": -1}, r"volume: expected a finite"),
])
def test_broken_cdrs_name_the_json_path(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CdrError, match=message):
        parse_cdr(cdr_text(**changes))


def test_a_cdr_in_another_currency_is_refused() -> None:
    (t,) = load_tariffs(DATA / "tariff_day_night.json")
    with pytest.raises(CdrError, match="CHF"):
        price_cdr(t, parse_cdr(cdr_text(currency="CHF")), ZoneInfo("UTC"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_random_cdr_bytes_give_typed_errors(data: bytes | str) -> None:
    with contextlib.suppress(CdrError):
        parse_cdr(data)


def test_unit_prices_are_exact() -> None:
    assert unit_price(Decimal("0.595"), "EUR") == "€0.595"
    assert unit_price(Decimal("0.6"), "EUR") == "€0.60"
    assert unit_price(Decimal("0.4998"), "EUR", "de") == "0,4998\u00a0€"
    assert unit_price(Decimal("1234.5"), "EUR", "fr") == "1\u202f234,50\u00a0€"
    assert unit_price(Decimal("0.4998"), "EUR", "nl") == "€\u00a00,4998"
    assert unit_price(Decimal(12), "JPY") == "¥12"


def test_demo_prices_in_english_and_german() -> None:
    (t,) = load_tariffs(RESOURCES / "tariffs" / "demo.json")
    en = price_display(t, hold_minor=5000, lang="en")
    assert en.headline == "€0.595 / kWh"
    assert [(i.label, i.amount, i.condition) for i in en.items] == [
        ("Energy", "€0.4998 / kWh", "22:00–06:00"),
        ("Idle fee", "€0.119 / min", "after 4 h · while the car stays plugged in without "
                                       "charging"),
        ("Energy", "€0.595 / kWh", ""),
    ]
    assert en.vat_note == "All prices incl. 19\u00a0% VAT."
    assert "€50.00" in en.hold_note
    de = price_display(t, hold_minor=5000, lang="de")
    assert de.headline == "0,595\u00a0€ / kWh" and de.items[1].label == "Blockiergebühr"
    assert "50,00\u00a0€" in de.hold_note and de.vat_note == "Alle Preise inkl. 19\u00a0% MwSt."
    fr = price_display(t, hold_minor=5000, lang="fr")
    assert fr.headline == "0,595\u00a0€ / kWh" and fr.items[1].label == "Frais d'occupation"
    nl = price_display(t, hold_minor=5000, lang="nl")
    assert nl.headline == "€\u00a00,595 / kWh" and "€\u00a050,00" in nl.hold_note


def test_display_lists_session_fee_minimum_and_unknown_vat() -> None:
    t = parse_tariff(json.dumps({"currency": "EUR", "min_price": {"excl_vat": 2},
                                 "elements": [{"price_components": [
                                     {"type": "FLAT", "price": 1, "step_size": 1},
                                     {"type": "TIME", "price": 3, "vat": 19, "step_size": 900},
                                 ], "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]}}]}))
    d = price_display(t, hold_minor=4500, lang="en")
    items = {i.dimension: i for i in d.items}
    assert items["FLAT"].amount == "€1.00" and items["FLAT"].condition == "Sat, Sun"
    assert items["TIME"].amount == "€0.0595 / min"
    assert "billed per started 15 min" in items["TIME"].condition
    assert items["MIN"].amount == "€2.00"
    assert d.vat_note == "All prices incl. VAT (19\u00a0%)."
