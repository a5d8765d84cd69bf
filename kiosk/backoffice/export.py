"""``kiosk-backoffice export``: a journal's queued records (the outbox) as JSON lines.

The journal is opened read-only (:meth:`kiosk.journal.store.Journal.open_readonly`): nothing
is created, migrated or written, and a file that is not a kiosk journal of a known revision
is refused. A journal handed to the back office may come from anywhere, so every row is checked
before a line is printed: ``kind`` and ``created_at`` must be UTF-8 text, ``payload`` UTF-8 JSON
holding one object (no ``NaN``, at most :data:`MAX_PAYLOAD_BYTES`). The first row that is not,
or a database SQLite finds damaged, ends the export with one :class:`ExportError` naming the
file and the row; nothing is printed then (all rows or none).

Payloads sealed at rest (``aesgcm1:``, :mod:`kiosk.journal.store`) are opened with the outbox
key in the journal's folder (``outbox.key``, checked like every key: 0600, owned, 32 bytes). A
sealed row without that key, or one that does not open with it (another key, moved to another
session), is such an error naming the row; plain rows of older journals need no key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, cast, select
from sqlalchemy.exc import DBAPIError

from kiosk.journal.store import (
    OUTBOX_KEY_FILE,
    READONLY_MAX_BYTES,
    SEALED,
    Journal,
    JournalError,
    open_text,
    outbox,
    outbox_aad,
    outbox_key_beside,
)

MAX_PAYLOAD_BYTES = 16 << 20  # a record is a few kB


class ExportError(Exception):
    """The journal cannot be exported: not a journal, damaged, or a row that is not a record.
    The message names the file (and the row)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _text(value: object, what: str) -> str:
    if not isinstance(value, bytes):
        raise ValueError(f"{what} is missing" if value is None else f"{what} is not text")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text") from None


def _record(kind: object, created_at: object, payload: object, session_id: object = None,
            key: bytes | None = None) -> str:
    """One JSON line, as the export has always printed it; ValueError says what is wrong."""
    text = _text(payload, "payload")
    if text.startswith(SEALED):
        if key is None:
            raise ValueError(f"payload is sealed (aesgcm1) and there is no {OUTBOX_KEY_FILE} "
                             f"beside the journal")
        text = open_text(key, outbox_aad(_text(session_id, "session_id"),
                                         _text(kind, "kind")), text)
    if len(text) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is larger than {MAX_PAYLOAD_BYTES >> 20} MiB")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload is not JSON ({exc.msg} at line {exc.lineno} column "
                         f"{exc.colno})") from None
    except RecursionError:
        raise ValueError("payload is nested too deeply") from None
    except ValueError as exc:  # NaN, an integer of thousands of digits
        raise ValueError(f"payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"payload is a JSON {type(data).__name__.replace('dict', 'object')}, "
                         f"not an object")
    try:
        return json.dumps({"kind": _text(kind, "kind"), "created_at": _text(created_at,
                                                                             "created_at"),
                           **data}, sort_keys=True)
    except RecursionError:
        raise ValueError("payload is nested too deeply") from None


def _rows(journal: Journal, pending_only: bool) -> Iterator[tuple[Any, ...]]:
    # as bytes: a damaged text is this export's error with its row id, not sqlite3's
    q = select(outbox.c.id, cast(outbox.c.kind, LargeBinary), cast(outbox.c.created_at,
                                                                    LargeBinary),
               cast(outbox.c.payload, LargeBinary),
               cast(outbox.c.session_id, LargeBinary)).order_by(outbox.c.id)
    if pending_only:
        q = q.where(outbox.c.sent_at.is_(None))
    with journal.engine.connect() as conn:
        for row in conn.execute(q):
            yield tuple(row)


def export_lines(path: Path, *, pending_only: bool = False,
                 max_bytes: int = READONLY_MAX_BYTES) -> list[str]:
    """The outbox of the journal at ``path`` as JSON lines (each record's payload with its
    ``kind`` and ``created_at``), in the order they were queued. Raises :class:`ExportError`."""
    try:
        journal = Journal.open_readonly(path, max_bytes=max_bytes)
    except JournalError as exc:
        raise ExportError(str(exc)) from None
    try:
        key = outbox_key_beside(path)
    except JournalError as exc:
        journal.close()
        raise ExportError(str(exc)) from None
    where = f"journal {path}"
    lines: list[str] = []
    last: object = None
    try:
        for row_id, kind, created_at, payload, session_id in _rows(journal, pending_only):
            try:
                lines.append(_record(kind, created_at, payload, session_id, key))
            except ValueError as exc:
                raise ExportError(f"{where}: outbox row {str(row_id)[:40]}: {exc}") from None
            last = row_id
    except (DBAPIError, UnicodeDecodeError) as exc:  # a damaged file; SQLite's message may
        # quote the damaged bytes (not UTF-8)
        after = f" after outbox row {str(last)[:40]}" if last is not None else ""
        first = (str(exc.orig).splitlines() or ["damaged"])[0][:200] \
            if isinstance(exc, DBAPIError) else "damaged (a message that is not UTF-8)"
        raise ExportError(f"{where}: cannot read the outbox{after}: {first}") from None
    finally:
        journal.close()
    return lines
