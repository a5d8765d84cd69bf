"""What the back office relies on in each kind of record, checked before a batch is stored.

The batch format (:mod:`kiosk.records.batch`) checks every record's frame (id, session, kind,
time, a JSON object as payload); this module checks, per kind, the payload fields the service
uses afterwards: the invoice page looks an invoice up by number and compares its token, the
OCPI module serves CDRs by id, the analytics sum amounts in minor units. A record whose payload
lacks one of them, or has it of the wrong type or form, makes the whole batch a rejection
(:class:`~kiosk.records.batch.BatchError` naming the record and the field): nothing of it is
stored, and a terminal that sends nonsense finds out at once instead of years later.

Fields not named here are kept as they came (the record is stored whole).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kiosk.records.batch import Batch, BatchError, Record

__all__ = ["check_batch", "check_record"]

_NUMBER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_OCPI_ID = re.compile(r"^[\x21-\x7e]{1,36}$")  # OCPI CiString(36): printable ASCII
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PARTY = re.compile(r"^[A-Z0-9]{3}$")
_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
MAX_MINOR = 10**12  # a bound far above any charging session, far below any overflow


def _text(p: dict[str, Any], key: str, where: str, form: re.Pattern[str]) -> str:
    value = p.get(key)
    if not isinstance(value, str):
        raise BatchError(f"{where}.{key}: missing or not text")
    if not form.fullmatch(value):
        raise BatchError(f"{where}.{key}: not of the expected form")
    return value


def _minor(p: dict[str, Any], key: str, where: str) -> int:
    value = p.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BatchError(f"{where}.{key}: missing or not an integer (minor units)")
    if not 0 <= value <= MAX_MINOR:
        raise BatchError(f"{where}.{key}: out of range")
    return value


def _same_session(r: Record, p: dict[str, Any], where: str) -> None:
    if p.get("session_id") != r.session_id:
        raise BatchError(f"{where}.session_id: not the record's session")


def _invoice(r: Record, p: dict[str, Any], where: str) -> None:
    _same_session(r, p, where)
    _text(p, "number", where, _NUMBER)
    _text(p, "token", where, _TOKEN)
    _text(p, "currency", where, _CURRENCY)
    _minor(p, "total_minor", where)
    for key in ("lines", "vat_summary"):
        if not isinstance(p.get(key), list):
            raise BatchError(f"{where}.{key}: missing or not a list")


def _cdr(r: Record, p: dict[str, Any], where: str) -> None:
    _text(p, "id", where, _OCPI_ID)
    _text(p, "country_code", where, _COUNTRY)
    _text(p, "party_id", where, _PARTY)
    _text(p, "currency", where, _CURRENCY)
    _text(p, "start_date_time", where, _UTC)
    _text(p, "end_date_time", where, _UTC)
    for key in ("total_cost", "cdr_location", "cdr_token"):
        if not isinstance(p.get(key), dict):
            raise BatchError(f"{where}.{key}: missing or not an object")


def _session(r: Record, p: dict[str, Any], where: str) -> None:
    _same_session(r, p, where)
    _text(p, "currency", where, _CURRENCY)
    _minor(p, "amount_minor", where)
    _minor(p, "held_minor", where)
    if not isinstance(p.get("outcome"), str):
        raise BatchError(f"{where}.outcome: missing or not text")


def _settlement(r: Record, p: dict[str, Any], where: str) -> None:
    _same_session(r, p, where)
    _minor(p, "amount_minor", where)
    for key in ("kind", "status"):
        if not isinstance(p.get(key), str):
            raise BatchError(f"{where}.{key}: missing or not text")


def _audit(r: Record, p: dict[str, Any], where: str) -> None:
    if not isinstance(p.get("event"), str):
        raise BatchError(f"{where}.event: missing or not text")


_CHECKS: dict[str, Callable[[Record, dict[str, Any], str], None]] = {
    "invoice": _invoice, "cdr": _cdr, "session": _session, "settlement": _settlement,
    "audit": _audit,
}


def check_record(r: Record, where: str) -> None:
    check = _CHECKS.get(r.kind)
    if check is None:  # the batch format knows the kinds; a new one needs its check here
        raise BatchError(f"{where}.kind: no schema for kind {r.kind!r}")
    check(r, r.payload, f"{where}.payload")


def check_batch(batch: Batch) -> None:
    for i, r in enumerate(batch.records):
        check_record(r, f"records[{i}]")
