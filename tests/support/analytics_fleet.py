"""A small fleet for the analytics' tests, inserted straight into the facts tables, whose every
figure is computed by hand in tests/unit/test_analytics.py.

The period is the ISO week 2026-W45: Monday 2026-11-02 00:00 UTC (``P0``) to Monday 2026-11-09
00:00 UTC, 7 days = 604,800 s. Times below are offsets from ``P0`` (``H`` an hour, ``D`` a day).

Sites and stations (``terminals``; station id = terminal id):

- site ``north``: ``ST-A`` (connectors 1 and 2, UTC), ``ST-B`` (connector 1, UTC, no health
  event at all);
- site ``south``: ``ST-C`` (connector 1, UTC+1: its local hour is the UTC hour + 1), ``ST-D``
  (registered, never a session, no event).

Sessions (created / charge start–stop / ended; result, say; energy, amount EUR cents):

======  =====  ==================================================================  ==========
id      conn.  times                                                               result
======  =====  ==================================================================  ==========
a1      A 1    −2H / −2H+60 – +1H / +1.5H  (overlaps the period's start)           paid 1000
a2      A 1    +1.5H+120 / +1.5H+180 – +3.5H+180 / +4H+180  (2 min after a1)       paid 1500
a3      A 1    +4H+420 / — / +4H+480  (4 min after a2; no charge times)            declined
a4      A 1    +2D+10H / +2D+10H+60 – +2D+11H+60 / +2D+11H+1860                    paid 800
a5      A 2    +7D−1H / +7D−1H+60 – +7D+1H / +7D+2H  (overlaps the period's end)   paid 2000
a6      A 2    +3D+12H / — / +3D+12H+60                                            driver
a7      A 2    +5D+9H / — / +5D+9H+300  (outcome reversed)                         host
b1      B 1    +1D+8H / +1D+8H+30 – +1D+9H+30 / +1D+9H+630                         paid 500
b2      B 1    +1D+12H / — / +1D+12H+60                                            host
b3      B 1    +5D+18H / — / +5D+18H+120                                           charger
c1      C 1    +4D+17H / +4D+17H+60 – +4D+19H+60 / +4D+20H+60                      paid 1200
c2      C 1    +4D+20H+1200 / — / +4D+20H+1260  (19 min after c1: not back to back) none
c3      C 1    −3D / −3D+60 – −3D+1H / −3D+1H+60  (before the period)              paid 700
======  =====  ==================================================================  ==========

Health events: ``ST-A`` faulted at −1D (charger, unplanned, out of service: spans the period's
start), back in service at +6H, planned maintenance (out of service, not faulted) at +3D, back
at +3D+2H. ``ST-C`` faulted (host) at +2D, back at +2D+30min, faulted again at +8D (after the
period).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from kiosk.backoffice.storage import (
    Database,
    charging_sessions,
    health_events,
    open_db,
    terminals,
)

P0 = 1_793_577_600  # 2026-11-02 00:00 UTC, a Monday
H, D = 3_600, 86_400
PERIOD = (P0, P0 + 7 * D)
OFFSET_H = {"ST-A": 0, "ST-B": 0, "ST-C": 1}
SITES = {"ST-A": "north", "ST-B": "north", "ST-C": "south", "ST-D": "south"}


@dataclass(frozen=True)
class S:
    sid: str
    station: str
    connector: int
    created: int
    start: int | None
    stop: int | None
    ended: int
    result: str
    say: str = ""
    energy_wh: int = 0
    amount: int = 0
    outcome: str = ""
    scheme: str = ""
    interface: str = ""


SESSIONS = (
    S("a1", "ST-A", 1, -2 * H, -2 * H + 60, H, H + H // 2, "paid", "", 20_000, 1000,
      scheme="visa", interface="contactless"),
    S("a2", "ST-A", 1, H + H // 2 + 120, H + H // 2 + 180, 3 * H + H // 2 + 180, 4 * H + 180,
      "paid", "", 30_000, 1500, scheme="visa", interface="contactless"),
    S("a3", "ST-A", 1, 4 * H + 420, None, None, 4 * H + 480, "declined", "insufficient_funds",
      scheme="visa", interface="contactless", outcome="declined"),
    S("a4", "ST-A", 1, 2 * D + 10 * H, 2 * D + 10 * H + 60, 2 * D + 11 * H + 60,
      2 * D + 11 * H + 1860, "paid", "", 16_000, 800, scheme="mastercard", interface="contact"),
    S("a5", "ST-A", 2, 7 * D - H, 7 * D - H + 60, 7 * D + H, 7 * D + 2 * H, "paid", "", 40_000,
      2000, scheme="visa", interface="contact"),
    S("a6", "ST-A", 2, 3 * D + 12 * H, None, None, 3 * D + 12 * H + 60, "driver", "cancelled",
      outcome="aborted"),
    S("a7", "ST-A", 2, 5 * D + 9 * H, None, None, 5 * D + 9 * H + 300, "host",
      "service_timeout", outcome="reversed", scheme="mastercard", interface="contactless"),
    S("b1", "ST-B", 1, D + 8 * H, D + 8 * H + 30, D + 9 * H + 30, D + 9 * H + 630, "paid", "",
      10_000, 500, scheme="visa", interface="contactless"),
    S("b2", "ST-B", 1, D + 12 * H, None, None, D + 12 * H + 60, "host", "service_unreachable",
      outcome="aborted", scheme="visa", interface="contactless"),
    S("b3", "ST-B", 1, 5 * D + 18 * H, None, None, 5 * D + 18 * H + 120, "charger",
      "charger_fault", outcome="aborted"),
    S("c1", "ST-C", 1, 4 * D + 17 * H, 4 * D + 17 * H + 60, 4 * D + 19 * H + 60,
      4 * D + 20 * H + 60, "paid", "", 24_000, 1200, scheme="visa", interface="contactless"),
    S("c2", "ST-C", 1, 4 * D + 20 * H + 1200, None, None, 4 * D + 20 * H + 1260, "none", "",
      outcome="aborted"),
    S("c3", "ST-C", 1, -3 * D, -3 * D + 60, -3 * D + H, -3 * D + H + 60, "paid", "", 5_000, 700,
      scheme="visa", interface="contactless"),
)

# (station, at, part, ok, planned, in_service, faulted)
EVENTS = (
    ("ST-A", -D, "charger", False, False, False, True),
    ("ST-A", 6 * H, "charger", True, False, True, False),
    ("ST-A", 3 * D, "maintenance", False, True, False, False),
    ("ST-A", 3 * D + 2 * H, "maintenance", True, True, True, False),
    ("ST-C", 2 * D, "host", False, False, False, True),
    ("ST-C", 2 * D + 30 * 60, "host", True, False, True, False),
    ("ST-C", 8 * D, "host", False, False, False, True),
)


def session_row(s: S, base: int = P0, currency: str = "EUR") -> dict[str, Any]:
    created = base + s.created
    local = datetime.fromtimestamp(created, UTC) + timedelta(hours=OFFSET_H.get(s.station, 0))
    return {
        "terminal_id": s.station, "session_id": s.sid, "station_id": s.station,
        "connector": s.connector, "created_s": created,
        "charge_start_s": None if s.start is None else base + s.start,
        "charge_stop_s": None if s.stop is None else base + s.stop,
        "ended_s": base + s.ended, "local_date": local.date().isoformat(),
        "local_dow": local.weekday(), "local_hour": local.hour, "energy_wh": s.energy_wh,
        "amount_minor": s.amount, "currency": currency,
        "outcome": s.outcome or ("captured" if s.result == "paid" else "aborted"),
        "result": s.result, "say": s.say, "scheme": s.scheme, "interface": s.interface,
        "card_token": f"tok-{s.sid}" if s.scheme else "",
    }


def terminal_row(station: str, site: str | None) -> dict[str, Any]:
    return {"id": station, "public_key": bytes(32), "key_id": "0" * 64, "status": "active",
            "added_at": "2026-01-01T00:00:00+00:00", "revoked_at": None, "site": site}


def insert_fleet(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(insert(terminals), [terminal_row(t, s) for t, s in SITES.items()])
        conn.execute(insert(charging_sessions), [session_row(s) for s in SESSIONS])
        conn.execute(insert(health_events), [
            {"terminal_id": st, "record_id": f"h{i}", "station_id": st, "at_s": P0 + at,
             "part": part, "ok": ok, "planned": planned, "in_service": ins, "faulted": faulted}
            for i, (st, at, part, ok, planned, ins, faulted) in enumerate(EVENTS)])


@contextmanager
def fleet_db(url: str) -> Iterator[Database]:
    """A new database at ``url`` holding the fleet, closed afterwards."""
    database = open_db(url)
    try:
        insert_fleet(database)
        yield database
    finally:
        database.close()
