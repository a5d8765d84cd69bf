"""The invoice pages: what the receipt's QR code opens, as HTML and as an A4 PDF.

Routes (the QR code's URL is ``<base>/i/<station>/<number>?t=<token>``,
:func:`kiosk.security.invoice_token.invoice_url`):

- ``GET /i/{station}/{number}?t=TOKEN[&lang=xx]``: the invoice as a page;
- ``GET /i/{station}/{number}/invoice.pdf?t=TOKEN[&lang=xx]``: the same template rendered by
  WeasyPrint with its print stylesheet (A4).

The invoice is found by (station, number) in ``invoices`` and shown only when ``t`` equals the
token the terminal stored with it (``hmac.compare_digest``). Everything else (an unknown station
or number, no token, a malformed or a wrong one, odd characters or sizes anywhere in the path or
the query) gets the same 404: the same body, the same headers, so an answer never tells whether
an invoice number exists. The lookup and the comparison run for a malformed request too (against
a key that matches nothing), so the easy timing difference is not there either. Query
parameters other than ``t`` and ``lang`` are ignored; ``lang`` is one of en, de, fr, nl
(another well-formed code falls back to the invoice's language; a malformed one is a 404).

Every invoice route is rate limited per client address (IPv6: per /64) by a token bucket of
``ServiceSettings.invoice_rate`` requests per second and ``invoice_burst`` at once; a PDF costs
:data:`PDF_COST` requests. Over the limit: 429 with ``Retry-After``. The buckets live in the
process: behind several processes or machines each keeps its own, so the limit a client sees is
per process (a load balancer or proxy in front should limit too; behind a proxy, run uvicorn
with ``--proxy-headers`` so the client address is the driver's, not the proxy's).

Every answer carries a Content-Security-Policy without scripts (the one inline stylesheet by its
hash), ``Referrer-Policy: no-referrer`` (the token is in the URL), ``Cache-Control: private,
no-store``, ``X-Robots-Tag: noindex`` and ``X-Content-Type-Options: nosniff``; the PDF all of
them but the CSP, which is about HTML (a restrictive one on a PDF can keep a browser's built-in
viewer from showing it).

The record is hostile input: every field is checked for its type and form and bounded in length
before it reaches the template (autoescaped); a field missing or of the wrong form shows as "—".
Money is shown from the invoice's own decimal texts, regrouped for the language and never
re-rounded (:mod:`kiosk.backoffice.i18n`). The card shows only as the masked PAN the record
carries (first six, last four at most); anything that does not look masked is not shown.

Database reads and the PDF rendering run in the threadpool; PDF renders are one at a time per
process (:data:`PDF_CONCURRENCY`, waiting in the event loop rather than in a thread, and a lock
around WeasyPrint itself: Pango and fontconfig are not reliably thread-safe).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Request, Response
from sqlalchemy import and_, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from kiosk.backoffice import i18n
from kiosk.backoffice.storage import Database, _reason, invoices, records
from kiosk.billing.money import MINOR_UNITS

__all__ = ["PDF_COST", "InvoiceView", "RateLimiter", "invoice_view", "render_html",
           "render_pdf", "router"]

log = logging.getLogger(__name__)
router = APIRouter()

_STATION = re.compile(r"^[A-Za-z0-9._-]{1,36}$")  # a terminal id (kiosk.records.batch)
_NUMBER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # as kiosk.backoffice.schemas checks it
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LANG = re.compile(r"^[a-z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MASKED_PAN = re.compile(r"^(\d{0,6})([*Xx•]{2,13})(\d{0,4})$")
_AUTH_CODE = re.compile(r"^[A-Za-z0-9 ]{1,12}$")
MAX_QUERY = 256  # bytes of the raw query string; a QR code's URL has about 30
MAX_LINES = 50  # invoice lines shown (a charging session has a handful)
MAX_TEXT = 160  # characters of any free text from the record
PDF_COST = 4  # a PDF counts as this many page requests against the rate limit
PDF_CONCURRENCY = 1
MAX_CLIENTS = 10_000  # rate-limit buckets kept; the least recently seen go first
DASH = "—"
_NO_KEY = ("", "")  # what a malformed request is looked up by: matches nothing
_NO_TOKEN = "-" * 22  # compared against when there is no stored token

_SCHEMES = {"visa": "Visa", "mastercard": "Mastercard", "maestro": "Maestro",
            "amex": "American Express", "girocard": "girocard", "vpay": "V PAY",
            "jcb": "JCB", "unionpay": "UnionPay", "discover": "Discover",
            "diners": "Diners Club", "cb": "CB"}
# invisible characters that reorder or hide text (bidi overrides, zero-width marks)
_INVISIBLE = {0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C,
              0x202D, 0x202E, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF}


# --- the view: what the template shows, every value a checked, bounded string ---------------
@dataclass(frozen=True)
class Line:
    component: str
    description: str
    detail: str  # "2.75 kWh × €0.50"
    vat: str
    net: str
    gross: str


@dataclass(frozen=True)
class Row:
    label: str
    amount: str


@dataclass(frozen=True)
class VatRow:
    rate: str
    net: str
    vat: str
    gross: str


@dataclass(frozen=True)
class Links:
    """Relative links of a page (none on a PDF or in a unit test)."""

    pdf: str = ""
    languages: tuple[tuple[str, str, str, bool], ...] = ()  # (code, name, href, current)


@dataclass(frozen=True)
class InvoiceView:
    lang: str
    t: Mapping[str, str]
    number: str
    issued: str
    operator: str
    address: str
    station_name: str
    station_id: str
    connector: str
    start: str
    stop: str
    duration: str
    meter_start: str
    meter_stop: str
    energy: str
    currency: str
    lines: tuple[Line, ...]
    adjustments: tuple[Row, ...]
    rounding: str | None
    total: str
    vat_rows: tuple[VatRow, ...]
    card_scheme: str
    card_number: str
    auth_code: str
    held: str
    released: str
    session_id: str
    time_note: str
    links: Links = field(default_factory=Links)


def clean_text(value: object, limit: int = MAX_TEXT) -> str:
    """A free text from the record for display: text only, no control or invisible characters,
    whitespace collapsed, at most ``limit`` characters (cut with "…"); anything else: "—"."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return DASH
    text = str(value)[: limit * 4]
    kept = "".join(" " if c.isspace() else c for c in text
                   if ord(c) not in _INVISIBLE and (c.isspace() or
                                                    unicodedata.category(c)[0] != "C"))
    kept = " ".join(kept.split())
    if not kept:
        return DASH
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def _or_dash(value: str | None) -> str:
    return DASH if value is None else value


def _card_number(masked: object) -> str:
    """The masked PAN in groups of four (``4761 73•• •••• 0119``); never more than six leading
    and four trailing digits; anything else is not shown."""
    if not isinstance(masked, str) or not 12 <= len(masked) <= 19:
        return DASH
    m = _MASKED_PAN.fullmatch(masked)
    if m is None:
        return DASH
    shown = m.group(1) + "•" * len(m.group(2)) + m.group(3)
    return " ".join(shown[i:i + 4] for i in range(0, len(shown), 4))


def _scheme(value: object) -> str:
    if not isinstance(value, str):
        return ""
    known = _SCHEMES.get(value.strip().lower())
    return known if known is not None else ("" if clean_text(value, 24) == DASH
                                            else clean_text(value, 24))


def _quantity(line: Mapping[str, Any], lang: str, t: Mapping[str, str]) -> str | None:
    qty = i18n.decimal(line.get("quantity"), lang, trim=True)
    if qty is None:
        return None
    unit = line.get("unit")
    if unit == "session" or line.get("component") == "FLAT":
        return qty if qty == "1" else f"{qty} × {t['unit_session']}"
    unit_text = clean_text(unit, 12)
    return qty if unit_text == DASH else f"{qty}\u00a0{unit_text}"


def _line(line: object, lang: str, t: Mapping[str, str], cur: str, places: int) -> Line:
    if not isinstance(line, Mapping):
        return Line("", DASH, "", DASH, DASH, DASH)
    component = line.get("component")
    if isinstance(component, str) and component in t:
        description = t[component]
    else:
        description = clean_text(line.get("description"), 60)
    qty = _quantity(line, lang, t)
    unit_price = i18n.money(line.get("unit_price_excl"), cur, lang, places, trim=True)
    if unit_price is not None:
        unit_price = f"{unit_price} {t['excl_vat']}"
    detail = " × ".join(x for x in (qty, unit_price) if x is not None)
    vat = line.get("vat_percent")
    return Line(component if isinstance(component, str) and component.isalpha() else "",
                description, detail,
                _or_dash(i18n.percent(vat, lang)) if vat is not None else DASH,
                _or_dash(i18n.money(line.get("amount_excl"), cur, lang, places)),
                _or_dash(i18n.money(line.get("amount_incl"), cur, lang, places)))


def _adjustment(row: object, lang: str, t: Mapping[str, str], cur: str, places: int) -> Row:
    if not isinstance(row, Mapping):
        return Row(DASH, DASH)
    what = row.get("description")
    label = t[what] if isinstance(what, str) and what in _ADJUSTMENTS else clean_text(what, 80)
    return Row(label, _or_dash(i18n.money(row.get("amount_incl"), cur, lang, places)))


_ADJUSTMENTS = ("Minimum price", "Maximum price", "Limited to the amount reserved on the card")


def _vat_row(row: object, lang: str, t: Mapping[str, str], cur: str, places: int) -> VatRow:
    if not isinstance(row, Mapping):
        return VatRow(DASH, DASH, DASH, DASH)
    rate = row.get("vat_percent")
    shown = t["mixed"] if rate == "mixed" else _or_dash(i18n.percent(rate, lang))
    return VatRow(shown, *(_or_dash(i18n.money(row.get(k), cur, lang, places))
                           for k in ("net", "vat", "gross")))


def _total(p: Mapping[str, Any], cur: str, lang: str, places: int) -> str:
    """The total from ``total_minor`` (the figure the token signs and the import checked),
    else from the ``total`` text."""
    minor = p.get("total_minor")
    if isinstance(minor, int) and not isinstance(minor, bool) and 0 <= minor < 10**15:
        text = str(minor).rjust(places + 1, "0")
        major = f"{text[:-places]}.{text[-places:]}" if places else text
        shown = i18n.money(major, cur, lang, places)
        if shown is not None:
            return shown
    return _or_dash(i18n.money(p.get("total"), cur, lang, places))


def invoice_view(payload: object, lang: str | None = None, links: Links | None = None
                 ) -> InvoiceView:
    """The invoice record (as stored, hostile) as the page shows it, in ``lang`` (None: the
    invoice's own language)."""
    p: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    lang = i18n.pick(lang, p.get("language"))
    t = i18n.TEXTS[lang]
    cur_raw = p.get("currency")
    cur = cur_raw if isinstance(cur_raw, str) and _CURRENCY.fullmatch(cur_raw) else ""
    places = MINOR_UNITS.get(cur, 2)
    seller_raw = p.get("seller")
    seller: Mapping[str, Any] = seller_raw if isinstance(seller_raw, Mapping) else {}
    start, stop = i18n.parse_time(p.get("start")), i18n.parse_time(p.get("stop"))
    issued = i18n.parse_time(p.get("issued_at"))
    zone = next((i18n.offset(x) for x in (start, stop, issued) if x is not None), None)
    raw_lines = p.get("lines")
    lines = tuple(_line(x, lang, t, cur, places)
                  for x in (raw_lines if isinstance(raw_lines, list) else [])[:MAX_LINES])
    raw_adj = p.get("adjustments")
    adjustments = tuple(_adjustment(x, lang, t, cur, places)
                        for x in (raw_adj if isinstance(raw_adj, list) else [])[:MAX_LINES])
    raw_vat = p.get("vat_summary")
    vat_rows = tuple(_vat_row(x, lang, t, cur, places)
                     for x in (raw_vat if isinstance(raw_vat, list) else [])[:MAX_LINES])
    rounding = p.get("rounding")
    connector = clean_text(p.get("connector_label"), 32)
    if connector == DASH:
        connector = clean_text(p.get("connector"), 8)
    return InvoiceView(
        lang=lang, t=t,
        number=clean_text(p.get("number"), 64),
        issued=DASH if issued is None else i18n.date_time(issued, lang, with_time=False),
        operator=clean_text(seller.get("operator"), 80),
        address=clean_text(seller.get("address"), 200),
        station_name=clean_text(p.get("station_name"), 80),
        station_id=clean_text(p.get("station_id"), 36),
        connector=connector,
        start=DASH if start is None else i18n.date_time(start, lang),
        stop=DASH if stop is None else i18n.date_time(stop, lang),
        duration=_or_dash(i18n.duration(p.get("duration_s"))),
        meter_start=_or_dash(i18n.wh_as_kwh(p.get("meter_start_wh"), lang)),
        meter_stop=_or_dash(i18n.wh_as_kwh(p.get("meter_stop_wh"), lang)),
        energy=_or_dash(i18n.wh_as_kwh(p.get("energy_wh"), lang)),
        currency=cur or DASH,
        lines=lines, adjustments=adjustments,
        rounding=None if rounding is None else _or_dash(i18n.money(rounding, cur, lang,
                                                                   places)),
        total=_total(p, cur, lang, places) if cur else DASH,
        vat_rows=vat_rows,
        card_scheme=_scheme(p.get("scheme")),
        card_number=_card_number(p.get("masked_pan")),
        auth_code=(p["auth_code"] if isinstance(p.get("auth_code"), str)
                   and _AUTH_CODE.fullmatch(p["auth_code"]) else DASH),
        held=_or_dash(i18n.money(p.get("held"), cur, lang, places)),
        released=_or_dash(i18n.money(p.get("hold_released"), cur, lang, places)),
        session_id=clean_text(p.get("session_id"), 64),
        time_note="" if zone is None else t["local_time"].format(offset=zone),
        links=links or Links(),
    )


# --- rendering -------------------------------------------------------------------------------
@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kiosk.backoffice", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)


@cache
def stylesheet() -> str:
    """The one stylesheet (screen and print), inlined in a <style> the CSP names by hash."""
    return (resources.files("kiosk.backoffice") / "templates" / "invoice.css").read_text(
        encoding="utf-8")


@cache
def content_security_policy() -> str:
    digest = base64.b64encode(hashlib.sha256(stylesheet().encode()).digest()).decode()
    return ("default-src 'none'; " f"style-src 'sha256-{digest}'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def render_html(view: InvoiceView, *, pdf: bool = False) -> str:
    return _env().get_template("invoice.html").render(v=view, t=view.t, css=stylesheet(),
                                                      pdf=pdf)


_pdf_lock = threading.Lock()


def render_pdf(view: InvoiceView) -> bytes:
    """The invoice as an A4 PDF: the page's template with its print stylesheet. Fetches
    nothing (the page has no external resources; any URL is refused)."""
    import weasyprint  # type: ignore[import-untyped]  # slow to import: only when needed

    html = render_html(view, pdf=True)
    refuse_all = weasyprint.URLFetcher(allowed_protocols=())
    with _pdf_lock:
        data = weasyprint.HTML(string=html, url_fetcher=refuse_all).write_pdf()
    assert isinstance(data, bytes)
    return data


@cache
def _error_page(status: int) -> bytes:
    return _env().get_template("error.html").render(status=status, css=stylesheet()).encode()


# --- the rate limit ---------------------------------------------------------------------------
class RateLimiter:
    """Token buckets per client key (``rate`` per second, ``burst`` at once), in process."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate if rate > 0 else 1e-6
        self.burst = float(max(burst, 1))
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 when allowed (the cost is taken), else the seconds until it would be."""
        cost = min(cost, self.burst)
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = 0.0 if tokens >= cost else (cost - tokens) / self.rate
            if not wait:
                tokens -= cost
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


def client_key(request: Request) -> str:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))  # a host has a /64
    return str(address)


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    limiter = getattr(state, "invoice_limiter", None)
    if limiter is None:  # one per app, made on first use (no await in between: no race)
        settings = state.settings
        limiter = RateLimiter(settings.invoice_rate, settings.invoice_burst)
        state.invoice_limiter = limiter
    assert isinstance(limiter, RateLimiter)
    return limiter


def _pdf_gate(request: Request) -> asyncio.Semaphore:
    state = request.app.state
    gate = getattr(state, "invoice_pdf_gate", None)
    if gate is None:
        gate = asyncio.Semaphore(PDF_CONCURRENCY)
        state.invoice_pdf_gate = gate
    assert isinstance(gate, asyncio.Semaphore)
    return gate


# --- answers ---------------------------------------------------------------------------------
def _headers(csp: bool = True) -> dict[str, str]:
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
               "Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow",
               "X-Frame-Options": "DENY", "Cross-Origin-Resource-Policy": "same-origin"}
    if csp:
        headers["Content-Security-Policy"] = content_security_policy()
    return headers


def _html(body: bytes, status: int, extra: Mapping[str, str] | None = None) -> Response:
    return Response(body, status, headers={**_headers(), **(extra or {})},
                    media_type="text/html; charset=utf-8")


def not_found() -> Response:
    """The one 404 of the invoice pages (whatever was wrong)."""
    return _html(_error_page(404), 404)


def _too_many(wait: float) -> Response:
    return _html(_error_page(429), 429, {"Retry-After": str(max(1, math.ceil(wait)))})


def _unavailable() -> Response:
    return _html(_error_page(503), 503, {"Retry-After": "30"})


def _query(request: Request) -> tuple[str, str | None] | None:
    """(token, lang) from a sane query, else None."""
    raw = request.scope.get("query_string", b"")
    if not isinstance(raw, bytes) or len(raw) > MAX_QUERY:
        return None
    params = request.query_params
    tokens, langs = params.getlist("t"), params.getlist("lang")
    if len(tokens) != 1 or len(langs) > 1:
        return None
    lang = langs[0] if langs else None
    if lang is not None and not _LANG.fullmatch(lang):
        return None
    return tokens[0], lang


def _well_formed(station: str, number: str) -> bool:
    return (bool(_STATION.fullmatch(station)) and bool(_NUMBER.fullmatch(number))
            and station not in (".", "..") and number not in (".", ".."))


def _lookup(db: Database, station: str, number: str) -> tuple[str, str] | None:
    """(stored token, record payload) of the invoice, one query."""
    join = invoices.join(records, and_(records.c.terminal_id == invoices.c.terminal_id,
                                       records.c.record_id == invoices.c.record_id))
    with db.engine.connect() as conn:
        row = conn.execute(select(invoices.c.token, records.c.payload).select_from(join)
                           .where(invoices.c.terminal_id == station,
                                  invoices.c.number == number)).first()
    return None if row is None else (str(row[0]), str(row[1]))


def _links(station: str, number: str, token: str, lang: str) -> Links:
    base = quote(number, safe="")
    pdf = f"{base}/invoice.pdf?{urlencode({'t': token, 'lang': lang})}"
    langs = tuple((code, i18n.NAMES[code], "?" + urlencode({"t": token, "lang": code}),
                   code == lang) for code in i18n.LANGUAGES)
    return Links(pdf=pdf, languages=langs)


def _page(payload_text: str, lang: str | None, station: str, number: str, token: str,
          pdf: bool) -> bytes:
    try:
        payload: object = json.loads(payload_text)
    except (ValueError, RecursionError):  # stored as canonical JSON: not expected
        payload = None
    shown = i18n.pick(lang, payload.get("language") if isinstance(payload, dict) else None)
    if pdf:
        return render_pdf(invoice_view(payload, shown))
    return render_html(invoice_view(payload, shown, _links(station, number, token,
                                                           shown))).encode()


async def _serve(request: Request, station: str, number: str, *, pdf: bool) -> Response:
    wait = _limiter(request).take(client_key(request), PDF_COST if pdf else 1)
    if wait:
        return _too_many(wait)
    query = _query(request)
    form_ok = query is not None and _well_formed(station, number)
    given, lang = query if query is not None else ("", None)
    key = (station, number) if form_ok else _NO_KEY
    db: Database = request.app.state.db
    try:
        found = await run_in_threadpool(_lookup, db, *key)
    except SQLAlchemyError as exc:
        log.error("invoice page: database: %s", _reason(exc))
        return _unavailable()
    stored = found[0] if found is not None else _NO_TOKEN
    same = hmac.compare_digest(given[:64].encode("utf-8", "replace"), stored.encode())
    if not (form_ok and found is not None and same and _TOKEN.fullmatch(given)):
        return not_found()
    assert found is not None
    if pdf:
        async with _pdf_gate(request):
            body = await run_in_threadpool(_page, found[1], lang, station, number, given, True)
        headers = {**_headers(csp=False),
                   "Content-Disposition": f'inline; filename="invoice-{number}.pdf"'}
        return Response(body, 200, headers=headers, media_type="application/pdf")
    body = await run_in_threadpool(_page, found[1], lang, station, number, given, False)
    return _html(body, 200)


@router.get("/i/{station}/{number}", include_in_schema=False)
async def invoice_page(request: Request, station: str, number: str) -> Response:
    return await _serve(request, station, number, pdf=False)


@router.get("/i/{station}/{number}/invoice.pdf", include_in_schema=False)
async def invoice_pdf(request: Request, station: str, number: str) -> Response:
    return await _serve(request, station, number, pdf=True)


@router.get("/i", include_in_schema=False)
@router.get("/i/{rest:path}", include_in_schema=False)
async def invoice_other(request: Request) -> Response:
    """Any other path under /i: the same 404 (after the same lookup, rate limited)."""
    return await _serve(request, "", "", pdf=False)
