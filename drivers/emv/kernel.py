"""The terminal kernel, first part: the contactless path up to the online request.

SELECT PPSE → candidate applications by priority → SELECT AID (FCI, PDOL) → GET PROCESSING
OPTIONS with the PDOL data (TTQ, amount, country, TVR, currency, date, type, unpredictable
number) → READ RECORD for each AFL entry → the outcome: PAN, expiry, PSN and the field 55 data
the host needs (ARQC and what it was computed over). Every card answer is parsed strictly; a
card that answers nonsense is :class:`CardUnreadable`.

Still to come with the card reader issue: PSE and AID-list selection for contact cards, ODA
(SDA/DDA/CDA/fDDA), CVM list processing and PIN, risk management, terminal action analysis and
the second GENERATE AC with issuer authentication.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from drivers.emv import dol, tlv
from drivers.emv.api import CardOutcome, CardUnreadable, Cvm, Interface

Transmit = Callable[[bytes], bytes]
PPSE = b"2PAY.SYS.DDF01"
SCHEMES = {bytes.fromhex("A000000003"): "visa", bytes.fromhex("A000000004"): "mastercard",
           bytes.fromhex("A000000025"): "amex", bytes.fromhex("A000000059"): "girocard"}
TTQ = bytes.fromhex("36004000")  # qVSDC, online capable, online PIN and no CVM supported
ICC_TAGS = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36, 0x9F26,
            0x9F27, 0x9F10, 0x5F34)
UNREADABLE = "This card cannot be read. Please try another card."


def _ok(r: bytes, what: str) -> bytes:
    if len(r) < 2:
        raise CardUnreadable(UNREADABLE)
    if r[-2:] != b"\x90\x00":
        raise CardUnreadable(f"{UNREADABLE} ({what}: {r[-2:].hex().upper()})")
    return r[:-2]


def _select(transmit: Transmit, name: bytes) -> bytes:
    return transmit(bytes([0x00, 0xA4, 0x04, 0x00, len(name)]) + name + b"\x00")


@dataclass(frozen=True, repr=False)
class CardRead:
    """Everything a contactless read found (memory only: holds the PAN)."""

    applications: list[tuple[bytes, int, str]]  # (AID, priority, label)
    aid: bytes
    data: dict[int, bytes]  # the card's data objects
    terminal: dict[int, bytes]  # what the terminal sent (PDOL data)


def read_contactless(transmit: Transmit, *, amount_minor: int, currency_numeric: str,
                     country_numeric: str, today: date,
                     unpredictable: bytes | None = None) -> CardOutcome:
    r = explore(transmit, amount_minor=amount_minor, currency_numeric=currency_numeric,
                country_numeric=country_numeric, today=today, unpredictable=unpredictable)
    data, aid, values = r.data, r.aid, r.terminal
    pan = data.get(0x5A, b"").hex().upper().rstrip("F")
    expiry = data.get(0x5F24, b"").hex()[:4]
    if not (pan.isdigit() and len(expiry) == 4 and 0x9F26 in data):
        raise CardUnreadable(f"{UNREADABLE} (no card number or cryptogram)")
    known = {**values, **data}
    icc = tlv.encode_many([(t, known[t]) for t in ICC_TAGS if t in known])
    scheme = next((s for rid, s in SCHEMES.items() if aid.startswith(rid)), "unknown")
    return CardOutcome(pan=pan, expiry=expiry, scheme=scheme, interface=Interface.CONTACTLESS,
                       cvm=Cvm.NO_CVM, icc_data=icc,
                       pan_sequence=data.get(0x5F34, b"\x00").hex())


def explore(transmit: Transmit, *, amount_minor: int, currency_numeric: str,
            country_numeric: str, today: date, unpredictable: bytes | None = None) -> CardRead:
    """Selection, GPO and records: what the card offers (``kiosk card-info`` shows it)."""
    un = unpredictable or secrets.token_bytes(4)
    try:
        fci = tlv.parse_one(_ok(_select(transmit, PPSE), "PPSE"))
        apps = _entries(fci)
        if not apps:
            raise CardUnreadable(f"{UNREADABLE} (no application)")
        apps.sort(key=lambda a: a[1])
        aid = apps[0][0]
        fci = tlv.parse_one(_ok(_select(transmit, aid), "SELECT AID"))
        pdol_obj = fci.find(0x9F38)
        values = {
            0x9F66: TTQ, 0x9F02: bytes.fromhex(f"{amount_minor:012d}"), 0x9F03: bytes(6),
            0x9F1A: bytes.fromhex(country_numeric.zfill(4)), 0x95: bytes(5),
            0x5F2A: bytes.fromhex(currency_numeric.zfill(4)),
            0x9A: bytes.fromhex(today.strftime("%y%m%d")), 0x9C: b"\x00", 0x9F37: un,
        }
        pdol_data = dol.build(pdol_obj.value, values) if pdol_obj else b""
        gpo = _ok(transmit(bytes([0x80, 0xA8, 0x00, 0x00, len(pdol_data) + 2, 0x83,
                                  len(pdol_data)]) + pdol_data + b"\x00"), "GPO")
        data = tlv.flatten(tlv.parse(gpo))
        for sfi, first, last in _afl(data.get(0x94, b"")):
            for rec in range(first, last + 1):
                r = _ok(transmit(bytes([0x00, 0xB2, rec, (sfi << 3) | 4, 0x00])), "READ RECORD")
                for k, v in tlv.flatten(tlv.parse(r)).items():
                    data.setdefault(k, v)
    except tlv.TlvError as exc:
        raise CardUnreadable(f"{UNREADABLE} ({exc})") from None
    return CardRead(apps, aid, data, values)


def _entries(fci: tlv.Tlv) -> list[tuple[bytes, int, str]]:
    out = []
    directory = fci.find(0xBF0C)
    for entry in directory.children if directory else ():
        if entry.tag != 0x61:
            continue
        aid = entry.find(0x4F)
        prio = entry.find(0x87)
        label = entry.find(0x50)
        if aid is not None and 5 <= len(aid.value) <= 16:
            out.append((aid.value, (prio.value[0] & 0x0F) if prio and prio.value else 15,
                        label.value.decode("ascii", "replace") if label else ""))
    return out


def _afl(afl: bytes) -> list[tuple[int, int, int]]:
    if len(afl) % 4:
        raise CardUnreadable(f"{UNREADABLE} (bad AFL)")
    out = []
    for i in range(0, len(afl), 4):
        sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
        if not (1 <= sfi <= 30 and 1 <= first <= last):
            raise CardUnreadable(f"{UNREADABLE} (bad AFL)")
        out.append((sfi, first, last))
    return out


# --- the contact path (PSE), first part ----------------------------------------------------------
PSE = b"1PAY.SYS.DDF01"


@dataclass(frozen=True, repr=False)
class ContactRead:
    aid: bytes
    data: dict[int, bytes]
    static_data: bytes  # the data offline data authentication signs


def explore_contact(transmit: Transmit) -> ContactRead:
    """PSE directory → the highest-priority application → GPO → AFL records, keeping the
    records marked for offline data authentication."""
    try:
        fci = tlv.parse_one(_ok(_select(transmit, PSE), "PSE"))
        sfi_obj = fci.find(0x88)
        if sfi_obj is None or not sfi_obj.value:
            raise CardUnreadable(f"{UNREADABLE} (PSE without a directory)")
        sfi = sfi_obj.value[0]
        apps: list[tuple[bytes, int, str]] = []
        for rec in range(1, 17):
            r = transmit(bytes([0x00, 0xB2, rec, (sfi << 3) | 4, 0x00]))
            if r[-2:] == b"\x6a\x83":
                break
            record = tlv.parse_one(_ok(r, "PSE record"))
            apps += _entries(tlv.Tlv(0x6F, b"", (tlv.Tlv(0xBF0C, b"", record.children),)))
        if not apps:
            raise CardUnreadable(f"{UNREADABLE} (no application)")
        aid = sorted(apps, key=lambda a: a[1])[0][0]
        fci = tlv.parse_one(_ok(_select(transmit, aid), "SELECT AID"))
        pdol = fci.find(0x9F38)
        pdol_data = dol.build(pdol.value, {}) if pdol else b""
        gpo = tlv.parse_one(_ok(transmit(bytes([0x80, 0xA8, 0x00, 0x00, len(pdol_data) + 2,
                                                0x83, len(pdol_data)]) + pdol_data + b"\x00"),
                                "GPO"))
        if gpo.tag == 0x80:  # format 1: AIP || AFL
            data: dict[int, bytes] = {0x82: gpo.value[:2], 0x94: gpo.value[2:]}
        else:
            data = tlv.flatten([gpo])
        static = b""
        for sfi_, first, last, oda in _afl_oda(data.get(0x94, b"")):
            for rec in range(first, last + 1):
                body = _ok(transmit(bytes([0x00, 0xB2, rec, (sfi_ << 3) | 4, 0x00])),
                           "READ RECORD")
                record = tlv.parse_one(body)
                if rec < first + oda:
                    static += record.value if sfi_ <= 10 else body
                for k, v in tlv.flatten([record]).items():
                    data.setdefault(k, v)
        if 0x82 in _tag_list(data.get(0x9F4A, b"")):  # the SDA tag list names the AIP
            static += data[0x82]
    except tlv.TlvError as exc:
        raise CardUnreadable(f"{UNREADABLE} ({exc})") from None
    return ContactRead(aid, data, static)


def _tag_list(raw: bytes) -> list[int]:
    tags, i = [], 0
    while i < len(raw):
        tag, i = tlv._read_tag(raw, i)
        tags.append(tag)
    return tags


def _afl_oda(afl: bytes) -> list[tuple[int, int, int, int]]:
    entries = _afl(afl)
    return [(sfi, first, last, afl[i * 4 + 3]) for i, (sfi, first, last) in enumerate(entries)]
