"""One transmission layer over any raw exchange (PC/SC, in process), EMV Book 1 Annex A: ``61xx``
→ GET RESPONSE, chained with a guard against endless chaining; ``6Cxx`` → the command again with
Le = xx; a warning (``62xx``, ``63xx``, ``9xxx``) without data on a case 4 command → GET
RESPONSE for the data, and the warning is what the kernel sees as the status."""

from __future__ import annotations

from collections.abc import Callable

from drivers.emv.api import CardUnreadable

MAX_CHAIN = 16
Raw = Callable[[bytes], bytes]  # C-APDU → data || SW1 SW2


def with_le(apdu: bytes, le: int) -> bytes:
    """The same command with another Le (case 2: header + Le; case 4: header + Lc data Le)."""
    if len(apdu) == 5:
        return apdu[:4] + bytes([le])
    if len(apdu) > 5 and len(apdu) == 5 + apdu[4]:  # case 3: no Le yet
        return apdu + bytes([le])
    return apdu[:-1] + bytes([le])


def transmit(raw: Raw, apdu: bytes) -> bytes:
    if len(apdu) < 4:
        raise ValueError("a C-APDU has at least 4 bytes")
    r = raw(apdu)
    if len(r) < 2:
        raise CardUnreadable("This card cannot be read. Please try another card. (no SW)")
    if r[-2] == 0x6C:  # wrong Le: send again with the length the card wants
        r = raw(with_le(apdu, r[-1]))
    if len(r) == 2 and _case4(apdu) and _warning(r):
        fetched = transmit(raw, bytes([apdu[0] & 0x03, 0xC0, 0x00, 0x00, 0x00]))
        return (fetched[:-2] if fetched[-2:] == b"\x90\x00" else b"") + r
    data = r[:-2]
    chained = 0
    while len(r) >= 2 and r[-2] == 0x61:
        chained += 1
        if chained > MAX_CHAIN:
            raise CardUnreadable("This card cannot be read. Please try another card.")
        r = raw(bytes([apdu[0] & 0x03, 0xC0, 0x00, 0x00, r[-1]]))
        data += r[:-2]
    if len(r) < 2:
        raise CardUnreadable("This card cannot be read. Please try another card. (no SW)")
    return data + r[-2:]


def _case4(apdu: bytes) -> bool:
    return len(apdu) > 5 and len(apdu) == 6 + apdu[4]


def _warning(sw: bytes) -> bool:
    return sw[0] in (0x62, 0x63) or (sw[0] & 0xF0 == 0x90 and sw != b"\x90\x00")
