"""The outbox in upload batches: what the terminal sends the back office, and resends.

The journal's outbox rows (sealed at rest, :mod:`kiosk.journal.store`) are taken in id order
into batches of the wire format :mod:`kiosk.records.batch`: one sequence per terminal from 1,
no gaps, signed with the terminal's Ed25519 key. A batch is built once and stored (its envelope,
sealed like the rows, and which rows are in it) in one transaction; until the back office
acknowledges it, :meth:`Outbox.next_batch` hands out the same bytes again (a resend is byte for
byte the one signed first). :meth:`Outbox.acknowledge` marks the batches up to a sequence and
their records sent, in one transaction.

Nothing is dropped: a row that does not open, or that the back office would refuse (a kind it
does not know, an id of the wrong form), is an :class:`~kiosk.journal.store.OutboxRowError`
naming the row, and the outbox stops there; a journal that refuses a write is a
:class:`~kiosk.journal.store.JournalWriteError` and nothing is stored. Each envelope is read
back with the back office's own checks (:func:`~kiosk.records.batch.verify`) before it is
stored, so the terminal never signs a batch the back office cannot take.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.journal.store import BatchConflict, Journal, OutboxRow, OutboxRowError
from kiosk.records.batch import (
    MAX_RECORDS,
    Batch,
    BatchError,
    Record,
    check_terminal_id,
    open_envelope,
    seal,
    verify,
)

DEFAULT_MAX_RECORDS = 200
_ATTEMPTS = 3  # another process stored a batch meanwhile: build again, this often


class OutboxError(Exception):
    """The outbox cannot do what was asked (an acknowledgement out of range, batches of
    another terminal in this journal). The message says why."""


class Outbox:
    def __init__(self, journal: Journal, terminal_id: str, signing_key: Ed25519PrivateKey,
                 clock: Callable[[], datetime]) -> None:
        try:
            self.terminal_id = check_terminal_id(terminal_id)
        except BatchError as exc:
            raise OutboxError(f"terminal id {terminal_id[:40]!r}: {exc}") from None
        self.journal = journal
        self._key = signing_key
        self._public = signing_key.public_key()
        self._clock = clock

    # --- reading ------------------------------------------------------------------------
    def pending_count(self) -> int:
        """Records not yet acknowledged by the back office (in a batch or not)."""
        return self.journal.pending_count()

    def unacknowledged(self) -> list[tuple[int, bytes]]:
        """(sequence, envelope) of every batch built and not acknowledged, oldest first."""
        rows = self.journal.unacknowledged_batches()
        for b in rows:
            self._ours(b.terminal_id, b.sequence)
        return [(b.sequence, b.envelope) for b in rows]

    # --- building -----------------------------------------------------------------------
    def next_batch(self, max_records: int = DEFAULT_MAX_RECORDS) -> bytes | None:
        """The envelope to send now: the oldest batch not acknowledged (the same bytes as
        before), else a new batch of up to ``max_records`` of the records in no batch yet
        (stored before it is returned), else None: nothing to send."""
        _check_max(max_records)
        for _ in range(_ATTEMPTS):
            oldest = self.journal.unacknowledged_batches(limit=1)
            if oldest:
                self._ours(oldest[0].terminal_id, oldest[0].sequence)
                return oldest[0].envelope
            try:
                built = self._build(max_records)
            except BatchConflict:
                continue  # another process built one: that one is the oldest now
            return None if built is None else built[1]
        raise OutboxError(f"journal {self.journal.path}: batches kept changing while one was "
                          f"built ({_ATTEMPTS} attempts)")

    def seal_all(self, max_records: int = DEFAULT_MAX_RECORDS) -> list[tuple[int, bytes]]:
        """Put every record in no batch yet into new batches, then return (sequence,
        envelope) of every batch not acknowledged, oldest first (the export to a file)."""
        _check_max(max_records)
        conflicts = 0
        while True:
            try:
                if self._build(max_records) is None:
                    break
            except BatchConflict:
                conflicts += 1
                if conflicts >= _ATTEMPTS:
                    raise
        return self.unacknowledged()

    def _build(self, max_records: int) -> tuple[int, bytes] | None:
        rows = self.journal.unbatched(max_records)
        if not rows:
            return None
        last = self.journal.last_batch_sequence()
        sequence = last + 1
        created = self._clock().isoformat()
        envelope, used = self._seal(sequence, created, rows)
        self.journal.store_batch(sequence, self.terminal_id, created, envelope,
                                 [r.id for r in used])
        return sequence, envelope

    def _seal(self, sequence: int, created: str,
              rows: list[OutboxRow]) -> tuple[bytes, list[OutboxRow]]:
        """The envelope of the longest prefix of ``rows`` (halving) that the back office would
        take; a single row it would not is an :class:`OutboxRowError`."""
        n = len(rows)
        while True:
            part = rows[:n]
            batch = Batch(self.terminal_id, sequence, created,
                          tuple(_record(r) for r in part))
            try:
                envelope = seal(batch, self._key)
                verify(open_envelope(envelope), self._public)  # as the back office reads it
            except (BatchError, ValueError, TypeError) as exc:
                if n == 1:
                    raise OutboxRowError(
                        f"journal {self.journal.path}: outbox row {part[0].id}: cannot go "
                        f"into a batch: {str(exc)[:200]}", part[0].id) from None
                n //= 2  # too large, or a record in it would be refused: fewer
                continue
            return envelope, part

    # --- acknowledgements ---------------------------------------------------------------
    def acknowledge(self, up_to_sequence: int) -> int:
        """The back office has stored every batch up to ``up_to_sequence``: mark them and
        their records sent (one transaction); return how many records that marked. 0 is
        nothing; a sequence above the last batch built is an :class:`OutboxError`."""
        if (not isinstance(up_to_sequence, int) or isinstance(up_to_sequence, bool)
                or up_to_sequence < 0):
            raise OutboxError(f"acknowledgement {up_to_sequence!r}: not a sequence number")
        last = self.journal.last_batch_sequence()
        if up_to_sequence > last:
            raise OutboxError(f"acknowledgement of batch {up_to_sequence}, but the last batch "
                              f"built is {last}")
        if up_to_sequence == 0:
            return 0
        return self.journal.acknowledge_batches(up_to_sequence, self._clock())

    def _ours(self, terminal_id: str, sequence: int) -> None:
        if terminal_id != self.terminal_id:
            raise OutboxError(f"journal {self.journal.path}: batch {sequence} is terminal "
                              f"{terminal_id!r}'s, not {self.terminal_id!r}'s")


def _record(row: OutboxRow) -> Record:
    return Record(id=f"{row.session_id}:{row.kind}", session_id=row.session_id, kind=row.kind,
                  created_at=row.created_at, payload=row.payload)


def _check_max(max_records: int) -> None:
    if not 1 <= max_records <= MAX_RECORDS:
        raise ValueError(f"max_records: from 1 to {MAX_RECORDS}")
