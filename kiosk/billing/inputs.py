"""Reading the files the billing code is given (tariffs, CDRs): bounded, and never trusting them.

Tariffs and CDRs come from other parties (a CPO, a roaming hub, an operator's editor) and reach
``kiosk price``, ``kiosk check-config`` and the runtime. Whatever they hold, reading them ends in
a value or in one typed error with a one-line message; never a hang, an exhausted memory, a
traceback or a message that runs over several lines. The limits:

* Only a regular file is opened (``stat`` first, then ``fstat`` on what was opened, so a FIFO
  never blocks and ``/dev/zero`` is never read), and at most :data:`MAX_FILE_BYTES` of it.
* JSON must be UTF-8 text, nested at most :data:`MAX_DEPTH` levels (a real CDR needs 6), with
  integers of at most :data:`MAX_INT_DIGITS` digits (far below Python's int-string limit) and
  no ``NaN`` / ``Infinity``. Fractions are read as exact ``Decimal`` values, never floats.
* The numbers and timestamps themselves are bounded where they are used
  (:mod:`kiosk.billing.tariff`, :mod:`kiosk.billing.cdr`): see the constants below.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kiosk.files import FileRefused, read_regular_file

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a tariff or a CDR with signed data is a few kB
MAX_DEPTH = 32
MAX_INT_DIGITS = 40
MAX_PRICE = Decimal(10**6)  # per kWh, per hour, per session, and the min/max price
MAX_VOLUME = Decimal(10**7)  # kWh, hours, A, kW: per value and per session total
MAX_DECIMAL_PLACES = 18  # 0.30000000000000004 (a float printed by a CPO) still reads
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # a charging session's timestamps
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

class InputError(ValueError):
    """A file or a text that cannot be read as the billing code's input."""


def shown(value: object, limit: int = 200) -> str:
    """A path or a name as it can be printed on one line: control characters escaped, long
    ones cut."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text if text.isprintable() else repr(text)[1:-1]


def read_file(path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or :class:`InputError` ("no
    such file", "cannot read: a named pipe (FIFO), not a regular file", "too large: 2097152
    bytes, at most 1 MiB": :func:`kiosk.files.read_regular_file`, as for the config's files)."""
    try:
        return read_regular_file(path, limit)
    except FileRefused as exc:
        raise InputError(str(exc)) from None


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number")


def parse_json(text: str | bytes) -> Any:
    """JSON text → Python values (fractions as ``Decimal``), within the limits above.
    The message of the :class:`InputError` starts with ``$``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("$: not UTF-8 text") from None
    if len(text) > MAX_FILE_BYTES:
        raise InputError(f"$: longer than {_size(MAX_FILE_BYTES)}")
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_integer,
                          parse_constant=_constant)
    except _Refused as exc:
        raise InputError(f"$: {exc.message}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"$: not valid JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}") from None
    except RecursionError:
        raise InputError(f"$: nested too deeply (more than {MAX_DEPTH} levels)") from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"$: nested too deeply (more than {MAX_DEPTH} levels)")
    return data


def _depth(data: Any) -> int:
    """How deep lists and objects nest (iterative: the value may be deep)."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        value, level = todo.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            todo.extend((v, level + 1) for v in value)
    return deepest


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def json_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("elements", 1, "price")`` → ``$.elements[1].price``; a key that is not a plain name
    (a typo with a line break, a 20 MB key) is quoted, escaped and cut: always one short line."""
    out = "$"
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _NAME.fullmatch(p):
            out += f".{p}"
        else:
            out += f"[{json.dumps(p[:40])}{'…' if len(p) > 40 else ''}]"
    return out


def decimal_places(value: Decimal) -> int:
    """Digits after the point, trailing zeros not counted (``1.500`` → 1, ``1E+3`` → 0)."""
    t = value.as_tuple()
    if not isinstance(t.exponent, int):
        return 0
    digits, exp = list(t.digits), t.exponent
    while exp < 0 and len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    if digits == [0]:
        return 0
    return -exp if exp < 0 else 0
