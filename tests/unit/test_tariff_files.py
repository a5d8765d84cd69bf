"""Tariff files: strict validation with the JSON path; hostile input gives a clear error and
never a wrong price."""

from __future__ import annotations

import contextlib
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.billing.tariff import TariffError, load_tariffs, parse_tariff, parse_tariffs
from kiosk.config import RESOURCES, ConfigError, parse_config

GOOD: dict[str, Any] = {
    "currency": "EUR",
    "min_price": {"excl_vat": 1, "incl_vat": 1.19},
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19, "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00",
                          "day_of_week": ["MONDAY", "FRIDAY"]}},
        {"price_components": [{"type": "ENERGY", "price": 0.50, "vat": 19, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 6, "vat": 19,
                               "step_size": 900}]},
    ],
}


def mutate(path: list[Any], value: Any) -> str:
    data = copy.deepcopy(GOOD)
    node = data
    for p in path[:-1]:
        node = node[p]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(data)


def test_the_demo_tariff_loads() -> None:
    (t,) = load_tariffs(RESOURCES / "tariffs" / "demo.json")
    assert t.id == "demo-adhoc-2026" and len(t.elements) == 3


def test_numbers_are_exact_decimals() -> None:
    t = parse_tariff(mutate(["elements", 1, "price_components", 0, "price"], 0))
    assert t.elements[0].price_components[0].price == Decimal("0.30")
    text = json.dumps(GOOD).replace("0.3,", "0.30000000000000001,")
    assert parse_tariff(text).elements[0].price_components[0].price == \
        Decimal("0.30000000000000001")


@pytest.mark.parametrize(("path", "value", "message"), [
    (["elements", 0, "restrictions", "start_tme"], "10:00",
     r"^\$\.elements\[0\]\.restrictions\.start_tme: unknown key"),
    (["elements", 1, "price_components", 1, "step_sise"], 1,
     r"^\$\.elements\[1\]\.price_components\[1\]\.step_sise: unknown key"),
    (["elements", 1, "price_components", 0, "price"], "0.50",
     r"^\$\.elements\[1\]\.price_components\[0\]\.price: must be a JSON number"),
    (["elements", 1, "price_components", 0, "price"], -1,
     r"price_components\[0\]\.price: .*greater than or equal to 0"),
    (["elements", 1, "price_components", 0, "price"], True, r"price: must be a JSON number"),
    (["elements", 1, "price_components", 0, "vat"], 150, r"vat: .*100"),
    (["elements", 1, "price_components", 0, "step_size"], 0, r"step_size: .*1"),
    (["elements", 1, "price_components", 0, "step_size"], 1.5, r"step_size: "),
    (["elements", 1, "price_components", 0, "type"], "ENERGIE", r"\.type: "),
    (["elements", 1, "price_components", 0, "step_size"], KeyError, r"step_size: .*required"),
    (["elements", 1, "price_components"], [], r"price_components: .*at least 1"),
    (["elements"], [], r"^\$\.elements: .*at least 1"),
    (["elements", 0, "restrictions", "start_time"], "25:00", r"start_time: "),
    (["elements", 0, "restrictions", "end_time"], "22:00", r"empty window"),
    (["elements", 0, "restrictions"], {"min_kwh": 20, "max_kwh": 10},
     r"^\$\.elements\[0\]\.restrictions: min_kwh must be below max_kwh"),
    (["elements", 0, "restrictions", "day_of_week"], ["MONDAY", "MONDAY"], r"repeats a day"),
    (["elements", 0, "restrictions", "day_of_week"], ["FUNDAY"], r"day_of_week\[0\]: "),
    (["elements", 0, "restrictions", "start_date"], "2026-02-30", r"not a date"),
    (["elements", 0, "restrictions", "min_duration"], "60", r"min_duration: "),
    (["min_price", "incl_vat"], 0.5, r"^\$\.min_price: incl_vat is lower"),
    (["max_price"], {"excl_vat": 0.5}, r"min_price is above max_price"),
    (["currency"], "XBT", r"^\$\.currency: unsupported currency"),
    (["start_date_time"], "2026-01-01T00:00:00", r"start_date_time: .*time zone"),
    (["elements", 0], "x", r"^\$\.elements\[0\]: "),
])
def test_broken_tariffs_name_the_json_path(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff(mutate(path, value))


@pytest.mark.parametrize(("text", "message"), [
    ("", r"not valid JSON"), ("{", r"not valid JSON"), ("[]", r"empty list"),
    ("[1]", r"^\$\[0\]: a tariff is a JSON object"), ("NaN", r"NaN is not a number"),
    ('{"currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", '
     '"price": Infinity, "step_size": 1}]}]}', r"Infinity is not a number"),
    ("[" * 100_000, r"nested too deeply|not valid JSON"),
    (b"\xff\xfe", r"not UTF-8"),
])
def test_hostile_files(text: str | bytes, message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariffs(text)


def test_a_config_naming_a_broken_tariff_file_does_not_start(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(mutate(["elements", 0, "restrictions", "start_tme"], "x"))
    with pytest.raises(ConfigError, match=r"tariff\.file: .*t\.json: \$\.elements\[0\]"):
        parse_config('schema_version = 1\n[tariff]\nfile = "t.json"\n', "k.toml", tmp_path,
                     demo=True)
    (tmp_path / "chf.json").write_text(mutate(["currency"], "CHF"))
    with pytest.raises(ConfigError, match=r"tariff\.file: tariff 0 .* is in CHF"):
        parse_config('schema_version = 1\n[tariff]\nfile = "chf.json"\n', "k.toml", tmp_path,
                     demo=True)
    with pytest.raises(ConfigError, match=r"tariff\.file: .*cannot read"):
        parse_config('schema_version = 1\n[tariff]\nfile = "none.json"\n', "k.toml", tmp_path,
                     demo=True)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**6,
                  min_value=-10**6),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=3),
    max_leaves=8)
_paths = st.sampled_from([
    ["currency"], ["min_price"], ["min_price", "excl_vat"], ["elements"], ["elements", 0],
    ["elements", 0, "restrictions"], ["elements", 0, "restrictions", "start_time"],
    ["elements", 0, "restrictions", "max_kwh"], ["elements", 0, "restrictions", "day_of_week"],
    ["elements", 1, "price_components", 0, "price"], ["elements", 1, "price_components", 0],
    ["elements", 1, "price_components", 1, "step_size"], ["elements", 1, "price_components"],
    ["elements", 1, "price_components", 0, "vat"], ["start_date_time"], ["type"], ["bogus"],
])


@settings(max_examples=400, deadline=None)
@given(path=_paths, value=_json)
def test_any_mutation_is_rejected_with_a_path_or_loads_sound(path: list[Any],
                                                            value: Any) -> None:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    try:
        t = parse_tariff(mutate(path, plain(value)))
    except TariffError as exc:
        assert str(exc).startswith("$")
        return
    # what loads is sound: prices non-negative, steps positive, bounds ordered
    for el in t.elements:
        for c in el.price_components:
            assert c.price >= 0 and c.step_size >= 1
    if t.min_price and t.max_price:
        assert t.min_price.excl_vat <= t.max_price.excl_vat


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_bytes_never_crash(data: bytes | str) -> None:
    with contextlib.suppress(TariffError):
        parse_tariffs(data)
