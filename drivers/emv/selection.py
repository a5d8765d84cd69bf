"""Application selection (EMV Book 1, 12; contactless Entry Point, Book B 3.3).

Contact: the PSE directory (``1PAY.SYS.DDF01``) when the card has one, else the terminal's AID
list tried one by one (exact match, or partial match where the AID allows it, then "select
next" for further occurrences). Contactless: the PPSE (``2PAY.SYS.DDF01``) directory with the
kernel identifier of each entry. The candidates are ordered by the card's priority (1 first, no
priority last). An application whose priority indicator asks for cardholder confirmation is
offered to ``confirm`` (the kiosk can ask the driver); without one it is excluded, as Book 1
requires of a terminal that cannot confirm.

A card that answers SELECT PSE (or its first application's SELECT) with 6A81 is blocked, and so
is one whose every application this terminal takes is blocked (6283): :class:`CardBlocked`. A
contactless card without a PPSE has no contactless payment application: :class:`CardNotSupported`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.emv import tlv
from drivers.emv.api import CardBlocked, CardNotSupported, CardUnreadable

Transmit = Callable[[bytes], bytes]
PSE = b"1PAY.SYS.DDF01"
PPSE = b"2PAY.SYS.DDF01"
UNREADABLE = "This card cannot be read. Please try another card."
BLOCKED = "This card is blocked. Please try another card."
SW_BLOCKED = b"\x6a\x81"  # SELECT: card blocked or command not supported (Book 1, 12.3.2)
SW_APP_BLOCKED = b"\x62\x83"  # SELECT: selected file invalidated - the application is blocked


@dataclass(frozen=True)
class TerminalAid:
    aid: bytes
    scheme: str
    partial: bool = True  # application selection indicator: partial name match allowed
    kernel: int = 0  # contactless kernel: 2 Mastercard-style, 3 Visa qVSDC


# The applications this terminal accepts. Debit and credit of the schemes the acquirer takes.
TERMINAL_AIDS = (
    TerminalAid(bytes.fromhex("A0000000031010"), "visa", kernel=3),
    TerminalAid(bytes.fromhex("A0000000032010"), "visa", kernel=3),  # Visa Electron
    TerminalAid(bytes.fromhex("A0000000041010"), "mastercard", kernel=2),
    TerminalAid(bytes.fromhex("A0000000043060"), "mastercard", kernel=2),  # Maestro
    TerminalAid(bytes.fromhex("A00000002501"), "amex", kernel=4),
    TerminalAid(bytes.fromhex("A0000000591010"), "girocard"),
)


@dataclass(frozen=True)
class Candidate:
    aid: bytes  # the card's ADF name (DF name)
    label: str
    priority: int  # 1 highest; 15 when the card gives none
    confirm: bool  # the card asks for cardholder confirmation
    scheme: str
    kernel: int = 0


def sw(r: bytes) -> bytes:
    if len(r) < 2:
        raise CardUnreadable(f"{UNREADABLE} (no status word)")
    return r[-2:]


def ok(r: bytes, what: str) -> bytes:
    if sw(r) != b"\x90\x00":
        raise CardUnreadable(f"{UNREADABLE} ({what}: {r[-2:].hex().upper()})")
    return r[:-2]


def select(transmit: Transmit, name: bytes, next_occurrence: bool = False) -> bytes:
    return transmit(bytes([0x00, 0xA4, 0x04, 0x02 if next_occurrence else 0x00, len(name)])
                    + name + b"\x00")


def _terminal_aid(adf: bytes, aids: tuple[TerminalAid, ...]) -> TerminalAid | None:
    for t in aids:
        if adf == t.aid or (t.partial and adf.startswith(t.aid)):
            return t
    return None


def _candidate(entry: tlv.Tlv, aids: tuple[TerminalAid, ...]) -> Candidate | None:
    adf = entry.find(0x4F)
    if adf is None or not 5 <= len(adf.value) <= 16:
        return None
    t = _terminal_aid(adf.value, aids)
    if t is None:
        return None
    prio = entry.find(0x87)
    p = prio.value[0] if prio is not None and prio.value else 0
    label = entry.find(0x50)
    kernel = entry.find(0x9F2A)
    return Candidate(adf.value, label.value.decode("ascii", "replace") if label else "",
                     (p & 0x0F) or 15, bool(p & 0x80), t.scheme,
                     kernel.value[0] if kernel is not None and kernel.value else t.kernel)


def _ordered(found: list[Candidate],
             confirm: Callable[[Candidate], bool] | None) -> list[Candidate]:
    usable = [c for c in found if not c.confirm or (confirm is not None and confirm(c))]
    return sorted(usable, key=lambda c: c.priority)


def contact_candidates(transmit: Transmit, aids: tuple[TerminalAid, ...] = TERMINAL_AIDS,
                       confirm: Callable[[Candidate], bool] | None = None) -> list[Candidate]:
    """The candidate list of a contact card, best first."""
    r = select(transmit, PSE)
    if sw(r) == SW_BLOCKED:
        raise CardBlocked(BLOCKED)
    found: list[Candidate] | None = None
    if sw(r) == b"\x90\x00":
        found = _pse_directory(transmit, r[:-2], aids)
    if not found:  # no PSE, an empty or unusable directory: the terminal's list
        found, blocked = _aid_list(transmit, aids)
        if not found and blocked:  # what it has of ours is blocked (Book 1, 12.3.3)
            raise CardBlocked(BLOCKED)
    return _ordered(found, confirm)


def _pse_directory(transmit: Transmit, fci_raw: bytes,
                   aids: tuple[TerminalAid, ...]) -> list[Candidate] | None:
    try:
        fci = tlv.parse_one(fci_raw)
    except tlv.TlvError:
        return None
    sfi_obj = fci.find(0x88)
    if sfi_obj is None or len(sfi_obj.value) != 1 or not 1 <= sfi_obj.value[0] <= 10:
        return None
    sfi = sfi_obj.value[0]
    found: list[Candidate] = []
    for rec in range(1, 17):
        r = transmit(bytes([0x00, 0xB2, rec, (sfi << 3) | 4, 0x00]))
        if sw(r) == b"\x6a\x83":
            break
        record = tlv.parse_one(ok(r, "PSE record"))
        if record.tag != 0x70:
            raise CardUnreadable(f"{UNREADABLE} (PSE record is not a 70 template)")
        found += [c for e in record.children if e.tag == 0x61
                  if (c := _candidate(e, aids)) is not None]
    return found


def _aid_list(transmit: Transmit, aids: tuple[TerminalAid, ...]
              ) -> tuple[list[Candidate], bool]:
    """The candidates found by the terminal's AID list, and whether a blocked application
    (6283) of the terminal's was among the card's."""
    found: list[Candidate] = []
    blocked = False
    for t in aids:
        r, first = select(transmit, t.aid), True
        for _ in range(8):  # a card holds a few applications under one partial name at most
            if sw(r) == SW_BLOCKED and first:
                raise CardBlocked(BLOCKED)
            if sw(r) == SW_APP_BLOCKED:
                blocked = True
            if sw(r) not in (b"\x90\x00", SW_APP_BLOCKED):
                break
            try:
                fci = tlv.parse_one(r[:-2])
            except tlv.TlvError:
                break
            df = fci.find(0x84)
            prop = fci.find(0xA5)
            if df is not None and sw(r) == b"\x90\x00" and (
                    df.value == t.aid or (t.partial and df.value.startswith(t.aid))):
                entry = tlv.Tlv(0x61, b"", (tlv.Tlv(0x4F, df.value),
                                            *(prop.children if prop else ())))
                c = _candidate(entry, (t,))
                if c is not None:
                    found.append(c)
            if not t.partial or df is None:  # partial names: other occurrences may follow
                break
            r, first = select(transmit, t.aid, next_occurrence=True), False
    return found, blocked


def contactless_candidates(transmit: Transmit, aids: tuple[TerminalAid, ...] = TERMINAL_AIDS
                           ) -> list[Candidate]:
    """The PPSE directory, filtered by the AIDs and kernels this terminal supports."""
    r = select(transmit, PPSE)
    if sw(r) != b"\x90\x00":
        raise CardNotSupported(f"{UNREADABLE} (no contactless payment application)")
    fci = tlv.parse_one(r[:-2])
    directory = fci.find(0xBF0C)
    found = [c for e in (directory.children if directory else ()) if e.tag == 0x61
             if (c := _candidate(e, aids)) is not None and c.kernel in (2, 3)]
    return sorted(found, key=lambda c: c.priority)
