"""The ledger check shared by the crash test and the randomized ledger test."""

from __future__ import annotations

from pathlib import Path

from drivers.sim.host import HostSimulator
from kiosk.journal.store import Journal
from kiosk.session.machine import Outcome


def check_settled(journal_path: Path, host: HostSimulator) -> list[str]:
    """Everything in the journal is finished, gapless, and agrees with the host's ledger."""
    j = Journal(journal_path)
    try:
        assert j.unfinished() == []
        ledger = host.ledger()
        outbox = {r.session_id: r for r in j.outbox() if r.kind == "session"}
        settled = {r.session_id: r for r in j.outbox() if r.kind == "settlement"}
        jobs = {job.session_id: job for job in j.all_settlements()}
        numbers = [n for n, _ in j.invoices()]
        assert numbers == list(range(1, len(numbers) + 1))  # no gap, no reuse
        to_states: list[str] = []
        for s in j.all_sessions():
            rows = j.transitions(s.id)
            assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # nothing lost/doubled
            to_states += [r.to_state for r in rows]
            entry = ledger.get(s.ref)
            if s.outcome in (Outcome.CAPTURED, Outcome.REVERSED):
                job = jobs[s.id]  # exactly one settlement, acknowledged, reported
                assert job.status == "done" and job.ref == s.ref, job
                assert job.kind == s.settle_kind
                assert settled[s.id].payload["status"] == "done"
                assert settled[s.id].payload["amount_minor"] == job.amount_minor
            else:
                assert s.id not in jobs
            if s.outcome is Outcome.CAPTURED:
                assert job.kind == "capture" and job.amount_minor == s.final_minor
                assert entry is not None and not entry.reversed
                assert entry.captured_minor == s.final_minor > 0
                assert outbox[s.id].payload["amount_minor"] == s.final_minor
                invoice = j.invoice(s.id)
                assert invoice is not None and invoice["total_minor"] == s.final_minor
            elif s.outcome is Outcome.REVERSED:
                assert job.kind in ("reversal", "advice")
                assert entry is not None and entry.reversed and entry.captured_minor is None
                assert outbox[s.id].payload["amount_minor"] == 0
                assert j.invoice(s.id) is None
            else:
                assert s.outcome in (Outcome.ABORTED, Outcome.DECLINED)
                assert entry is None or entry.held_minor == 0
        assert list(outbox) == [s.id for s in j.all_sessions() if s.id in outbox]
        return to_states
    finally:
        j.close()
