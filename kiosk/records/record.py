"""The record of a finished session, as queued for the back office.

It carries no card data beyond the masked PAN and the keyed card token. Amounts are integer
minor units; the same ``final_minor`` is on the screen, in the capture and in this record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiosk.session.machine import Session

RECORD_VERSION = 3  # 2: the settlement kind (the queue reports its end apart); 3: say,
# interface, ended_at, parking_since, timezone (the back office's analytics), health records;
# plan and discount_minor (issue #18) joined version 3: a reader ignores fields it does not
# know (kiosk.backoffice.facts reads by name), and a record without them had no plan


def session_record(s: Session, *, station_id: str, currency: str,
                   timezone: str = "UTC", discount_minor: int = 0) -> dict[str, Any]:
    """``discount_minor``: what the member plan took off the captured session's price
    (:meth:`kiosk.billing.live.TariffBook.plan_price`; 0 without a plan or a capture)."""
    def iso(value: object) -> str | None:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    return {
        "record_version": RECORD_VERSION,
        "session_id": s.id,
        "station_id": station_id,
        "connector": s.connector,
        "outcome": s.outcome.value,
        "masked_pan": s.masked_pan,
        "card_token": s.token,
        "scheme": s.scheme,
        "auth_code": s.auth_code,
        "created_at": iso(s.created_at),
        "charge_started_at": iso(s.charge_started_at),
        "charge_stopped_at": iso(s.last_reading_at),
        "meter_start_wh": s.meter_start_wh,
        "meter_stop_wh": s.meter_now_wh,
        "energy_wh": s.energy_wh,
        "duration_s": s.duration_s,
        "amount_minor": s.final_minor if s.outcome.value == "captured" else 0,
        "held_minor": s.held_minor,
        "currency": currency,
        "settlement": s.settle_kind.value if s.settle_kind else "",  # queued with this record
        "stop_reason": s.stop_reason,
        "message": s.message,
        "say": s.say.value,  # machine-readable: why it ended as it did (kiosk.session.says)
        "interface": s.interface,  # contact | contactless | ""
        "ended_at": iso(s.updated_at),  # this snapshot: the session's end
        "parking_since": iso(s.parking_since),  # the car stopped drawing, still plugged in
        "timezone": timezone,  # the station's (IANA), for the hours of the analytics
        "plan": s.plan_id,  # the member plan's id, "" none (the name is the operator's)
        "discount_minor": discount_minor if s.outcome.value == "captured" else 0,
    }


def health_record(*, station_id: str, at: datetime, part: str, ok: bool, planned: bool,
                  in_service: bool, faulted: bool, detail: str) -> dict[str, Any]:
    """A change of the terminal's health (kind ``audit``, event ``health``): the back office's
    availability figures. ``part`` changed to ``ok`` (``planned``: a technician's maintenance or
    the operator's switch); after it the terminal is ``in_service`` or not, and ``faulted``
    when an unplanned problem stands. ``detail`` is the technician's line (never card data)."""
    return {"record_version": RECORD_VERSION, "event": "health", "station_id": station_id,
            "at": at.isoformat(), "part": part, "ok": ok, "planned": planned,
            "in_service": in_service, "faulted": faulted, "detail": detail[:300]}
