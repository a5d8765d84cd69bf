"""An APDU trace that never shows card data: PAN (5A), track 2 and track 1 equivalents (57,
56, 9F6B), track 1 discretionary data (9F1F), cardholder name (5F20) and PIN blocks (the data
of VERIFY, INS 20) are replaced by their length. Hex that is not TLV is masked whole when it
belongs to a response that should have been TLV."""

from __future__ import annotations

from drivers.emv import tlv

SECRET_TAGS = frozenset({0x5A, 0x57, 0x56, 0x9F6B, 0x9F1F, 0x5F20})


def _mask(objs: list[tlv.Tlv]) -> list[str]:
    out = []
    for o in objs:
        tag = f"{o.tag:X}"
        if o.tag in SECRET_TAGS:
            out.append(f"{tag}[{len(o.value)} bytes redacted]")
        elif o.children:
            out.append(f"{tag}{{{' '.join(_mask(list(o.children)))}}}")
        else:
            out.append(f"{tag}={o.value.hex().upper()}")
    return out


def command(apdu: bytes) -> str:
    """A C-APDU for the log."""
    if len(apdu) >= 2 and apdu[1] == 0x20:  # VERIFY: the data is a PIN block
        return f"{apdu[:4].hex().upper()} [PIN block redacted]"
    return apdu.hex().upper()[:2 * 64]


def response(rapdu: bytes) -> str:
    """An R-APDU for the log: TLV shown with secrets redacted; anything else only its size."""
    body, sw = rapdu[:-2], rapdu[-2:].hex().upper()
    if not body:
        return sw
    try:
        return f"{' '.join(_mask(tlv.parse(body)))} {sw}"
    except tlv.TlvError:
        return f"[{len(body)} bytes, not TLV, redacted] {sw}"
