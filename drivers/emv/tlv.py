"""BER-TLV as EMV uses it (EMV Book 3 Annex B), strict: every malformed input is a TlvError.

Tags are 1 to 3 bytes (a first byte with the low five bits set continues; a following byte
with b8 set continues), lengths are short (< 0x80) or long form with one to three length bytes
(0x81..0x83), values must fit in the data. Constructed tags (b6 of the first byte) hold nested
TLV. Padding bytes 0x00 and 0xFF between objects are skipped (Book 3, B1).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_DEPTH = 8


class TlvError(ValueError):
    """Data that is not valid BER-TLV. The message says where (byte offset)."""


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    children: tuple[Tlv, ...] = ()

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def find(self, tag: int) -> Tlv | None:
        """The first object with ``tag`` here or below (depth first)."""
        if self.tag == tag:
            return self
        for c in self.children:
            found = c.find(tag)
            if found is not None:
                return found
        return None


def is_constructed(tag: int) -> bool:
    first = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")[0]
    return bool(first & 0x20)


def _read_tag(data: bytes, i: int) -> tuple[int, int]:
    start = i
    if i >= len(data):
        raise TlvError(f"offset {i}: tag expected")
    tag = data[i]
    i += 1
    if tag & 0x1F == 0x1F:
        while True:
            if i >= len(data):
                raise TlvError(f"offset {start}: tag truncated")
            b = data[i]
            tag = (tag << 8) | b
            i += 1
            if not b & 0x80:
                break
            if i - start >= 3:
                raise TlvError(f"offset {start}: tag longer than 3 bytes")
    return tag, i


def _read_length(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise TlvError(f"offset {i}: length expected")
    first = data[i]
    i += 1
    if first < 0x80:
        return first, i
    n = first & 0x7F
    if n == 0 or n > 3:
        raise TlvError(f"offset {i - 1}: unsupported length form {first:02X}")
    if i + n > len(data):
        raise TlvError(f"offset {i - 1}: length truncated")
    return int.from_bytes(data[i:i + n], "big"), i + n


def parse(data: bytes, depth: int = 0) -> list[Tlv]:
    """All objects in ``data`` (nested ones parsed too)."""
    if depth > MAX_DEPTH:
        raise TlvError("nested too deeply")
    out: list[Tlv] = []
    i = 0
    while i < len(data):
        if data[i] in (0x00, 0xFF):
            i += 1
            continue
        tag, i = _read_tag(data, i)
        length, i = _read_length(data, i)
        if i + length > len(data):
            raise TlvError(f"tag {tag:X}: value of {length} bytes runs past the data")
        value = bytes(data[i:i + length])
        i += length
        children = tuple(parse(value, depth + 1)) if is_constructed(tag) else ()
        out.append(Tlv(tag, value, children))
    return out


def parse_one(data: bytes) -> Tlv:
    objs = parse(data)
    if len(objs) != 1:
        raise TlvError(f"expected one object, found {len(objs)}")
    return objs[0]


def flatten(objs: list[Tlv] | tuple[Tlv, ...]) -> dict[int, bytes]:
    """Primitive tags → values, first occurrence wins (the terminal's data dictionary)."""
    out: dict[int, bytes] = {}
    for o in objs:
        if o.children:
            for k, v in flatten(o.children).items():
                out.setdefault(k, v)
        elif not o.constructed:
            out.setdefault(o.tag, o.value)
    return out


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return bytes([0x82]) + n.to_bytes(2, "big")
    if n <= 0xFFFFFF:
        return bytes([0x83]) + n.to_bytes(3, "big")
    raise TlvError("value too long")


def encode(tag: int, value: bytes) -> bytes:
    if tag <= 0 or tag > 0xFFFFFF:
        raise TlvError(f"bad tag {tag:X}")
    return tag.to_bytes((tag.bit_length() + 7) // 8, "big") + encode_length(len(value)) + value


def encode_many(items: list[tuple[int, bytes]]) -> bytes:
    return b"".join(encode(t, v) for t, v in items)
