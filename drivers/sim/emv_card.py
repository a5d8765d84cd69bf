"""Virtual EMV cards: the card side of the APDU dialogue, for the vpcd reader and in-process.

A small contactless application per test card (v1 of the card issue): SELECT PPSE, SELECT AID
(FCI with a PDOL), GET PROCESSING OPTIONS (qVSDC-style: the ARQC comes with the GPO answer,
computed with pyemv from the issuer master key over the terminal's PDOL data), READ RECORD (PAN,
expiry, PSN). A contact card may answer T=0 style (``61xx`` then GET RESPONSE, ``6Cxx`` for a
wrong Le) so the transmission layer is exercised. Cards told to misbehave do: ``garbage``
answers junk, ``removed`` leaves after SELECT. ODA, CVM lists, PIN verification and the second
GENERATE AC come with the rest of the card reader issue.
"""

from __future__ import annotations

import secrets

from drivers.emv import dol, tlv
from drivers.emv.api import Interface
from drivers.sim.cards import SimCard
from drivers.sim.cryptogram import CDOL1_TAGS, card_arqc

PPSE = b"2PAY.SYS.DDF01"
AIDS = {"visa": bytes.fromhex("A0000000031010"), "mastercard": bytes.fromhex("A0000000041010")}
PDOL = bytes.fromhex("9F66049F02069F03069F1A0295055F2A029A039C019F3704")
SW_OK, SW_NOT_FOUND, SW_INS, SW_COND = b"\x90\x00", b"\x6a\x82", b"\x6d\x00", b"\x69\x85"


class CardLeft(Exception):
    """The card left the field (the vpcd connection is closed by the caller)."""


class EmvCardApp:
    def __init__(self, card: SimCard, *, t0_style: bool | None = None) -> None:
        self.card = card
        self.aid = AIDS.get(card.scheme, AIDS["visa"])
        self.t0_style = card.interface is Interface.CONTACT if t0_style is None else t0_style
        self.atc = 0x30
        self.selected = False
        self._pending = b""  # data waiting for GET RESPONSE (T=0)

    def apdu(self, c: bytes) -> bytes:
        if len(c) < 4:
            return b"\x67\x00"
        if self.card.behaviour == "garbage" and self.selected:
            return secrets.token_bytes(17) + SW_OK
        cla, ins, p1, p2 = c[0], c[1], c[2], c[3]
        data = c[5:5 + c[4]] if len(c) > 5 else b""
        if ins == 0xC0:  # GET RESPONSE
            out, self._pending = self._pending[:c[4] or 256], self._pending[c[4] or 256:]
            return out + (SW_OK if not self._pending else b"\x61" + bytes([len(self._pending)
                                                                           % 256]))
        if ins == 0xA4 and p1 == 0x04:
            return self._select(data)
        if cla == 0x80 and ins == 0xA8:
            return self._gpo(data)
        if ins == 0xB2:
            return self._record(p1, p2 >> 3)
        return SW_INS

    def _answer(self, body: bytes) -> bytes:
        if self.t0_style and len(body) > 0:  # T=0: announce, the terminal fetches it
            self._pending = body
            return b"\x61" + bytes([len(body) % 256])
        return body + SW_OK

    def _select(self, name: bytes) -> bytes:
        if name == PPSE:
            entry = tlv.encode(0x61, tlv.encode_many([
                (0x4F, self.aid), (0x50, self.card.label.upper().encode()[:16]),
                (0x87, b"\x01")]))
            fci = tlv.encode(0x6F, tlv.encode(0x84, PPSE) + tlv.encode(
                0xA5, tlv.encode(0xBF0C, entry)))
            return self._answer(fci)
        if name and self.aid.startswith(name):
            if self.card.behaviour == "removed":
                raise CardLeft
            self.selected = True
            fci = tlv.encode(0x6F, tlv.encode(0x84, self.aid) + tlv.encode(
                0xA5, tlv.encode_many([(0x50, self.card.label.upper().encode()[:16]),
                                       (0x9F38, PDOL)])))
            return self._answer(fci)
        return SW_NOT_FOUND

    def _gpo(self, data: bytes) -> bytes:
        if not self.selected:
            return SW_COND
        try:
            template = tlv.parse_one(data)
        except tlv.TlvError:
            return b"\x67\x00"
        values: dict[str, bytes] = {}
        i = 0
        for tag, length in dol.parse_dol(PDOL):
            values[f"{tag:X}"] = template.value[i:i + length]
            i += length
        if i != len(template.value):
            return b"\x67\x00"
        self.atc += 1
        values["82"] = bytes.fromhex("2000")
        values["9F36"] = self.atc.to_bytes(2, "big")
        fields = {t: values[t] for t in CDOL1_TAGS}
        arqc = card_arqc(self.card.pan, self.card.psn, fields)
        body = tlv.encode(0x77, tlv.encode_many([
            (0x82, values["82"]), (0x94, bytes.fromhex("08010100")), (0x9F36, values["9F36"]),
            (0x9F26, arqc), (0x9F27, b"\x80"),
            (0x9F10, bytes.fromhex("06011203A00000")), (0x9F6C, bytes.fromhex("0000")),
        ]))
        return self._answer(body)

    def _record(self, record: int, sfi: int) -> bytes:
        if not self.selected or (sfi, record) != (1, 1):
            return b"\x6a\x83"
        pan = self.card.pan + ("F" if len(self.card.pan) % 2 else "")
        body = tlv.encode(0x70, tlv.encode_many([
            (0x5A, bytes.fromhex(pan)), (0x5F24, bytes.fromhex(self.card.expiry + "31")),
            (0x5F34, bytes.fromhex(self.card.psn.zfill(2))), (0x5F20, b"TEST/CARDHOLDER"),
        ]))
        return self._answer(body)
