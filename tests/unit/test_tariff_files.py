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

from kiosk.billing.tariff import (
    MAX_PROBLEMS,
    TariffError,
    load_tariffs,
    parse_tariff,
    parse_tariffs,
)
from kiosk.config import RESOURCES, ConfigError, parse_config

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "ocpi"

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
    (["elements", 1, "price_components", 0, "step_size"], -1, r"step_size: .*1"),
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


FOUR = [
    "$.currency: unsupported currency 'EURO'",
    "$.elements[0].price_components[0].price: must be a JSON number",
    "$.elements[0].restrictions.start_tme: unknown key (misspelled?)",
    "$.elements[1].price_components[0].type: Input should be 'ENERGY', 'FLAT', "
    "'PARKING_TIME' or 'TIME'",
]


def test_every_problem_of_a_tariff_is_listed_with_its_path() -> None:
    """Issue #11: four problems used to read "$.currency: … (and 3 more)". Now each is
    listed with its JSON path, joined with "; " on one line; .problems has them one by one."""
    path = DATA / "tariff_four_problems.json"
    with pytest.raises(TariffError) as caught:
        load_tariffs(path)
    assert str(caught.value) == f"{path}: " + "; ".join(FOUR)
    assert caught.value.problems == tuple(FOUR)
    assert "\n" not in str(caught.value) and "more" not in str(caught.value)


def test_problems_in_several_tariffs_of_a_list_are_all_listed() -> None:
    bad = json.loads(mutate(["currency"], "XBT"))
    text = json.dumps([GOOD, bad, "x", json.loads(mutate(["elements"], []))])
    with pytest.raises(TariffError) as caught:
        parse_tariffs(text)
    assert caught.value.problems == (
        "$[1].currency: unsupported currency 'XBT'", "$[2]: a tariff is a JSON object",
        "$[3].elements: List should have at least 1 item after validation, not 0")


def test_many_problems_are_capped_with_a_count() -> None:
    data = copy.deepcopy(GOOD)
    data["elements"] = [{"price_components": [{"type": "ENERGY", "price": -1,
                                               "step_size": 1, f"typo{i}": 1}]}
                        for i in range(15)]  # 2 problems each
    with pytest.raises(TariffError) as caught:
        parse_tariff(json.dumps(data))
    message = str(caught.value)
    assert len(caught.value.problems) == 30
    assert message.count("; ") == MAX_PROBLEMS  # 20 problems, then "and 10 more"
    assert message.endswith("; and 10 more") and "\n" not in message
    assert message.startswith("$.elements[0].price_components[0].price: ")


def test_check_config_lists_every_problem_of_its_tariff(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text((DATA / "tariff_four_problems.json").read_text())
    with pytest.raises(ConfigError) as caught:
        parse_config('schema_version = 1\n[tariff]\nfile = "t.json"\n', "k.toml", tmp_path,
                     demo=True)
    message = str(caught.value)
    assert "\n" not in message
    for problem in FOUR:
        assert problem in message


def test_a_key_with_a_line_break_stays_on_one_line() -> None:
    with pytest.raises(TariffError) as caught:
        parse_tariff(mutate(["elements", 0, "restrictions", "start\ntime" + "x" * 100], 1))
    assert str(caught.value).startswith('$.elements[0].restrictions["start\\ntime')
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 120


def test_step_size_zero_reads_as_no_stepping_with_a_warning() -> None:
    """Issue #11: published test tariffs carry step_size 0; it was refused."""
    path = DATA / "tariff_step_zero.json"
    found: list[str] = []
    tariffs = load_tariffs(path, warnings=found)
    assert [c.step_size for el in tariffs[0].elements for c in el.price_components] == \
        [1, 1, 1, 1]
    assert found[0] == (f"{path}: $.elements[0].price_components[0].step_size: 0 read as 1 "
                        f"(no stepping; OCPI asks for at least 1)")
    assert [w.split(": ")[1] for w in found] == [
        "$.elements[0].price_components[0].step_size", "$.elements[1].price_components[0]."
        "step_size", "$.elements[2].price_components[0].step_size",
        "$.elements[2].price_components[1].step_size"]


def test_step_size_zero_is_logged_when_the_caller_keeps_no_warnings(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="kiosk.billing.tariff"):
        t = parse_tariff(mutate(["elements", 1, "price_components", 1, "step_size"], 0))
        load_tariffs(DATA / "tariff_step_zero.json")  # the signature config.py calls
    assert t.elements[1].price_components[1].step_size == 1
    assert caplog.records[0].getMessage() == (
        "tariff: $.elements[1].price_components[1].step_size: 0 read as 1 (no stepping; OCPI "
        "asks for at least 1)")
    assert len(caplog.records) == 5


@pytest.mark.parametrize(("path", "value", "message"), [
    (["elements", 1, "price_components", 0, "price"], 10**6 + 1, r"price: .*1000000"),
    (["elements", 0, "restrictions", "max_kwh"], 10**8, r"max_kwh: .*10000000"),
    (["start_date_time"], "0001-01-01T00:00:00+01:00", r"between 1970 and 2100"),
    (["end_date_time"], "9999-12-31T23:59:59-14:00", r"between 1970 and 2100"),
    (["last_updated"], "2099-12-31T23:00:00-14:00", r"between 1970 and 2100"),
    (["currency"], "E\nU" + "R" * 10_000, r"^\$\.currency: unsupported currency 'E\\nURRRRR'$"),
])
def test_numbers_and_timestamps_are_bounded(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff(mutate(path, value))


@pytest.mark.parametrize(("text", "message"), [
    ("", r"not valid JSON"), ("{", r"not valid JSON"), ("[]", r"empty list"),
    ("[1]", r"^\$\[0\]: a tariff is a JSON object"), ("NaN", r"NaN is not a number"),
    ('{"currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", '
     '"price": Infinity, "step_size": 1}]}]}', r"Infinity is not a number"),
    ("[" * 100_000, r"nested too deeply|not valid JSON"),
    ("[" * 33 + "]" * 33, r"^\$: nested too deeply \(more than 32 levels\)$"),
    ('{"currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", '
     '"price": ' + "9" * 5000 + ', "step_size": 1}]}]}', r"^\$: an integer of more than 40"),
    ('{"currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", '
     '"price": 1e999999, "step_size": 1}]}]}', r"price: "),
    ('{"currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", '
     '"price": 1e-999999, "step_size": 1}]}]}', r"price: "),
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
    with pytest.raises(ConfigError, match=r"tariff\.file: .*(cannot read|no such file)"):
        parse_config('schema_version = 1\n[tariff]\nfile = "none.json"\n', "k.toml", tmp_path,
                     demo=True)


@pytest.mark.parametrize(("name", "message"), [
    ("/dev/zero", r"^/dev/zero: cannot read: a character device, not a regular file$"),
    ("/dev/urandom", r": cannot read: a character device, not a regular file$"),
    (".", r"^\.: cannot read: a directory, not a regular file$"),
    ("fifo", r"^fifo: cannot read: a named pipe \(FIFO\), not a regular file$"),
    ("big.json", r"^big\.json: too large: 1048577 bytes, at most 1 MiB$"),
    ("zero-link", r"^zero-link: cannot read: a character device, not a regular file$"),
    ("missing.json", r"^missing\.json: no such file$"),
    ("nul\0name", r"^nul\\x00name: cannot read: a NUL in the file name$"),
])
def test_only_regular_files_of_at_most_1_mib_are_read(tmp_path: Path, monkeypatch: Any,
                                                      name: str, message: str) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo")  # opening it for reading would wait for a writer
    Path("big.json").write_bytes(b" " * (1 << 20) + b"1")
    os.symlink("/dev/zero", "zero-link")
    with pytest.raises(TariffError, match=message):
        load_tariffs(name)
    assert Path("big.json").stat().st_size == (1 << 20) + 1


def test_a_file_of_exactly_1_mib_is_read(tmp_path: Path) -> None:
    text = json.dumps(GOOD)
    (tmp_path / "t.json").write_text(text + " " * ((1 << 20) - len(text)))
    assert len(load_tariffs(tmp_path / "t.json")) == 1


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
