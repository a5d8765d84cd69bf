"""The maintenance mode's session: entered by the gesture, opened by two factors, closed by the
technician, by inactivity, or never opened while a driver's session runs.

States: ``closed`` → (gesture, no driver's session) → ``login`` → (name, PIN, TOTP code) →
``open`` → (log out, or :attr:`Maintenance.idle_timeout_s` untouched) → ``closed``. The login
screen closes after :data:`LOGIN_IDLE_S` untouched: someone who tried the gesture and walked
away leaves the driver's screen behind.

While the mode is open the terminal is out of service for drivers (health part
``maintenance``: Start is off, the chargers are off until a charger test turns one on), and it
comes back by itself when the mode closes. The operator's **out-of-service switch** is a
separate part (``operator``) that stays across restarts (``out-of-service.json`` in the data
folder) until a technician switches it back.

Every step goes to the audit log: entering, each login (accepted, refused, locked out), each
action a screen performs (:meth:`Maintenance.act`), leaving (and why). The technician's actor
name there is ``technician:<name>`` (``admin:<name>`` for the operator's admin).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kiosk.files import FileRefused, read_regular_file, write_private_file
from kiosk.health import Health, changes
from kiosk.security.audit import AuditLog
from kiosk.security.technicians import Access, AccessError, LockedOut, NotAccepted, Technician

log = logging.getLogger(__name__)

MAINTENANCE, OPERATOR, AUDIT = "maintenance", "operator", "audit"  # health parts
MSG_MAINTENANCE = "This charging station is being serviced."
MSG_OPERATOR = "This charging station has been taken out of service."
MSG_AUDIT = "A part of the terminal is being checked."
OUT_OF_SERVICE_FILE = "out-of-service.json"
LOGIN_IDLE_S = 60.0
State = Literal["closed", "login", "open"]


class MaintenanceError(Exception):
    """What the mode cannot do now; the message is for the technician's screen."""


class DriverBusy(MaintenanceError):
    """A driver's session runs: the mode does not open."""


@dataclass(frozen=True)
class OutOfService:
    by: str
    note: str
    since: float  # wall time


def read_out_of_service(folder: Path) -> OutOfService | None:
    """The operator's switch as stored; a damaged file counts as switched off (fail closed)."""
    path = Path(folder) / OUT_OF_SERVICE_FILE
    if not os.path.lexists(path):
        return None
    try:
        doc = json.loads(read_regular_file(path, 16 * 1024).decode("utf-8"))
        by, note, since = doc["by"], doc["note"], doc["since"]
        if not isinstance(by, str) or not isinstance(note, str) or not isinstance(
                since, int | float) or isinstance(since, bool):
            raise ValueError("types")
    except (FileRefused, UnicodeDecodeError, ValueError, KeyError, TypeError):
        log.error("%s: damaged: the terminal stays out of service until a technician "
                  "switches it back", path)
        return OutOfService("?", "the switch's file is damaged", 0.0)
    return OutOfService(by[:64], note[:200], float(since))


class Maintenance:
    """One terminal's maintenance mode. Called from the GUI thread (thread-safe anyway)."""

    def __init__(self, folder: Path, access: Access, audit: AuditLog, health: Health,
                 driver_sessions: Callable[[], int], *, idle_timeout_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder)
        self.access = access
        self.audit = audit
        self.health = health
        self.driver_sessions = driver_sessions
        self.idle_timeout_s = idle_timeout_s
        self.clock = clock
        self.wall = wall
        self._lock = threading.RLock()
        self._state: State = "closed"
        self._who: Technician | None = None
        self._last = 0.0
        switch = read_out_of_service(self.folder)
        if switch is not None:
            health.report(OPERATOR, False, MSG_OPERATOR,
                          f"switched off by {switch.by}: {switch.note}".rstrip(": "),
                          planned=True)

    # --- state ---------------------------------------------------------------------------
    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    @property
    def technician(self) -> Technician | None:
        with self._lock:
            return self._who if self._state == "open" else None

    def _actor(self) -> str:
        who = self._who
        return "system" if who is None else f"{who.role}:{who.name}"

    def touch(self) -> None:
        """The technician did something: the inactivity timer starts again."""
        with self._lock:
            self._last = self.clock()

    def idle_left_s(self) -> float:
        with self._lock:
            if self._state == "closed":
                return 0.0
            limit = LOGIN_IDLE_S if self._state == "login" else self.idle_timeout_s
            return max(0.0, limit - (self.clock() - self._last))

    def check_idle(self) -> bool:
        """Close the mode when it was left untouched too long; True when it closed now."""
        with self._lock:
            if self._state == "closed" or self.idle_left_s() > 0:
                return False
            self._close("idle")
            return True

    # --- entering and leaving ---------------------------------------------------------------
    def enter(self) -> None:
        """The gesture: show the login. :class:`DriverBusy` while a driver's session runs."""
        with self._lock:
            if self._state != "closed":
                self.touch()
                return
            running = self.driver_sessions()
            if running:
                self.audit.append("system", "maintenance refused", {"driver_sessions": running})
                raise DriverBusy("A driver's session is running: maintenance opens when it "
                                 "has ended.")
            self._state, self._who = "login", None
            self.touch()

    def technicians(self) -> list[str]:
        """The enrolled names, for the login's picker."""
        return sorted(self.access.store.load())

    def login(self, name: str, pin: str, code: str) -> Technician:
        """Both factors; raises :class:`NotAccepted`, :class:`LockedOut` or
        :class:`AccessError`. Each outcome is audited (never the PIN or the code)."""
        with self._lock:
            if self._state != "login":
                raise MaintenanceError("The login is not open.")
            self.touch()
            if self.driver_sessions():  # one started between the gesture and now
                self._state = "closed"
                raise DriverBusy("A driver's session is running: maintenance opens when it "
                                 "has ended.")
            shown = name if isinstance(name, str) else "?"
            try:
                tech = self.access.login(name, pin, code)
            except LockedOut as exc:
                self.audit.append("system", "login locked out", {
                    "name": shown[:32], "wait_s": round(exc.wait_s)})
                raise
            except NotAccepted:
                self.audit.append("system", "login refused", {
                    "name": shown[:32], "failures": self.access.failures()})
                raise
            except AccessError as exc:
                self.audit.append("system", "login failed", {"problem": str(exc)[:200]})
                raise
            self._state, self._who = "open", tech
            self.audit.append(self._actor(), "login", {})
            self.health.report(MAINTENANCE, False, MSG_MAINTENANCE,
                               f"maintenance by {tech.name}", planned=True)
            return tech

    def close(self, why: str = "logout") -> None:
        with self._lock:
            if self._state != "closed":
                self._close(why)

    def _close(self, why: str) -> None:
        was_open = self._state == "open"
        self.audit.append(self._actor(), "logout" if was_open else "login closed",
                          {"why": why})
        self._state, self._who = "closed", None
        if was_open:
            self.health.report(MAINTENANCE, True)

    # --- what the screens do ------------------------------------------------------------------
    def require(self, role: str = "technician") -> Technician:
        """The technician logged in (an admin for ``role="admin"``), else
        :class:`MaintenanceError`."""
        with self._lock:
            who = self._who if self._state == "open" else None
            if who is None:
                raise MaintenanceError("Log in first.")
            if role == "admin" and who.role != "admin":
                raise MaintenanceError("Only the operator's admin may do this.")
            self.touch()
            return who

    def act(self, action: str, details: Mapping[str, Any] | None = None, *,
            role: str = "technician") -> Technician:
        """Audit an action a screen is about to perform (raises when not allowed)."""
        with self._lock:
            who = self.require(role)
            self.audit.append(self._actor(), action, details)
            return who

    def out_of_service(self) -> OutOfService | None:
        return read_out_of_service(self.folder)

    def set_out_of_service(self, off: bool, note: str = "") -> None:
        """The operator's switch: ``off`` takes the terminal out of service until switched
        back (it stays across restarts)."""
        with self._lock:
            who = self.act("out of service" if off else "back in service",
                           {"note": note[:200]})
            path = self.folder / OUT_OF_SERVICE_FILE
            if off:
                write_private_file(path, json.dumps(
                    {"by": who.name, "note": note[:200], "since": self.wall()}).encode())
                self.health.report(OPERATOR, False, MSG_OPERATOR,
                                   f"switched off by {who.name}: {note}".rstrip(": "),
                                   planned=True)
            else:
                path.unlink(missing_ok=True)
                self.health.report(OPERATOR, True)


class HealthAudit:
    """A health listener that writes each change of the terminal's health (a part failing,
    its reason changing, a part fine again) to the audit log."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self._seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, health: Health) -> None:
        now = {p.part: p.detail for p in health.problems()}
        with self._lock:
            before, self._seen = self._seen, now
            failing, fixed = changes(before, now)
            for part in failing:
                self.audit.append("system", "health", {"part": part, "ok": False,
                                                       "detail": now[part][:300]})
            for part in fixed:
                self.audit.append("system", "health", {"part": part, "ok": True})
