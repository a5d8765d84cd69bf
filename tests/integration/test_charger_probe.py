"""``kiosk charger-probe`` and the driver's meter read the controller's energy counters the
same way, on a real pty: a session the firmware already added to its lifetime total at the
unplug is never counted twice (the field report: ``total_wh`` 16 after a car that took 8 Wh)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.charger.api import ChargerFaulted, MeterReading, PilotState
from drivers.sim.evse import EvseSimulator
from kiosk.maintenance.charger_probe import charger_probe
from tests.support.evse import open_charger, wait_for

START_WH = 1000


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[EvseSimulator]:
    s = EvseSimulator(tmp_path, speed=50, firmware="8.2.3", protocol="5.2.1", start_wh=START_WH)
    yield s
    s.close()


def probe(sim: EvseSimulator, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert charger_probe(str(sim.path), 115200, 1.0) == 0
    info: dict = json.loads(capsys.readouterr().out)
    return info


def charge(sim: EvseSimulator, wh: int) -> int:
    """A car connects, takes at least ``wh`` Wh and is full: the session's Ws, standing still."""
    sim.plug()
    wait_for(lambda: sim.session_ws >= wh * 3600, f"{wh} Wh charged")
    sim.car_full()
    return int(sim.session_ws)


def test_the_probe_after_an_unplug_does_not_count_the_session_twice(
        sim: EvseSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    first = charge(sim, 8)
    sim.unplug()  # the firmware adds the session to its lifetime; the session counter stays
    assert sim.total_wh == START_WH + first // 3600
    info = probe(sim, capsys)
    assert (info["firmware"], info["protocol"]) == ("8.2.3", "5.2.1")
    assert info["state"]["pilot"] == "A"
    energy = info["energy"]
    assert energy["total_wh"] == START_WH + first // 3600  # not + the session once more
    assert abs(energy["total_wh"] - sim.energy_wh()) <= 1  # what was really delivered
    assert energy["session_wh"] == first // 3600 and energy["session_open"] is False
    assert energy["raw"] == {"session_ws": first, "lifetime_wh": START_WH + first // 3600}

    second = charge(sim, 5)  # the next car: a new session
    info = probe(sim, capsys)
    energy = info["energy"]
    assert info["state"]["pilot"] == "B" and energy["session_open"] is True
    assert energy["session_wh"] == second // 3600
    assert energy["total_wh"] == START_WH + first // 3600 + second // 3600
    assert abs(energy["total_wh"] - sim.energy_wh()) <= 2  # the firmware drops fractions
    sim.unplug()
    assert probe(sim, capsys)["energy"]["total_wh"] == energy["total_wh"]  # same, not doubled
    assert not {"FE", "FD", "FS", "SC", "S4", "SK"} & set(sim.commands)  # read only


def test_the_drivers_meter_started_after_an_unplug_agrees_with_the_probe(
        sim: EvseSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The probe and a kiosk never share the port (two readers would split its bytes): the
    probe runs before the kiosk starts and after it stopped."""
    first = charge(sim, 8)
    sim.unplug()
    expected = START_WH + first // 3600
    assert probe(sim, capsys)["energy"]["total_wh"] == expected
    c, rec = open_charger(sim)  # a kiosk (re)started in the window before the next car
    try:
        assert c.status(1).energy_wh == expected
        sim.plug()
        wait_for(lambda: c.status(1).state is PilotState.B, "the next car")
        c.enable(1)
        wait_for(lambda: c.status(1).state is PilotState.C, "charging")
        wait_for(lambda: c.status(1).energy_wh >= expected + 20, "energy")
        c.disable(1)
        sim.unplug()
        wait_for(lambda: c.status(1).state is PilotState.A, "car gone")
        readings = [r.energy_wh for r in rec.of(MeterReading)]
        assert readings == sorted(readings) and not rec.of(ChargerFaulted)
        assert abs(c.status(1).energy_wh - sim.energy_wh()) <= 2
        final = c.status(1).energy_wh
    finally:
        c.close()
    assert abs(probe(sim, capsys)["energy"]["total_wh"] - final) <= 2


@pytest.mark.parametrize("baud", ["999999999999", "0", "-9600", "12345"])
def test_the_probe_refuses_a_rate_no_serial_port_has(baud: str, capsys) -> None:
    from kiosk.cli import main

    assert main(["charger-probe", "--port", "/dev/null", "--baud", baud]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kiosk: charger-probe: --baud {int(baud)}: not a standard rate")
    assert len(err.splitlines()) == 1
