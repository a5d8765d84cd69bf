"""``kiosk price`` fed hostile files (issue #11): whatever the tariff and the CDR hold, the
command prints totals (exit 0) or one line ``kiosk: <file>: <problem>`` on standard error
(exit 2); never a traceback, a hang, or a file read to exhaustion.

In process (``kiosk.cli.main``) over generated files, and as a real process for what only a
real process shows: a FIFO that would block ``open``, ``/dev/zero`` and ``/dev/urandom``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ocpi"
TARIFFS = [DATA / "tariff_day_night.json", DATA / "tariff_step_zero.json",
           ROOT / "kiosk" / "resources" / "tariffs" / "demo.json"]
CDRS = [DATA / "cdr_day_night.json", DATA / "cdr_aligned_periods.json"]
ZONES = ["UTC", "Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns"]
SENTINEL = "@@hostile@@"


def price(capsys: pytest.CaptureFixture[str], tariff: Path, cdr: Path,
          zone: str = "UTC") -> tuple[int, str, str]:
    capsys.readouterr()  # what an earlier example left
    rc = main(["price", "--tariff", str(tariff), "--cdr", str(cdr), "--time-zone", zone])
    out, err = capsys.readouterr()
    return rc, out, err


def clean(rc: int, out: str, err: str, *names: Path) -> None:
    """Exit 0 with totals and nothing on stderr, or exit 2 with one line naming a file."""
    assert "Traceback" not in out + err
    assert rc in (0, 2), (rc, err)
    if rc == 0:
        totals = json.loads(out)
        assert err == "" and set(totals) >= {"total_cost", "warnings"}
        return
    assert out == "" and err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("kiosk: ")
    assert any(err.startswith(f"kiosk: {n}: ") for n in names), err


# --- generated hostile files --------------------------------------------------------------------
def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _inject(data: Any, path: tuple[Any, ...], fragment: str, as_key: bool) -> str:
    """``data`` as JSON with the value at ``path`` replaced by the raw JSON ``fragment`` (or,
    with ``as_key``, a key ``fragment`` added to the object there)."""
    if not path:
        return fragment
    data = json.loads(json.dumps(data))
    node = data
    for p in path[:-1]:
        node = node[p]
    if as_key and isinstance(node, dict):
        node[SENTINEL] = 1
        return json.dumps(data).replace(json.dumps(SENTINEL), json.dumps(fragment), 1)
    node[path[-1]] = SENTINEL
    return json.dumps(data).replace(json.dumps(SENTINEL), fragment, 1)


_numbers = st.one_of(
    st.sampled_from(["1e30", "1e999999", "-1e999999", "1e-999999", "9" * 5000, "-" + "9" * 41,
                     "1" + "0" * 4300, "0." + "0" * 5000 + "1", "1E+308", "10000000",
                     "10000000.000000000000000001", "1e7", "-0", "0e-1000000", "NaN",
                     "Infinity", "-Infinity", "1.5", "0", "3600", "1000000000"]),
    st.integers(-10**50, 10**50).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr))
_strings = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00",
                     "0001-01-01T00:00:00+14:00", "2026-03-12T18:00:00", "2026-03-12",
                     "2026-02-30T00:00:00Z", "24:00", "00:00", "EUR", "XBT", "ENERGY",
                     "PARKING_TIME", "MAX_POWER", "x" * 100_000, "E\nUR", "\u2028", "\ud800"]),
    st.text(max_size=40)).map(json.dumps)
_fragments = st.one_of(
    _numbers, _strings,
    st.sampled_from(["null", "true", "false", "[]", "{}", "[[]]", '{"": {}}', "[1, 2, 3]",
                     '{"type": "ENERGY", "volume": 1e30}', "[" * 1000 + "]" * 1000,
                     "[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40]),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n))


@st.composite
def hostile(draw: st.DrawFn, bases: list[Path]) -> bytes:
    base = draw(st.sampled_from(bases))
    text = base.read_text()
    how = draw(st.sampled_from(["bytes", "truncate", "splice", "inject", "nest", "same"]))
    if how == "bytes":
        return draw(st.binary(max_size=300))
    if how == "truncate":
        return text[:draw(st.integers(0, len(text)))].encode()
    if how == "splice":
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        return (text[:at] + draw(st.text(max_size=20) | _fragments) + text[at + cut:]).encode()
    if how == "nest":
        n = draw(st.integers(1, 3000))
        return ("[" * n + text + "]" * n).encode()
    if how == "same":
        return text.encode()
    data = json.loads(text)
    path = draw(st.sampled_from(_paths(data)))
    fragment = draw(_fragments)
    return _inject(data, path, fragment, draw(st.booleans())).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(tariff=hostile(TARIFFS), cdr=hostile(CDRS), which=st.sampled_from(["t", "c", "tc"]),
       zone=st.sampled_from(ZONES))
def test_generated_hostile_files_give_totals_or_one_line(
        capsys: pytest.CaptureFixture[str], folder: Path, tariff: bytes, cdr: bytes,
        which: str, zone: str) -> None:
    t, c = folder / "tariff.json", folder / "cdr.json"
    t.write_bytes(tariff if "t" in which else TARIFFS[0].read_bytes())
    c.write_bytes(cdr if "c" in which else CDRS[0].read_bytes())
    clean(*price(capsys, t, c, zone), t, c)


# --- well-formed files at the edges of the bounds ------------------------------------------------
_volume = st.one_of(st.decimals(0, 10**7, places=18), st.integers(0, 10**7),
                    st.sampled_from(["10000000", "9999999.999999999999999999", "0E-18"]))
_price = st.one_of(st.decimals(0, 10**6, places=2), st.integers(0, 10**6),
                   st.decimals(0, 1, places=17))


def _raw(value: Any) -> str:
    return f"@{value}@"  # a JSON number once the quotes around @...@ are dropped


@st.composite
def edges(draw: st.DrawFn) -> tuple[str, str]:
    """A tariff and a CDR that are well-formed, with volumes, prices, steps and periods
    anywhere in (and a little beyond) the bounds: priced, or refused in one line."""
    comps = []
    for kind in draw(st.lists(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]),
                              min_size=1, max_size=4, unique=True)):
        c: dict[str, Any] = {"type": kind, "price": _raw(draw(_price)),
                             "step_size": draw(st.integers(0, 10**9))}
        if draw(st.booleans()):
            c["vat"] = draw(st.integers(0, 100))
        comps.append(c)
    first: dict[str, Any] = {"price_components": comps}
    if draw(st.booleans()):
        first["restrictions"] = {"min_kwh": draw(st.integers(0, 10**7 - 1)),
                                 "start_time": "06:00", "end_time": "02:00"}
    tariff: dict[str, Any] = {"currency": draw(st.sampled_from(["EUR", "JPY"])),
                              "elements": [first, {"price_components": comps}]}
    if draw(st.booleans()):
        tariff["max_price"] = {"excl_vat": _raw(draw(_price))}
    start = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(-86400, 100 * 365 * 86400)))
    n = draw(st.integers(1, 6))
    offsets = sorted(draw(st.lists(st.integers(-2 * 86400, 368 * 86400), min_size=n,
                                   max_size=n)))
    end = start + timedelta(seconds=draw(st.integers(0, 367 * 86400)))
    periods = []
    for o in offsets:
        kinds = draw(st.lists(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "MAX_POWER",
                                               "CURRENT"]), min_size=1, max_size=5,
                              unique=True))
        periods.append({"start_date_time": (start + timedelta(seconds=o)).isoformat(),
                        "dimensions": [{"type": k, "volume": _raw(draw(_volume))}
                                       for k in kinds]})
    cdr = {"start_date_time": start.isoformat(), "end_date_time": end.isoformat(),
           "charging_periods": periods}

    def text(d: Any) -> str:
        return json.dumps(d).replace('"@', "").replace('@"', "")

    return text(tariff), text(cdr)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files=edges(), zone=st.sampled_from(ZONES))
def test_files_at_the_bounds_give_totals_or_one_line(
        capsys: pytest.CaptureFixture[str], folder: Path, files: tuple[str, str],
        zone: str) -> None:
    t, c = folder / "edge-tariff.json", folder / "edge-cdr.json"
    t.write_text(files[0])
    c.write_text(files[1])
    rc, out, err = price(capsys, t, c, zone)
    clean(rc, out, err, t, c)
    if rc == 0:  # money stays exact: whole minor units, never negative
        total = json.loads(out)["total_cost"]
        assert total["excl_vat"] >= 0 and total["incl_vat"] >= 0


@pytest.mark.parametrize(("change", "message"), [
    ('"volume": 1e30', "volume: expected a finite number of at least 0 and at most 10^7"),
    ('"volume": 1e999999', "volume: expected a finite number of at least 0 and at most 10^7"),
    ('"volume": ' + "9" * 5000, "$: an integer of more than 40 digits"),
    ('"volume": 0.' + "3" * 30, "volume: more than 18 decimal places"),
])
def test_the_numbers_that_gave_tracebacks(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          change: str, message: str) -> None:
    cdr = tmp_path / "cdr.json"
    cdr.write_text((DATA / "cdr_day_night.json").read_text().replace('"volume": 4.3', change))
    rc, out, err = price(capsys, DATA / "tariff_day_night.json", cdr)
    clean(rc, out, err, cdr)
    assert rc == 2 and message in err


def test_a_session_from_year_1_to_9999(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    data = json.loads((DATA / "cdr_day_night.json").read_text())
    data["start_date_time"] = data["charging_periods"][0]["start_date_time"] = \
        "0001-01-01T00:00:00+01:00"
    data["end_date_time"] = data["charging_periods"][1]["start_date_time"] = \
        "9999-12-31T23:59:59-01:00"
    cdr = tmp_path / "cdr.json"
    cdr.write_text(json.dumps(data))
    rc, _, err = price(capsys, DATA / "tariff_day_night.json", cdr, "Europe/Berlin")
    assert (rc, err) == (2, f"kiosk: {cdr}: $.start_date_time: '0001-01-01T00:00:00+01:00' is "
                            f"not between 2000 and 2100\n")


def test_a_tariff_with_many_problems_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    t = DATA / "tariff_four_problems.json"
    rc, out, err = price(capsys, t, CDRS[0])
    clean(rc, out, err, t)
    assert rc == 2 and err.count("; ") == 3 and "$.elements[1].price_components[0].type" in err


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "a" * 5000, "\0",
                                  "UTC\nx"])
def test_a_hostile_time_zone(capsys: pytest.CaptureFixture[str], zone: str) -> None:
    rc, _, err = price(capsys, TARIFFS[0], CDRS[0], zone)
    assert rc == 2 and err.startswith("kiosk: --time-zone: unknown time zone ")
    assert err.count("\n") == 1 and len(err) < 120


# --- real processes: what must not be opened or read ---------------------------------------------
def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=30, env=env, check=False)


@pytest.fixture(scope="module")
def specials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("specials")
    os.mkfifo(d / "fifo")  # nobody ever writes: open() without O_NONBLOCK would wait forever
    (d / "big.json").write_bytes(b"[" + b" " * (2 << 20) + b"]")
    (d / "zero.json").symlink_to("/dev/zero")
    return {"fifo": d / "fifo", "zero": Path("/dev/zero"), "urandom": Path("/dev/urandom"),
            "dir": d, "big": d / "big.json", "link": d / "zero.json"}


@pytest.mark.slow
@pytest.mark.parametrize("option", ["--tariff", "--cdr"])
@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "cannot read: a named pipe (FIFO), not a regular file"),
    ("zero", "cannot read: a character device, not a regular file"),
    ("urandom", "cannot read: a character device, not a regular file"),
    ("dir", "cannot read: a directory, not a regular file"),
    ("big", f"too large: {(2 << 20) + 2} bytes, at most 1 MiB"),
    ("link", "cannot read: a character device, not a regular file"),
])
def test_special_files_are_refused_at_once(specials: dict[str, Path], option: str, kind: str,
                                           message: str) -> None:
    files = {"--tariff": str(TARIFFS[0]), "--cdr": str(CDRS[0]), option: str(specials[kind])}
    began = time.monotonic()
    proc = kiosk("price", *[x for kv in files.items() for x in kv])
    assert time.monotonic() - began < 20
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"kiosk: {specials[kind]}: {message}\n"
