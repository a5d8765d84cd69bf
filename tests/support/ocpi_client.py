"""An OCPI 2.2.1 client of our own, as an eMSP would poll our CDRs: it discovers the ``cdrs``
endpoint (versions, then version details), sends ``Authorization: Token <Base64 of the token>``
(or the raw token, as 2.1.1 clients do), a new ``X-Request-ID`` per request and one
``X-Correlation-ID`` per crawl, follows ``Link: <...>; rel="next"`` until the last page and
checks each page's envelope and headers on the way. Written from the specification's text, not
from the server's code: the tests compare what it gets with what is in the database.
"""

from __future__ import annotations

import base64
import re
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

MAX_PAGES = 10_000
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel\s*=\s*"?next"?', re.IGNORECASE)


def header_value(token: str, *, encode: bool = True) -> str:
    """``Token <Base64 of the token>`` (2.2.1), or ``Token <token>`` (2.1.1)."""
    shown = base64.b64encode(token.encode("utf-8")).decode("ascii") if encode else token
    return f"Token {shown}"


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header (RFC 8288), or None."""
    if not header:
        return None
    for part in header.split(","):
        match = _LINK.search(part)
        if match:
            return match.group(1)
    return None


def ocpi_time(t: datetime) -> str:
    """A DateTime as a client writes it: UTC with ``Z``, to the microsecond."""
    return t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An OCPI DateTime (``Z`` or no zone: UTC) as an aware datetime."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    """One response: HTTP status, the envelope, the headers, and the ids sent."""

    http_status: int
    body: dict[str, Any]
    headers: httpx.Headers
    request_id: str
    correlation_id: str

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def status_code(self) -> int | None:
        value = self.body.get("status_code")
        return value if isinstance(value, int) else None

    @property
    def total(self) -> int | None:
        value = self.headers.get("x-total-count")
        return None if value is None else int(value)

    @property
    def limit(self) -> int | None:
        value = self.headers.get("x-limit")
        return None if value is None else int(value)

    @property
    def next_url(self) -> str | None:
        return next_link(self.headers.get("link"))


@dataclass
class Crawl:
    """All pages of one query, followed through the Link headers."""

    cdrs: list[dict[str, Any]] = field(default_factory=list)
    pages: list[Answer] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [str(c["id"]) for c in self.cdrs]


class OcpiError(AssertionError):
    """The server answered against the specification (the tests fail on it)."""


class OcpiClient:
    def __init__(self, token: str | None, *, encode: bool = True,
                 verify: ssl.SSLContext | bool = True, timeout: float = 20.0) -> None:
        self.token = token
        self.encode = encode
        self._http = httpx.Client(verify=verify, timeout=timeout)

    def __enter__(self) -> OcpiClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, url: str, params: dict[str, str] | list[tuple[str, str]] | None = None, *,
            correlation_id: str | None = None, request_id: str | None = None,
            authorization: str | None = None, headers: dict[str, str] | None = None) -> Answer:
        """One GET with the token (or ``authorization`` as the header's whole value)."""
        rid = request_id or str(uuid.uuid4())
        cid = correlation_id or str(uuid.uuid4())
        sent = {"X-Request-ID": rid, "X-Correlation-ID": cid}
        if authorization is not None:
            sent["Authorization"] = authorization
        elif self.token is not None:
            sent["Authorization"] = header_value(self.token, encode=self.encode)
        sent.update(headers or {})
        query = None if params is None else tuple(
            params.items() if isinstance(params, dict) else params)
        response = self._http.get(url, params=query, headers=sent)
        try:
            body = response.json()
        except ValueError:
            raise OcpiError(f"GET {url}: HTTP {response.status_code}, not JSON: "
                            f"{response.text[:200]!r}") from None
        if not isinstance(body, dict):
            raise OcpiError(f"GET {url}: the envelope is not an object")
        return Answer(response.status_code, body, response.headers, rid, cid)

    def discover(self, versions_url: str) -> str:
        """The URL of the ``cdrs`` SENDER endpoint of version 2.2.1."""
        versions = self._ok(self.get(versions_url))
        details_url = next(v["url"] for v in versions.data if v["version"] == "2.2.1")
        details = self._ok(self.get(details_url))
        if details.data.get("version") != "2.2.1":
            raise OcpiError(f"version details: {details.data!r}")
        return str(next(e["url"] for e in details.data["endpoints"]
                        if e["identifier"] == "cdrs" and e["role"] == "SENDER"))

    def crawl(self, cdrs_url: str, *, date_from: str | None = None, date_to: str | None = None,
              limit: int | None = None, offset: int | None = None) -> Crawl:
        """Every page of the query, the first one asked with these parameters and the others
        through ``Link``; each page is checked (envelope, ids, count, limit)."""
        params = [(k, v) for k, v in (("date_from", date_from), ("date_to", date_to),
                                      ("offset", None if offset is None else str(offset)),
                                      ("limit", None if limit is None else str(limit)))
                  if v is not None]
        correlation = str(uuid.uuid4())
        crawl = Crawl()
        url: str | None = cdrs_url
        query: list[tuple[str, str]] | None = params
        for _ in range(MAX_PAGES):
            if url is None:
                return crawl
            page = self._ok(self.get(url, query, correlation_id=correlation))
            if page.total is None or page.limit is None:
                raise OcpiError("a page without X-Total-Count or X-Limit")
            if not isinstance(page.data, list) or len(page.data) > page.limit:
                raise OcpiError(f"a page of {len(page.data)} CDRs, X-Limit {page.limit}")
            crawl.pages.append(page)
            crawl.cdrs.extend(page.data)
            url, query = page.next_url, None
        raise OcpiError(f"more than {MAX_PAGES} pages")

    @staticmethod
    def _ok(answer: Answer) -> Answer:
        if answer.http_status != 200 or answer.status_code != 1000:
            raise OcpiError(f"HTTP {answer.http_status}: {answer.body!r}")
        if answer.headers.get("x-request-id") != answer.request_id:
            raise OcpiError("X-Request-ID not echoed")
        if answer.headers.get("x-correlation-id") != answer.correlation_id:
            raise OcpiError("X-Correlation-ID not echoed")
        try:
            parse_time(str(answer.body.get("timestamp")))
        except ValueError:
            raise OcpiError(f"timestamp {answer.body.get('timestamp')!r}") from None
        return answer
