"""The OCPI 2.2.1 CDRs module, Sender interface (the pull model): eMSPs and roaming hubs fetch
the CDRs the kiosks made (:func:`kiosk.billing.cdr.session_cdr`), as the terminals uploaded them.

Routes, each for a party with a credentials token (:mod:`kiosk.backoffice.ocpi_tokens`;
``Authorization: Token <Base64 of the token>``, the raw token of 2.1.1 clients accepted too):

- ``GET /ocpi/versions``: the versions (only ``2.2.1``) and their URLs;
- ``GET /ocpi/2.2.1``: the version details: one endpoint, ``cdrs``, role ``SENDER``;
- ``GET /ocpi/2.2.1/cdrs``: the CDRs, paginated (``date_from``, ``date_to``, ``offset``,
  ``limit``). A trailing ``/`` is accepted on each path (the spec's examples have one).

A request without a token, with a malformed header, an unknown or a revoked token gets HTTP 401
with ``WWW-Authenticate: Token`` and an envelope without ``data`` (status 2000): nothing else,
and before any parameter is looked at. Every answer is the OCPI envelope ``{data, status_code,
status_message?, timestamp}`` (``timestamp`` UTC, RFC 3339, milliseconds, ``Z``) and carries
``X-Request-ID`` (the service's middleware) and ``X-Correlation-ID``: the caller's when it is 1
to 64 of ``A-Z a-z 0-9 . _ : -`` (a UUID is), else a new one.

``last_updated``: a CDR is served with ``last_updated`` = the time the back office stored it
(``records.stored_at``), not the terminal's own value. The Sender interface pages on
``last_updated`` ("which in the current version of OCPI can only be the creation Date/Time"),
and the CDR's creation in our system is when it arrived: a terminal that was offline for days
uploads CDRs whose sessions ended days ago, and a poller that already moved its ``date_from``
past that end would never see them if we served the terminal's time. A CDR's ``stored_at`` is
set once, when its batch is stored, so it falls in exactly one window of a poller that uses its
previous ``date_to`` as its next ``date_from`` (but see "not closed yet" below). Apart from that
one field a CDR is served exactly as the terminal sent it (never changed; a correction is a new,
credit CDR, made by the terminal). The time is served to the millisecond (OCPI's DateTime is at
most 25 characters: ``2026-12-01T20:00:00.123Z``), floored; the query's ``date_from`` and
``date_to`` are rounded up to the millisecond before they are compared with ``stored_at`` (to
the microsecond), which makes the filter exactly the filter on the served ``last_updated``:
``from <= last_updated < to``.

Query parameters (anything else is ignored; each at most once and at most
:data:`MAX_PARAM_CHARS` characters; the whole query at most :data:`MAX_QUERY_BYTES` bytes):

- ``date_from`` (inclusive), ``date_to`` (exclusive): RFC 3339 / OCPI DateTime, e.g.
  ``2026-12-01T20:00:00Z``; no zone means UTC (OCPI); fractional seconds up to 9 digits; an
  offset (``+02:00``, also with the ``+`` arrived as a space: an unencoded ``+`` in a query
  string) is converted. ``date_from`` after ``date_to`` is refused (a poller with a window
  inverted would silently miss CDRs); equal is an empty window.
- ``offset``: a whole number from 0 (default 0); ``limit``: a whole number from 0, lowered to
  ``ServiceSettings.ocpi_max_limit`` (also the default); ``limit=0`` answers only the count.

A bad parameter is HTTP 400, status 2001, and a ``status_message`` naming the parameter.
Answer headers: ``X-Total-Count`` (all CDRs matching the dates), ``X-Limit`` (the limit applied)
and, while more CDRs follow, ``Link: <URL>; rel="next"`` on ``ServiceSettings.public_url`` (else
the request's own base URL) with the same dates, the next offset and the applied limit. Order:
oldest first by creation (``records.id``), stable, so a crawl sees new CDRs only on its last page.
The count and the page are one snapshot (SQLite: one transaction; PostgreSQL: REPEATABLE READ).

A window that is not closed yet (``date_to`` ahead of the server's clock by at most
:data:`CLOSE_WAIT_S`: a client clock a little ahead, or a ``date_to`` of "now") is served once
it has closed: the answer waits until the clock has passed ``date_to``, so a CDR stored a moment
after the poll cannot fall into a window the poller has already read. (On SQLite every
transaction begins with BEGIN IMMEDIATE, so the read also waits for an upload being stored.
On PostgreSQL, where an upload's ``stored_at`` is taken a few milliseconds before its commit,
a read first takes the advisory lock :data:`STORED_AT_LOCK` exclusive for a moment: a barrier
that waits for the uploads in flight, when the importer holds that lock shared from before it
takes ``stored_at`` until it commits; after it every CDR stored before the read is visible to
the read.)
The envelope's ``timestamp`` of a CDR page is taken inside the read: a poller that sends no
``date_to`` can use it as its next ``date_from``.

Database failures are HTTP 503, status 3000, nothing else. All database work runs in the
threadpool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from kiosk.backoffice.ocpi_tokens import Party, authenticate, header_candidates
from kiosk.backoffice.storage import STORED_AT_LOCK, Database, _reason, records

__all__ = ["API_VERSION", "CLOSE_WAIT_S", "MAX_PARAM_CHARS", "MAX_QUERY_BYTES",
           "STORED_AT_LOCK", "CdrPage", "CdrQuery", "QueryError", "fetch_cdrs", "parse_datetime",
           "parse_query", "router", "served_time"]

log = logging.getLogger(__name__)

API_VERSION = "2.2.1"
BASE = "/ocpi"
CDRS_PATH = f"{BASE}/{API_VERSION}/cdrs"
MAX_QUERY_BYTES = 2048
MAX_PARAM_CHARS = 64
CLOSE_WAIT_S = 5.0
SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
SERVER_ERROR = 3000

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                   r"(?:\.([0-9]{1,9}))?([Zz]|[+\- ][0-9]{2}:[0-9]{2})?$")
_COUNT = re.compile(r"^[0-9]{1,18}$")
_PARAMS = ("date_from", "date_to", "offset", "limit")

router = APIRouter()


# --- the query --------------------------------------------------------------------------------

class QueryError(ValueError):
    """A query parameter that cannot be taken; the message starts with the parameter's name."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter


@dataclass(frozen=True)
class CdrQuery:
    date_from: datetime | None = None  # UTC, rounded up to the millisecond
    date_to: datetime | None = None
    offset: int = 0
    limit: int | None = None  # as asked (the server lowers it)
    filters: tuple[tuple[str, str], ...] = ()  # the dates as the client wrote them (Link)


def parse_datetime(value: str, parameter: str) -> datetime:
    """An OCPI DateTime (RFC 3339; no zone = UTC) as an aware UTC datetime, rounded up to the
    millisecond; :class:`QueryError` naming ``parameter`` otherwise."""
    match = _DATE.fullmatch(value)
    if match is None:
        raise QueryError(parameter, "not an RFC 3339 date and time in UTC "
                                    "(e.g. 2026-12-01T20:00:00Z)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7) or "", match.group(8) or "Z"
    try:
        t = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if zone not in ("Z", "z"):
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError(zone)
            shift = timedelta(hours=hours, minutes=minutes)
            t = t + shift if zone[0] == "-" else t - shift
        nanos = int(fraction.ljust(9, "0")) if fraction else 0
        t += timedelta(milliseconds=-(-nanos // 1_000_000))  # up to the millisecond
    except (ValueError, OverflowError):
        raise QueryError(parameter, "not a valid date and time") from None
    return t


def _count(value: str, parameter: str) -> int:
    if not _COUNT.fullmatch(value):
        raise QueryError(parameter, "not a whole number from 0 (at most 18 digits)")
    return int(value)


def parse_query(pairs: Iterable[tuple[str, str]]) -> CdrQuery:
    """The CDR query from the query string's (name, value) pairs; :class:`QueryError` for a
    parameter given twice, too long or of the wrong form, or ``date_from`` after ``date_to``.
    Names other than the four are ignored."""
    given: dict[str, str] = {}
    for name, value in pairs:
        if name not in _PARAMS:
            continue
        if name in given:
            raise QueryError(name, "given more than once")
        if len(value) > MAX_PARAM_CHARS:
            raise QueryError(name, f"longer than {MAX_PARAM_CHARS} characters")
        given[name] = value
    date_from = parse_datetime(given["date_from"], "date_from") if "date_from" in given else None
    date_to = parse_datetime(given["date_to"], "date_to") if "date_to" in given else None
    if date_from is not None and date_to is not None and date_from > date_to:
        raise QueryError("date_to", "before date_from")
    offset = _count(given["offset"], "offset") if "offset" in given else 0
    limit = _count(given["limit"], "limit") if "limit" in given else None
    filters = tuple((name, given[name]) for name in ("date_from", "date_to") if name in given)
    return CdrQuery(date_from, date_to, offset, limit, filters)


# --- the database -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CdrPage:
    cdrs: list[dict[str, Any]]
    total: int  # all CDRs matching the dates
    read_at: datetime  # inside the read: every CDR stored before it is visible to it


def served_time(t: datetime | str) -> str:
    """A time as OCPI serves it: UTC, to the millisecond (floored), with ``Z``."""
    value = datetime.fromisoformat(t) if isinstance(t, str) else t
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bound(t: datetime) -> str:
    """``t`` in the form of ``records.stored_at`` (:func:`kiosk.backoffice.storage.now`), so
    that comparing the text compares the times."""
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def fetch_cdrs(db: Database, query: CdrQuery, limit: int) -> CdrPage:
    """The page of CDRs ``query`` asks for, at most ``limit`` (the limit applied), and the
    count, in one snapshot."""
    where = [records.c.kind == "cdr", records.c.stored_at.is_not(None)]
    if query.date_from is not None:
        where.append(records.c.stored_at >= _bound(query.date_from))
    if query.date_to is not None:
        where.append(records.c.stored_at < _bound(query.date_to))
    with db.engine.connect() as conn:
        read_at: datetime | None = None
        if db.dialect == "postgresql":
            with conn.begin():  # the barrier: uploads that took their stored_at have committed
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORED_AT_LOCK})
                read_at = datetime.now(UTC)  # uploads after it wait for this commit
            conn.execution_options(isolation_level="REPEATABLE READ")
        total = int(conn.execute(select(func.count()).select_from(records)
                                 .where(*where)).scalar() or 0)
        if read_at is None:
            read_at = datetime.now(UTC)  # SQLite: under the lock BEGIN IMMEDIATE took
        rows = [] if limit <= 0 or query.offset >= total else conn.execute(
            select(records.c.payload, records.c.stored_at).where(*where)
            .order_by(records.c.id).offset(query.offset).limit(limit)).all()
    cdrs = []
    for payload, stored_at in rows:
        cdr = json.loads(payload)
        cdr["last_updated"] = served_time(stored_at)
        cdrs.append(cdr)
    return CdrPage(cdrs, total, read_at)


# --- HTTP -------------------------------------------------------------------------------------

def _envelope(request: Request, http_status: int, status_code: int, *, data: Any = None,
              message: str | None = None, timestamp: datetime | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = status_code
    if message is not None:
        body["status_message"] = message
    body["timestamp"] = served_time(timestamp or datetime.now(UTC))
    given = request.headers.get("x-correlation-id", "")
    out = {"X-Correlation-ID": given if _CORRELATION_ID.fullmatch(given) else uuid.uuid4().hex}
    out.update(headers or {})
    return JSONResponse(body, http_status, headers=out)


def _base_url(request: Request) -> str:
    settings = request.app.state.settings
    return str(settings.public_url or request.base_url).rstrip("/")


async def _party(request: Request) -> Party | None:
    header = request.headers.get("authorization")
    if not header_candidates(header):  # no database round for what cannot be a token
        return None
    db: Database = request.app.state.db
    return await run_in_threadpool(authenticate, db, header)


def _unauthorized(request: Request) -> JSONResponse:
    return _envelope(request, 401, CLIENT_ERROR,
                     message="Authorization: Token <credentials token> required",
                     headers={"WWW-Authenticate": "Token"})


def _unavailable(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    log.error("ocpi: database: %s", _reason(exc))
    return _envelope(request, 503, SERVER_ERROR, message="database unavailable")


async def _await_closed(date_to: datetime | None) -> None:
    """Wait until the server's clock has passed ``date_to``, if it is at most
    :data:`CLOSE_WAIT_S` ahead (a window further in the future is served as it is)."""
    if date_to is None:
        return
    for _ in range(100):
        ahead = (date_to - datetime.now(UTC)).total_seconds()
        if ahead < 0 or ahead > CLOSE_WAIT_S:
            return
        await asyncio.sleep(ahead + 0.0005)


@router.get(f"{BASE}/versions")
@router.get(f"{BASE}/versions/")
async def get_versions(request: Request) -> Response:
    try:
        if await _party(request) is None:
            return _unauthorized(request)
    except SQLAlchemyError as exc:
        return _unavailable(request, exc)
    return _envelope(request, 200, SUCCESS, data=[
        {"version": API_VERSION, "url": f"{_base_url(request)}{BASE}/{API_VERSION}"}])


@router.get(f"{BASE}/{API_VERSION}")
@router.get(f"{BASE}/{API_VERSION}/")
async def get_version_details(request: Request) -> Response:
    try:
        if await _party(request) is None:
            return _unauthorized(request)
    except SQLAlchemyError as exc:
        return _unavailable(request, exc)
    return _envelope(request, 200, SUCCESS, data={"version": API_VERSION, "endpoints": [
        {"identifier": "cdrs", "role": "SENDER", "url": f"{_base_url(request)}{CDRS_PATH}"}]})


@router.get(CDRS_PATH)
@router.get(f"{CDRS_PATH}/")
async def get_cdrs(request: Request) -> Response:
    db: Database = request.app.state.db
    try:
        if await _party(request) is None:
            return _unauthorized(request)
    except SQLAlchemyError as exc:
        return _unavailable(request, exc)
    if len(request.scope.get("query_string", b"")) > MAX_QUERY_BYTES:
        return _envelope(request, 400, INVALID_PARAMETERS,
                         message=f"query: longer than {MAX_QUERY_BYTES} bytes")
    try:
        query = parse_query(request.query_params.multi_items())
    except QueryError as exc:
        return _envelope(request, 400, INVALID_PARAMETERS, message=str(exc))
    most = max(1, int(request.app.state.settings.ocpi_max_limit))
    limit = most if query.limit is None else min(query.limit, most)
    await _await_closed(query.date_to)
    try:
        page = await run_in_threadpool(fetch_cdrs, db, query, limit)
    except SQLAlchemyError as exc:
        return _unavailable(request, exc)
    headers = {"X-Total-Count": str(page.total), "X-Limit": str(limit)}
    following = query.offset + len(page.cdrs)
    if limit > 0 and following < page.total:
        params = urlencode([*query.filters, ("offset", str(following)), ("limit", str(limit))],
                           quote_via=quote, safe=":")
        headers["Link"] = f'<{_base_url(request)}{CDRS_PATH}?{params}>; rel="next"'
    return _envelope(request, 200, SUCCESS, data=page.cdrs, timestamp=page.read_at,
                     headers=headers)
