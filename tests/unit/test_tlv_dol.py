"""BER-TLV and DOL parsing: EMV examples, malformed and hostile input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.emv import dol, tlv

PPSE_FCI = bytes.fromhex(
    "6F2F840E325041592E5359532E4444463031A51DBF0C1A61184F07A0000000031010500A56495341204445"
    "4249548701 01".replace(" ", ""))


def test_a_ppse_fci() -> None:
    fci = tlv.parse_one(PPSE_FCI)
    assert fci.tag == 0x6F and fci.constructed
    assert fci.find(0x84).value == b"2PAY.SYS.DDF01"
    entry = fci.find(0x61)
    assert entry is not None and entry.find(0x4F).value.hex() == "a0000000031010"
    assert tlv.flatten([fci])[0x50] == b"VISA DEBIT" and tlv.flatten([fci])[0x87] == b"\x01"


def test_lengths_and_multi_byte_tags() -> None:
    long = tlv.encode(0x9F10, b"x" * 200)
    assert long[:4] == bytes.fromhex("9F1081C8")
    assert tlv.parse(long)[0].value == b"x" * 200
    assert tlv.encode(0x5F2A, b"\x09\x78") == bytes.fromhex("5F2A020978")
    assert tlv.parse(bytes.fromhex("00 FF 9F3704 01020304 00".replace(" ", "")))[0].tag == 0x9F37


@pytest.mark.parametrize(("data", "message"), [
    ("9F", "tag truncated"), ("9F37", "length expected"), ("9F3705010203", "runs past"),
    ("9F3784000000010203", "unsupported length"), ("9F818181800100", "longer than 3"),
    ("5A8200", "length truncated"),
])
def test_malformed(data: str, message: str) -> None:
    with pytest.raises(tlv.TlvError, match=message):
        tlv.parse(bytes.fromhex(data))


def test_nesting_bomb() -> None:
    data = b""
    for _ in range(50):
        data = tlv.encode(0x70, data)
    with pytest.raises(tlv.TlvError, match="deeply"):
        tlv.parse(data)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_fail_typed(data: bytes) -> None:
    with contextlib.suppress(tlv.TlvError):
        tlv.parse(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0x5A, 0x9F02, 0x5F2A, 0x57, 0x9F1F00 >> 8,
                                           0x9F6C, 0x82]), st.binary(max_size=300)), max_size=6))
def test_encode_parse_round_trip(items: list[tuple[int, bytes]]) -> None:
    parsed = tlv.parse(tlv.encode_many(items))
    assert [(o.tag, o.value) for o in parsed] == items


def test_dol_building_by_format() -> None:
    pdol = bytes.fromhex("9F66049F02069F1A02950 55F2A029A039C019F3704 9F4E14".replace(" ", ""))
    assert dol.parse_dol(pdol)[:3] == [(0x9F66, 4), (0x9F02, 6), (0x9F1A, 2)]
    values = {0x9F66: bytes.fromhex("36004000"), 0x9F02: bytes.fromhex("000000005000"),
              0x9F1A: bytes.fromhex("0276"), 0x9F37: bytes.fromhex("0A0B0C0D"),
              0x9F4E: b"DEMO STATION"}
    data = dol.build(pdol, values)
    assert len(data) == 4 + 6 + 2 + 5 + 2 + 3 + 1 + 4 + 20
    assert data[:4].hex() == "36004000" and data[-20:] == b"DEMO STATION" + bytes(8)
    assert dol.fit(0x9F02, bytes.fromhex("000000005000"), 4).hex() == "00005000"
    assert dol.fit(0x9F02, bytes.fromhex("5000"), 6).hex() == "000000005000"
    assert dol.fit(0x5A, bytes.fromhex("4761739001010119"), 10).hex().endswith("ffff")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=60))
def test_any_dol_parses_or_fails_typed(data: bytes) -> None:
    try:
        entries = dol.parse_dol(data)
    except tlv.TlvError:
        return
    assert len(dol.build(data, {})) == sum(n for _, n in entries)


def test_the_virtual_card_answers_a_contactless_read_in_process() -> None:
    """The card side of the dialogue (for the coming kernel and the vpcd reader): PPSE, AID
    with a PDOL, GPO with an ARQC the issuer verifies, the record with the PAN."""
    from datetime import date

    from drivers.sim.cards import TEST_CARDS
    from drivers.sim.cryptogram import issuer_check
    from drivers.sim.emv_card import PPSE, EmvCardApp

    card = TEST_CARDS["visa_contactless"]
    app = EmvCardApp(card)
    r = app.apdu(bytes([0, 0xA4, 4, 0, len(PPSE)]) + PPSE + b"\x00")
    assert r[-2:] == b"\x90\x00"
    aid = tlv.parse_one(r[:-2]).find(0x4F).value
    r = app.apdu(bytes([0, 0xA4, 4, 0, len(aid)]) + aid + b"\x00")
    pdol = tlv.parse_one(r[:-2]).find(0x9F38).value
    values = {0x9F66: bytes.fromhex("36004000"), 0x9F02: bytes.fromhex("000000005000"),
              0x9F03: bytes(6), 0x9F1A: bytes.fromhex("0276"), 0x95: bytes(5),
              0x5F2A: bytes.fromhex("0978"), 0x9A: bytes.fromhex("261125"), 0x9C: b"\x00",
              0x9F37: bytes.fromhex("01020304")}
    data = dol.build(pdol, values)
    r = app.apdu(bytes([0x80, 0xA8, 0, 0, len(data) + 2, 0x83, len(data)]) + data + b"\x00")
    gpo = tlv.flatten(tlv.parse(r[:-2]))
    rec = tlv.flatten(tlv.parse(app.apdu(bytes.fromhex("00B2010C00"))[:-2]))
    assert rec[0x5A].hex() == card.pan and rec[0x5F24].hex().startswith(card.expiry)
    icc = tlv.encode_many([(t, values[t]) for t in (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A,
                                                     0x9A, 0x9C, 0x9F37)]
                          + [(0x82, gpo[0x82]), (0x9F36, gpo[0x9F36]), (0x9F26, gpo[0x9F26])])
    assert issuer_check(icc, card.pan, True)[0]
    assert date.today()  # the card keeps no clock: the terminal's date is in the PDOL data


def test_apdu_log_redacts_card_data() -> None:
    from drivers.emv import apdu_log

    pan = "4761739001010119"
    record = tlv.encode(0x70, tlv.encode_many([
        (0x5A, bytes.fromhex(pan)), (0x57, bytes.fromhex(pan + "D29122010000000000000F")),
        (0x5F20, b"DOE/JANE"), (0x5F24, bytes.fromhex("291231")), (0x9F1F, b"1234567")]))
    line = apdu_log.response(record + b"\x90\x00")
    assert pan not in line and "DOE" not in line and "4A414E45" not in line
    assert "5F24=291231" in line and "5A[8 bytes redacted]" in line and line.endswith("9000")
    assert apdu_log.command(bytes.fromhex("0020008008241234FFFFFFFFFF")) == \
        "00200080 [PIN block redacted]"
    assert pan not in apdu_log.response(bytes.fromhex(pan) + b"\x90\x00")  # not TLV: hidden


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=2, max_size=120))
def test_apdu_log_never_fails(data: bytes) -> None:
    from drivers.emv import apdu_log

    assert isinstance(apdu_log.response(data), str) and isinstance(apdu_log.command(data), str)


def test_offline_pin_results() -> None:
    from drivers.emv.offline_pin import verify_plaintext

    assert verify_plaintext(lambda a: b"\x63\xc2", "1234").tries_left == 2
    assert verify_plaintext(lambda a: b"\x63\xc0", "1234").blocked
    assert verify_plaintext(lambda a: b"\x69\x83", "1234").blocked
    with pytest.raises(ValueError, match="4 to 12"):
        verify_plaintext(lambda a: b"\x90\x00", "12")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_hostile_r_apdus_give_typed_errors(answers: list[bytes]) -> None:
    """Whatever a card answers (truncated, odd status words, endless 61xx): the kernel ends with
    a typed card error or a result, never a crash or a hang."""
    from datetime import date

    from drivers.emv.api import CardError, Interface
    from drivers.emv.transaction import Transaction
    from drivers.emv.transmit import transmit

    for interface in Interface:
        it = iter(answers * 40)

        def raw(apdu: bytes, it=it) -> bytes:
            return next(it, b"\x6a\x82")

        tx = Transaction(lambda a, raw=raw: transmit(raw, a), interface,
                         pin_entry=lambda req: "1234", today=date(2026, 1, 1))
        with contextlib.suppress(CardError):
            tx.run(1, "978")
        tx.complete(True, bytes.fromhex("910A") + bytes(10) + answers[0][:20])


def test_ca_key_store(tmp_path) -> None:
    import json
    from datetime import date

    from drivers.emv.capk import CaKeyError, CaKeyStore, check_value

    modulus, exponent = bytes(range(1, 129)), b"\x03"
    cv = check_value(bytes.fromhex("A000000999"), 0x05, modulus, exponent).hex()
    path = tmp_path / "ca.json"
    path.write_text(json.dumps({"keys": [
        {"rid": "A000000999", "index": "05", "modulus": modulus.hex(), "exponent": "03",
         "sha1_checksum": cv, "expiry": "2027-12-31"}],
        "revoked": [{"rid": "A000000999", "index": "05", "serial": "000123"}]}))
    store = CaKeyStore.load(path)
    assert store.get(bytes.fromhex("A000000999"), 5, date(2026, 1, 1)).exponent == 3
    assert store.is_revoked(bytes.fromhex("A000000999"), 5, bytes.fromhex("000123"))
    with pytest.raises(CaKeyError, match="expired"):
        store.get(bytes.fromhex("A000000999"), 5, date(2028, 1, 1))
    with pytest.raises(CaKeyError, match="no CA key"):
        store.get(bytes.fromhex("A000000999"), 6, date(2026, 1, 1))
    path.write_text('{"keys": [{"rid": "A000000999"}]}')
    with pytest.raises(CaKeyError, match=r"ca\.json"):
        CaKeyStore.load(path)
