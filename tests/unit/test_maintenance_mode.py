"""The maintenance mode's session: never while a driver's session runs, two factors, roles,
the inactivity timeout, the out-of-service switch that survives a restart, and an audit entry
for every step (never a PIN or a code)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.health import HOST, Health
from kiosk.maintenance.mode import (
    LOGIN_IDLE_S,
    MAINTENANCE,
    OPERATOR,
    DriverBusy,
    HealthAudit,
    Maintenance,
    MaintenanceError,
)
from kiosk.security.audit import AuditLog, verify_file
from kiosk.security.technicians import Access, LockedOut, NotAccepted, TechnicianStore, code_at

PIN, ADMIN_PIN = "482916", "735190"
WALL = 1_800_000_000.0


class Clocks:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = WALL

    def advance(self, s: float) -> None:
        self.mono += s
        self.wall += s


@pytest.fixture
def rig(tmp_path: Path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    key = Ed25519PrivateKey.generate()
    clocks = Clocks()
    store = TechnicianStore(folder)
    techs = {"alice": store.add("alice", "technician", PIN),
             "olga": store.add("olga", "admin", ADMIN_PIN)}
    health = Health(lambda: datetime.now(UTC))
    audit = AuditLog(folder, key)
    driving = [0]

    def make() -> Maintenance:
        return Maintenance(folder, Access(folder, clock=lambda: clocks.wall), audit, r.health,
                           lambda: driving[0], idle_timeout_s=120, clock=lambda: clocks.mono,
                           wall=lambda: clocks.wall)

    class Rig:
        pass

    r = Rig()
    r.health = health
    r.folder, r.key, r.clocks, r.techs, r.audit = folder, key, clocks, techs, audit
    r.driving, r.make = driving, make
    r.mode = make()
    yield r
    audit.close()


def code(rig, name: str) -> str:  # type: ignore[no-untyped-def]
    return code_at(rig.techs[name].totp_secret, rig.clocks.wall)


def actions(rig) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.action for e in rig.audit.entries()]


def test_login_takes_the_terminal_out_of_service_and_logout_brings_it_back(rig) -> None:
    m = rig.mode
    assert m.state == "closed" and rig.health.in_service
    m.enter()
    assert m.state == "login" and rig.health.in_service  # the gesture alone changes nothing
    tech = m.login("alice", PIN, code(rig, "alice"))
    assert m.state == "open" and m.technician == tech
    assert not rig.health.in_service and rig.health.problem(MAINTENANCE) is not None
    m.act("card test")
    m.close()
    assert m.state == "closed" and rig.health.in_service
    assert actions(rig) == ["login", "card test", "logout"]
    assert [e.actor for e in rig.audit.entries()] == ["technician:alice"] * 3
    assert verify_file(rig.folder, rig.key.public_key()) == 3


def test_never_while_a_drivers_session_runs(rig) -> None:
    rig.driving[0] = 1
    with pytest.raises(DriverBusy):
        rig.mode.enter()
    assert rig.mode.state == "closed" and actions(rig) == ["maintenance refused"]
    rig.driving[0] = 0
    rig.mode.enter()
    rig.driving[0] = 1  # a driver started between the gesture and the login
    with pytest.raises(DriverBusy):
        rig.mode.login("alice", PIN, code(rig, "alice"))
    assert rig.mode.state == "closed" and rig.health.in_service


def test_failed_logins_are_audited_without_the_factors(rig) -> None:
    m = rig.mode
    m.enter()
    with pytest.raises(NotAccepted):
        m.login("alice", "999999", code(rig, "alice"))
    with pytest.raises(NotAccepted):
        m.login("mallory", PIN, "123456")
    with pytest.raises(LockedOut):
        m.login("alice", PIN, "000000")
    assert actions(rig) == ["login refused", "login refused", "login locked out"]
    text = (rig.folder / "audit.log").read_text()
    assert PIN not in text and "999999" not in text and code(rig, "alice") not in text
    assert m.state == "login"


def test_the_mode_closes_after_inactivity(rig) -> None:
    m = rig.mode
    m.enter()
    rig.clocks.advance(LOGIN_IDLE_S + 1)  # the login left open
    assert m.check_idle() and m.state == "closed"
    m.enter()
    m.login("alice", PIN, code(rig, "alice"))
    rig.clocks.advance(100)
    m.touch()
    rig.clocks.advance(100)
    assert not m.check_idle() and m.idle_left_s() == pytest.approx(20)
    rig.clocks.advance(21)
    assert m.check_idle() and m.state == "closed" and rig.health.in_service
    assert actions(rig)[-1] == "logout"
    assert rig.audit.entries()[-1].details == {"why": "idle"}
    with pytest.raises(MaintenanceError):
        m.act("card test")


def test_settings_are_for_the_operators_admin(rig) -> None:
    m = rig.mode
    m.enter()
    m.login("alice", PIN, code(rig, "alice"))
    with pytest.raises(MaintenanceError, match="admin"):
        m.act("update", role="admin")
    m.close()
    m.enter()
    m.login("olga", ADMIN_PIN, code(rig, "olga"))
    assert m.act("update", {"kind": "tariff"}, role="admin").name == "olga"
    assert rig.audit.entries()[-1].actor == "admin:olga"


def test_the_out_of_service_switch_survives_a_restart(rig) -> None:
    m = rig.mode
    m.enter()
    m.login("alice", PIN, code(rig, "alice"))
    m.set_out_of_service(True, "cable damaged")
    m.close()
    assert not rig.health.in_service and rig.health.problem(OPERATOR) is not None
    restarted_health = Health(lambda: datetime.now(UTC))
    rig.health = restarted_health
    again = rig.make()  # a new process reads the switch
    assert not restarted_health.in_service
    assert "cable damaged" in restarted_health.problem(OPERATOR).detail
    again.enter()
    rig.clocks.advance(30)  # the next code (the last one was used)
    again.login("alice", PIN, code(rig, "alice"))
    again.set_out_of_service(False)
    again.close()
    assert restarted_health.in_service
    assert "back in service" in actions(rig)


def test_a_damaged_switch_file_keeps_the_terminal_out(rig) -> None:
    (rig.folder / "out-of-service.json").write_text("{")
    health = Health(lambda: datetime.now(UTC))
    rig.health = health
    rig.make()
    assert not health.in_service and health.problem(OPERATOR) is not None


def test_every_health_change_is_audited(rig) -> None:
    rig.health.listeners.append(HealthAudit(rig.audit))
    rig.health.report(HOST, False, "The payment service cannot be reached.", "echo failing")
    rig.health.report(HOST, False, "The payment service cannot be reached.", "echo failing")
    rig.health.report(HOST, True)
    got = [(e.action, e.details) for e in rig.audit.entries()]
    assert got == [("health", {"part": "host", "ok": False, "detail": "echo failing"}),
                   ("health", {"part": "host", "ok": True})]
