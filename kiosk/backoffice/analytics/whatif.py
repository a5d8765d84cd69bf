"""The tariff what-if: the recorded sessions of a period re-priced under a proposed OCPI tariff,
side by side with what was charged (``kiosk-backoffice what-if``).

:func:`reprice` streams the paid sessions of the period (``result = 'paid'``, created in the
period, one station or all; SQLAlchemy Core in chunks of :data:`CHUNK` rows, never all rows in
memory) and prices each with :class:`kiosk.billing.fastprice.CompiledBook`: the kiosk's own
engine, exactly, for a session that charged at constant power from its charge start to its
charge stop and, when the proposed tariffs bill parking, stayed plugged in to its last reading.
A session is priced by the first tariff of the file valid at its charge start (else the
nearest, as the kiosk's :class:`~kiosk.billing.live.TariffBook`), in the station's time zone.

What was charged is the tariff that applied: the session's recorded ``amount_minor`` plus a
member plan's discount if it had one (``discount_minor``), so both sides are tariff prices
before member discounts; the discounts of the period are counted and named apart. The figures
are exact integers (minor units, Wh); the averages per kWh are Decimals. Not re-priced, counted
and named: sessions without a charge start, and sessions recorded in another currency than the
proposed tariff's. Not read at all, counted by their result: the sessions of the period that
were not paid (declined, failed, cancelled, nothing to pay).

:func:`text` is the terminal's table, :func:`write` the HTML page (the report's look:
``templates/whatif.html``) and the CSVs. Card tokens show shortened (:func:`short_token`) on
the page and the terminal; the CSVs have them whole, to join with the customers' tables.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from kiosk.backoffice.analytics.queries import Period
from kiosk.backoffice.analytics.report import HTML_ROWS, Section, Table, kwh
from kiosk.backoffice.facts import PAID, zone
from kiosk.backoffice.storage import Database, charging_sessions
from kiosk.billing.fastprice import CompiledBook
from kiosk.billing.money import exponent
from kiosk.billing.tariff import Tariff

__all__ = ["CHUNK", "Change", "Figures", "WhatIf", "reprice", "short_token", "text", "write"]

CHUNK = 5000
TOP = 10
NO_START = "no charge start"
OTHER_CURRENCY = "another currency"


@dataclass
class Figures:
    """Sessions, energy and revenue, recorded and proposed (minor units, exact)."""

    sessions: int = 0
    energy_wh: int = 0
    recorded_minor: int = 0
    proposed_minor: int = 0

    @property
    def difference_minor(self) -> int:
        return self.proposed_minor - self.recorded_minor

    @property
    def change(self) -> float | None:
        """The difference as a share of the recorded revenue (None when nothing was)."""
        return self.difference_minor / self.recorded_minor if self.recorded_minor else None

    def per_kwh(self, minor: int) -> Decimal | None:
        """Minor units per kWh (exact to 4 places); None without energy."""
        if not self.energy_wh:
            return None
        return (Decimal(minor) * 1000 / self.energy_wh).quantize(Decimal("0.0001"))

    @property
    def recorded_per_kwh(self) -> Decimal | None:
        return self.per_kwh(self.recorded_minor)

    @property
    def proposed_per_kwh(self) -> Decimal | None:
        return self.per_kwh(self.proposed_minor)


@dataclass(frozen=True)
class Change:
    """One customer (card token): their sessions' figures."""

    card_token: str
    figures: Figures


@dataclass(frozen=True)
class WhatIf:
    period: Period
    station: str | None
    currency: str
    tariff_ids: tuple[str, ...]
    total: Figures
    stations: tuple[tuple[str, Figures], ...]  # by station id
    increases: tuple[Change, ...]  # the largest increases first (difference > 0)
    decreases: tuple[Change, ...]  # the largest decreases first (difference < 0)
    customers: int  # card tokens among the re-priced sessions
    unpriced: tuple[tuple[str, int], ...]  # (reason, sessions): paid, not re-priced
    excluded: tuple[tuple[str, int], ...]  # (result, sessions): not paid, not read
    bills_parking: bool
    member_sessions: int = 0  # re-priced sessions that had a member plan's discount
    member_discount_minor: int = 0  # their discounts (not in either side's figures)
    seconds: float = 0.0
    computed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))

    @property
    def rate(self) -> float:
        """Sessions read per second (re-priced and unpriced)."""
        read = self.total.sessions + sum(n for _, n in self.unpriced)
        return read / self.seconds if self.seconds > 0 else 0.0


def _currency(tariffs: Sequence[Tariff]) -> str:
    found = {t.currency for t in tariffs}
    if len(found) != 1:
        raise ValueError(f"the what-if needs the tariffs in one currency "
                         f"(the file has {', '.join(sorted(found))})")
    return found.pop()


def _query(period: Period, station: str | None) -> Any:
    cs = charging_sessions.c
    where = [cs.created_s >= period.from_s, cs.created_s < period.to_s]
    if station is not None:
        where.append(cs.station_id == station)
    return where


def reprice(db: Database, period: Period, tariffs: Sequence[Tariff],
            station: str | None = None, top: int = TOP, chunk: int = CHUNK) -> WhatIf:
    """Re-price the paid sessions of ``period`` (one station, or all) under ``tariffs`` (a
    tariff file's list; one currency) and aggregate (see the module)."""
    if not tariffs:
        raise ValueError("no tariff to re-price with")
    currency = _currency(tariffs)
    began = time.perf_counter()
    cs = charging_sessions.c
    where = _query(period, station)
    books: dict[str, CompiledBook] = {}
    tariff_list = list(tariffs)

    def book_of(name: str) -> CompiledBook:
        tz = zone(name)
        key = name if tz is not None else "UTC"
        found = books.get(key)
        if found is None:
            found = CompiledBook.of(tariff_list, ZoneInfo(key))
            books[key] = found
        books[name] = found
        return found

    per_station: dict[str, list[int]] = {}
    per_token: dict[str, list[int]] = {}
    unpriced: dict[str, int] = {}
    members = [0, 0]  # sessions with a member plan's discount, the discounts
    stmt = select(cs.station_id, cs.card_token, cs.charge_start_s, cs.charge_stop_s,
                  cs.last_reading_s, cs.energy_wh, cs.amount_minor, cs.currency,
                  cs.timezone, cs.discount_minor).where(*where, cs.result == PAID)
    with db.engine.connect() as conn:
        excluded = conn.execute(
            select(cs.result, func.count()).where(*where, cs.result != PAID)
            .group_by(cs.result).order_by(cs.result)).all()
        result = conn.execute(stmt.execution_options(yield_per=chunk))
        for rows in result.partitions():
            for sid, token, start, stopped, last, wh, paid, cur, tz, discount in rows:
                if start is None:
                    unpriced[NO_START] = unpriced.get(NO_START, 0) + 1
                    continue
                if cur != currency:
                    why = f"{OTHER_CURRENCY} ({cur})"
                    unpriced[why] = unpriced.get(why, 0) + 1
                    continue
                b = books.get(tz) or book_of(tz)
                stop = start if stopped is None else stopped
                proposed = b.for_start(start).price(start, stop, stop if last is None else last,
                                                    wh)
                charged = paid + discount  # the tariff's price: paid and a plan's discount
                if discount:
                    members[0] += 1
                    members[1] += discount
                for acc, key in ((per_station, sid), (per_token, token)):
                    sums = acc.get(key)
                    if sums is None:
                        sums = acc[key] = [0, 0, 0, 0]
                    sums[0] += 1
                    sums[1] += wh
                    sums[2] += charged
                    sums[3] += proposed
    total = Figures()
    stations = []
    for sid in sorted(per_station):
        f = Figures(*per_station[sid])
        stations.append((sid, f))
        total.sessions += f.sessions
        total.energy_wh += f.energy_wh
        total.recorded_minor += f.recorded_minor
        total.proposed_minor += f.proposed_minor
    per_token.pop("", None)  # no card read: not a customer (still in the totals)
    up = heapq.nlargest(top, ((v[3] - v[2], k) for k, v in per_token.items() if v[3] > v[2]))
    down = heapq.nsmallest(top, ((v[3] - v[2], k) for k, v in per_token.items()
                                 if v[3] < v[2]))
    some = next(iter(books.values()), None) or CompiledBook.of(tariff_list, ZoneInfo("UTC"))
    return WhatIf(
        period=period, station=station, currency=currency,
        tariff_ids=tuple(t.id for t in tariffs), total=total, stations=tuple(stations),
        increases=tuple(Change(k, Figures(*per_token[k])) for _, k in up),
        decreases=tuple(Change(k, Figures(*per_token[k])) for _, k in down),
        customers=len(per_token), unpriced=tuple(sorted(unpriced.items())),
        excluded=tuple((str(r), int(n)) for r, n in excluded),
        bills_parking=some.book.bills_parking, member_sessions=members[0],
        member_discount_minor=members[1], seconds=time.perf_counter() - began)


def short_token(token: str) -> str:
    """A card token as shown: its first 8 characters (the CSVs have it whole)."""
    return token if len(token) <= 10 else token[:8] + "…"


# --- the output ------------------------------------------------------------------------------

def money(minor: int | None, currency: str) -> str:
    if minor is None:
        return "—"
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) / 10 ** exp:,.{exp}f} {currency}"


def _signed(minor: int, currency: str) -> str:
    return ("+" if minor > 0 else "") + money(minor, currency)


def per_kwh(v: Decimal | None, currency: str) -> str:
    if v is None:
        return "—"
    return f"{v.scaleb(-exponent(currency)):.4f} {currency}/kWh"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f} %"


_HEADS = ("sessions", "energy kWh", "recorded", "proposed", "difference", "change",
          "recorded /kWh", "proposed /kWh")
_COLUMNS = ("sessions", "energy_wh", "recorded_minor", "proposed_minor", "difference_minor",
            "change", "recorded_per_kwh_minor", "proposed_per_kwh_minor", "currency")


def _shown(f: Figures, cur: str) -> list[str]:
    return [f"{f.sessions:,}", kwh(f.energy_wh), money(f.recorded_minor, cur),
            money(f.proposed_minor, cur), _signed(f.difference_minor, cur), _pct(f.change),
            per_kwh(f.recorded_per_kwh, cur), per_kwh(f.proposed_per_kwh, cur)]


def _raw(f: Figures, cur: str) -> tuple[Any, ...]:
    return (f.sessions, f.energy_wh, f.recorded_minor, f.proposed_minor, f.difference_minor,
            f.change, f.recorded_per_kwh, f.proposed_per_kwh, cur)


def _notes(w: WhatIf) -> list[str]:
    out = [f"Period: {w.period.label()}; sessions created in it"
           f"{f', station {w.station}' if w.station else ', all stations'}.",
           f"Proposed tariff{'s' if len(w.tariff_ids) != 1 else ''}: "
           f"{', '.join(w.tariff_ids)} ({w.currency}); each session priced by the first "
           f"valid at its charge start, in its station's time zone.",
           "Assumed: constant power over a session's charging time"
           + ("; parking billed up to the last reading (the car stayed plugged in)."
              if w.bills_parking else "; the proposed tariff bills no parking time.")]
    if w.member_sessions:
        out.append(f"Recorded is the tariff's price: {w.member_sessions:,} sessions had a "
                   f"member plan's discount ({money(w.member_discount_minor, w.currency)} in "
                   f"all), added back; member discounts are in neither side.")
    if w.unpriced:
        out.append("Paid but not re-priced (not in the figures): " + ", ".join(
            f"{n:,} {why}" for why, n in w.unpriced) + ".")
    if w.excluded:
        out.append("Not paid, not re-priced: " + ", ".join(
            f"{n:,} {r}" for r, n in w.excluded) + ".")
    return out


def _table(heads: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(heads)]
    line = "  ".join(h.ljust(widths[0]) if i == 0 else h.rjust(widths[i])
                     for i, h in enumerate(heads))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                             for i, c in enumerate(r)))
    return out


def text(w: WhatIf) -> str:
    """The what-if as plain text: the totals, the stations, the customers most affected."""
    cur = w.currency
    out = ["Tariff what-if", *(f"  {n}" for n in _notes(w)), ""]
    rows = [["all stations", *_shown(w.total, cur)]]
    rows += [[sid, *_shown(f, cur)] for sid, f in w.stations]
    out += _table(("station", *_HEADS), rows)
    for title, changes in (("Largest increases", w.increases),
                           ("Largest decreases", w.decreases)):
        out += ["", f"{title} (of {w.customers:,} customers, by card token)"]
        out += _table(("card token", *_HEADS),
                      [[short_token(c.card_token), *_shown(c.figures, cur)] for c in changes])
    out += ["", f"{w.total.sessions + sum(n for _, n in w.unpriced):,} sessions read in "
                f"{w.seconds:.2f} s ({w.rate:,.0f} sessions/s)"]
    return "\n".join(out) + "\n"


def sections(w: WhatIf) -> list[Section]:
    cur = w.currency
    as_text = (str,) * (len(_COLUMNS) + 1)  # the page's rows come formatted

    def page(rows: Sequence[tuple[str, Figures]]) -> tuple[tuple[Any, ...], ...]:
        return tuple((k, *_shown(f, cur), cur) for k, f in rows)

    def fig_table(file: str, caption: str, key: str, rows: Sequence[tuple[str, Figures]],
                  shown: Sequence[tuple[str, Figures]]) -> Table:
        return Table(file, caption, (key, *_COLUMNS), tuple((k, *_raw(f, cur)) for k, f in rows),
                     formats=as_text, heads=(key.replace("_", " "), *_HEADS, "currency"),
                     page=page(shown))

    stations = [("all stations", w.total), *w.stations]
    changes = [("increase", c) for c in w.increases] + [("decrease", c) for c in w.decreases]
    customers = Table(
        "whatif_customers.csv", "The customers most affected (by card token)",
        ("direction", "card_token", *_COLUMNS),
        tuple((d, c.card_token, *_raw(c.figures, cur)) for d, c in changes),
        formats=(str, *as_text), heads=("", "card token", *_HEADS, "currency"),
        page=tuple((d, short_token(c.card_token), *_shown(c.figures, cur), cur)
                   for d, c in changes))
    left = Table("whatif_not_repriced.csv", "Sessions not re-priced",
                 ("kind", "reason", "sessions"),
                 tuple(("paid", why, n) for why, n in w.unpriced)
                 + tuple(("not paid", r, n) for r, n in w.excluded))
    return [
        Section("whatif", "Revenue: recorded and proposed",
                "Recorded: what the sessions were charged (the tariff that applied). "
                "Proposed: the same sessions priced by the proposed tariff with the kiosk's "
                "engine. Averages per kWh: revenue ÷ energy.", tuple(_notes(w)),
                tables=(fig_table("whatif_stations.csv", "By station", "station_id", stations,
                                  stations),)),
        Section("customers", "Customers most affected",
                f"The {len(w.increases)} largest increases and {len(w.decreases)} largest "
                f"decreases of what a card token's sessions cost, of {w.customers:,} "
                f"customers (tokens shortened here, whole in the CSV).", tables=(customers,)),
        Section("excluded", "Not re-priced",
                "Paid sessions without a charge start or in another currency than the "
                "proposed tariff's, and the sessions that were not paid.", tables=(left,)),
    ]


def write(w: WhatIf, out_dir: Path) -> tuple[Path, tuple[Path, ...]]:
    """``out_dir/whatif.html`` and one CSV per table (made if missing; files replaced)."""
    from kiosk.backoffice.analytics.report import _env, write_csvs

    out_dir.mkdir(parents=True, exist_ok=True)
    secs = sections(w)
    files = write_csvs(out_dir, secs)
    html = _env().get_template("whatif.html").render(w=w, sections=secs, limit=HTML_ROWS)
    index = out_dir / "whatif.html"
    index.write_text(html, encoding="utf-8")
    return index, tuple(files)
