"""Dataclass ⇄ JSON for events, effects and session snapshots stored in the journal.

Only plain values travel: str, int, bool, None, datetime (ISO 8601, timezone-aware), enums by
value, tuples and nested registered dataclasses. Anything else is a programming error.

Records written by an older version decode: a field they lack takes its default, and a type
whose stored shape changed registers an :func:`upgrade` that rewrites the old shape first.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, cast, get_type_hints

T = TypeVar("T")
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]

_REGISTRY: dict[str, type[Any]] = {}
_UPGRADES: dict[str, Upgrade] = {}


class CodecError(ValueError):
    """A stored record does not decode: names the type and the field."""


def register(cls: type[T]) -> type[T]:
    """Class decorator: make a dataclass storable under its class name."""
    if cls.__name__ in _REGISTRY and _REGISTRY[cls.__name__] is not cls:
        raise TypeError(f"duplicate codec name {cls.__name__}")
    _REGISTRY[cls.__name__] = cls
    return cls


def upgrade(cls: type[Any]) -> Callable[[Upgrade], Upgrade]:
    """Decorator: ``fn(stored) -> stored`` turns a stored ``cls`` of an older shape into the
    current one (a value whose type changed, a default that depends on other fields). It gets
    a copy of every stored record of ``cls`` before decoding, old or new, and must return the
    current shape unchanged."""

    def deco(fn: Upgrade) -> Upgrade:
        if cls.__name__ in _UPGRADES:
            raise TypeError(f"duplicate codec upgrade for {cls.__name__}")
        _UPGRADES[cls.__name__] = fn
        return fn

    return deco


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in a journal record")
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    raise TypeError(f"cannot store {type(value).__name__} in the journal")


def to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(obj).__name__}
    for f in dataclasses.fields(obj):
        out[f.name] = _encode_value(getattr(obj, f.name))
    return out


def _decode_value(tp: Any, raw: Any, where: str) -> Any:
    origin = getattr(tp, "__origin__", None)
    args = getattr(tp, "__args__", ())
    if raw is None:
        return None
    if tp is datetime or (args and datetime in args and isinstance(raw, str)):
        try:
            return datetime.fromisoformat(raw)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"{where}: not a timestamp") from exc
    enums = [a for a in args if isinstance(a, type) and issubclass(a, Enum)]
    if enums and origin is not tuple:  # Optional[SomeEnum]
        tp = enums[0]
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(raw)
        except ValueError as exc:
            raise CodecError(f"{where}: {raw!r} is not a {tp.__name__}") from exc
    if origin is tuple:
        if not isinstance(raw, list):
            raise CodecError(f"{where}: expected a list")
        inner = args[0] if args else Any
        return tuple(_decode_value(inner, v, where) for v in raw)
    if isinstance(raw, dict):
        return from_dict(raw)
    return raw


def from_dict(data: dict[str, Any]) -> Any:
    name = data.get("type")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown record type {name!r}")
    fix = _UPGRADES.get(cls.__name__)
    if fix is not None:
        data = fix(dict(data))
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _decode_value(hints[f.name], data[f.name], f"{name}.{f.name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CodecError(f"{name}: {exc}") from exc


def dumps(obj: Any) -> str:
    if isinstance(obj, list | tuple):
        return json.dumps([to_dict(o) for o in obj], separators=(",", ":"))
    return json.dumps(to_dict(obj), separators=(",", ":"))


def loads(text: str) -> Any:
    data = json.loads(text)
    if isinstance(data, list):
        return [from_dict(cast(dict[str, Any], d)) for d in data]
    return from_dict(cast(dict[str, Any], data))
