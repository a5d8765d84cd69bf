"""``/analytics``: the report (:mod:`kiosk.backoffice.analytics.report`) served by the back
office, with a filter (the period and the station), for the operators only.

Routes (``from``/``to``: UTC days, both included, ``YYYY-MM-DD``; default the 30 whole days
before today; at most :data:`MAX_DAYS` days; ``station``: one station's id, or empty for all):

- ``GET /analytics?from=&to=&station=``: the page (the same template as the report's
  ``index.html``, with the filter form; its chart and CSV links are the routes below);
- ``GET /analytics/<table>.csv?...``: one table as CSV;
- ``GET /analytics/charts/<chart>.svg?...``: one chart.

**Who may look.** Every route asks for HTTP Basic authentication of an active operator
(:func:`kiosk.backoffice.operators.check_basic`; ``kiosk-backoffice operator add``), over the
service's TLS. Without it: 401 with ``WWW-Authenticate: Basic``. Each client address may make
:data:`RATE` requests per second (:data:`BURST` at once) here, counted before the password is
checked, so guessing is slow; over it: 429 with ``Retry-After``.

**Cost.** Computing the figures reads the whole period in the database (seconds at a million
sessions): one computation at a time per process (:data:`CONCURRENCY`), in the threadpool, and
the result of a (period, station) is kept :data:`CACHE_S` seconds, so the page's charts and CSV
files come from the one computation the page made. A bad filter is a 400 page saying which
field; an unknown station a 404; the database failing a 503.

Every answer: ``Cache-Control: private, no-store``, a Content-Security-Policy without scripts,
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Robots-Tag: noindex``.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import logging
import re
import threading
import time
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from kiosk.backoffice.analytics import charts
from kiosk.backoffice.analytics.customers import CustomerFigures, compute_customers
from kiosk.backoffice.analytics.queries import (
    DEFAULT_DAYS,
    Analytics,
    Period,
    UnknownStation,
    compute,
)
from kiosk.backoffice.analytics.report import (
    Section,
    chart_figures,
    csv_value,
    page_html,
    sections,
)
from kiosk.backoffice.invoices import RateLimiter, client_key
from kiosk.backoffice.operators import check_basic
from kiosk.backoffice.storage import Database, _reason, terminals

__all__ = ["BURST", "CACHE_S", "MAX_DAYS", "RATE", "router"]

log = logging.getLogger(__name__)
router = APIRouter()

MAX_DAYS = 400
RATE, BURST = 2.0, 20  # requests per second per client address, at once
CONCURRENCY = 1
CACHE_S = 60.0
CACHE_ENTRIES = 8
_STATION = re.compile(r"[A-Za-z0-9._-]{1,36}")
_NAME = re.compile(r"[a-z0-9_]{1,64}")
_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src data:; form-action 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


class FilterError(ValueError):
    """A filter that cannot be used; the message names the field."""


class _Computed:
    """The figures of one (period, station), with what the page draws from them."""

    def __init__(self, a: Analytics, customers: CustomerFigures | None = None) -> None:
        self.analytics = a
        self.sections: list[Section] = sections(a, customers)
        self._svgs: dict[str, str] | None = None
        self._lock = threading.Lock()

    def svgs(self) -> dict[str, str]:
        with self._lock:  # drawn once, by whichever route needs them first
            if self._svgs is None:
                self._svgs = {name: charts.to_svg(fig, name)
                              for name, fig in chart_figures(self.analytics).items()}
            return self._svgs


class _State:
    def __init__(self) -> None:
        self.limiter = RateLimiter(RATE, BURST)
        self.gate = asyncio.Semaphore(CONCURRENCY)
        self.cache: OrderedDict[tuple[int, int, str], tuple[float, _Computed]] = OrderedDict()
        self.lock = threading.Lock()


def _state(request: Request) -> _State:
    st = getattr(request.app.state, "analytics", None)
    if st is None:
        st = request.app.state.analytics = _State()
    return st


def _answer(body: str | bytes, status: int = 200, media: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, media_type=media, headers={**_HEADERS, **(headers or {})})


def _message(status: int, title: str, text: str, headers: dict[str, str] | None = None
             ) -> Response:
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            f'{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1><p>'
            f'{html.escape(text)}</p></body></html>')
    return _answer(page, status, headers=headers)


def parse_filter(query: Any, today: date) -> tuple[Period, date, date, str | None]:
    """The period and the station of the query (:class:`FilterError` naming the field)."""
    def day(name: str) -> date | None:
        value = query.get(name)
        if value in (None, ""):
            return None
        if len(value) != 10:
            raise FilterError(f"{name}: not a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise FilterError(f"{name}: not a date (YYYY-MM-DD)") from None

    last = day("to") or today - timedelta(days=1)
    first = day("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise FilterError(f"to ({last}) is before from ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise FilterError(f"the period is longer than {MAX_DAYS} days")
    if not date(2000, 1, 1) <= first <= last <= date(2100, 12, 31):
        raise FilterError("the period is outside 2000 to 2100")
    station = query.get("station") or None
    if station is not None and not _STATION.fullmatch(station):
        raise FilterError("station: not a station id")
    return Period.of_dates(first, last), first, last, station


async def _authorized(request: Request) -> Response | None:
    """None when an operator asks (and within the rate); else the answer to give."""
    st = _state(request)
    wait = st.limiter.take(client_key(request))
    if wait:
        return _message(429, "Too many requests", "Try again in a moment.",
                        {"Retry-After": str(max(1, round(wait)))})
    db: Database = request.app.state.db
    try:
        who = await run_in_threadpool(check_basic, db, request.headers.get("authorization"))
    except SQLAlchemyError as exc:
        log.error("analytics: database: %s", _reason(exc))
        return _message(503, "Unavailable", "The database does not answer; try again later.")
    if who is None:
        return _message(401, "Operators only", "The analytics need an operator's name and "
                                               "password (kiosk-backoffice operator add).",
                        {"WWW-Authenticate": 'Basic realm="evkiosk analytics", '
                                             'charset="UTF-8"'})
    request.state.operator = who
    return None


async def _computed(request: Request, period: Period, station: str | None) -> _Computed:
    st = _state(request)
    key = (period.from_s, period.to_s, station or "")
    now = time.monotonic()
    with st.lock:
        hit = st.cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
    async with st.gate:
        with st.lock:  # computed while this one waited at the gate?
            hit = st.cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < CACHE_S:
                return hit[1]
        db: Database = request.app.state.db
        done = await run_in_threadpool(lambda: _Computed(compute(db, period, station),
                                                         compute_customers(db, period)))
        with st.lock:
            st.cache[key] = (time.monotonic(), done)
            st.cache.move_to_end(key)
            while len(st.cache) > CACHE_ENTRIES:
                st.cache.popitem(last=False)
        return done


def _stations(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(terminals.c.id).order_by(terminals.c.id))]


async def _figures(request: Request) -> tuple[_Computed, date, date, str | None] | Response:
    refused = await _authorized(request)
    if refused is not None:
        return refused
    try:
        period, first, last, station = parse_filter(request.query_params,
                                                    datetime.now(UTC).date())
    except FilterError as exc:
        return _message(400, "Not a filter", str(exc))
    try:
        done = await _computed(request, period, station)
    except UnknownStation as exc:
        return _message(404, "Unknown station", str(exc))
    except SQLAlchemyError as exc:
        log.error("analytics: database: %s", _reason(exc))
        return _message(503, "Unavailable", "The database does not answer; try again later.")
    return done, first, last, station


def _suffix(first: date, last: date, station: str | None) -> str:
    query = {"from": first.isoformat(), "to": last.isoformat()}
    if station:
        query["station"] = station
    return "?" + urlencode(query)


@router.get("/analytics")
async def analytics_page(request: Request) -> Response:
    got = await _figures(request)
    if isinstance(got, Response):
        return got
    done, first, last, station = got
    db: Database = request.app.state.db
    try:
        stations = await run_in_threadpool(_stations, db)
    except SQLAlchemyError as exc:
        log.error("analytics: database: %s", _reason(exc))
        return _message(503, "Unavailable", "The database does not answer; try again later.")
    svgs = await run_in_threadpool(done.svgs)
    form = {"first": first.isoformat(), "last": last.isoformat(), "station": station or "",
            "stations": stations, "max_days": MAX_DAYS}
    page = page_html(done.analytics, done.sections, svgs, base="/analytics/",
                     suffix=_suffix(first, last, station), form=form)
    return _answer(page)


@router.get("/analytics/charts/{name}.svg")
async def analytics_chart(request: Request, name: str) -> Response:
    got = await _figures(request)
    if isinstance(got, Response):
        return got
    done = got[0]
    svgs = await run_in_threadpool(done.svgs) if _NAME.fullmatch(name) else {}
    if name not in svgs:
        return _message(404, "Not found", "No such chart.")
    return _answer('<?xml version="1.0" encoding="utf-8"?>\n' + svgs[name], media="image/svg+xml")


@router.get("/analytics/{name}.csv")
async def analytics_csv(request: Request, name: str) -> Response:
    got = await _figures(request)
    if isinstance(got, Response):
        return got
    done = got[0]
    tables = {t.file: t for s in done.sections for t in s.tables}
    table = tables.get(f"{name}.csv") if _NAME.fullmatch(name) else None
    if table is None:
        return _message(404, "Not found", "No such table.")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(table.columns)
    w.writerows([csv_value(v) for v in row] for row in table.rows)
    return _answer(out.getvalue(), media="text/csv; charset=utf-8",
                   headers={"Content-Disposition": f'attachment; filename="{table.file}"'})
