"""What the technician's status screen shows: one row per part, in plain figures, gathered
without waiting on any device (cached states only: the reader's watch, the charger's last
status, the health watch's last echo, the journal's counts).

Each :class:`Row` says whether the part is fine (``ok``: True, False, or None when there is
nothing to judge), so the screen marks it by an icon and a word, not by colour alone.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING

from kiosk.health import CHARGER, HOST, READER

PLANNED = ("maintenance", "operator")  # out of service on purpose: not faults

if TYPE_CHECKING:
    from kiosk.runtime import Runtime
    from kiosk.security.audit import Entry


@dataclass(frozen=True)
class Row:
    key: str  # stable, for tests and object names: "reader", "charger_1", "host" ...
    name: str  # what it is (English; the screen translates the name by its key)
    value: str
    ok: bool | None = None


def version() -> str:
    try:
        return metadata.version("evkiosk")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def duration(seconds: float) -> str:
    s = int(max(0.0, seconds))
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d} d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _ago(when: datetime | float | None, now: float) -> str:
    if when is None:
        return "never"
    at = when.timestamp() if isinstance(when, datetime) else when
    return f"{duration(now - at)} ago"


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MiB"


def gather(rt: Runtime, recent: list[Entry] | None = None) -> list[Row]:
    """The rows, in screen order. ``recent``: the audit log's newest entries (faults are the
    health entries among them)."""
    now = time.time()
    health = rt.health
    rows = [Row("service", "Terminal", "in service" if health.in_service else
                "out of service: " + "; ".join(p.detail for p in health.problems()),
                health.in_service)]

    reader_problem = health.problem(READER)
    present = getattr(rt.card_terminal, "card_present", None)
    card = "" if present is None else (", a card is presented" if present else ", no card")
    rows.append(Row("reader", "Card reader", (
        f"{rt.config.reader.kind}: " + ("available" if reader_problem is None
                                        else reader_problem.detail) + card),
        reader_problem is None))

    firmware = str(getattr(rt.charger, "firmware", "") or "")
    charger_problem = health.problem(CHARGER)
    for c in rt.config.connectors:
        try:
            st = rt.charger.status(c.id)
        except Exception as exc:  # a controller that cannot say: the row says why
            rows.append(Row(f"charger_{c.id}", f"Charger {c.label}",
                            f"no status: {type(exc).__name__}: {exc}", False))
            continue
        value = (f"state {st.state.value}, meter {st.energy_wh:,} Wh, {st.power_w:,} W"
                 + (f", fault: {st.fault}" if st.fault else "")
                 + (f", firmware {firmware}" if firmware else ""))
        rows.append(Row(f"charger_{c.id}", f"Charger {c.label}", value,
                        not st.fault and charger_problem is None))

    echo = rt.watch.last_echo if rt.watch is not None else None
    host_problem = health.problem(HOST)
    where = rt.config.host.kind + (f" {rt.config.host.address}:{rt.config.host.port}"
                                   if rt.config.host.address else "")
    if echo is None:
        seen = "no echo test yet"
    elif echo[1] is None:
        seen = f"last echo failed {_ago(echo[0], now)}: {echo[2]}"
    else:
        seen = f"echo {echo[1]:.0f} ms, {_ago(echo[0], now)}"
    rows.append(Row("host", "Payment host", f"{where}: {seen}", host_problem is None and (
        echo is None or echo[1] is not None)))

    pending = rt.settlement.pending_count()
    rows.append(Row("settlements", "Payments to settle", f"{pending} pending", pending == 0))

    upload = rt.upload_status()
    if upload is None:
        rows.append(Row("backoffice", "Back office", "no uploads (offline or none "
                                                     "configured): export by USB", None))
    else:
        text = (f"{upload.pending} record(s) queued, last upload "
                f"{_ago(upload.last_success, now)}"
                + (f"; last error: {upload.last_error}" if upload.last_error else ""))
        rows.append(Row("backoffice", "Back office", text, not upload.last_error))

    members_ok, members = rt.member_status()
    rows.append(Row("members", "Member prices", members, members_ok))

    remote = rt.remote_updates
    if remote is not None:
        asked = remote.status()
        text = ("not asked yet" if asked.last_check is None else
                f"asked {_ago(asked.last_check, now)}: {asked.last_result}")
        if rt.restart_reason:
            text += f"; restarts when idle for {rt.restart_reason}"
        rows.append(Row("updates", "Updates from the back office", text,
                        asked.failures == 0 and not asked.refused))

    folder = rt.journal.path.parent
    try:
        usage = shutil.disk_usage(folder)
        free = usage.free
        disk = f"{_mib(free)} free of {_mib(usage.total)} ({folder})"
    except OSError as exc:
        free, disk = -1, f"{folder}: {exc.strerror or exc}"
    rows.append(Row("disk", "Storage", disk,
                    free >= rt.config.health.min_free_mb * 1024 * 1024))
    try:
        size = rt.journal.path.stat().st_size
    except OSError:
        size = -1
    rows.append(Row("journal", "Journal", f"{rt.journal.path.name}, {_mib(max(size, 0))}",
                    size >= 0 and rt.runner.journal_error is None))
    rows.append(Row("version", "Version", f"evkiosk {version()}, station "
                                          f"{rt.config.station.id}", None))
    rows.append(Row("uptime", "Running for", duration(time.monotonic() - rt.started), None))
    faults = [e for e in (recent or []) if e.action == "health" and not e.details.get("ok")
              and e.details.get("part") not in PLANNED]
    rows.append(Row("faults", "Recent faults", "; ".join(
        f"{datetime.fromisoformat(e.at).astimezone(UTC):%d %b %H:%M} "
        f"{e.details.get('part')}: {e.details.get('detail', '')}" for e in faults[-3:])
        or "none", not faults))
    return rows
