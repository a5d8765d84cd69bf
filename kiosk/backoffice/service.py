"""The back office service (FastAPI): uploads from terminals, their updates, invoice pages,
OCPI CDRs.

Stateless: everything lives in the database (:mod:`kiosk.backoffice.storage`), so several
processes (``kiosk-backoffice serve --workers N``, or several machines behind a load balancer)
share one PostgreSQL; SQLite is the embedded default for one process.

Routes:

- ``POST /v1/batches``: an upload envelope (:mod:`kiosk.records.batch`) as the body, at most
  :data:`~kiosk.records.batch.MAX_ENVELOPE_BYTES`. The terminal is authenticated by the
  envelope's Ed25519 signature (its registered key), not by the connection. The answer is JSON
  ``{"status", "terminal_id", "sequence", "acked", "reason", "refusal"}`` (see
  :class:`~kiosk.backoffice.importer.ImportResult`); ``acked`` is the highest sequence stored
  without gap, which the terminal takes as its acknowledgement. HTTP status: 200 stored or
  replay, 202 held (a gap), 403 an unknown or revoked terminal, 408 a body that did not arrive
  within ``body_timeout_s`` (a stalled client), 409 a sequence already stored with other
  content, 413 too large, 415 not JSON, 422 any other rejection, 503 the database failing
  (nothing stored; the terminal sends it again).
- ``POST /v1/updates``: a terminal's poll for its signed config and tariff bundles
  (:mod:`kiosk.records.update_poll`, at most :data:`~kiosk.records.update_poll.MAX_POLL_BYTES`),
  answered by :func:`kiosk.backoffice.updates.answer_poll`. The terminal is authenticated by
  the poll's Ed25519 signature (its registered key) and its time must be within
  :data:`~kiosk.records.update_poll.MAX_SKEW` of the back office's clock. 200: the answer
  (``evkiosk-updates/1``, the bundles' exact bytes; ``Cache-Control: no-store``); otherwise
  JSON ``{"status", "reason", "refusal"}``: 403 an unknown or revoked terminal, another key
  than the registered one or a signature that does not verify (``not_authentic``: who asks
  is not shown to be the terminal), 408 a stalled body, 413 too large, 415 not JSON, 422 not
  a poll (``invalid``) or an authentic poll whose time is off (``clock``: the terminal's
  clock is wrong, or the poll is a replay; the terminal can act on it), 503 the database
  failing.
- ``GET /healthz``: the database answers (for a load balancer).
- the invoice pages (:mod:`kiosk.backoffice.invoices`), the OCPI 2.2.1 CDRs module
  (:mod:`kiosk.backoffice.ocpi`) and the operators' ``/analytics``
  (:mod:`kiosk.backoffice.analytics.web`), each a router of its own.

Every answer carries ``X-Request-ID`` (the caller's if it sent a sane one, else a new one).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from kiosk.backoffice.importer import ImportResult, Refusal, import_envelope
from kiosk.backoffice.storage import Database, _reason
from kiosk.backoffice.updates import PollRefusal, answer_poll
from kiosk.records.batch import MAX_ENVELOPE_BYTES
from kiosk.records.update_poll import MAX_POLL_BYTES

__all__ = ["ServiceSettings", "create_app", "read_body"]

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class ServiceSettings:
    """What the service needs beyond the database."""

    public_url: str = ""  # the base URL drivers and OCPI clients see (links, Link headers)
    invoice_rate: float = 2.0  # invoice page requests per second per client address ...
    invoice_burst: int = 20  # ... with this many at once
    ocpi_max_limit: int = 100  # the largest OCPI page the server hands out
    body_timeout_s: float = 30.0  # an upload's body must arrive within this (a stalled client)


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


async def read_body(request: Request, limit: int, timeout_s: float = 30.0) -> bytes:
    """The request body, at most ``limit`` bytes (a larger Content-Length is refused before
    reading; a body that grows past it while streaming is cut off), all of it within
    ``timeout_s`` (a client that stalls mid-body is :class:`BodyTooSlow`)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(request, limit)
    except TimeoutError:
        raise BodyTooSlow(f"the body did not arrive within {timeout_s:g} s") from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyTooLarge("Content-Length is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"body of {int(declared)} bytes, at most {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _status_code(result: ImportResult) -> int:
    if result.status in ("stored", "replay"):
        return 200
    if result.status == "held":
        return 202
    return {Refusal.UNKNOWN_TERMINAL: 403, Refusal.REVOKED: 403,
            Refusal.CONFLICT: 409}.get(result.refusal or Refusal.INVALID, 422)


def _answer(result: ImportResult) -> dict[str, Any]:
    return {"status": result.status, "terminal_id": result.terminal_id,
            "sequence": result.sequence, "acked": result.acked, "reason": result.reason,
            "refusal": None if result.refusal is None else result.refusal.value}


def _refused(reason: str, code: int, *, status: str = "rejected",
             refusal: str | None = Refusal.INVALID.value,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """An answer of the same shape as an import's, before there was one (the body could not
    be read, the database failed): ``acked`` is unknown (None)."""
    return JSONResponse({"status": status, "terminal_id": None, "sequence": None,
                         "acked": None, "reason": reason, "refusal": refusal}, code,
                        headers=headers)


_POLL_STATUS = {PollRefusal.INVALID: 422, PollRefusal.UNKNOWN_TERMINAL: 403,
                PollRefusal.REVOKED: 403, PollRefusal.NOT_AUTHENTIC: 403,
                PollRefusal.CLOCK: 422}


def _poll_refused(reason: str, code: int, *, status: str = "rejected",
                  refusal: str | None = PollRefusal.INVALID.value,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "reason": reason, "refusal": refusal}, code,
                        headers=headers)


def create_app(db: Database, settings: ServiceSettings | None = None) -> FastAPI:
    """The service over an open database (the caller closes it)."""
    settings = settings or ServiceSettings()

    app = FastAPI(title="EV kiosk back office", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.db = db
    app.state.settings = settings

    @app.middleware("http")
    async def request_id(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("x-request-id", "")
        rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.state.request_id = rid
        response = await call_next(request)
        response.headers["X-Request-ID"] = rid
        return response

    async def json_body(request: Request, limit: int,
                        refuse: Callable[..., JSONResponse]) -> bytes | JSONResponse:
        """The JSON body of at most ``limit`` bytes, or the refusal (415, 413, 408) to give."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return refuse("Content-Type: application/json expected", 415)
        try:
            return await read_body(request, limit, settings.body_timeout_s)
        except BodyTooLarge as exc:
            return refuse(str(exc), 413)
        except BodyTooSlow as exc:
            return refuse(str(exc), 408, status="error", refusal=None,
                          headers={"Connection": "close"})

    @app.post("/v1/batches")
    async def post_batch(request: Request) -> JSONResponse:
        data = await json_body(request, MAX_ENVELOPE_BYTES, _refused)
        if isinstance(data, JSONResponse):
            return data
        try:
            result = await run_in_threadpool(import_envelope, db, data)
        except SQLAlchemyError as exc:
            log.error("upload: database: %s", _reason(exc))
            return _refused("database unavailable; nothing stored", 503, status="error",
                            refusal=None)
        if result.status == "rejected":
            log.warning("upload rejected: %s", result.line()[:300])
        return JSONResponse(_answer(result), _status_code(result))

    @app.post("/v1/updates")
    async def post_updates(request: Request) -> Response:
        data = await json_body(request, MAX_POLL_BYTES, _poll_refused)
        if isinstance(data, JSONResponse):
            return data
        try:
            result = await run_in_threadpool(answer_poll, db, data, datetime.now(UTC))
        except SQLAlchemyError as exc:
            log.error("update poll: database: %s", _reason(exc))
            return _poll_refused("database unavailable", 503, status="error", refusal=None)
        if result.refusal is not None:
            log.warning("update poll rejected (%s): %s", result.refusal.value, result.reason)
            return _poll_refused(result.reason, _POLL_STATUS[result.refusal],
                                 refusal=result.refusal.value)
        if result.offers:
            log.info("updates offered to %s: %s", result.terminal_id,
                     ", ".join(f"{o.kind} {o.sequence}" for o in result.offers))
        return Response(result.body, 200, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        def ping() -> None:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except SQLAlchemyError as exc:
            return JSONResponse({"status": "down", "database": _reason(exc)}, 503)
        return JSONResponse({"status": "ok", "database": db.dialect})

    from kiosk.backoffice import invoices, ocpi
    from kiosk.backoffice.analytics import web

    app.include_router(invoices.router)
    app.include_router(ocpi.router)
    app.include_router(web.router)
    return app
