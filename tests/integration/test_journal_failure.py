"""A journal that cannot be written, for real: the journal on a small tmpfs that fills up
mid-session, or on an ext4 file system that fails with I/O errors. The charger goes off at
once (without the journal), Start is refused, the terminal is out of service; once writing
works again the session settles from its last journaled step and the ledger agrees."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.charger.api import PilotState
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.health import JOURNAL
from kiosk.journal.runner import OutOfService
from kiosk.runtime import build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, State
from tests.support.fullfs import fill
from tests.support.ledger import check_settled
from tests.support.rig import Rig

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.slow


def make_rig(folder: Path, host: HostSimulator) -> Rig:
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                       "[tariff]\nenergy_price_per_kwh = '0.50'\nvat_percent = '20'\n",
                       demo=True)
    rt = build_runtime(cfg, clock=clock.now, journal_path=folder / "journal.sqlite",
                       card_terminal=terminal, charger=charger, watch=False)
    return Rig(rt, clock, charger, terminal)


def break_the_journal_mid_charge(rig: Rig, breaker) -> str:
    """Charge 10 min (journaled), break the file system, charge on: returns the session id."""
    s = rig.charging()
    rig.charger.advance(600)  # 1.83 kWh
    rig.until(lambda: rig.rt.runner.active().energy_wh > 0, "a journaled reading")
    journaled = rig.rt.journal.session(s.id)
    assert journaled is not None and journaled.energy_wh > 0
    breaker()
    for _ in range(3):  # the car goes on charging: the next readings cannot be journaled
        rig.charger.advance(600)
    rig.until(lambda: rig.rt.runner.journal_error is not None, "the failed commit")
    return s.id


def assert_out_of_service_with_the_charger_off(rig: Rig, sid: str) -> None:
    # the charger went off directly, before anything could be journaled
    assert not rig.charger._get(1).enabled
    assert rig.charger.status(1).state is PilotState.B
    problem = rig.rt.health.problem(JOURNAL)
    assert problem is not None and "write failed" in problem.detail
    assert not rig.rt.health.in_service
    with pytest.raises(OutOfService):
        rig.rt.start_session(1)
    rig.rt.runner.post(ev.StopRequested(sid))  # cannot be journaled: not decided either
    rig.rt.runner.process_pending()
    assert rig.rt.runner.sessions[sid].state is State.CHARGING


def assert_settles_from_the_journal(rig: Rig, host: HostSimulator, sid: str) -> None:
    journaled = rig.rt.journal.session(sid)
    assert journaled is not None
    rig.rt.runner.post(ev.Tick(rig.clock.now()))
    receipt = rig.reach(State.RECEIPT)
    assert receipt.id == sid and receipt.outcome is Outcome.CAPTURED
    # billed from the last journaled step: what the terminal can prove, never more
    assert receipt.meter_now_wh == journaled.meter_now_wh
    assert rig.rt.health.in_service
    rig.settled()
    assert host.ledger()[sid].captured_minor == receipt.final_minor > 0
    rig.rt.runner.post(ev.Dismissed(sid))
    rig.final()
    check_settled(rig.rt.journal.path, host)


def test_a_full_disk_mid_session_stops_the_charger_and_settles_once_there_is_room(
        small_fs: Path, host: HostSimulator) -> None:
    rig = make_rig(small_fs, host)
    try:
        fillers: list[Path] = []
        sid = break_the_journal_mid_charge(rig, lambda: fillers.append(fill(small_fs)))
        assert "full" in str(rig.rt.runner.journal_error)
        assert_out_of_service_with_the_charger_off(rig, sid)
        rig.rt.runner.post(ev.Tick(rig.clock.now()))  # still full: still out of service
        rig.rt.runner.process_pending()
        assert rig.rt.runner.journal_error is not None
        for f in small_fs.glob("filler*"):
            f.unlink()
        assert_settles_from_the_journal(rig, host, sid)
    finally:
        rig.rt.close()


EXT4_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2  # as a failing disk: nothing more reaches it


@pytest.fixture
def ext4(tmp_path: Path) -> Iterator[Path]:
    """A small ext4 file system on a loop device, which the test can make fail with real I/O
    errors (the ext4 shutdown ioctl: every later write is EIO) and mount again."""
    if os.geteuid() != 0:
        pytest.fail("a loop file system needs root (the test rig and CI run as root)")
    image, mnt = tmp_path / "disk.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    os.chmod(mnt, 0o700)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def shut_down(mnt: Path) -> None:
    fd = os.open(mnt, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)


def test_an_io_error_mid_session_stops_the_charger_and_settles_after_a_remount(
        ext4: Path, host: HostSimulator, tmp_path: Path) -> None:
    rig = make_rig(ext4, host)
    try:
        sid = break_the_journal_mid_charge(rig, lambda: shut_down(ext4))
        assert "I/O" in str(rig.rt.runner.journal_error)
        assert_out_of_service_with_the_charger_off(rig, sid)
        rig.rt.runner.post(ev.Tick(rig.clock.now()))  # the disk still fails
        rig.rt.runner.process_pending()
        assert not rig.rt.health.in_service
        # the technician's fix: the file system is mounted again (what was committed is there)
        subprocess.run(["umount", "-l", str(ext4)], check=True)
        subprocess.run(["mount", "-o", "loop", str(tmp_path / "disk.img"), str(ext4)],
                       check=True)
        assert_settles_from_the_journal(rig, host, sid)
    finally:
        rig.rt.close()
