"""Terminal verification results (95) and transaction status information (9B), EMV Book 3
Annex C5/C6: named bits, so the kernel says ``tvr.set("expired application")``."""

from __future__ import annotations

TVR_BITS: dict[str, tuple[int, int]] = {
    "offline data authentication not performed": (0, 0x80),
    "SDA failed": (0, 0x40),
    "ICC data missing": (0, 0x20),
    "card on exception file": (0, 0x10),
    "DDA failed": (0, 0x08),
    "CDA failed": (0, 0x04),
    "ICC and terminal have different application versions": (1, 0x80),
    "expired application": (1, 0x40),
    "application not yet effective": (1, 0x20),
    "requested service not allowed": (1, 0x10),
    "new card": (1, 0x08),
    "cardholder verification was not successful": (2, 0x80),
    "unrecognised CVM": (2, 0x40),
    "PIN try limit exceeded": (2, 0x20),
    "PIN entry required and PIN pad not present or not working": (2, 0x10),
    "PIN entry required, PIN pad present, but PIN was not entered": (2, 0x08),
    "online PIN entered": (2, 0x04),
    "transaction exceeds floor limit": (3, 0x80),
    "lower consecutive offline limit exceeded": (3, 0x40),
    "upper consecutive offline limit exceeded": (3, 0x20),
    "transaction selected randomly for online processing": (3, 0x10),
    "merchant forced transaction online": (3, 0x08),
    "default TDOL used": (4, 0x80),
    "issuer authentication failed": (4, 0x40),
    "script processing failed before final GENERATE AC": (4, 0x20),
    "script processing failed after final GENERATE AC": (4, 0x10),
}
TSI_BITS: dict[str, tuple[int, int]] = {
    "offline data authentication was performed": (0, 0x80),
    "cardholder verification was performed": (0, 0x40),
    "card risk management was performed": (0, 0x20),
    "issuer authentication was performed": (0, 0x10),
    "terminal risk management was performed": (0, 0x08),
    "script processing was performed": (0, 0x04),
}


class Bits:
    """A bit string with named bits; ``bytes(bits)`` is the value for the card and the host."""

    def __init__(self, names: dict[str, tuple[int, int]], size: int) -> None:
        self._names = names
        self._value = bytearray(size)

    def set(self, name: str) -> None:
        byte, mask = self._names[name]
        self._value[byte] |= mask

    def __contains__(self, name: str) -> bool:
        byte, mask = self._names[name]
        return bool(self._value[byte] & mask)

    def __bytes__(self) -> bytes:
        return bytes(self._value)

    def names(self) -> list[str]:
        return [n for n in self._names if n in self]


def new_tvr() -> Bits:
    return Bits(TVR_BITS, 5)


def new_tsi() -> Bits:
    return Bits(TSI_BITS, 2)
