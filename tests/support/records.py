"""Records of every kind with the payload fields the back office relies on
(:mod:`kiosk.backoffice.schemas`), for tests and benchmarks that make batches by hand."""

from __future__ import annotations

from typing import Any

from kiosk.records.batch import Record

KINDS = ("session", "cdr", "invoice", "settlement", "audit")
T0 = "2026-12-01T20:00:00+00:00"


def payload(kind: str, session_id: str, amount_minor: int = 595,
            number: str = "") -> dict[str, Any]:
    if kind == "session":
        return {"record_version": 2, "session_id": session_id, "outcome": "captured",
                "amount_minor": amount_minor, "held_minor": 5000, "currency": "EUR",
                "energy_wh": 10_000}
    if kind == "settlement":
        return {"record_version": 2, "session_id": session_id, "kind": "capture",
                "status": "done", "amount_minor": amount_minor, "currency": "EUR"}
    if kind == "invoice":
        return {"invoice_version": 1, "session_id": session_id,
                "number": number or f"DEMO-0001-{abs(hash(session_id)) % 10**8:08d}",
                "token": "A" * 22, "currency": "EUR", "total_minor": amount_minor,
                "lines": [], "vat_summary": []}
    if kind == "cdr":
        return {"country_code": "DE", "party_id": "EVK", "id": session_id[:36],
                "start_date_time": "2026-12-01T19:00:00Z",
                "end_date_time": "2026-12-01T20:00:00Z", "currency": "EUR",
                "total_cost": {"excl_vat": "5.00", "incl_vat": "5.95"},
                "cdr_location": {"id": "DEMO-0001"}, "cdr_token": {"uid": "x"},
                "last_updated": "2026-12-01T20:00:00Z"}
    if kind == "audit":
        return {"event": "test", "session_id": session_id}
    raise ValueError(kind)


def record(kind: str, session_id: str, amount_minor: int = 595, number: str = "",
           created_at: str = T0, **extra: Any) -> Record:
    body = payload(kind, session_id, amount_minor, number)
    body.update(extra)
    return Record(f"{session_id}:{kind}", session_id, kind, created_at, body)
