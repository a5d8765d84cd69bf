"""Virtual EMV cards: the card side of the APDU dialogue (EMV 4.4 Books 1-3, contactless kernels
2 and 3), for the vpcd reader and in process.

An :class:`EmvCardApp` is one card. Personalisation (:func:`personalise`, once per card: the RSA
private operations cost milliseconds) writes its records and certificates from the test PKI
(:mod:`drivers.sim.pki`). The card keeps, across transactions, its ATC, last online ATC, PIN try
counter and whether a script blocked it; and within one transaction (from SELECT on) what a real
card keeps: the PDOL and CDOL data, the cryptograms given, issuer authentication, the challenge
for one VERIFY. Each command is checked the way a card checks it (class, instruction, P1/P2,
lengths, order) and anything wrong gets a status word, never an exception: only
:class:`CardLeft` leaves :meth:`EmvCardApp.apdu`, when a card told to be pulled out is.

* Contact (T=0 style: ``61xx`` + GET RESPONSE, ``6Cxx`` for a wrong Le): PSE directory, SELECT
  AID (partial names too), GPO format 2 (AIP, AFL), records (SFI 1: the signed record; SFI 2:
  the certificates), SDA / DDA (INTERNAL AUTHENTICATE) / CDA, offline PIN (plaintext, or
  enciphered under the ICC key with the GET CHALLENGE number), GET DATA, GENERATE AC (an
  online-only card: ARQC or AAC first), issuer authentication (EXTERNAL AUTHENTICATE, or the ARPC
  in CDOL2), issuer scripts (CLA 84), second GENERATE AC (TC only when the terminal asks for it,
  the issuer approved and, where the card requires it, authenticated itself).
* Contactless (T=1 style): PPSE with kernel identifiers. Visa qVSDC answers the ARQC, the fDDA
  signature and the CTQ in the GPO; the Mastercard-style card reads like a contact card and signs
  its one GENERATE AC (CDA). No VERIFY, no second GENERATE AC over the air.

Simplifications, all inside what the issuer decides: one issuer application data format (Visa
CVN 18 style; its CVR tells what happened), the second cryptogram a MAC over the CDOL2 data, and
issuer script commands taken without checking secure messaging.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from drivers.emv import dol, tlv
from drivers.emv.api import Cvm
from drivers.emv.selection import PPSE, PSE
from drivers.sim.cards import SimCard
from drivers.sim.cryptogram import arpc_valid, card_arqc, card_cryptogram
from drivers.sim.pki import (
    RsaKeyPair,
    TestCard,
    cda_icc_dynamic_data,
    decipher_pin_block,
    generate_rsa,
    icc_certificate,
    issuer_certificate,
    load_test_pki,
    signed_dynamic_data,
    signed_static_data,
)

AIDS = {"visa": bytes.fromhex("A0000000031010"), "mastercard": bytes.fromhex("A0000000041010")}
PDOL = bytes.fromhex("9F66049F02069F03069F1A0295055F2A029A039C019F3704")  # Visa qVSDC
MC_PDOL = bytes.fromhex("9F3501")  # Mastercard-style contactless: the terminal type
CDOL1 = bytes.fromhex("9F02069F03069F1A0295055F2A029A039C019F37049F35019F45029F4C089F3403")
CDOL2 = bytes.fromhex("8A029F37049505")
DDOL = bytes.fromhex("9F3704")
KERNEL_ID = {"visa_qvsdc": b"\x03", "mc_contactless": b"\x02"}  # 9F2A in the PPSE
ATR_CONTACT = bytes.fromhex("3B6800000073C84013009000")  # T=0
ATR_CONTACTLESS = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")  # PC/SC pseudo-ATR
# Issuer action codes (denial, online, default) as the schemes' cards usually carry them
IACS = {"visa": ("0010000000", "DC4004F800", "DC4000A800"),
        "mastercard": ("0000000000", "F470C49800", "F470C49800")}
APP_VERSION = {"visa": bytes.fromhex("008C"), "mastercard": bytes.fromhex("0002")}
SCRIPT_INS = {0x16, 0x18, 0x1E, 0x24, 0xDA, 0xDC}  # card/app block, app unblock, PIN, PUT/UPDATE
AAC, TC, ARQC = 0x00, 0x40, 0x80
APPROVED_ARCS = (b"00", b"10", b"11")

OK, WARN_BLOCKED, AUTH_FAILED = b"\x90\x00", b"\x62\x83", b"\x63\x00"
WRONG_LENGTH, PIN_BLOCKED, CONDITIONS = b"\x67\x00", b"\x69\x83", b"\x69\x85"
WRONG_DATA, NOT_SUPPORTED, NO_FILE = b"\x6a\x80", b"\x6a\x81", b"\x6a\x82"
NO_RECORD, WRONG_P1P2, NO_DATA = b"\x6a\x83", b"\x6a\x86", b"\x6a\x88"
BAD_INS, BAD_CLA = b"\x6d\x00", b"\x6e\x00"


class CardLeft(Exception):
    """The card left the field (the vpcd connection is closed by the caller)."""


@dataclass(frozen=True)
class Apdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None: no Le (cases 1 and 3); 256 for Le = 00


def parse_apdu(c: bytes) -> Apdu | None:
    """A short C-APDU (ISO 7816-4 cases 1-4); None when its lengths do not add up (extended
    lengths included: EMV cards do not take them)."""
    if len(c) < 4:
        return None
    body = c[4:]
    if len(body) <= 1:
        data, le = b"", (body[0] or 256) if body else None
    elif body[0] and len(body) in (1 + body[0], 2 + body[0]):
        data = body[1:1 + body[0]]
        le = (body[-1] or 256) if len(body) == 2 + body[0] else None
    else:
        return None
    return Apdu(c[0], c[1], c[2], c[3], data, le)


@dataclass(frozen=True)
class Profile:
    """What personalisation put on a card: the same for all its life."""

    aid: bytes
    label: bytes
    aip: bytes
    afl: bytes
    pdol: bytes
    cdol2: bytes
    records: dict[tuple[int, int], bytes]  # (SFI, record number) → template 70
    icc: RsaKeyPair | None  # the ICC private key (DDA, CDA, fDDA, enciphered PIN)
    pin_modes: frozenset[int]  # VERIFY P2: 80 plaintext, 88 enciphered (from the CVM list)


def _aip(card: SimCard) -> bytes:
    """82 byte 1: 40 SDA, 20 DDA, 10 cardholder verification, 08 terminal risk management,
    04 issuer authentication (EXTERNAL AUTHENTICATE), 01 CDA. Byte 2 of a kernel 2 card: 80 EMV
    mode (no relay resistance protocol)."""
    if card.kernel == "visa_qvsdc":
        return b"\x20\x00" if card.oda == "fdda" else b"\x00\x00"
    oda = {"sda": 0x40, "dda": 0x20, "cda": 0x21}.get(card.oda, 0)
    b1 = oda | (0x10 if card.cvm_list else 0)
    if card.kernel == "mc_contactless":  # kernel 2 authenticates by CDA only
        return bytes([b1 & ~0x20 | 0x08, 0x80])
    return bytes([b1 | 0x08 | (0 if card.issuer_auth_in_genac else 0x04), 0x00])


def _cdol2(card: SimCard) -> bytes:
    """A card that takes the ARPC in the second GENERATE AC lists 91 in CDOL2."""
    return CDOL2 + (bytes.fromhex("910A") if card.issuer_auth_in_genac else b"")


def _yymmdd_last_day(yymm: str) -> bytes:
    year, month = 2000 + int(yymm[:2]), int(yymm[2:])
    return bytes.fromhex(f"{yymm}{calendar.monthrange(year, month)[1]:02d}")


def _signed_record(card: SimCard) -> bytes:
    """SFI 1 record 1, the one the AFL marks for offline data authentication."""
    pan = card.pan + ("F" if len(card.pan) % 2 else "")
    track2 = f"{card.pan}D{card.expiry}2010000000000000"
    items = [(0x5A, bytes.fromhex(pan)),
             (0x57, bytes.fromhex(track2 + ("F" if len(track2) % 2 else ""))),
             (0x5F24, _yymmdd_last_day(card.expiry)), (0x5F25, bytes.fromhex("220101")),
             (0x5F28, bytes.fromhex("0276")), (0x9F07, bytes.fromhex(card.auc)),
             (0x9F08, APP_VERSION.get(card.scheme, b"\x00\x01")), (0x5F20, b"TEST/CARDHOLDER")]
    if card.kernel != "visa_qvsdc":  # qVSDC gives its PSN in the GPO answer
        denial, online, default = (bytes.fromhex(x) for x in IACS.get(card.scheme,
                                                                      IACS["visa"]))
        items += [(0x5F34, bytes.fromhex(card.psn.zfill(2))), (0x8C, CDOL1),
                  (0x9F0D, default), (0x9F0E, denial), (0x9F0F, online)]
        items += [(0x8E, card.cvm_list)] if card.cvm_list else []
    if card.kernel == "contact":
        items += [(0x8D, _cdol2(card)), (0x9F14, b"\x05"), (0x9F23, b"\x0a")]
        items += [(0x9F49, DDOL)] if card.oda in ("dda", "cda") else []
    if card.oda != "none":
        items.append((0x9F4A, b"\x82"))  # the AIP is signed too
    return tlv.encode(0x70, tlv.encode_many(items))


@functools.cache
def personalise(card: SimCard) -> Profile:
    """Records and certificates of ``card``. The test PKI has keys for the named test cards;
    any other card gets a fresh ICC key, certified by its scheme's test issuer."""
    pki = load_test_pki()
    info = pki.cards.get(card.name, TestCard(f"{card.scheme}_issuer", b"\x00\x00\x01", "1234"))
    issuer = pki.issuers[info.issuer]
    aip = _aip(card)
    record1 = _signed_record(card)
    static = tlv.parse_one(record1).value + aip  # Book 3, 10.3: record values, then the AIP
    icc = None
    records = {(1, 1): record1}
    if card.oda != "none":
        cert = issuer_certificate(pki.ca, issuer.public, issuer_id=card.pan[:6],
                                  expiry=info.issuer_cert_expiry, serial=info.issuer_cert_serial)
        records[(2, 1)] = tlv.encode(0x70, tlv.encode_many(
            [(0x8F, bytes([pki.ca_index])), (0x90, cert.cert)]
            + ([(0x92, cert.remainder)] if cert.remainder else [])
            + [(0x9F32, cert.exponent)]))
        if card.oda == "sda":
            second = [(0x93, signed_static_data(issuer, static))]
        else:
            icc = pki.icc.get(card.name) or generate_rsa(1024)
            c = icc_certificate(issuer, icc.public, pan=card.pan,
                                expiry=card.expiry[2:] + card.expiry[:2],
                                serial=bytes.fromhex(card.pan[-6:]), static_data=static)
            second = [(0x9F46, c.cert), (0x9F47, c.exponent)] + (
                [(0x9F48, c.remainder)] if c.remainder else [])
        records[(2, 2)] = tlv.encode(0x70, tlv.encode_many(second))
    methods = {rule & 0x3F for rule in card.cvm_list[8::2]} if card.offline_pin else set()
    modes = frozenset(p2 for p2, codes in ((0x80, {1, 3}), (0x88, {4, 5})) if methods & codes)
    return Profile(
        aid=AIDS.get(card.scheme, AIDS["visa"]),
        label=card.label.upper().encode("ascii", "replace")[:16], aip=aip,
        afl=bytes.fromhex("0801010110010200" if card.oda != "none" else "08010100"),
        pdol={"visa_qvsdc": PDOL, "mc_contactless": MC_PDOL}.get(card.kernel, b""),
        cdol2=_cdol2(card), records=records, icc=icc, pin_modes=modes)


def _dol_values(dol_raw: bytes, data: bytes) -> dict[str, bytes]:
    """The terminal's DOL data split by tag (upper-case hex names, as pyemv names them)."""
    out, i = {}, 0
    for tag, length in dol.parse_dol(dol_raw):
        out[f"{tag:X}"] = data[i:i + length]
        i += length
    return out


def _pin_of(block: bytes) -> str | None:
    """The PIN in an ISO 9564 format 2 block (``2N PIN F..F``), None when it is not one."""
    h = block.hex().upper()
    n = int(h[1], 16) if len(h) == 16 and h[0] == "2" else 0
    pin = h[2:2 + n]
    return pin if 4 <= n <= 12 and pin.isdigit() and set(h[2 + n:]) <= {"F"} else None


class EmvCardApp:
    """One virtual card: :meth:`apdu` answers a C-APDU with data + SW1 SW2."""

    def __init__(self, card: SimCard, *, t0_style: bool | None = None) -> None:
        self.card = card
        self.profile = personalise(card)
        self.contact = card.kernel == "contact"
        self.t0_style = self.contact if t0_style is None else t0_style
        self.atc = 0x30
        self.last_online_atc = self.atc
        self.pin_tries_left = card.pin_tries
        self.blocked = False  # by an issuer script (application block)
        self.scripts: list[bytes] = []  # issuer script commands executed (for tests)
        self._pending = b""  # data waiting for GET RESPONSE (T=0)
        self._reset()
        ops: dict[tuple[int, int], Callable[[Apdu], bytes]] = {
            (0x00, 0xA4): self._select, (0x00, 0xB2): self._read_record,
            (0x80, 0xA8): self._gpo, (0x80, 0xCA): self._get_data,
            (0x80, 0xAE): self._generate_ac}
        if self.contact:
            ops |= {(0x00, 0x84): self._get_challenge, (0x00, 0x20): self._verify,
                    (0x00, 0x88): self._internal_authenticate,
                    (0x00, 0x82): self._external_authenticate}
            ops |= {(0x84, ins): self._script for ins in SCRIPT_INS}
        if self.t0_style:
            ops[(0x00, 0xC0)] = self._get_response
        self._ops = ops

    @property
    def atr(self) -> bytes:
        return ATR_CONTACT if self.contact else ATR_CONTACTLESS

    @property
    def selected(self) -> bool:
        """The application is selected (the transaction has not been ended by a SELECT)."""
        return self._df == "app"

    def _reset(self) -> None:
        """A new transaction: any SELECT ends the one before."""
        self._df = ""  # "pse" | "ppse" | "app"
        self._pdol_data: bytes | None = None  # None: no GPO yet
        self._cdol1_data = b""
        self._cids: list[int] = []  # the cryptograms given (CID), in order
        self._arqc = b""
        self._issuer_auth: bool | None = None  # None: not performed
        self._challenge: bytes | None = None
        self._offline_pin: bool | None = None  # None: no VERIFY in this transaction

    # --- the dialogue ----------------------------------------------------------------------
    def apdu(self, c: bytes) -> bytes:
        cmd = parse_apdu(c)
        if cmd is None:
            return WRONG_LENGTH
        if self.card.behaviour == "garbage" and self._df == "app":
            return secrets.token_bytes(17) + OK
        if cmd.ins != 0xC0:
            self._pending = b""  # an answer not fetched at once is gone (T=0)
        op = self._ops.get((cmd.cla, cmd.ins))
        if op is not None:
            return op(cmd)
        return BAD_INS if cmd.cla in (0x00, 0x80, 0x84) else BAD_CLA

    def _answer(self, body: bytes, cmd: Apdu | None = None) -> bytes:
        """``cmd`` for a case 2 command (the card sends data only for the right Le)."""
        if not self.t0_style:
            return body + OK
        if cmd is not None:  # T=0 case 2: wrong Le → 6Cxx, the terminal asks again
            return body + OK if cmd.le == len(body) else b"\x6c" + bytes([len(body) % 256])
        self._pending = body  # case 4: announce, the terminal fetches it
        return b"\x61" + bytes([len(body) % 256])

    def _get_response(self, cmd: Apdu) -> bytes:
        if (cmd.p1, cmd.p2) != (0, 0):
            return WRONG_P1P2
        if not self._pending:
            return CONDITIONS
        n = len(self._pending) if cmd.le is None else cmd.le
        if n > len(self._pending):
            return b"\x6c" + bytes([len(self._pending) % 256])
        out, self._pending = self._pending[:n], self._pending[n:]
        return out + (b"\x61" + bytes([len(self._pending) % 256]) if self._pending else OK)

    # --- selection, GPO, records -----------------------------------------------------------
    def _entry(self) -> bytes:
        p = self.profile
        items = [(0x4F, p.aid), (0x50, p.label), (0x87, b"\x01")]
        items += [(0x9F2A, KERNEL_ID[self.card.kernel])] if not self.contact else []
        return tlv.encode(0x61, tlv.encode_many(items))

    def _select(self, cmd: Apdu) -> bytes:
        if cmd.p1 != 0x04 or cmd.p2 not in (0x00, 0x02):
            return WRONG_P1P2
        again = cmd.p2 == 0x02 and self._df == "app"  # "next occurrence": there is one app
        self._reset()
        name, p = cmd.data, self.profile
        if name == (PSE if self.contact else PPSE):
            self._df = "pse" if self.contact else "ppse"
            fci = tlv.encode(0x88, b"\x01") if self.contact else tlv.encode(0xBF0C, self._entry())
            return self._answer(tlv.encode(0x6F, tlv.encode(0x84, name) + tlv.encode(
                0xA5, fci + (tlv.encode(0x5F2D, b"en") if self.contact else b""))))
        if len(name) < 5 or not p.aid.startswith(name) or again:
            return NO_FILE
        if self.card.behaviour == "removed" and self.card.leave_at == "select":
            raise CardLeft
        if self.blocked:
            return WARN_BLOCKED
        self._df = "app"
        prop = [(0x50, p.label), (0x87, b"\x01")] + ([(0x9F38, p.pdol)] if p.pdol else []) \
            + [(0x5F2D, b"en")]
        return self._answer(tlv.encode(0x6F, tlv.encode(0x84, p.aid) + tlv.encode(
            0xA5, tlv.encode_many(prop))))

    def _read_record(self, cmd: Apdu) -> bytes:
        sfi, rec = cmd.p2 >> 3, cmd.p1
        if cmd.p2 & 0x07 != 0x04 or rec == 0:
            return WRONG_P1P2
        if self._df == "pse" and sfi == 1:
            records = {(1, 1): tlv.encode(0x70, self._entry())}
        elif self._df == "app":
            records = self.profile.records
        else:
            return NO_FILE
        if not any(s == sfi for s, _ in records):
            return NO_FILE
        body = records.get((sfi, rec))
        return NO_RECORD if body is None else self._answer(body, cmd)

    def _gpo(self, cmd: Apdu) -> bytes:
        if self._df != "app" or self._pdol_data is not None or self.atc >= 0xFFFF:
            return CONDITIONS
        if (cmd.p1, cmd.p2) != (0, 0):
            return WRONG_P1P2
        try:
            template = tlv.parse_one(cmd.data)
        except tlv.TlvError:
            return WRONG_LENGTH
        wanted = sum(n for _, n in dol.parse_dol(self.profile.pdol))
        if template.tag != 0x83 or len(template.value) != wanted:
            return WRONG_LENGTH
        if self.card.behaviour == "removed" and self.card.leave_at == "gpo":
            raise CardLeft
        self._pdol_data = template.value
        self.atc += 1
        p = self.profile
        if self.card.kernel == "visa_qvsdc":
            return self._answer(self._qvsdc(_dol_values(p.pdol, template.value)))
        return self._answer(tlv.encode(0x77, tlv.encode_many([(0x82, p.aip), (0x94, p.afl)])))

    def _qvsdc(self, values: dict[str, bytes]) -> bytes:
        """Visa qVSDC: the cryptogram in the GPO answer. A card that wants online PIN asks for
        it in the CTQ, and declines when the terminal cannot do it (TTQ byte 1 bit 04)."""
        p, atc = self.profile, self.atc.to_bytes(2, "big")
        online_pin = self.card.cvm is Cvm.ONLINE_PIN
        cid = AAC if online_pin and not values["9F66"][0] & 0x04 else ARQC
        ctq = b"\x80\x00" if online_pin else b"\x00\x00"
        self._cids.append(cid)
        ac = card_arqc(self.card.pan, self.card.psn, {**values, "82": p.aip, "9F36": atc})
        items = [(0x82, p.aip), (0x94, p.afl), (0x9F36, atc), (0x9F26, ac),
                 (0x9F27, bytes([cid])), (0x9F10, self._iad()), (0x9F6C, ctq)]
        if p.icc is not None:  # fDDA: the card signs its UN with the terminal's data
            card_un = secrets.token_bytes(4)
            auth_data = b"\x01" + card_un + ctq  # 9F69: fDDA version 01
            terminal = values["9F37"] + values["9F02"] + values["5F2A"] + auth_data
            items += [(0x9F4B, signed_dynamic_data(p.icc, b"\x04" + card_un, terminal)),
                      (0x9F69, auth_data)]
        items.append((0x5F34, bytes.fromhex(self.card.psn.zfill(2))))
        return tlv.encode(0x77, tlv.encode_many(items))

    # --- data, PIN, authentication ---------------------------------------------------------
    def _get_data(self, cmd: Apdu) -> bytes:
        if self._df != "app":
            return CONDITIONS
        tag = cmd.p1 << 8 | cmd.p2
        if tag == 0x9F17 and self.profile.pin_modes:
            return self._answer(tlv.encode(tag, bytes([self.pin_tries_left])), cmd)
        counters = {0x9F36: self.atc, 0x9F13: self.last_online_atc}
        if tag in counters:
            return self._answer(tlv.encode(tag, counters[tag].to_bytes(2, "big")), cmd)
        return NO_DATA

    def _get_challenge(self, cmd: Apdu) -> bytes:
        if (cmd.p1, cmd.p2) != (0, 0):
            return WRONG_P1P2
        challenge = secrets.token_bytes(8)
        answer = self._answer(challenge, cmd)
        if answer[-2:] == OK:  # the one a 6C08 asked again for is the one to remember
            self._challenge = challenge
        return answer

    def _verify(self, cmd: Apdu) -> bytes:
        """Offline PIN (Book 3, 6.5.12). An enciphered block that does not open under the
        ICC key or carries another challenge counts as a wrong PIN, so a terminal cannot try
        PINs for free."""
        if cmd.p1 != 0 or cmd.p2 not in (0x80, 0x88):
            return WRONG_P1P2
        if cmd.p2 not in self.profile.pin_modes:
            return NOT_SUPPORTED
        if self._df != "app":
            return CONDITIONS
        if self.pin_tries_left == 0:
            return PIN_BLOCKED
        icc = self.profile.icc
        if cmd.p2 == 0x80:
            if len(cmd.data) != 8:
                return WRONG_LENGTH
            block = cmd.data
        else:
            if icc is None or len(cmd.data) != icc.size:
                return WRONG_LENGTH
            challenge, self._challenge = self._challenge, None
            if challenge is None:
                return CONDITIONS
            opened = decipher_pin_block(icc, cmd.data)
            block = opened[0] if opened is not None and opened[1] == challenge else b""
        pin = _pin_of(block)
        self._offline_pin = pin is not None and hmac.compare_digest(
            pin.encode(), self.card.offline_pin.encode())
        if self._offline_pin:
            self.pin_tries_left = self.card.pin_tries
            return OK
        self.pin_tries_left -= 1
        return b"\x63" + bytes([0xC0 | self.pin_tries_left])

    def _internal_authenticate(self, cmd: Apdu) -> bytes:
        """DDA: the card signs a fresh ICC dynamic number with the DDOL data."""
        icc = self.profile.icc
        if icc is None or not self.profile.aip[0] & 0x20:
            return BAD_INS
        if self._pdol_data is None:
            return CONDITIONS
        if (cmd.p1, cmd.p2) != (0, 0):
            return WRONG_P1P2
        if not cmd.data:
            return WRONG_LENGTH
        sdad = signed_dynamic_data(icc, b"\x08" + secrets.token_bytes(8), cmd.data)
        return self._answer(tlv.encode(0x80, sdad))

    def _external_authenticate(self, cmd: Apdu) -> bytes:
        if not self.profile.aip[0] & 0x04:
            return BAD_INS
        if self._cids != [ARQC] or self._issuer_auth is not None:
            return CONDITIONS
        if (cmd.p1, cmd.p2) != (0, 0):
            return WRONG_P1P2
        if not 8 <= len(cmd.data) <= 16:
            return WRONG_LENGTH
        self._issuer_auth = self._arpc_ok(cmd.data)
        return OK if self._issuer_auth else AUTH_FAILED

    def _arpc_ok(self, issuer_data: bytes) -> bool:
        return arpc_valid(self.card.pan, self.card.psn, self.atc.to_bytes(2, "big"), self._arqc,
                          issuer_data)

    def _script(self, cmd: Apdu) -> bytes:
        """Issuer script commands (Book 3, 10.10), after the first GENERATE AC."""
        if not self._cids:
            return CONDITIONS
        if cmd.ins == 0x24:  # PIN change/unblock: the try counter starts again
            self.pin_tries_left = self.card.pin_tries
        elif cmd.ins in (0x16, 0x1E, 0x18):  # card block, application block / unblock
            self.blocked = cmd.ins != 0x18
        self.scripts.append(bytes([cmd.cla, cmd.ins, cmd.p1, cmd.p2])
                            + (bytes([len(cmd.data)]) + cmd.data if cmd.data else b""))
        return OK

    # --- GENERATE AC ----------------------------------------------------------------------
    def _iad(self) -> bytes:
        """9F10, Visa CVN 18 style: DKI 01, CVN 12, then the CVR whose byte 2 says which
        cryptograms were given (2nd: 00 AAC, 01 TC, 10 not requested; 1st: 00 AAC, 01 TC,
        10 ARQC), 08 issuer authentication failed, 04 offline PIN performed, 02 it failed."""
        first = self._cids[0] >> 2 if self._cids else 0
        second = self._cids[1] if len(self._cids) > 1 else 0x80
        flags = (0x08 if self._issuer_auth is False else 0) | (
            0 if self._offline_pin is None else 0x04 if self._offline_pin else 0x06)
        return bytes([0x06, 0x01, 0x12, 0x03, second | first | flags, 0x00, 0x00])

    def _generate_ac(self, cmd: Apdu) -> bytes:
        first = not self._cids
        if self._pdol_data is None or len(self._cids) > 1 or (
                not first and (not self.contact or self._cids != [ARQC])):
            return CONDITIONS  # one GENERATE AC after an ARQC only, and only on contact
        asked = cmd.p1 & 0xC0
        if cmd.p2 != 0 or cmd.p1 & 0x2F or asked == 0xC0 or (not first and asked == ARQC):
            return WRONG_P1P2
        p = self.profile
        data = cmd.data
        cdol = CDOL1 if first else p.cdol2
        if len(data) != sum(n for _, n in dol.parse_dol(cdol)):
            return WRONG_LENGTH
        pan, psn, atc = self.card.pan, self.card.psn, self.atc.to_bytes(2, "big")
        if first:
            if self.card.behaviour == "removed" and self.card.leave_at == "genac":
                raise CardLeft
            cid = AAC if asked == AAC else ARQC  # an online-only card: never a TC
            ac = card_arqc(pan, psn, {**_dol_values(CDOL1, data), "82": p.aip, "9F36": atc})
            self._cdol1_data, self._arqc = data, ac
        else:
            cid = TC if asked == TC and self._second_ok(_dol_values(p.cdol2, data)) else AAC
            ac = card_cryptogram(pan, psn, atc, data)
        self._cids.append(cid)
        iad = self._iad()
        # CDA when asked and the card can; an AAC is never signed (Book 2, 6.6.1)
        icc = p.icc if cmd.p1 & 0x10 and p.aip[0] & 0x01 and cid != AAC else None
        if icc is None:
            if self.contact:  # format 1
                return self._answer(tlv.encode(0x80, bytes([cid]) + atc + ac + iad))
            return self._answer(tlv.encode(0x77, tlv.encode_many(
                [(0x9F27, bytes([cid])), (0x9F36, atc), (0x9F26, ac), (0x9F10, iad)])))
        # CDA (Book 2, 6.6.1): the AC goes inside the signature, with the hash of the
        # transaction data: PDOL, CDOL1 (and CDOL2) data and this answer's other objects
        plain = [(0x9F27, bytes([cid])), (0x9F36, atc), (0x9F10, iad)]
        prior = self._pdol_data + self._cdol1_data + (b"" if first else data)
        tx_hash = hashlib.sha1(prior + tlv.encode_many(plain)).digest()  # noqa: S324 - EMV
        un = _dol_values(cdol, data)["9F37"]
        sdad = signed_dynamic_data(icc, cda_icc_dynamic_data(
            secrets.token_bytes(8), bytes([cid]), ac, tx_hash), un)
        return self._answer(tlv.encode(0x77, tlv.encode_many(
            [plain[0], plain[1], (0x9F4B, sdad), plain[2]])))

    def _second_ok(self, values: dict[str, bytes]) -> bool:
        """Card risk management of the second GENERATE AC: a TC needs the issuer's approval
        and, when the card requires issuer authentication, an ARPC that verified."""
        if "91" in values and self._issuer_auth is None and any(values["91"]):
            self._issuer_auth = self._arpc_ok(values["91"])
        required = bool(self.profile.aip[0] & 0x04) or "91" in values
        if self._issuer_auth:
            self.last_online_atc = self.atc
        return (values["8A"] in APPROVED_ARCS and not self.blocked
                and not self.card.declines_at_completion
                and (self._issuer_auth is True or not required))
