"""JSON read strictly, for the signed documents the kiosk and the back office exchange (update
bundles, update polls and their answers): no duplicate key, no fraction, no NaN or Infinity,
no integer of more than 25 digits. Each is a ``ValueError`` saying which; the caller adds where.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def _no_float(text: str) -> Any:
    raise ValueError(f"a fraction ({text[:20]}) where no field has one")


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not allowed")


def _bounded_int(text: str) -> int:
    if len(text) > 25:
        raise ValueError("an integer of more than 25 digits")
    return int(text)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the field {key[:40]!r} is given twice")
        out[key] = value
    return out


def loads(text: str) -> Any:
    """``json.loads`` with the rules above (``json.JSONDecodeError`` and ``RecursionError`` pass
    through, as ``json.loads`` raises them)."""
    return json.loads(text, object_pairs_hook=_unique, parse_float=_no_float,
                      parse_int=_bounded_int, parse_constant=_no_constant)
