"""The virtual EMV cards, driven with APDUs in process and checked with the terminal's own
functions: certificates and signatures (drivers.emv.oda), offline PIN (drivers.emv.offline_pin),
cryptograms at the simulated issuer (drivers.sim.cryptogram), T=0 transmission."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.emv import dol, oda, offline_pin, tlv
from drivers.emv.transmit import transmit
from drivers.sim.cards import TEST_CARDS, SimCard
from drivers.sim.cryptogram import issuer_check
from drivers.sim.emv_card import (
    ATR_CONTACT,
    ATR_CONTACTLESS,
    PPSE,
    PSE,
    CardLeft,
    EmvCardApp,
)
from drivers.sim.host import ISSUER_SCRIPT, HostSimulator
from drivers.sim.pki import load_test_pki
from drivers.sim.vpcd import VirtualCard

OK = b"\x90\x00"
TODAY = date(2026, 11, 25)
TERMINAL_TAGS = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37)
AAC, TC, ARQC = 0x00, 0x40, 0x80


def select_apdu(name: bytes, p2: int = 0) -> bytes:
    return bytes([0x00, 0xA4, 0x04, p2, len(name)]) + name + b"\x00"


class Terminal:
    """Just enough of a terminal to walk a card through a transaction; answers come through
    the T=0 transmission layer, so chained ``61xx`` and ``6Cxx`` are handled as in the kernel."""

    def __init__(self, card: SimCard | str, *, ttq: str = "36804000", **kw: bool) -> None:
        self.card = TEST_CARDS[card] if isinstance(card, str) else card
        self.app = EmvCardApp(self.card, **kw)
        self.values = {
            0x9F66: bytes.fromhex(ttq), 0x9F02: bytes.fromhex("000000005000"),
            0x9F03: bytes(6), 0x9F1A: bytes.fromhex("0276"), 0x95: bytes(5),
            0x5F2A: bytes.fromhex("0978"), 0x9A: bytes.fromhex("261125"), 0x9C: b"\x00",
            0x9F37: bytes.fromhex("CAFEF00D"), 0x9F35: b"\x24", 0x9F45: bytes(2),
            0x9F4C: bytes(8), 0x9F34: bytes.fromhex("3F0000"), 0x8A: b"00"}
        self.data: dict[int, bytes] = {}
        self.pdol_data = self.cdol1_data = b""
        self.static = b""

    def send(self, apdu: bytes) -> bytes:
        return transmit(self.app.apdu, apdu)

    def ok(self, apdu: bytes) -> bytes:
        r = self.send(apdu)
        assert r[-2:] == OK, f"{apdu.hex()} -> {r.hex()}"
        return r[:-2]

    def select(self) -> tlv.Tlv:
        return tlv.parse_one(self.ok(select_apdu(self.app.profile.aid)))

    def gpo(self) -> tlv.Tlv:
        pdol = self.select().find(0x9F38)
        self.pdol_data = dol.build(pdol.value, self.values) if pdol else b""
        answer = tlv.parse_one(self.ok(bytes([0x80, 0xA8, 0, 0, len(self.pdol_data) + 2, 0x83,
                                              len(self.pdol_data)]) + self.pdol_data + b"\x00"))
        self.data = tlv.flatten([answer])
        return answer

    def read(self) -> None:
        """The AFL's records; the static data to be authenticated as the kernel builds it."""
        afl = self.data[0x94]
        for i in range(0, len(afl), 4):
            sfi, first, last, n_oda = afl[i] >> 3, afl[i + 1], afl[i + 2], afl[i + 3]
            for rec in range(first, last + 1):
                record = tlv.parse_one(self.ok(bytes([0, 0xB2, rec, sfi << 3 | 4, 0])))
                self.static += record.value if rec < first + n_oda else b""
                for k, v in tlv.flatten([record]).items():
                    assert k not in self.data, f"tag {k:X} twice"
                    self.data[k] = v
        if self.data.get(0x9F4A) == b"\x82":
            self.static += self.data[0x82]

    def keys(self) -> tuple[oda.PublicKey, oda.PublicKey]:
        pki = load_test_pki()
        assert self.data[0x8F][0] == pki.ca_index and self.app.profile.aid[:5] in pki.rids
        issuer = oda.recover_issuer_key(self.data[0x90], self.data.get(0x92, b""),
                                        self.data[0x9F32], pki.ca.public, TODAY)
        icc = oda.recover_icc_key(self.data[0x9F46], self.data.get(0x9F48, b""),
                                  self.data[0x9F47], issuer, self.static, self.card.pan, TODAY)
        return issuer, icc

    def ready(self) -> Terminal:
        self.gpo()
        self.read()
        return self

    def generate_ac(self, p1: int, second: bool = False) -> tuple[bytes, tlv.Tlv]:
        data = dol.build(self.data[0x8D if second else 0x8C], self.values)
        if not second:
            self.cdol1_data = data
        r = self.send(bytes([0x80, 0xAE, p1, 0, len(data)]) + data + b"\x00")
        return r[-2:], tlv.parse_one(r[:-2]) if r[-2:] == OK else tlv.Tlv(0, b"")

    def cryptogram(self, answer: tlv.Tlv) -> tuple[int, bytes, bytes]:
        """(CID, ATC, AC) of a format 1 or format 2 answer without CDA."""
        if answer.tag == 0x80:
            return answer.value[0], answer.value[1:3], answer.value[3:11]
        f = tlv.flatten([answer])
        return f[0x9F27][0], f[0x9F36], f[0x9F26]

    def icc_data(self, atc: bytes, ac: bytes) -> bytes:
        """Field 55 as the host gets it: the terminal's CDOL1 (or PDOL) values, AIP, ATC,
        ARQC and PSN."""
        return tlv.encode_many([(t, self.values[t]) for t in TERMINAL_TAGS] + [
            (0x82, self.data[0x82]), (0x9F36, atc), (0x9F26, ac),
            (0x5F34, bytes.fromhex(self.card.psn))])


def cda_hash(*parts: bytes, answer: tlv.Tlv) -> bytes:
    signed = b"".join(tlv.encode(c.tag, c.value) for c in answer.children if c.tag != 0x9F4B)
    return hashlib.sha1(b"".join(parts) + signed).digest()


# --- selection --------------------------------------------------------------------------------
def test_contact_cards_have_a_pse_directory_and_no_ppse() -> None:
    t = Terminal("visa_contact_online_pin")
    fci = tlv.parse_one(t.ok(select_apdu(PSE)))
    assert fci.find(0x84).value == PSE and fci.find(0x88).value == b"\x01"
    entry = tlv.parse_one(t.ok(bytes.fromhex("00B2010C00"))).find(0x61)
    assert entry.find(0x4F).value == bytes.fromhex("A0000000031010")
    assert entry.find(0x87).value == b"\x01" and entry.find(0x50) is not None
    assert t.send(bytes.fromhex("00B2020C00"))[-2:] == b"\x6a\x83"
    assert t.send(select_apdu(PPSE))[-2:] == b"\x6a\x82"
    assert t.app.atr == ATR_CONTACT and VirtualCard(t.app.apdu).atr == ATR_CONTACT


@pytest.mark.parametrize(("name", "kernel"), [("visa_contactless", 3),
                                              ("mastercard_contactless", 2)])
def test_contactless_cards_have_a_ppse_with_the_kernel(name: str, kernel: int) -> None:
    t = Terminal(name)
    entry = tlv.parse_one(t.ok(select_apdu(PPSE))).find(0xBF0C).find(0x61)
    assert entry.find(0x9F2A).value == bytes([kernel])
    assert t.send(select_apdu(PSE)) == b"\x6a\x82"
    assert t.app.atr == ATR_CONTACTLESS and VirtualCard(t.app.apdu).atr == ATR_CONTACTLESS


def test_select_by_partial_name_and_the_fci() -> None:
    t = Terminal("visa_contactless")
    fci = tlv.parse_one(t.ok(select_apdu(bytes.fromhex("A000000003"))))
    assert fci.find(0x84).value == bytes.fromhex("A0000000031010")
    assert fci.find(0x9F38) is not None and fci.find(0x5F2D).value == b"en"
    assert t.send(select_apdu(bytes.fromhex("A000000003"), p2=2)) == b"\x6a\x82"  # no next
    assert t.send(select_apdu(bytes.fromhex("A000000004"))) == b"\x6a\x82"
    assert Terminal("mastercard_pin").select().find(0x9F38) is None  # contact: no PDOL


def test_gpo_order_and_lengths() -> None:
    t = Terminal("mastercard_pin")
    assert t.send(bytes.fromhex("80A8000002830000")) == b"\x69\x85"  # nothing selected
    t.select()
    assert t.send(bytes.fromhex("80A800000483020000")) == b"\x67\x00"  # it has no PDOL
    gpo = tlv.parse_one(t.ok(bytes.fromhex("80A8000002830000")))
    assert gpo.tag == 0x77 and gpo.find(0x82).value == bytes.fromhex("3C00")
    assert gpo.find(0x94).value == bytes.fromhex("0801010110010200")
    assert t.send(bytes.fromhex("80A8000002830000")) == b"\x69\x85"  # one GPO per SELECT


def test_the_atc_counts_transactions() -> None:
    t = Terminal("visa_contact_online_pin")
    t.select()
    atc = int.from_bytes(tlv.parse_one(t.ok(bytes.fromhex("80CA9F3600"))).value, "big")
    t.ready()
    assert tlv.parse_one(t.ok(bytes.fromhex("80CA9F3600"))).value == (atc + 1).to_bytes(2, "big")
    assert tlv.parse_one(t.ok(bytes.fromhex("80CA9F1300"))).value == atc.to_bytes(2, "big")
    assert t.send(bytes.fromhex("80CA9F1700")) == b"\x6a\x88"  # no offline PIN on this card
    assert t.send(bytes.fromhex("80CA9F4F00")) == b"\x6a\x88"


# --- offline data authentication -------------------------------------------------------------
@pytest.mark.parametrize("name", ["visa_contact_online_pin", "mastercard_pin", "visa_script",
                                  "declined_honour"])
def test_dda(name: str) -> None:
    t = Terminal(name).ready()
    assert t.data[0x82][0] & 0x20 and t.data[0x9F49] == bytes.fromhex("9F3704")
    _, icc = t.keys()
    un = bytes.fromhex("01020304")
    answer = tlv.parse_one(t.ok(bytes.fromhex("0088000004") + un + b"\x00"))
    assert answer.tag == 0x80
    dynamic = oda.verify_dda(answer.value, icc, un)
    assert dynamic[0] == 8 and len(dynamic) == 9
    with pytest.raises(oda.OdaError, match="hash"):
        oda.verify_dda(answer.value, icc, bytes.fromhex("01020305"))


def test_altered_records_fail_the_icc_certificate() -> None:
    t = Terminal("visa_contact_online_pin").ready()
    t.static = t.static.replace(b"TEST/CARDHOLDER", b"EVIL/CARDHOLDER")
    with pytest.raises(oda.OdaError, match="hash"):
        t.keys()


def test_expired_and_revoked_issuer_certificates() -> None:
    pki = load_test_pki()
    for name, error in (("visa_expired_issuer", "expired"), ("mastercard_revoked", "revoked")):
        t = Terminal(name).ready()
        with pytest.raises(oda.OdaError, match=error):
            oda.recover_issuer_key(t.data[0x90], t.data.get(0x92, b""), t.data[0x9F32],
                                   pki.ca.public, TODAY,
                                   revoked=lambda serial: serial == bytes.fromhex("DEAD01"))


def test_sda() -> None:
    t = Terminal("visa_contact_sda_pin").ready()
    assert t.data[0x82] == bytes.fromhex("5C00") and 0x9F46 not in t.data
    issuer = oda.recover_issuer_key(t.data[0x90], t.data.get(0x92, b""), t.data[0x9F32],
                                    load_test_pki().ca.public, TODAY)
    assert oda.verify_sda(t.data[0x93], issuer, t.static) == b"\xda\xc1"
    assert t.send(bytes.fromhex("0088000004010203 0400".replace(" ", ""))) == b"\x6d\x00"


# --- offline PIN ------------------------------------------------------------------------------
def test_plaintext_pin_counts_down_and_blocks() -> None:
    t = Terminal("visa_contact_sda_pin").ready()
    tries = lambda: tlv.parse_one(t.ok(bytes.fromhex("80CA9F1700"))).value[0]  # noqa: E731
    assert tries() == 3
    assert offline_pin.verify_plaintext(t.send, "0000") == offline_pin.PinResult(False, 2)
    assert offline_pin.verify_plaintext(t.send, "4321").ok and tries() == 3  # reset
    for left in (2, 1, 0):
        assert offline_pin.verify_plaintext(t.send, "1111").tries_left == left
    assert offline_pin.verify_plaintext(t.send, "4321").blocked  # 6983 from now on
    assert t.send(bytes.fromhex("0020008008") + offline_pin.format2_block("4321")) == \
        b"\x69\x83"
    assert tries() == 0
    assert t.send(bytes.fromhex("0020008808") + bytes(8)) == b"\x6a\x81"  # not enciphered
    assert t.send(bytes.fromhex("00200080021234")) == b"\x69\x83"  # blocked before all else


def test_enciphered_pin_under_the_icc_key() -> None:
    t = Terminal("mastercard_contact_cda").ready()
    _, icc = t.keys()
    assert offline_pin.verify_enciphered(t.send, "9999", icc) == offline_pin.PinResult(False, 2)
    assert offline_pin.verify_enciphered(t.send, "1234", icc).ok
    block = offline_pin.enciphered_pin_data("1234", bytes(8), icc)
    verify = bytes([0x00, 0x20, 0x00, 0x88, len(block)]) + block
    assert t.send(verify) == b"\x69\x85"  # no GET CHALLENGE before
    t.ok(bytes.fromhex("0084000008"))
    assert t.send(verify) == b"\x63\xc2"  # another challenge: a wrong PIN
    assert t.send(bytes.fromhex("0020008008") + offline_pin.format2_block("1234")) == \
        b"\x6a\x81"  # this card takes the PIN enciphered only


# --- GENERATE AC, issuer authentication, scripts ---------------------------------------------
def test_contact_online_transaction_with_external_authenticate() -> None:
    t = Terminal("visa_contact_online_pin").ready()
    sw, answer = t.generate_ac(TC)  # an online-only card answers a TC request with an ARQC
    cid, atc, arqc = t.cryptogram(answer)
    assert sw == OK and answer.tag == 0x80 and cid == ARQC
    assert answer.value[11:] == bytes.fromhex("06011203A00000")  # CVR: ARQC given
    valid, de55 = issuer_check(t.icc_data(atc, arqc), t.card.pan, True)
    assert valid
    issuer_data = tlv.parse_one(de55).value
    assert t.send(bytes.fromhex("008200000A") + issuer_data) == OK
    assert t.send(bytes.fromhex("008200000A") + issuer_data) == b"\x69\x85"  # once only
    sw, answer = t.generate_ac(TC, second=True)
    cid, atc2, _ = t.cryptogram(answer)
    assert (cid, atc2) == (TC, atc)
    assert t.generate_ac(TC, second=True)[0] == b"\x69\x85"  # no third GENERATE AC
    assert tlv.parse_one(t.ok(bytes.fromhex("80CA9F1300"))).value == atc  # last online ATC


@pytest.mark.parametrize(("arpc_ok", "arc", "external_auth", "expected"), [
    (True, b"00", True, TC), (False, b"00", True, AAC), (True, b"05", True, AAC),
    (True, b"00", False, AAC)])
def test_the_card_decides_at_the_second_generate_ac(arpc_ok: bool, arc: bytes,
                                                    external_auth: bool, expected: int) -> None:
    t = Terminal("visa_script").ready()
    _, answer = t.generate_ac(ARQC)
    _, atc, arqc = t.cryptogram(answer)
    issuer_data = tlv.parse_one(issuer_check(t.icc_data(atc, arqc), t.card.pan, True)[1]).value
    if not arpc_ok:
        issuer_data = bytes(8) + issuer_data[8:]
    if external_auth:
        sw = t.send(bytes.fromhex("008200000A") + issuer_data)
        assert sw == (OK if arpc_ok else b"\x63\x00")
    t.values[0x8A] = arc
    cid, _, _ = t.cryptogram(t.generate_ac(TC, second=True)[1])
    assert cid == expected


def test_an_aac_asked_for_ends_the_transaction() -> None:
    t = Terminal("mastercard_pin").ready()
    sw, answer = t.generate_ac(AAC | 0x10)  # no CDA on this card: the bit is ignored
    assert sw == OK and t.cryptogram(answer)[0] == AAC
    assert t.send(bytes.fromhex("008200000A") + bytes(10)) == b"\x69\x85"
    assert t.generate_ac(TC, second=True)[0] == b"\x69\x85"


def test_cda_with_the_arpc_in_cdol2() -> None:
    t = Terminal("mastercard_contact_cda").ready()
    assert t.data[0x82] == bytes.fromhex("3900")  # CDA, no EXTERNAL AUTHENTICATE
    assert t.data[0x8D] == bytes.fromhex("8A029F37049505910A")
    _, icc = t.keys()
    sw, answer = t.generate_ac(ARQC | 0x10)
    f = tlv.flatten([answer])
    assert sw == OK and answer.tag == 0x77 and 0x9F26 not in f  # the AC is inside the signature
    assert [c.tag for c in answer.children] == [0x9F27, 0x9F36, 0x9F4B, 0x9F10]
    _, arqc = oda.verify_cda(f[0x9F4B], icc, t.values[0x9F37], f[0x9F27],
                             cda_hash(t.pdol_data, t.cdol1_data, answer=answer))
    valid, de55 = issuer_check(t.icc_data(f[0x9F36], arqc), t.card.pan, True)
    assert valid
    assert t.send(bytes.fromhex("008200000A") + bytes(10)) == b"\x6d\x00"
    t.values[0x91] = tlv.parse_one(de55).value
    t.values[0x9F37] = bytes.fromhex("12345678")  # a new unpredictable number for CDOL2
    sw, answer = t.generate_ac(TC | 0x10, second=True)
    f = tlv.flatten([answer])
    cdol2_data = dol.build(t.data[0x8D], t.values)
    assert sw == OK and f[0x9F27] == b"\x40"
    oda.verify_cda(f[0x9F4B], icc, t.values[0x9F37], f[0x9F27],
                   cda_hash(t.pdol_data, t.cdol1_data, cdol2_data, answer=answer))


def test_cda_second_generate_ac_declines_without_a_good_arpc() -> None:
    t = Terminal("mastercard_contact_cda").ready()
    t.generate_ac(ARQC | 0x10)
    t.values[0x91] = bytes(8) + b"00"
    sw, answer = t.generate_ac(TC | 0x10, second=True)
    assert sw == OK and answer.tag == 0x80 and answer.value[0] == AAC  # an AAC is not signed
    assert answer.value[11 + 4] & 0x08  # CVR: issuer authentication failed


def test_issuer_scripts() -> None:
    t = Terminal("visa_script").ready()
    put_data = bytes.fromhex("84DA9F580100")
    assert t.send(put_data) == b"\x69\x85"  # not before the first GENERATE AC
    t.generate_ac(ARQC)
    assert t.send(put_data) == OK and t.app.scripts == [put_data]
    assert t.send(bytes.fromhex("84FF000000")) == b"\x6d\x00"  # a bad script command
    t.app.pin_tries_left = 0
    assert t.send(bytes.fromhex("8424000000")) == OK and t.app.pin_tries_left == 3
    assert t.send(bytes.fromhex("841E000000")) == OK
    assert t.send(select_apdu(t.app.profile.aid)) == b"\x62\x83"  # blocked


def test_the_host_sends_the_script_of_the_script_card(host: HostSimulator) -> None:
    from drivers.acquirer import iso8583 as iso

    for name in ("visa_script", "visa_expired_issuer"):
        t = Terminal(name).ready()
        _, answer = t.generate_ac(ARQC)
        _, atc, arqc = t.cryptogram(answer)
        out = host.answer({"t": "0100", "2": t.card.pan, "4": iso.amount(5000), "11": "000001",
                           "48": iso.private(f"ref-{name}", "auth"),
                           "55": t.icc_data(atc, arqc).hex().upper()})
        objs = tlv.parse(bytes.fromhex(out["55"]))
        assert out["39"] == "00" and objs[0].tag == 0x91
        assert objs[1:] == (tlv.parse(ISSUER_SCRIPT) if name == "visa_script" else [])


# --- contactless ------------------------------------------------------------------------------
def test_qvsdc_answers_the_cryptogram_and_fdda_in_the_gpo() -> None:
    t = Terminal("visa_contactless")
    gpo = tlv.flatten([t.gpo()])
    assert gpo[0x82] == bytes.fromhex("2000") and gpo[0x9F27] == b"\x80"
    assert gpo[0x9F6C] == bytes(2) and gpo[0x9F69][0] == 1
    t.read()
    _, icc = t.keys()
    un = oda.verify_fdda(gpo[0x9F4B], icc, t.values[0x9F37] + t.values[0x9F02]
                         + t.values[0x5F2A] + gpo[0x9F69])
    assert un == gpo[0x9F69][1:5]
    assert issuer_check(t.icc_data(gpo[0x9F36], gpo[0x9F26]), t.card.pan, True)[0]
    assert t.send(bytes.fromhex("80AE80000100")) == b"\x69\x85"  # no GENERATE AC after it
    assert t.send(bytes.fromhex("0020008008") + bytes(8)) == b"\x6d\x00"  # nor VERIFY


@pytest.mark.parametrize(("ttq", "cid", "ctq"), [("36804000", 0x80, "8000"),
                                                 ("32804000", 0x00, "8000")])
def test_qvsdc_online_pin_in_the_ctq(ttq: str, cid: int, ctq: str) -> None:
    gpo = tlv.flatten([Terminal("visa_contactless_pin", ttq=ttq).gpo()])
    assert gpo[0x9F6C] == bytes.fromhex(ctq) and gpo[0x9F27][0] == cid


def test_mastercard_contactless_cda() -> None:
    t = Terminal("mastercard_contactless")
    assert t.select().find(0x9F38).value == bytes.fromhex("9F3501")
    gpo = t.gpo()
    assert [c.tag for c in gpo.children] == [0x82, 0x94] and gpo.find(0x82).value[0] & 0x01
    t.read()
    _, icc = t.keys()
    sw, answer = t.generate_ac(ARQC | 0x10)
    f = tlv.flatten([answer])
    assert sw == OK and answer.tag == 0x77 and 0x9F26 not in f
    _, arqc = oda.verify_cda(f[0x9F4B], icc, t.values[0x9F37], f[0x9F27],
                             cda_hash(t.pdol_data, t.cdol1_data, answer=answer))
    assert issuer_check(t.icc_data(f[0x9F36], arqc), t.card.pan, True)[0]
    assert t.send(bytes.fromhex("80AE40000100")) == b"\x69\x85"  # one GENERATE AC


# --- transmission, misbehaving cards, robustness ---------------------------------------------
def test_t0_and_t1_style_answers() -> None:
    app = EmvCardApp(TEST_CARDS["mastercard_pin"])
    r = app.apdu(select_apdu(PSE))
    assert r[0] == 0x61
    part = app.apdu(bytes([0, 0xC0, 0, 0, 4]))
    assert part[4] == 0x61 and part[5] == r[1] - 4  # the rest announced
    assert app.apdu(bytes([0, 0xC0, 0, 0, 0x7F])) == bytes([0x6C, r[1] - 4])
    assert app.apdu(bytes.fromhex("00B2010C00"))[0] == 0x6C  # and the rest is gone
    assert app.apdu(bytes.fromhex("00C0000000")) == b"\x69\x85"
    contactless = EmvCardApp(TEST_CARDS["visa_contactless"])
    assert contactless.apdu(select_apdu(PPSE))[-2:] == OK
    assert contactless.apdu(bytes.fromhex("00C0000000")) == b"\x6d\x00"


def test_garbage_after_select() -> None:
    t = Terminal("garbage_card")
    assert tlv.parse_one(t.ok(select_apdu(PSE))).find(0x88)  # sane until the AID is selected
    assert t.app.apdu(select_apdu(t.app.profile.aid))[0] == 0x61
    r, r2 = (t.app.apdu(bytes.fromhex(c)) for c in ("00C0000000", "80A8000002830000"))
    assert len(r) == len(r2) == 19 and r[-2:] == r2[-2:] == OK and r != r2


@pytest.mark.parametrize(("card", "at"), [
    (TEST_CARDS["removed_card"], "80AE"),
    (replace(TEST_CARDS["removed_card"], leave_at="select"), "00A4"),
    (replace(TEST_CARDS["visa_contactless"], behaviour="removed"), "80A8")])
def test_a_card_pulled_out(card: SimCard, at: str) -> None:
    t = Terminal(card)
    with pytest.raises(CardLeft) as left:
        t.ready()
        t.generate_ac(ARQC)
    assert left.traceback[-1].name == {"80AE": "_generate_ac", "00A4": "_select",
                                       "80A8": "_gpo"}[at]


KNOWN = [(0x00, 0xA4), (0x00, 0xB2), (0x80, 0xA8), (0x80, 0xCA), (0x80, 0xAE), (0x00, 0x84),
         (0x00, 0x20), (0x00, 0x88), (0x00, 0x82), (0x84, 0xDA), (0x84, 0x24), (0x00, 0xC0)]
commands = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda ci, p1, p2, data, le: bytes([*KNOWN[ci], p1, p2])
              + (bytes([len(data)]) + data if data else b"") + le,
              st.integers(0, len(KNOWN) - 1), st.integers(0, 255), st.integers(0, 255),
              st.binary(max_size=60), st.sampled_from([b"", b"\x00", b"\x08"])))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["mastercard_contact_cda", "visa_contactless", "mastercard_contactless",
                        "visa_contact_sda_pin", "visa_script"]),
       st.booleans(), st.lists(commands, max_size=12))
def test_any_apdu_gets_a_status_word(name: str, started: bool, apdus: list[bytes]) -> None:
    t = Terminal(name)
    if started:  # reach the deeper states too
        t.ready()
        if 0x8C in t.data:
            t.generate_ac(ARQC | 0x10)
    for c in apdus:
        r = t.app.apdu(c)
        assert len(r) >= 2
