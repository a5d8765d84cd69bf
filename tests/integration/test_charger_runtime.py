"""The kiosk on an OpenEVSE controller (the EVSE simulator behind a real pty): the connector's
current goes out before the connector is enabled, a lost link is shown at once and settles at
the link's grace time, and a kiosk killed mid-charge leaves a controller that lowers the
current by itself; the restarted kiosk switches it off and captures the session once."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.evse import EvseSimulator
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.health import CHARGER
from kiosk.runtime import Runtime, build_runtime
from kiosk.session.machine import Outcome, State
from kiosk.session.says import Say
from tests.integration.kiosk_charger_child import config_text
from tests.support.evse import wait_for
from tests.support.rig import drive

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[EvseSimulator]:
    s = EvseSimulator(tmp_path, speed=50)
    yield s
    s.close()


def kiosk(sim: EvseSimulator, host: HostSimulator, journal: Path
          ) -> tuple[Runtime, SimCardTerminal]:
    text = config_text(str(sim.path), host.port)
    terminal = SimCardTerminal()
    rt = build_runtime(parse_config(text, demo=True), journal_path=journal,
                       card_terminal=terminal, watch=False)
    return rt, terminal


def charge(rt: Runtime, terminal: SimCardTerminal, sim: EvseSimulator) -> str:
    s = rt.start_session(1)
    terminal.present(TEST_CARDS["visa_contactless"])
    drive(rt, lambda: rt.active().state is State.WAIT_PLUG, "approval")
    wait_for(lambda: sim.mode == "enabled", "the connector enabled")
    sim.plug()
    drive(rt, lambda: rt.active().state is State.CHARGING and rt.active().energy_wh >= 100,
          "charging")
    return s.id


def test_the_connectors_current_is_set_before_it_is_enabled(
        sim: EvseSimulator, host: HostSimulator, tmp_path: Path) -> None:
    rt, terminal = kiosk(sim, host, tmp_path / "j.sqlite")
    try:
        charge(rt, terminal, sim)
        assert sim.current_a == 16 and sim.drawn_current_a == 16  # max_current_a, not 32
        last_fe = len(sim.commands) - 1 - sim.commands[::-1].index("FE")
        assert "SC" in sim.commands[:last_fe]
        assert "SY" in sim.commands[:last_fe]  # supervision armed before charging
    finally:
        rt.close()


def test_a_lost_link_is_shown_at_once_and_settles_at_the_grace_time(
        sim: EvseSimulator, host: HostSimulator, tmp_path: Path) -> None:
    # a stop timer of 10 minutes: the session must not wait for it when the link is gone
    rt, terminal = kiosk(sim, host, tmp_path / "j.sqlite")
    rt.machine.policy = replace(rt.machine.policy, stop_timeout_s=600)
    try:
        sid = charge(rt, terminal, sim)
        sim.unplug_port()  # the USB cable is pulled
        drive(rt, lambda: rt.active().notice is Say.CHARGER_NOT_ANSWERING,
              "the notice on screen")
        assert rt.active().state is State.CHARGING
        assert not rt.health.in_service and rt.health.problem(CHARGER) is not None
        with pytest.raises(Exception, match="charger"):
            rt.start_session(1)
        drive(rt, lambda: rt.active().state is State.RECEIPT, "the settlement at the grace")
        receipt = rt.active()
        assert receipt.stop_reason.startswith("charger fault")
        assert rt.settlement.wait_idle(10)
        assert host.ledger()[sid].captured_minor == receipt.final_minor > 0
        sim.replug_port()
        drive(rt, lambda: rt.health.in_service, "back in service")
    finally:
        rt.close()


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the kiosk said nothing"
    return proc.stdout.readline().strip()


@pytest.mark.slow
def test_a_kiosk_killed_mid_charge_leaves_a_controller_that_falls_back_by_itself(
        sim: EvseSimulator, host: HostSimulator, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.kiosk_charger_child", str(sim.path),
         str(host.port), str(journal)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        wait_for(lambda: sim.mode == "enabled", "the hold approved", timeout=30)
        sim.plug()
        assert read_line(proc, 30) == "charging"
        assert sim.drawn_current_a == 16 and sim.hs_trigger == 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        # nobody pulses any more: the controller lowers the current on its own (OpenEVSE's
        # floor is 6 A; it cannot switch off by itself)
        wait_for(lambda: sim.hs_trigger == 2, "the missed heartbeat", timeout=15)
        assert sim.drawn_current_a == 6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    # the kiosk starts again: it switches the controller off first thing, so the session
    # settles on its journaled energy, exactly once
    rt, _terminal = kiosk(sim, host, journal)
    try:
        assert sim.mode == "sleeping" and not sim.charging
        assert rt.recover() == 1
        drive(rt, lambda: rt.active() is not None and rt.active().state is State.RECEIPT,
              "the receipt")
        receipt = rt.active()
        assert receipt.stop_reason == "terminal restarted"
        assert rt.settlement.wait_idle(10)
        assert host.ledger()[receipt.id].captured_minor == receipt.final_minor > 0
        assert rt.journal.session(receipt.id).outcome is Outcome.CAPTURED
    finally:
        rt.close()
