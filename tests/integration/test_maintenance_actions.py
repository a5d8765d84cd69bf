"""What the technician's screens do, on a real runtime on its simulators: the card test reads
a card masked, the charger test drives the simulated controller and is refused while a driver
charges, exports write batches and redacted logs, provisioning gives the registration; the
runtime opens the audit log and checks it whole after the start."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.charger.api import PilotState
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.health import Health
from kiosk.maintenance import actions
from kiosk.maintenance.mode import AUDIT, MaintenanceError
from kiosk.runtime import Runtime, build_runtime
from kiosk.security.audit import AuditLog
from kiosk.security.keys import load_signing_key
from kiosk.session import events as ev

CONFIG = ("schema_version = 1\n[host]\nport = {port}\ntimeout_s = 2\n"
          "[logging]\npath = '{log}'\n")
WAIT_S = 10.0


def until(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def rt(tmp_path: Path, host: HostSimulator) -> Iterator[Runtime]:
    cfg = parse_config(CONFIG.format(port=host.port, log=tmp_path / "logs" / "kiosk.log"),
                       demo=True)
    charger = SimCharger(speed=60)  # passed in: ours to close (the runtime closes its own)
    runtime = build_runtime(cfg, journal_path=tmp_path / "data" / "journal.sqlite",
                            card_terminal=SimCardTerminal(), charger=charger, watch=False)
    runtime.runner.start_thread()  # as in the app: the steps run on the runner's thread
    try:
        yield runtime
    finally:
        runtime.close()
        charger.close()


def card_tested(rt: Runtime, card_name: str) -> actions.CardTest:
    """The card test, on a thread as the screen runs it, with ``card_name`` presented."""
    done: list[actions.CardTest] = []
    worker = threading.Thread(target=lambda: done.append(
        actions.card_test(rt, threading.Event(), wait_s=5)))
    worker.start()
    terminal = rt.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    until(lambda: terminal._identifying, "the card test to wait for a card")
    terminal.present(TEST_CARDS[card_name])
    worker.join(WAIT_S)
    assert not worker.is_alive()
    return done[0]


def test_the_card_test_shows_the_card_masked(rt: Runtime) -> None:
    card = TEST_CARDS["visa_contactless"]
    result = card_tested(rt, "visa_contactless")
    assert result.ok and result.scheme == "visa" and result.interface == "contactless"
    assert result.masked_pan.endswith(card.pan[-4:]) and card.pan not in result.masked_pan
    assert result.masked_pan.startswith(card.pan[:6])


def test_the_card_test_can_be_cancelled(rt: Runtime) -> None:
    stop = threading.Event()
    done: list[actions.CardTest] = []
    worker = threading.Thread(target=lambda: done.append(actions.card_test(rt, stop, 30)))
    worker.start()
    terminal = rt.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    until(lambda: terminal._identifying, "the card test to wait")
    stop.set()
    terminal.cancel()
    worker.join(WAIT_S)
    assert not worker.is_alive() and not done[0].ok and done[0].problem == "cancelled"


def test_the_charger_test_drives_the_controller_and_waits_for_drivers(rt: Runtime) -> None:
    charger = rt.charger
    assert isinstance(charger, SimCharger)
    charger.plug(1)
    actions.charger_enable(rt, 1)
    until(lambda: charger.status(1).state is PilotState.C, "charging on the test")
    assert actions.charger_set_current(rt, 1, 16) == 16
    with pytest.raises(MaintenanceError, match="6 to 32 A"):
        actions.charger_set_current(rt, 1, 40)
    actions.chargers_off(rt)
    until(lambda: charger.status(1).state is not PilotState.C, "off again")
    charger.unplug(1)
    s = rt.start_session(1)  # a driver
    try:
        with pytest.raises(MaintenanceError, match="driver"):
            actions.charger_enable(rt, 1)
        with pytest.raises(MaintenanceError, match="driver"):
            actions.card_test(rt, threading.Event(), 1)
    finally:
        rt.post(ev.Cancelled(s.id))
        until(lambda: not rt.runner.sessions, "the driver's session to end")
    with pytest.raises(MaintenanceError, match="no connector 7"):
        actions.charger_enable(rt, 7)


def test_exports_write_batches_and_a_redacted_log(rt: Runtime, tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    assert actions.export_batches(rt, usb) == 0  # nothing recorded yet
    log = Path(rt.config.logging.path)
    log.parent.mkdir(parents=True, exist_ok=True)
    pan = TEST_CARDS["visa_contactless"].pan
    log.write_text(f'{{"msg": "card {pan} read"}}\n{{"msg": "fine"}}\n')
    out = actions.export_logs(rt, usb)
    text = out.read_text()
    assert pan not in text and pan[-4:] in text and '"fine"' in text
    with pytest.raises(MaintenanceError, match="no USB stick"):
        actions.export_logs(rt, tmp_path / "not-there")


def test_provisioning_gives_what_the_back_office_registers(rt: Runtime) -> None:
    p = actions.provisioning(rt)
    doc = json.loads(p.registration())
    assert doc == {"format": "evkiosk-terminal/1", "terminal_id": "DEMO-0001",
                   "public_key": p.public_key_hex}
    assert len(p.public_key_hex) == 64 and len(p.fingerprint.split()) == 4


def test_the_runtime_audits_its_start_and_its_health(rt: Runtime) -> None:
    assert rt.audit is not None and rt.maintenance is not None
    entries = rt.audit.entries()
    assert entries[0].action == "started" and entries[0].details["demo"] is True
    rt.health.report("charger", False, "The charger does not answer.", "link lost")
    assert rt.audit.recent(1)[0].details == {"part": "charger", "ok": False,
                                              "detail": "link lost"}


def test_an_audit_log_edited_deep_inside_takes_the_terminal_out_of_service(
        tmp_path: Path, host: HostSimulator) -> None:
    folder = tmp_path / "data"
    cfg = parse_config(CONFIG.format(port=host.port, log=tmp_path / "k.log"), demo=True)
    first = build_runtime(cfg, journal_path=folder / "journal.sqlite", watch=False)
    assert first.audit is not None
    for i in range(5):
        first.audit.append("system", "test", {"i": i})
    first.close()
    lines = (folder / "audit.log").read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"i":1', b'"i":8')  # not the end: opening does not see it
    (folder / "audit.log").write_bytes(b"".join(lines))
    again = build_runtime(cfg, journal_path=folder / "journal.sqlite", watch=False)
    try:
        until(lambda: again.health.problem(AUDIT) is not None, "the full check")
        assert not again.health.in_service
        assert "line 3" in again.health.problem(AUDIT).detail
    finally:
        again.close()


def test_the_key_used_is_the_terminals(rt: Runtime) -> None:
    key = load_signing_key(rt.journal.path.parent / "terminal-signing.key")
    assert rt.audit is not None
    assert rt.audit.public_key.public_bytes_raw() == key.public_key().public_bytes_raw()
    assert isinstance(rt.health, Health) and isinstance(rt.audit, AuditLog)


def test_the_card_test_reads_what_card_info_reads(rt: Runtime) -> None:
    card = TEST_CARDS["mastercard_pin"]
    result = card_tested(rt, "mastercard_pin")
    assert result.ok and result.info["selected"] and result.info["applications"]
    assert result.info["masked_pan"] == result.masked_pan and card.pan not in str(result.info)
    assert any(line.startswith("Application: ") for line in result.lines())
