"""The terminal's own health, apart from sessions: in service, or out of service and why.

Each part of the terminal reports on itself under a name (:data:`READER`, :data:`CHARGER`,
:data:`HOST`, :data:`JOURNAL`, :data:`DISK`): ``health.report(name, ok, reason)``. The terminal
is in service when every part is fine. Out of service means: Start is disabled, the chargers
are off (the runtime switches them off when a problem appears), and the idle screen shows the
reasons and the operator's phone number. A part that recovers puts the terminal back in service
by itself. Every change is logged; listeners hear of every change (from any thread).

The reasons are short texts for the driver (the log keeps the technical detail).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

READER, CHARGER, HOST, JOURNAL, DISK = "reader", "charger", "host", "journal", "disk"
ORDER = (JOURNAL, DISK, CHARGER, READER, HOST)  # the most serious reason first

MSG_READER = "The card reader is not available right now."
MSG_CHARGER = "The charger does not answer."
MSG_HOST = "The payment service cannot be reached."
MSG_JOURNAL = "The terminal cannot store payments right now."
MSG_DISK = "The terminal's storage is nearly full."


@dataclass(frozen=True)
class Problem:
    part: str
    reason: str  # safe to show
    detail: str  # for the log and the technician
    since: datetime
    planned: bool = False  # out of service on purpose (maintenance, the operator's switch)


Listener = Callable[["Health"], None]
T = TypeVar("T")


class Health:
    def __init__(self, clock: Callable[[], datetime], *, phone: str = "") -> None:
        self.clock = clock
        self.phone = phone
        self._lock = threading.Lock()
        self._problems: dict[str, Problem] = {}
        self.listeners: list[Listener] = []

    def report(self, part: str, ok: bool, reason: str = "", detail: str = "", *,
               planned: bool = False) -> bool:
        """Record the state of ``part``; True when that changed the terminal's health.
        ``planned``: out of service on purpose (a technician's maintenance, the operator's
        switch): logged as a warning, not an error."""
        with self._lock:
            before = self._problems.get(part)
            if ok:
                if before is None:
                    return False
                del self._problems[part]
            else:
                if before is not None and before.reason == reason:
                    return False
                self._problems[part] = Problem(part, reason, detail or reason,
                                               before.since if before else self.clock(),
                                               planned)
            in_service = not self._problems
        if ok:
            log.warning("health: %s is fine again%s", part,
                        " — terminal back in service" if in_service else "")
        else:
            (log.warning if planned else log.error)(
                "health: %s: %s (%s) — terminal out of service", part, reason,
                detail or reason)
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception:
                log.exception("health listener failed")
        return True

    @property
    def in_service(self) -> bool:
        with self._lock:
            return not self._problems

    def problems(self) -> list[Problem]:
        """The current problems, the most serious first."""
        with self._lock:
            found = list(self._problems.values())
        rank = {p: i for i, p in enumerate(ORDER)}
        return sorted(found, key=lambda p: (rank.get(p.part, len(ORDER)), p.since))

    def reasons(self) -> list[str]:
        return [p.reason for p in self.problems()]

    def problem(self, part: str) -> Problem | None:
        with self._lock:
            return self._problems.get(part)


def changes(before: Mapping[str, T], now: Mapping[str, T]) -> tuple[list[str], list[str]]:
    """What changed between two pictures of the problems (part → what a listener keeps of
    it): the parts of ``now`` new or different, in its order, and the parts of ``before``
    fine again, in theirs. The audit log and the health records both write these."""
    return ([part for part, seen in now.items() if before.get(part) != seen],
            [part for part in before if part not in now])


def disk_problem(path: Path, min_free_bytes: int) -> str:
    """A detail text when the file system holding ``path`` has less than ``min_free_bytes``
    free (or cannot be asked), else ""."""
    try:
        free = shutil.disk_usage(path).free
    except OSError as exc:
        return f"{path}: cannot read the free space: {exc.strerror or exc}"
    if free < min_free_bytes:
        return f"{path}: {free // 1024} KiB free, less than {min_free_bytes // 1024} KiB"
    return ""
