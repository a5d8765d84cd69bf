"""Issue #10, the charger link: the driver fails closed, and the controller stops offering full
current by itself when the kiosk dies. Every test runs the OpenEVSE driver (or its serial link)
against the EVSE simulator over a real pty."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from drivers.charger.api import (
    ChargerError,
    ChargerFaulted,
    LinkBack,
    LinkLost,
    MeterReading,
    PilotState,
    StateChanged,
)
from drivers.charger.openevse import OpenEvseCharger
from drivers.charger.transport import LinkDown, SerialLink
from drivers.sim.evse import EvseSimulator
from tests.support.evse import Recorder, open_charger, wait_for

ROOT = Path(__file__).resolve().parents[2]
DOES_NOT_ANSWER = "The charger does not answer."


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[EvseSimulator]:
    s = EvseSimulator(tmp_path, speed=50)
    yield s
    s.close()


@pytest.fixture
def charger(sim: EvseSimulator) -> Iterator[tuple[OpenEvseCharger, Recorder]]:
    c, rec = open_charger(sim)
    yield c, rec
    c.close()


def faults(rec: Recorder, text: str = "") -> list[ChargerFaulted]:
    return [f for f in rec.of(ChargerFaulted) if text in f.message]


def commands_seen(sim: EvseSimulator, name: str) -> int:
    with sim._lock:
        return sim.commands.count(name)


def charge(c: OpenEvseCharger, sim: EvseSimulator) -> None:
    sim.plug()
    c.enable(1)
    wait_for(lambda: c.status(1).state is PilotState.C, "charging")


# --- the link: one state, up only when the controller answers ----------------------------------
class PausingPort:
    """A real serial port whose writes can be made to fail, and whose first ``close()`` waits
    until the link has opened the port again: the interleaving that used to leave the port open
    with the link down for good."""

    def __init__(self, inner: serial.Serial, reopened: threading.Event) -> None:
        self._inner = inner
        self._reopened = reopened
        self.fail_writes = False
        self.closed_while_reopened: bool | None = None

    def write(self, data: bytes) -> int | None:
        if self.fail_writes:
            raise serial.SerialException("write failed (cable pulled)")
        return self._inner.write(data)

    def close(self) -> None:
        if self.closed_while_reopened is None:
            self.closed_while_reopened = self._reopened.wait(5)
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_link_lost_while_its_port_closes_comes_back(sim: EvseSimulator) -> None:
    """The command thread loses the link (a write fails) and, while it is still closing the
    old port, the reader thread opens a new one: the link must end up open *and* up, and report
    lost then back, in that order."""
    reopened = threading.Event()
    ports: list[PausingPort] = []

    def opener(*args: Any, **kw: Any) -> PausingPort:
        port = PausingPort(serial.Serial(*args, **kw), reopened)
        ports.append(port)
        if len(ports) >= 2:
            reopened.set()
        return port

    changes: list[bool] = []
    link = SerialLink(str(sim.path), command_timeout_s=0.3, reconnect_s=0.05, opener=opener,
                      on_link=changes.append)
    try:
        assert link.start()
        assert link.command("GS").ok
        ports[0].fail_writes = True
        with pytest.raises(LinkDown):
            link.command("GS")
        assert ports[0].closed_while_reopened  # the interleaving really happened
        wait_for(lambda: link.up, "the link up again on the new port")
        assert link.command("GS").ok
        wait_for(lambda: len(changes) >= 3, "both link changes reported")
        assert changes == [True, False, True]
    finally:
        link.close()


def test_the_link_is_up_only_once_the_controller_answers(sim: EvseSimulator) -> None:
    sim.silent = True
    changes: list[bool] = []
    link = SerialLink(str(sim.path), command_timeout_s=0.2, on_link=changes.append)
    try:
        assert not link.start(wait_s=0.5)  # the port opened; nobody answered
        assert link.port_open and not link.up
        with pytest.raises(LinkDown):
            link.command("GS")
        wait_for(lambda: commands_seen(sim, "GV") >= 3, "probes while silent")
        assert changes == [] and not link.up
        sim.silent = False
        wait_for(lambda: changes == [True], "up once the controller answers")
        assert link.up
        assert link.command("GS").ok
    finally:
        link.close()


def test_a_hung_controller_past_the_grace_is_a_fault(sim: EvseSimulator, charger) -> None:
    """Port open, controller silent: one LinkLost, no flapping, one fault at the grace, and
    nothing back until it answers again."""
    c, rec = charger
    charge(c, sim)
    rec.clear()
    sim.silent = True
    wait_for(lambda: rec.of(LinkLost), "link lost")
    wait_for(lambda: faults(rec, DOES_NOT_ANSWER), "the link fault", timeout=10)
    probes = commands_seen(sim, "GV")
    wait_for(lambda: commands_seen(sim, "GV") >= probes + 5, "more probes while silent")
    assert len(rec.of(LinkLost)) == 1 and rec.of(LinkBack) == []
    assert len(faults(rec)) == 1 and not c.link.up
    with pytest.raises(ChargerError):
        c.disable(1)
    sim.silent = False
    wait_for(lambda: rec.of(LinkBack), "link back")
    wait_for(lambda: sim.mode == "sleeping", "the last commanded mode (off) restored")
    assert len(faults(rec)) == 1


def test_a_controller_silent_from_the_start_is_a_fault_after_the_grace(
        sim: EvseSimulator) -> None:
    sim.silent = True
    c, rec = open_charger(sim, link_grace_s=4.0)  # the driver waits 2 s for an answer
    try:
        assert not c.link.up and c.status(1).fault == ""
        wait_for(lambda: faults(rec, DOES_NOT_ANSWER), "the link fault", timeout=15)
        assert rec.of(LinkBack) == [] and c.status(1).fault == DOES_NOT_ANSWER
        sim.silent = False
        wait_for(lambda: rec.of(LinkBack), "link back")
        wait_for(lambda: c.firmware == "7.1.3 5.0.1", "probed once it answered")
        assert sim.mode == "sleeping" and c.status(1).fault == ""
    finally:
        c.close()


def test_link_lost_at_once_and_the_fault_at_the_grace_not_at_the_next_poll(
        sim: EvseSimulator) -> None:
    """A slow poll (30 s) must not delay either: LinkLost comes from the reader thread when the
    port fails, the fault when the grace (1 s) is over."""
    c, rec = open_charger(sim, poll_interval_s=30.0, reading_timeout_s=60.0,
                          heartbeat_interval_s=0)
    try:
        sim.unplug_port()
        wait_for(lambda: rec.of(LinkLost), "link lost", timeout=5)
        wait_for(lambda: faults(rec, DOES_NOT_ANSWER), "the fault at the grace", timeout=10)
        sim.replug_port(reboot=False)
        wait_for(lambda: rec.of(LinkBack), "link back", timeout=10)
    finally:
        c.close()


# --- what the driver reports -------------------------------------------------------------------
def test_charging_is_the_controllers_state_not_the_pilot(sim: EvseSimulator, charger) -> None:
    """Auth-locked: the car asks (pilot C), the controller holds it in B and does not charge."""
    c, rec = charger
    sim.plug()
    wait_for(lambda: c.status(1).state is PilotState.B, "car connected")
    assert c.set_auth_lock(1, True)
    c.enable(1)
    wait_for(lambda: sim._pilot() == 3 and sim._evse_state() == 2, "the car asks, held in B")
    polls = commands_seen(sim, "GS")
    wait_for(lambda: commands_seen(sim, "GS") >= polls + 5, "several polls")
    assert c.status(1).state is PilotState.B and PilotState.C not in rec.states()
    assert not sim.charging
    assert c.set_auth_lock(1, False)
    wait_for(lambda: c.status(1).state is PilotState.C, "charging once unlocked")


def test_the_reading_watchdog_while_charging(sim: EvseSimulator) -> None:
    """The controller answers its state but its energy answers are garbage: no valid reading
    while charging is a fault after ``reading_timeout_s``, once."""
    c, rec = open_charger(sim, reading_timeout_s=1.0)
    try:
        charge(c, sim)
        rec.clear()
        sim.replies["GU"] = (True, ("lots", "x"))
        wait_for(lambda: faults(rec, "stopped reporting the meter"), "the watchdog fault")
        polls = commands_seen(sim, "GU")
        wait_for(lambda: commands_seen(sim, "GU") >= polls + 10, "more polls")
        assert len(faults(rec)) == 1
        assert c.link.up and c.status(1).state is PilotState.C
        del sim.replies["GU"]
        readings = len(rec.of(MeterReading))
        wait_for(lambda: len(rec.of(MeterReading)) > readings + 3, "readings again")
        assert len(faults(rec)) == 1
    finally:
        c.close()


def test_power_with_a_counter_that_does_not_move_is_a_meter_fault(sim: EvseSimulator) -> None:
    c, rec = open_charger(sim, meter_stuck_wh=5)
    try:
        charge(c, sim)
        wait_for(lambda: len(rec.of(MeterReading)) >= 3, "readings")
        rec.clear()
        sim.meter_frozen = True  # 7.4 kW on $GG, $GU stands still
        wait_for(lambda: faults(rec, "does not count"), "the stuck meter fault")
        polls = commands_seen(sim, "GU")
        wait_for(lambda: commands_seen(sim, "GU") >= polls + 10, "more polls")
        assert len(faults(rec)) == 1  # once per episode
        sim.meter_frozen = False
        before = c.status(1).energy_wh
        wait_for(lambda: c.status(1).energy_wh > before, "counting again")
        assert len(faults(rec)) == 1
    finally:
        c.close()


def test_disable_bills_the_reading_after_the_stop(sim: EvseSimulator) -> None:
    """With a slow poll the last poll is far behind the stop: ``status()`` right after
    ``disable()`` must hold the controller's counter at the stop, and that reading goes out
    before the state change."""
    c, rec = open_charger(sim, poll_interval_s=0.5)
    try:
        charge(c, sim)
        wait_for(lambda: c.status(1).energy_wh >= 1100, "energy")
        rec.clear()
        c.disable(1)
        stopped_at = sim.energy_wh()
        assert not sim.charging
        assert abs(c.status(1).energy_wh - stopped_at) <= 1
        assert c.status(1).state is PilotState.B
        events = [e for e in rec.events if isinstance(e, MeterReading | StateChanged)]
        stop = next(i for i, e in enumerate(events) if isinstance(e, StateChanged))
        assert events[stop].state is PilotState.B and stop > 0
        before_stop = events[stop - 1]  # the reading at the stop comes before the change
        assert isinstance(before_stop, MeterReading)
        assert abs(before_stop.energy_wh - stopped_at) <= 1
    finally:
        c.close()


def test_set_current_against_the_controller(sim: EvseSimulator, charger) -> None:
    c, _rec = charger
    assert c.set_current(1, 16) == 16 and sim.current_a == 16
    assert c.set_current(1, 100) == 32 and sim.current_a == 32  # clamped: $NK 32
    with pytest.raises(ChargerError):
        c.set_current(1, 3)  # the controller would offer 6 A: more than asked
    with pytest.raises(ChargerError):
        c.set_current(1, True)  # type: ignore[arg-type]
    assert sim.current_a == 32  # refused before anything was sent
    for answer in [(True, ("abc",)), (False, ()), (True, ("40",)), (True, ("-7",)),
                   (True, ()), (True, ("999",))]:
        sim.replies["SC"] = answer
        with pytest.raises(ChargerError):
            c.set_current(1, 16)
    del sim.replies["SC"]
    assert c.set_current(1, 10) == 10 and sim.current_a == 10
    with pytest.raises(ChargerError, match="no connector 2"):
        c.set_current(2, 10)


# --- heartbeat supervision ($SY) -------------------------------------------------------------
def test_heartbeat_config_must_fit_the_poll(sim: EvseSimulator) -> None:
    for bad in [{"poll_interval_s": 1.0, "heartbeat_interval_s": 2},
                {"heartbeat_interval_s": 1.5}, {"heartbeat_interval_s": -1},
                {"heartbeat_interval_s": 70_000}, {"heartbeat_current_a": 81},
                {"reading_timeout_s": 0.1}]:
        with pytest.raises(ValueError):
            OpenEvseCharger(str(sim.path), **bad)  # type: ignore[arg-type]


def test_the_simulator_answers_sy_like_the_firmware(sim: EvseSimulator) -> None:
    link = SerialLink(str(sim.path), command_timeout_s=0.3)
    try:
        assert link.start()
        assert link.command("GY").values == ("0", "0", "0")
        armed = link.command("SY", 1, 0)
        assert armed.ok and armed.values == ("1", "0", "0")
        assert link.command("SY").ok  # a pulse
        wait_for(lambda: sim.hs_trigger == 2, "a missed pulse")
        assert sim.current_a == 6  # 0 A asked; the firmware clamps to the J1772 minimum
        missed = link.command("SY")
        assert not missed.ok and missed.values == ("1", "0", "2")  # $NK until acknowledged
        assert not link.command("SY", 7).ok  # the wrong cookie
        ack = link.command("SY", 165)
        assert ack.ok and ack.values == ("1", "0", "1") and sim.current_a == 32
        off = link.command("SY", 0, 0)
        assert off.ok and off.values == ("0", "0", "0")
    finally:
        link.close()


def test_a_controller_without_supervision_is_not_enabled(sim: EvseSimulator, charger) -> None:
    c, _rec = charger
    sim.plug()
    sim.replies["SY"] = (False, ())  # firmware built without HEARTBEAT_SUPERVISION
    with pytest.raises(ChargerError, match="heartbeat"):
        c.enable(1)
    assert sim.mode == "sleeping" and not sim.charging


def test_a_living_driver_keeps_an_armed_controller_charging(sim: EvseSimulator) -> None:
    c, rec = open_charger(sim, heartbeat_interval_s=1)
    try:
        assert c.set_current(1, 16) == 16
        charge(c, sim)
        assert (sim.hs_interval_s, sim.hs_current_a, sim.hs_trigger) == (1, 0, 0)
        wait_for(lambda: sim.hs_armed_for() >= 4, "four heartbeat intervals", timeout=15)
        assert sim.hs_trigger == 0 and sim.charging and sim.drawn_current_a == 16
        assert c.status(1).state is PilotState.C and not rec.of(ChargerFaulted)
    finally:
        c.close()


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no line from the child within {timeout} s")
    return proc.stdout.readline().strip()


@pytest.mark.slow
def test_the_controller_falls_back_by_itself_when_the_kiosk_is_killed(
        sim: EvseSimulator) -> None:
    """A kiosk process arms the supervision and charges at 16 A; SIGKILL; with no pulse the
    controller lowers its current by itself within about the interval, to the fallback (0 A
    asked: OpenEVSE's floor of 6 A), and says so in its $SY answers."""
    sim.plug()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.charger_child",
                             str(sim.path), "1", "16"], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    try:
        assert read_line(proc, 30) == "enabled 16"
        wait_for(lambda: sim.charging and sim.drawn_current_a == 16, "charging at 16 A")
        pulses = sim.hs_pulses
        wait_for(lambda: sim.hs_pulses >= pulses + 5, "the child pulses")
        assert sim.hs_trigger == 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        wait_for(lambda: sim.hs_trigger == 2, "the missed heartbeat", timeout=15)
        assert sim.drawn_current_a == 6 and sim.current_a == 6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    # the kiosk comes back: it acknowledges, re-arms and offers its current again
    c, _rec = open_charger(sim, heartbeat_interval_s=1)
    try:
        assert c.set_current(1, 16) == 16
        c.enable(1)
        assert sim.hs_trigger == 0 and sim.current_a == 16
        wait_for(lambda: c.status(1).state is PilotState.C, "charging again")
    finally:
        c.close()


def test_a_broken_serial_line_falls_back_and_the_restored_link_re_arms(
        sim: EvseSimulator) -> None:
    c, rec = open_charger(sim, heartbeat_interval_s=1)
    try:
        assert c.set_current(1, 16) == 16
        charge(c, sim)
        sim.unplug_port()  # the line breaks; the controller (and the car) go on
        wait_for(lambda: rec.of(LinkLost), "link lost")
        wait_for(lambda: sim.hs_trigger == 2, "the missed heartbeat", timeout=15)
        assert sim.drawn_current_a == 6
        sim.replug_port(reboot=False)
        wait_for(lambda: rec.of(LinkBack), "link back")
        wait_for(lambda: sim.hs_trigger == 0 and sim.current_a == 16,
                 "supervision re-armed, the kiosk's current again")
        assert sim.charging and sim.mode == "enabled"
        pulses = sim.hs_pulses
        wait_for(lambda: sim.hs_pulses >= pulses + 5, "pulsed again")
    finally:
        c.close()


def test_a_controller_restart_gets_supervision_current_and_mode_again(
        sim: EvseSimulator) -> None:
    c, _rec = open_charger(sim, heartbeat_interval_s=2)
    try:
        assert c.set_current(1, 16) == 16
        charge(c, sim)
        assert c.link.command("FR").ok  # restart: current back to 32 A, firmware default on
        wait_for(lambda: sim.current_a == 16 and sim.hs_interval_s == 2,
                 "current and supervision restored")
        c.disable(1)
        assert c.link.command("FR").ok
        wait_for(lambda: sim.mode == "sleeping", "off again after the restart")
    finally:
        c.close()
