"""The firmware's free-text debug lines (``relayCloseMs: 100``...) on the RAPI line, on a real
pty: at start, when the relay closes, between a command and its answer and glued to it. They
are skipped: never an answer, never a fault, never a link problem, never noise or a frame
error (the link counts them in ``debug_lines``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.charger.api import ChargerFaulted, LinkLost, MeterReading, PilotState
from drivers.sim.evse import EvseSimulator
from kiosk.maintenance.charger_probe import charger_probe
from tests.support.evse import open_charger, wait_for

RELAY_LINES = ["relayCloseMs: 100", "relayHoldPwm: 75"]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[EvseSimulator]:
    s = EvseSimulator(tmp_path, speed=50, firmware="8.2.3", protocol="5.2.1",
                      debug_output=True, serial_debug=True)
    yield s
    s.close()


def test_a_whole_charge_with_debug_lines_everywhere(sim: EvseSimulator) -> None:
    chatter = threading.Event()

    def chatty() -> None:  # debug text on demand, all the time
        while not chatter.wait(0.013):
            sim.say("relayCloseMs: 100")
            sim.say("POST start...", end=b"")

    sim.reply_chatter = (b"\nrelayCloseMs: 100\r\n", b"relayHoldPwm: 75\r\n")
    c, rec = open_charger(sim)
    talker = threading.Thread(target=chatty, daemon=True)
    talker.start()
    try:
        assert c.firmware == "8.2.3 5.2.1"
        sim.plug()
        wait_for(lambda: c.status(1).state is PilotState.B, "car connected")
        c.enable(1)  # the relay closes: its debug lines come before the $OK
        wait_for(lambda: c.status(1).state is PilotState.C, "charging")
        wait_for(lambda: len(rec.of(MeterReading)) >= 5, "readings")
        assert c.link.command("FR").ok  # a restart: the boot's debug text, then $AB
        wait_for(lambda: sim.hs_interval_s and sim.mode == "enabled" and sim.charging,
                 "restored after the restart")
        assert c.set_current(1, 16) == 16
        for _ in range(20):
            assert c.link.command("GS").ok and c.link.command("GU").ok
        c.disable(1)
        wait_for(lambda: c.status(1).state is PilotState.B, "stopped")
        sim.unplug()
        wait_for(lambda: c.status(1).state is PilotState.A, "car gone")
        assert abs(c.status(1).energy_wh - sim.energy_wh()) <= 2
        assert not rec.of(ChargerFaulted) and not rec.of(LinkLost)
        assert c.link.up
        assert c.link.frame_errors == 0 and c.link.noise_bytes == 0
        assert c.link.debug_lines > 50
        assert set(RELAY_LINES) <= set(c.link.last_debug)
    finally:
        chatter.set()
        talker.join(2)
        c.close()


@pytest.mark.parametrize("chatter", [
    (b"\nrelayCloseMs: 100\r\nrelayHoldPwm: 75\r\n", b""),  # between a command and its $OK
    (b"", b"\nrelayCloseMs: 100\r\n"),  # right after the $OK
    (b"", b"relayHoldPwm: 75\r\n"),  # glued to the $OK's \r, no blank line
    (b"POST start...", b""),  # a print without a newline, glued before the $OK
])
def test_every_answer_wrapped_in_debug_text(sim: EvseSimulator,
                                            chatter: tuple[bytes, bytes]) -> None:
    sim.reply_chatter = chatter
    c, rec = open_charger(sim)
    try:
        for _ in range(30):
            gs = c.link.command("GS")
            assert gs.ok and len(gs.values) == 4  # the answer, not a debug line
            assert c.link.command("GV").values == ("8.2.3", "5.2.1")
        assert not rec.of(ChargerFaulted) and not rec.of(LinkLost)
        assert c.link.frame_errors == 0 and c.link.noise_bytes == 0
        assert c.link.debug_lines >= 60
    finally:
        c.close()


def test_debug_lines_are_no_sign_of_life(sim: EvseSimulator) -> None:
    """A controller that stops answering but goes on printing is still a lost link."""
    c, rec = open_charger(sim)
    stop = threading.Event()

    def chatty() -> None:
        while not stop.wait(0.02):
            sim.say("relayCloseMs: 100")

    talker = threading.Thread(target=chatty, daemon=True)
    talker.start()
    try:
        sim.silent = True
        wait_for(lambda: rec.of(LinkLost), "link lost", timeout=10)
        assert c.link.debug_lines > 0 and c.link.frame_errors == 0
        sim.silent = False
        wait_for(lambda: c.link.up, "link back", timeout=10)
    finally:
        stop.set()
        talker.join(2)
        c.close()


def test_the_probe_skips_and_shows_debug_lines(sim: EvseSimulator,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sim.reply_chatter = (b"\nrelayCloseMs: 100\r\n", b"relayHoldPwm: 75\r\n")
    sim.plug()  # the relay closes: more debug text
    assert charger_probe(str(sim.path), 115200, 1.0) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ok"] and (info["firmware"], info["protocol"]) == ("8.2.3", "5.2.1")
    assert info["state"]["pilot"] == "C" and info["energy"]["session_open"] is True
    assert set(RELAY_LINES) <= set(info["debug_lines"])
