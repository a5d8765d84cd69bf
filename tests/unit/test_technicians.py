"""Technicians' two factors: scrypt PINs, TOTP within ±1 step and never twice, a lockout that
grows and survives a restart, and hostile files and inputs turned into AccessError."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.security import technicians as access
from kiosk.security.technicians import (
    Access,
    AccessError,
    LockedOut,
    NotAccepted,
    TechnicianStore,
    check_new_pin,
    code_at,
    provisioning_uri,
    wait_after,
)

PIN = "482916"
T = 1_800_000_000.0  # a wall time in 2027, at the start of a 30 s step


class Clock:
    """The wall clock the lockout and the codes read (moved by the test)."""

    def __init__(self, now: float = T) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def alice(folder: Path) -> access.Technician:
    return TechnicianStore(folder).add("alice", "technician", PIN)


def test_the_rfc_6238_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); six digits are its last six
    assert code_at(b"12345678901234567890", 59) == "287082"


def test_enrolment_stores_a_hash_never_the_pin(folder: Path, alice: access.Technician) -> None:
    path = folder / access.TECHNICIANS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert PIN not in text and "scrypt$16384$8$1$" in text
    assert PIN not in repr(alice) and "totp" not in repr(alice).lower()
    assert TechnicianStore(folder).load()["alice"].totp_secret == alice.totp_secret
    uri = provisioning_uri(alice, "DEMO-0001")
    assert uri.startswith("otpauth://totp/") and "alice%40DEMO-0001" in uri and "secret=" in uri
    with pytest.raises(AccessError, match="enrolled already"):
        TechnicianStore(folder).add("alice", "admin", "735190")
    TechnicianStore(folder).remove("alice")
    assert TechnicianStore(folder).load() == {}


@pytest.mark.parametrize("pin", ["12345", "1234567890123", "111111", "123456", "987654",
                                 "12a456", "٤٨٢٩١٦"])
def test_weak_or_malformed_pins_are_refused_at_enrolment(pin: str) -> None:
    with pytest.raises(AccessError):
        check_new_pin(pin)


@pytest.mark.parametrize("name", ["", "Alice", "a" * 33, "-bob", "bob smith", "bø"])
def test_bad_names_are_refused(folder: Path, name: str) -> None:
    with pytest.raises(AccessError, match="name"):
        TechnicianStore(folder).add(name, "technician", PIN)


def test_both_factors_let_in_and_the_role_comes_along(folder: Path, clock: Clock,
                                                      alice: access.Technician) -> None:
    a = Access(folder, clock=clock)
    tech = a.login("alice", PIN, code_at(alice.totp_secret, clock.now))
    assert tech.name == "alice" and tech.role == "technician"


@pytest.mark.parametrize("offset_steps,accepted", [(-2, False), (-1, True), (0, True),
                                                   (1, True), (2, False)])
def test_codes_are_taken_one_step_either_side(folder: Path, clock: Clock,
                                              alice: access.Technician, offset_steps: int,
                                              accepted: bool) -> None:
    code = code_at(alice.totp_secret, clock.now + offset_steps * 30)
    a = Access(folder, clock=clock)
    if accepted:
        assert a.login("alice", PIN, code).name == "alice"
    else:
        with pytest.raises(NotAccepted):
            a.login("alice", PIN, code)


def test_a_used_code_is_refused_even_after_a_restart(folder: Path, clock: Clock,
                                                     alice: access.Technician) -> None:
    code = code_at(alice.totp_secret, clock.now)
    Access(folder, clock=clock).login("alice", PIN, code)
    with pytest.raises(NotAccepted):
        Access(folder, clock=clock).login("alice", PIN, code)  # a new process: still refused
    earlier = code_at(alice.totp_secret, clock.now - 30)  # an older step: refused too
    with pytest.raises(NotAccepted):
        Access(folder, clock=clock).login("alice", PIN, earlier)
    clock.now += 30
    assert Access(folder, clock=clock).login("alice", PIN, code_at(alice.totp_secret,
                                                                   clock.now))


def test_every_wrong_factor_gets_the_same_answer(folder: Path, clock: Clock,
                                                 alice: access.Technician) -> None:
    good = code_at(alice.totp_secret, clock.now)
    wrong_code = f"{(int(good) + 1) % 10 ** 6:06d}"
    answers = []
    for name, pin, code in (("alice", "999999", good), ("alice", PIN, wrong_code),
                            ("mallory", PIN, good)):
        with pytest.raises(NotAccepted) as err:
            Access(folder, clock=clock).login(name, pin, code)
        answers.append(str(err.value))
        (folder / access.LOCKOUT_FILE).unlink()  # each on its own: no lockout in between
    assert len(set(answers)) == 1


def test_the_lockout_grows_and_survives_a_restart(folder: Path, clock: Clock,
                                                  alice: access.Technician) -> None:
    def fail() -> None:
        Access(folder, clock=clock).login("alice", "999999", "000000")

    for _ in range(2):  # typos are free
        with pytest.raises(NotAccepted):
            fail()
    with pytest.raises(LockedOut) as err:
        fail()
    assert err.value.wait_s == 30
    lockout = folder / access.LOCKOUT_FILE
    assert stat.S_IMODE(os.stat(lockout).st_mode) == 0o600
    # locked: even the right factors are not checked, and the refusal does not count
    clock.now += 10
    with pytest.raises(LockedOut) as err:
        Access(folder, clock=clock).login("alice", PIN, code_at(alice.totp_secret, clock.now))
    assert err.value.wait_s == pytest.approx(20)
    assert Access(folder, clock=clock).failures() == 3
    clock.now += 20  # the wait is over: a failure now waits twice as long
    with pytest.raises(LockedOut) as err:
        fail()
    assert err.value.wait_s == 60
    clock.now -= 3600  # a clock set back does not shorten the wait
    assert Access(folder, clock=clock).wait_s() == 60
    clock.now += 3600 + 60
    assert Access(folder, clock=clock).wait_s() == 0
    assert Access(folder, clock=clock).login("alice", PIN, code_at(alice.totp_secret,
                                                                   clock.now))
    assert Access(folder, clock=clock).failures() == 0  # a success clears it


def test_the_waits_double_up_to_an_hour() -> None:
    assert [wait_after(n) for n in range(1, 10)] == [0, 0, 30, 60, 120, 240, 480, 960, 1920]
    assert wait_after(10) == wait_after(1000) == 3600


def test_a_damaged_lockout_file_locks(folder: Path, clock: Clock,
                                      alice: access.Technician) -> None:
    (folder / access.LOCKOUT_FILE).write_text("{not json")
    with pytest.raises(LockedOut):
        Access(folder, clock=clock).login("alice", PIN, code_at(alice.totp_secret, clock.now))
    (folder / access.LOCKOUT_FILE).write_text('{"failures": -1, "last_failure": 0}')
    with pytest.raises(LockedOut):
        Access(folder, clock=clock).login("alice", PIN, code_at(alice.totp_secret, clock.now))


def _doc(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / access.TECHNICIANS_FILE).read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("change,words", [
    (lambda d: d.update(version=2), "version 1"),
    (lambda d: d["technicians"][0].update(role="root"), "role"),
    (lambda d: d["technicians"][0].update(pin="scrypt$1048576$8$1$AAAA$AAAA"), "parameters"),
    (lambda d: d["technicians"][0].update(pin="plain:482916"), "scrypt"),
    (lambda d: d["technicians"][0].update(totp="!!"), "TOTP"),
    (lambda d: d["technicians"][0].update(last_step=True), "last_step"),
    (lambda d: d["technicians"][0].pop("totp"), "exactly"),
    (lambda d: d["technicians"].append(dict(d["technicians"][0])), "twice"),
])
def test_a_hostile_technician_file_is_refused_by_name(folder: Path, clock: Clock,
                                                      alice: access.Technician, change,
                                                      words: str) -> None:
    doc = _doc(folder)
    change(doc)
    (folder / access.TECHNICIANS_FILE).write_text(json.dumps(doc))
    with pytest.raises(AccessError, match=words) as err:
        Access(folder, clock=clock).login("alice", PIN, code_at(alice.totp_secret, clock.now))
    assert access.TECHNICIANS_FILE in str(err.value)


def test_a_fifo_or_a_huge_file_is_refused_without_waiting(folder: Path, clock: Clock) -> None:
    path = folder / access.TECHNICIANS_FILE
    os.mkfifo(path)
    with pytest.raises(AccessError, match="FIFO"):
        TechnicianStore(folder).load()
    path.unlink()
    path.write_bytes(b" " * (access.MAX_FILE_BYTES + 1))
    with pytest.raises(AccessError, match="too large"):
        TechnicianStore(folder).load()


@settings(max_examples=60, deadline=None)
@given(name=st.one_of(st.text(max_size=40), st.none(), st.integers()),
       pin=st.one_of(st.text(max_size=20), st.none(), st.integers()),
       code=st.one_of(st.text(max_size=10), st.none(), st.binary(max_size=8)))
def test_any_input_is_refused_cleanly(tmp_path_factory: pytest.TempPathFactory, name: object,
                                      pin: object, code: object) -> None:
    folder = tmp_path_factory.mktemp("any")
    TechnicianStore(folder).add("alice", "technician", PIN)
    a = Access(folder, clock=Clock())
    try:
        a.login(name, pin, code)  # type: ignore[arg-type]
    except (NotAccepted, LockedOut):
        pass
    else:  # pragma: no cover - a random guess of both factors
        raise AssertionError("a random input was let in")
