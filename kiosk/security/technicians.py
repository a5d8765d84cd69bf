"""Who may enter the maintenance mode: technicians, two factors, and a lockout that survives a
restart.

**Technicians** (``technicians.json`` in the data folder, 0600): a name, a role
(``technician`` or ``admin``: the operator's admin, who may also change settings), the PIN as
an scrypt hash (N=2^14, r=8, p=1, a 16-byte salt, 32 bytes out; never the PIN) and the TOTP
secret (20 random bytes, RFC 6238 with SHA-1, 6 digits, 30 s: what every authenticator app
reads from the enrolment QR code). The secret is stored as it is: the file is the kiosk user's
alone, and a stolen secret is no use without the PIN, which is not stored.

**Login** takes both factors at once (the screens ask for the PIN, then the code) and says only
"not accepted", never which factor failed or whether the name exists: an unknown name costs
the same scrypt as a known one.

- **Codes** are accepted one step either side of now (±30 s of clock drift) and only for a
  time step after the technician's last accepted one: a code seen over a shoulder cannot be
  used again, not even after a restart (the step is stored with the technician).
- **Lockout**: two failures in a row are free (a typo); from the third, the terminal waits
  30 s, then 60 s, 120 s … up to an hour before it checks again. An attempt during the wait
  is refused unchecked and does not count. The count and the time of the last failure are
  written (fsync) before the answer, in ``maintenance-lockout.json``, so a restart (or a
  pulled plug) does not reset it; a success clears it. The wait is measured on the wall clock;
  a clock set back cannot shorten it below the delay (the wait runs from the later of the
  stored failure time and now).

Every name, PIN and code given is checked before use (types, lengths, digits): a hostile file
or input is an :class:`AccessError` naming the problem, never a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from kiosk.files import FileRefused, read_regular_file, write_private_file

TECHNICIANS_FILE = "technicians.json"
LOCKOUT_FILE = "maintenance-lockout.json"
ROLES = ("technician", "admin")
Role = Literal["technician", "admin"]

SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN, SALT_BYTES = 2 ** 14, 8, 1, 32, 16
TOTP_DIGITS, TOTP_STEP_S, TOTP_SECRET_BYTES = 6, 30, 20
DRIFT_STEPS = 1  # codes of the step before and after now are accepted too
FREE_FAILURES = 2  # failures in a row before the first wait
FIRST_WAIT_S = 30.0
LONGEST_WAIT_S = 3600.0
MAX_FILE_BYTES = 256 * 1024  # technicians.json: a few hundred technicians at most
MAX_TECHNICIANS = 200
PIN_DIGITS = (6, 12)
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")  # lower case: "Alice" and "alice" are one


class AccessError(Exception):
    """A technician file or an input that cannot be used; the message says what and where."""


class NotAccepted(AccessError):
    """The name, the PIN or the code was wrong (which one is not said)."""


class LockedOut(AccessError):
    """Too many failures: no attempt is checked for ``wait_s`` more seconds."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"too many wrong attempts: try again in {int(wait_s + 0.999)} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class Technician:
    name: str
    role: Role
    pin_hash: str  # "scrypt$N$r$p$salt$hash" (base64)
    totp_secret: bytes
    last_step: int = 0  # the time step of the last code accepted (0: none yet)

    def __repr__(self) -> str:  # never the secret or the hash in a log line
        return f"Technician(name={self.name!r}, role={self.role!r})"


# --- checks of what people type ------------------------------------------------------------

def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise AccessError("a technician's name is 1 to 32 of a-z, 0-9, '.', '_' and '-', "
                          "starting with a letter or digit")
    return name


def check_new_pin(pin: object) -> str:
    """A PIN a technician may choose: 6 to 12 digits, not all the same, not a run."""
    low, high = PIN_DIGITS
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit() or not (
            low <= len(pin) <= high):
        raise AccessError(f"a technician's PIN is {low} to {high} digits")
    if len(set(pin)) == 1 or pin in "01234567890123456789" or pin in "98765432109876543210":
        raise AccessError("that PIN is too easy to guess (one digit repeated, or a run)")
    return pin


def _looks_like_pin(pin: object) -> bool:
    low, high = PIN_DIGITS
    return isinstance(pin, str) and pin.isascii() and pin.isdigit() and low <= len(pin) <= high


def _looks_like_code(code: object) -> bool:
    return isinstance(code, str) and len(code) == TOTP_DIGITS and code.isascii() and \
        code.isdigit()


# --- PIN hashes ----------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """The scrypt hash of a secret (a technician's PIN, an operator's password: UTF-8; a PIN's
    digits are the same bytes in ASCII), as ``scrypt$N$r$p$salt$hash``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    out = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                         dklen=SCRYPT_LEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(out)}"


def _parse_hash(text: object) -> tuple[int, int, int, bytes, bytes]:
    if not isinstance(text, str) or len(text) > 200:
        raise AccessError("a PIN hash is not text of the form scrypt$N$r$p$salt$hash")
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise AccessError("a PIN hash is not of the form scrypt$N$r$p$salt$hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise AccessError("a PIN hash has a part that is not a number or base64") from None
    # bounded: a hostile file must not make the kiosk spend minutes or gigabytes on one PIN
    if (n, r, p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P) or len(salt) != SALT_BYTES or \
            len(digest) != SCRYPT_LEN:
        raise AccessError(f"a PIN hash's parameters are not N={SCRYPT_N}, r={SCRYPT_R}, "
                          f"p={SCRYPT_P} with a {SALT_BYTES}-byte salt")
    return n, r, p, salt, digest


def pin_matches(pin: str, stored: str) -> bool:
    """Does ``pin`` (any secret hashed by :func:`hash_pin`) match the stored hash?"""
    n, r, p, salt, digest = _parse_hash(stored)
    out = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(digest))
    return hmac.compare_digest(out, digest)


_DUMMY_HASH = hash_pin("000000", bytes(SALT_BYTES))  # for unknown names: the same work


# --- TOTP ----------------------------------------------------------------------------------

def totp(secret: bytes) -> TOTP:
    # SHA-1 as RFC 6238 and every authenticator app use it (HMAC-SHA-1 is not broken by
    # SHA-1 collisions)
    return TOTP(secret, TOTP_DIGITS, SHA1(), TOTP_STEP_S)  # noqa: S303


def code_at(secret: bytes, when: float) -> str:
    return totp(secret).generate(int(when)).decode("ascii")


def provisioning_uri(tech: Technician, station: str) -> str:
    """The ``otpauth://`` link an authenticator app reads from the enrolment QR code."""
    return totp(tech.totp_secret).get_provisioning_uri(f"{tech.name}@{station}", "EV kiosk")


def matching_step(secret: bytes, code: str, now: float) -> int | None:
    """The time step (now ±DRIFT_STEPS) whose code ``code`` is, or None."""
    t = totp(secret)
    here = int(now) // TOTP_STEP_S
    for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1):
        try:
            t.verify(code.encode("ascii"), step * TOTP_STEP_S)
        except InvalidToken:
            continue
        return step
    return None


# --- files ---------------------------------------------------------------------------------

def _read_json(path: Path, what: str) -> Any:
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except FileRefused as exc:
        raise AccessError(f"{what} {path}: {exc}") from None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AccessError(f"{what} {path}: not JSON") from None


def _technician(raw: object, i: int) -> Technician:
    where = f"technician {i + 1}"
    if not isinstance(raw, dict) or set(raw) != {"name", "role", "pin", "totp", "last_step"}:
        raise AccessError(f"{where}: needs exactly name, role, pin, totp and last_step")
    try:
        name = check_name(raw["name"])
    except AccessError as exc:
        raise AccessError(f"{where}: {exc}") from None
    role = raw["role"]
    if role not in ROLES:
        raise AccessError(f"{where} ({name}): role is not one of {', '.join(ROLES)}")
    try:
        _parse_hash(raw["pin"])
    except AccessError as exc:
        raise AccessError(f"{where} ({name}): {exc}") from None
    try:
        secret = base64.b32decode(raw["totp"], casefold=False) if isinstance(
            raw["totp"], str) else b""
    except ValueError:
        secret = b""
    if len(secret) != TOTP_SECRET_BYTES:
        raise AccessError(f"{where} ({name}): the TOTP secret is not {TOTP_SECRET_BYTES} "
                          f"bytes of base32")
    step = raw["last_step"]
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < 2 ** 40:
        raise AccessError(f"{where} ({name}): last_step is not a time step")
    return Technician(name, role, raw["pin"], secret, step)


class TechnicianStore:
    """``technicians.json``: read whole, checked whole, written whole (atomically)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / TECHNICIANS_FILE
        self._lock = threading.Lock()

    def load(self) -> dict[str, Technician]:
        if not os.path.lexists(self.path):
            return {}
        doc = _read_json(self.path, "technician file")
        if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(
                doc.get("technicians"), list):
            raise AccessError(f"technician file {self.path}: not a version 1 technician list")
        raws = doc["technicians"]
        if len(raws) > MAX_TECHNICIANS:
            raise AccessError(f"technician file {self.path}: more than {MAX_TECHNICIANS}")
        found: dict[str, Technician] = {}
        for i, raw in enumerate(raws):
            try:
                tech = _technician(raw, i)
            except AccessError as exc:
                raise AccessError(f"technician file {self.path}: {exc}") from None
            if tech.name in found:
                raise AccessError(f"technician file {self.path}: {tech.name} twice")
            found[tech.name] = tech
        return found

    def save(self, techs: dict[str, Technician]) -> None:
        doc = {"version": 1, "technicians": [
            {"name": t.name, "role": t.role, "pin": t.pin_hash,
             "totp": base64.b32encode(t.totp_secret).decode("ascii"), "last_step": t.last_step}
            for t in sorted(techs.values(), key=lambda t: t.name)]}
        try:
            write_private_file(self.path, json.dumps(doc, indent=1).encode("utf-8"))
        except OSError as exc:
            raise AccessError(f"technician file {self.path}: cannot write: "
                              f"{exc.strerror or exc}") from None

    def add(self, name: str, role: str, pin: str) -> Technician:
        """Enrol a technician (a new TOTP secret); the name must be new."""
        check_name(name)
        if role not in ROLES:
            raise AccessError(f"role is one of {', '.join(ROLES)}")
        check_new_pin(pin)
        with self._lock:
            techs = self.load()
            if name in techs:
                raise AccessError(f"{name} is enrolled already (remove first to enrol again)")
            if len(techs) >= MAX_TECHNICIANS:
                raise AccessError(f"at most {MAX_TECHNICIANS} technicians")
            tech = Technician(name, role, hash_pin(pin),  # type: ignore[arg-type]
                              secrets.token_bytes(TOTP_SECRET_BYTES))
            self.save({**techs, name: tech})
        return tech

    def remove(self, name: str) -> None:
        with self._lock:
            techs = self.load()
            if name not in techs:
                raise AccessError(f"no technician {name}")
            del techs[name]
            self.save(techs)

    def update(self, tech: Technician) -> None:
        with self._lock:
            techs = self.load()
            if tech.name not in techs:
                raise AccessError(f"no technician {tech.name}")
            techs[tech.name] = tech
            self.save(techs)


# --- login and lockout ------------------------------------------------------------------------

def wait_after(failures: int) -> float:
    """The wait after ``failures`` failures in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(LONGEST_WAIT_S, FIRST_WAIT_S * 2.0 ** min(failures - FREE_FAILURES - 1, 20))


class Access:
    """Logins of technicians on this terminal (see the module). Thread-safe."""

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder)
        self.store = TechnicianStore(self.folder)
        self.lockout_path = self.folder / LOCKOUT_FILE
        self.clock = clock
        self._lock = threading.Lock()

    # the lockout's state: (failures in a row, wall time of the last one)
    def _lockout(self) -> tuple[int, float]:
        if not os.path.lexists(self.lockout_path):
            return 0, 0.0
        try:
            doc = _read_json(self.lockout_path, "lockout file")
        except AccessError:
            # damaged: as locked as can be (fails closed; a technician's admin removes it)
            return 10 ** 6, self.clock()
        failures, last = (doc.get("failures"), doc.get("last_failure")) if isinstance(
            doc, dict) else (None, None)
        if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0 or \
                not isinstance(last, int | float) or isinstance(last, bool):
            return 10 ** 6, self.clock()
        return failures, float(last)

    def _save_lockout(self, failures: int, last: float) -> None:
        try:
            write_private_file(self.lockout_path, json.dumps(
                {"failures": failures, "last_failure": last}).encode("utf-8"))
        except OSError as exc:  # not recorded: refuse rather than allow unlimited guesses
            raise AccessError(f"lockout file {self.lockout_path}: cannot write: "
                              f"{exc.strerror or exc}") from None

    def wait_s(self) -> float:
        """Seconds until an attempt is checked again (0: now)."""
        with self._lock:
            return self._wait_s()

    def _wait_s(self) -> float:
        failures, last = self._lockout()
        delay = wait_after(failures)
        if delay == 0:
            return 0.0
        now = self.clock()
        return max(0.0, min(delay, last + delay - now)) if now >= last else delay

    def failures(self) -> int:
        with self._lock:
            return self._lockout()[0]

    def login(self, name: str, pin: str, code: str) -> Technician:
        """The technician, when the name, the PIN and the code are right; else
        :class:`NotAccepted` (counted) or :class:`LockedOut` (not checked)."""
        with self._lock:
            wait = self._wait_s()
            if wait > 0:
                raise LockedOut(wait)
            techs = self.store.load()
            tech = techs.get(name) if isinstance(name, str) else None
            now = self.clock()
            pin_ok = pin_matches(pin if _looks_like_pin(pin) else "000000",
                                 tech.pin_hash if tech is not None else _DUMMY_HASH)
            step = matching_step(tech.totp_secret, code, now) if (
                tech is not None and _looks_like_code(code)) else None
            if tech is None or not pin_ok or not _looks_like_pin(pin) or step is None or \
                    step <= tech.last_step:
                failures, _last = self._lockout()
                self._save_lockout(failures + 1, max(now, _last))
                after = wait_after(failures + 1)
                if after > 0:
                    raise LockedOut(after)
                raise NotAccepted("not accepted")
            self.store.update(replace(tech, last_step=step))
            if os.path.lexists(self.lockout_path):
                self._save_lockout(0, now)
            return replace(tech, last_step=step)
