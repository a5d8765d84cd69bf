"""Data object lists (EMV Book 3, 5.4): parse a DOL and build its data from the terminal's
values, by each data element's format."""

from __future__ import annotations

from drivers.emv.tlv import TlvError, _read_length, _read_tag

NUMERIC = {0x9F02, 0x9F03, 0x9F1A, 0x5F2A, 0x9A, 0x9C, 0x9F21, 0x9F41, 0x5F36, 0x9F15,
           0x9F35, 0x9F09}
COMPRESSED_NUMERIC = {0x5A}


def parse_dol(dol: bytes) -> list[tuple[int, int]]:
    """``9F0206 9F1A02`` → ``[(0x9F02, 6), (0x9F1A, 2)]``."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(dol):
        tag, i = _read_tag(dol, i)
        if i >= len(dol):
            raise TlvError("DOL entry without a length")
        length, i = _read_length(dol, i)
        if length > 252:
            raise TlvError(f"DOL entry {tag:X} asks for {length} bytes")
        out.append((tag, length))
    return out


def parse_tag_list(raw: bytes) -> list[int]:
    """A tag list (Book 3, 5.4: tags without lengths), e.g. the SDA tag list 9F4A."""
    tags, i = [], 0
    while i < len(raw):
        tag, i = _read_tag(raw, i)
        tags.append(tag)
    return tags


def fit(tag: int, value: bytes, length: int) -> bytes:
    """Truncate or pad ``value`` to ``length`` as its format requires."""
    if tag in NUMERIC:
        return value[-length:] if len(value) >= length else bytes(length - len(value)) + value
    if len(value) >= length:
        return value[:length]
    pad = b"\xff" if tag in COMPRESSED_NUMERIC else b"\x00"
    return value + pad * (length - len(value))


def build(dol: bytes, values: dict[int, bytes]) -> bytes:
    """The data for a DOL: each entry's value fitted to its length; unknown tags as zeros."""
    return b"".join(fit(tag, values.get(tag, b""), length) if tag in values
                    else bytes(length) for tag, length in parse_dol(dol))
