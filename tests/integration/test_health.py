"""The terminal's own health: the checks against real parts (the payment host simulator over
TCP with its echo test, the PC/SC reader through pcscd, the disk), and what being out of
service does to the kiosk (Start refused, idle chargers off, back by itself)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.acquirer.iso_link import IsoHostLink
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.devices.watch import HealthWatch
from kiosk.health import (
    DISK,
    HOST,
    JOURNAL,
    MSG_HOST,
    MSG_JOURNAL,
    MSG_READER,
    READER,
    Health,
)
from kiosk.runtime import OutOfService, build_runtime

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_health_reports_changes_once_orders_reasons_and_logs_them(caplog) -> None:
    h = Health(lambda: T0, phone="+49 30 1234567")
    heard: list[bool] = []
    h.listeners.append(lambda health: heard.append(health.in_service))
    assert h.in_service and h.reasons() == []
    with caplog.at_level(logging.WARNING, logger="kiosk.health"):
        assert h.report(HOST, False, MSG_HOST, "echo failing")
        assert not h.report(HOST, False, MSG_HOST, "echo failing again")  # no change
        assert h.report(JOURNAL, False, MSG_JOURNAL, "disk full")
        assert h.reasons() == [MSG_JOURNAL, MSG_HOST]  # the most serious first
        assert h.report(JOURNAL, True) and h.report(HOST, True)
        assert not h.report(HOST, True)
    assert h.in_service and heard == [False, False, False, True]
    text = caplog.text
    assert "host: The payment service cannot be reached. (echo failing)" in text
    assert "back in service" in text


def test_the_host_is_out_of_service_only_after_echoes_fail_for_a_while(tmp_path: Path) -> None:
    sim = HostSimulator()
    sim.start()
    port = sim.port
    link = IsoHostLink("127.0.0.1", port, terminal_id="T1", merchant_id="M1", currency="EUR",
                       timeout_s=1, connect_timeout_s=0.5)
    health = Health(lambda: T0)
    watch = HealthWatch(health, journal_dir=tmp_path, card_terminal=SimCardTerminal(),
                        host=link, echo_interval_s=0.05, host_down_after_s=0.3,
                        min_free_bytes=1)
    watch.check_once()
    assert health.in_service and sim.echoes >= 1
    sim.stop()
    watch._next_echo = 0.0
    watch.check_once()  # one failed echo is not an outage
    assert health.problem(HOST) is None
    deadline = time.monotonic() + 10
    while health.problem(HOST) is None:
        assert time.monotonic() < deadline, "the host never counted as down"
        watch._next_echo = 0.0
        watch.check_once()
    assert health.reasons() == [MSG_HOST]
    again = HostSimulator(port=port)  # the host is back on its address
    again.start()
    try:
        watch._next_echo = 0.0
        watch.check_once()
        assert health.in_service and again.echoes == 1
    finally:
        again.stop()


def test_a_nearly_full_disk_and_a_missing_reader_are_problems(tmp_path: Path) -> None:
    terminal = SimCardTerminal()
    health = Health(lambda: T0)
    watch = HealthWatch(health, journal_dir=tmp_path, card_terminal=terminal, host=object(),
                        min_free_bytes=1 << 60)  # more than any disk has
    watch.check_once()
    assert health.problem(DISK) is not None and "KiB free" in health.problem(DISK).detail
    terminal.close()  # the reader is gone
    watch.check_once()
    assert health.problem(READER) is not None and MSG_READER in health.reasons()
    watch.min_free_bytes = 1
    watch.check_once()
    assert health.problem(DISK) is None


@pytest.mark.usefixtures("pcscd")
def test_a_pcsc_reader_that_is_not_there_takes_the_terminal_out_of_service(
        tmp_path: Path) -> None:
    from drivers.emv.capk import CaKeyStore
    from drivers.pcsc.terminal import PcscCardTerminal
    from tests.support.cards import CA_KEYS

    terminal = PcscCardTerminal("No Such Reader 99", ca_keys=CaKeyStore.load(CA_KEYS))
    health = Health(lambda: T0)
    watch = HealthWatch(health, journal_dir=tmp_path, card_terminal=terminal, host=object(),
                        min_free_bytes=1)
    watch.check_once()
    assert health.reasons() == [MSG_READER]


def test_out_of_service_refuses_start_switches_idle_chargers_off_and_comes_back(
        host: HostSimulator, tmp_path: Path) -> None:
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                       "[station]\nservice_phone = '+49 30 1234567'\n", demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=tmp_path / "j.sqlite",
                       card_terminal=SimCardTerminal(), charger=charger, watch=False)
    try:
        assert rt.health.phone == "+49 30 1234567"
        charger.enable(1)  # left on by someone: out of service switches it off
        done = threading.Event()
        threading.Thread(target=lambda: (rt.health.report(HOST, False, MSG_HOST, "test"),
                                         done.set())).start()
        assert done.wait(5)
        until(lambda: not charger._get(1).enabled, "the idle charger off")
        with pytest.raises(OutOfService, match="payment service"):
            rt.start_session(1)
        rt.health.report(HOST, True)
        rt.start_session(1)  # in service again, by itself
    finally:
        rt.close()
