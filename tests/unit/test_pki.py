"""The card side of ODA (drivers.sim.pki) against the terminal side (drivers.emv.oda): what the
virtual cards sign, the terminal recovers; what is altered, it refuses, naming the step."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.emv.capk import CaKeyStore, check_value
from drivers.emv.oda import (
    OdaError,
    PublicKey,
    recover_icc_key,
    recover_issuer_key,
    verify_cda,
    verify_dda,
    verify_fdda,
    verify_sda,
)
from drivers.emv.offline_pin import enciphered_pin_data, format2_block
from drivers.sim.cards import TEST_CARDS
from drivers.sim.pki import (
    TEST_CA_KEYS_PATH as CA_KEYS,
)
from drivers.sim.pki import (
    TEST_PKI_PATH,
    Certificate,
    RsaKeyPair,
    cda_icc_dynamic_data,
    decipher_pin_block,
    generate_rsa,
    icc_certificate,
    issuer_certificate,
    load_test_pki,
    signed_dynamic_data,
    signed_static_data,
)

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 25)
PANS = {"visa": "4761739001010010", "mastercard": "5413330089010012"}
STATIC = bytes.fromhex("70 10 5A 08 47617390 01010010 5F24 03 271231".replace(" ", ""))
VISA, MC = bytes.fromhex("A000000003"), bytes.fromhex("A000000004")


def _rid(card: str) -> bytes:
    return VISA if card.startswith("visa") else MC


def _issuer_cert(card: str) -> Certificate:
    pki, meta = load_test_pki(), load_test_pki().cards[card]
    return issuer_certificate(pki.ca, pki.issuer_of(card).public,
                              issuer_id=PANS[card.partition("_")[0]][:6],
                              expiry=meta.issuer_cert_expiry, serial=meta.issuer_cert_serial)


def _recover_issuer(card: str, today: date = TODAY) -> PublicKey:
    store, pki = CaKeyStore.load(CA_KEYS), load_test_pki()
    c = _issuer_cert(card)
    revoked = functools.partial(store.is_revoked, _rid(card), pki.ca_index)
    return recover_issuer_key(c.cert, c.remainder, c.exponent,
                              store.get(_rid(card), pki.ca_index, today), today, revoked)


def test_the_committed_test_pki_is_what_the_simulators_need() -> None:
    pki = load_test_pki()
    assert load_test_pki() is pki  # cached: many tests load it
    assert "TEST" in json.loads(TEST_PKI_PATH.read_text())["warning"]
    assert (pki.ca.size * 8, pki.ca.exponent, pki.ca_index, pki.rids) == (1408, 3, 0xE1,
                                                                         (VISA, MC))
    assert {n: (k.size * 8, k.exponent) for n, k in pki.issuers.items()} == {
        "visa_issuer": (1408, 3), "mastercard_issuer": (1152, 3)}
    assert set(pki.icc) == set(TEST_CARDS)  # every virtual card has its committed ICC key
    assert {(k.size * 8, k.exponent) for n, k in pki.icc.items()
            if n != "mastercard_contact_cda"} == {(1024, 3)}
    assert (pki.icc["mastercard_contact_cda"].size * 8,
            pki.icc["mastercard_contact_cda"].exponent) == (1024, 65537)
    assert pki.cards["mastercard_revoked"].issuer_cert_serial == bytes.fromhex("DEAD01")
    assert pki.cards["visa_contactless"].issuer_cert_serial == bytes.fromhex("000001")
    assert pki.cards["visa_expired_issuer"].issuer_cert_expiry == "1222"
    assert len({c.issuer_cert_serial for c in pki.cards.values()}) == len(pki.cards)
    assert set(pki.cards) == set(pki.icc)


def test_the_terminal_ca_key_file_holds_the_test_ca_with_right_check_values() -> None:
    pki, data = load_test_pki(), json.loads(CA_KEYS.read_text())
    for k in data["keys"]:
        modulus, exponent = bytes.fromhex(k["modulus"]), bytes.fromhex(k["exponent"])
        assert check_value(bytes.fromhex(k["rid"]), int(k["index"], 16), modulus,
                           exponent).hex().upper() == k["sha1_checksum"]
        assert "TEST CA" in k["note"]
    store = CaKeyStore.load(CA_KEYS)
    for rid in (VISA, MC):
        assert store.get(rid, 0xE1, TODAY) == pki.ca.public
    assert store.is_revoked(MC, 0xE1, bytes.fromhex("DEAD01"))
    assert not store.is_revoked(VISA, 0xE1, bytes.fromhex("DEAD01"))


@pytest.mark.parametrize(("card", "remainder"), [("visa_contactless", 176 - 140),
                                                 ("mastercard_contactless", 144 - 140)])
def test_issuer_certificates_recover_with_their_remainder(card: str, remainder: int) -> None:
    assert len(_issuer_cert(card).remainder) == remainder
    assert _recover_issuer(card) == load_test_pki().issuer_of(card).public


def test_a_short_issuer_key_fits_the_certificate_without_remainder() -> None:
    ca, issuer = load_test_pki().ca, generate_rsa(1024)
    c = issuer_certificate(ca, issuer.public, issuer_id="476173", expiry="1230",
                           serial=b"\x00\x00\x07")
    assert c.remainder == b"" and c.exponent == b"\x03"
    assert recover_issuer_key(c.cert, c.remainder, c.exponent, ca.public, TODAY) == \
        issuer.public
    assert recover_issuer_key(c.cert, c.remainder, c.exponent, ca.public, TODAY,
                              pan="4761739001010119") == issuer.public
    with pytest.raises(OdaError, match="issuer identifier does not match the PAN"):
        recover_issuer_key(c.cert, c.remainder, c.exponent, ca.public, TODAY,
                           pan="5413330089020011")


def test_an_expired_issuer_certificate_fails() -> None:
    with pytest.raises(OdaError, match="issuer certificate: expired"):
        _recover_issuer("visa_expired_issuer")


def test_a_revoked_issuer_certificate_fails() -> None:
    with pytest.raises(OdaError, match="issuer certificate: revoked"):
        _recover_issuer("mastercard_revoked")
    _recover_issuer("mastercard_contactless")  # the same issuer key, another certificate


@pytest.mark.parametrize(("card", "remainder"), [("visa_contactless", 0),
                                                 ("mastercard_contact_cda", 128 - 102)])
def test_icc_certificates_recover_and_cover_the_static_data(card: str, remainder: int) -> None:
    pki, pan = load_test_pki(), PANS[card.partition("_")[0]]
    issuer = _recover_issuer(card)
    c = icc_certificate(pki.issuer_of(card), pki.icc[card].public, pan=pan, expiry="1227",
                        serial=b"\x12\x34\x56", static_data=STATIC)
    assert len(c.remainder) == remainder
    assert recover_icc_key(c.cert, c.remainder, c.exponent, issuer, STATIC, pan,
                           TODAY) == pki.icc[card].public
    altered = bytearray(STATIC)
    altered[5] ^= 0x01
    with pytest.raises(OdaError, match="ICC certificate: hash does not match"):
        recover_icc_key(c.cert, c.remainder, c.exponent, issuer, bytes(altered), pan, TODAY)
    with pytest.raises(OdaError, match="ICC certificate: PAN does not match"):
        recover_icc_key(c.cert, c.remainder, c.exponent, issuer, STATIC, pan[:-1] + "9", TODAY)
    with pytest.raises(OdaError, match="ICC certificate: expired"):
        recover_icc_key(c.cert, c.remainder, c.exponent, issuer, STATIC, pan, date(2028, 1, 1))


def test_the_pin_encipherment_key_certificate_has_no_static_data() -> None:
    pki, pan = load_test_pki(), PANS["visa"]
    card = "visa_contact_online_pin"
    c = icc_certificate(pki.issuer_of(card), pki.icc[card].public, pan=pan, expiry="1227",
                        serial=b"\x00\x00\x01", static_data=b"")
    assert recover_icc_key(c.cert, c.remainder, c.exponent, pki.issuer_of(card).public, b"",
                           pan, TODAY) == pki.icc[card].public


def test_sda_signed_static_data() -> None:
    issuer = load_test_pki().issuer_of("visa_contact_sda_pin")
    ssad = signed_static_data(issuer, STATIC, b"\x12\x34")
    assert len(ssad) == issuer.size
    assert verify_sda(ssad, issuer.public, STATIC) == b"\x12\x34"
    altered = bytearray(STATIC)
    altered[-1] ^= 0x80
    with pytest.raises(OdaError, match="signed static data: hash does not match"):
        verify_sda(ssad, issuer.public, bytes(altered))
    with pytest.raises(OdaError, match="signed static data: certificate length"):
        verify_sda(ssad[1:], issuer.public, STATIC)
    with pytest.raises(OdaError, match="signed static data: recovered data has no 6A"):
        verify_sda(ssad, load_test_pki().ca.public, STATIC)  # another key of that length


def test_dda_signed_dynamic_data() -> None:
    icc = load_test_pki().icc["visa_contact_online_pin"]
    ddol_data = bytes.fromhex("0A0B0C0D")
    dyn = b"\x04" + bytes.fromhex("11223344")
    sdad = signed_dynamic_data(icc, dyn, ddol_data)
    assert verify_dda(sdad, icc.public, ddol_data) == dyn
    with pytest.raises(OdaError, match="signed dynamic data: hash does not match"):
        verify_dda(sdad, icc.public, bytes.fromhex("0A0B0C0E"))


def test_cda_signature_binds_the_cryptogram_and_the_transaction_data() -> None:
    icc = load_test_pki().icc["mastercard_contact_cda"]
    un, cid, ac = bytes.fromhex("DEADBEEF"), b"\x80", bytes.fromhex("1122334455667788")
    tx_hash = bytes(range(20))
    sdad = signed_dynamic_data(icc, cda_icc_dynamic_data(b"\x01\x02\x03", cid, ac, tx_hash),
                               un)
    assert verify_cda(sdad, icc.public, un, cid, tx_hash) == (b"\x01\x02\x03", ac)
    with pytest.raises(OdaError, match="CDA signature: hash does not match"):
        verify_cda(sdad, icc.public, bytes.fromhex("DEADBEEE"), cid, tx_hash)
    with pytest.raises(OdaError, match="CDA signature: CID differs"):
        verify_cda(sdad, icc.public, un, b"\x40", tx_hash)
    with pytest.raises(OdaError, match="CDA signature: transaction data hash code"):
        verify_cda(sdad, icc.public, un, cid, bytes(20))
    dda = signed_dynamic_data(icc, b"\x02\x01\x02", un)  # a DDA signature is no CDA one
    with pytest.raises(OdaError, match="CDA signature: ICC dynamic data malformed"):
        verify_cda(dda, icc.public, un, cid, tx_hash)


def test_fdda_signature() -> None:
    icc = load_test_pki().icc["visa_contactless"]
    terminal = bytes.fromhex("DEADBEEF 000000001000 0978 0100".replace(" ", ""))
    sdad = signed_dynamic_data(icc, b"\x04\xca\xfe\xba\xbe", terminal)
    assert verify_fdda(sdad, icc.public, terminal) == bytes.fromhex("CAFEBABE")
    with pytest.raises(OdaError, match="fDDA signature: hash does not match"):
        verify_fdda(sdad, icc.public, terminal[:-1] + b"\x01")
    with pytest.raises(OdaError, match="fDDA signature: ICC dynamic data malformed"):
        verify_fdda(signed_dynamic_data(icc, b"\x09\x01", terminal), icc.public, terminal)


def test_the_card_opens_an_enciphered_pin_block() -> None:
    icc = load_test_pki().icc["visa_contact_online_pin"]
    challenge = bytes.fromhex("0102030405060708")
    data = enciphered_pin_data("1234", challenge, icc.public)
    assert decipher_pin_block(icc, data) == (format2_block("1234"), challenge)
    assert decipher_pin_block(icc, data[1:]) is None
    assert decipher_pin_block(icc, b"\xff" * icc.size) is None  # not below the modulus
    not_7f = pow(int.from_bytes(b"\x6f" + bytes(icc.size - 1), "big"), icc.exponent,
                 icc.modulus).to_bytes(icc.size, "big")
    assert decipher_pin_block(icc, not_7f) is None
    other = load_test_pki().icc["visa_contactless"]
    assert decipher_pin_block(other, data) != (format2_block("1234"), challenge)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=120, max_size=136))
def test_any_bytes_as_an_enciphered_pin_block_are_none_or_a_block(data: bytes) -> None:
    got = decipher_pin_block(load_test_pki().icc["visa_contactless"], data)
    assert got is None or tuple(map(len, got)) == (8, 8)


def test_keys_round_trip_through_json_and_hide_in_repr() -> None:
    key = load_test_pki().icc["mastercard_contact_cda"]
    assert RsaKeyPair.from_json(json.loads(json.dumps(key.to_json()))) == key
    assert f"{key.private_exponent:X}" not in repr(key) and "1024 bits" in repr(key)
    assert key.to_json()["exponent"] == "010001"


@pytest.mark.parametrize(("call", "message"), [
    (lambda ca, k: issuer_certificate(k, ca.public, issuer_id="476173", expiry="1230",
                                      serial=b"\0\0\1"), "longer than the key"),
    (lambda ca, k: issuer_certificate(ca, k.public, issuer_id="47", expiry="1230",
                                      serial=b"\0\0\1"), "issuer_id"),
    (lambda ca, k: issuer_certificate(ca, k.public, issuer_id="476173", expiry="1330",
                                      serial=b"\0\0\1"), "MMYY"),
    (lambda ca, k: icc_certificate(ca, k.public, pan="4761x", expiry="1230",
                                   serial=b"\0\0\1", static_data=b""), "PAN"),
    (lambda ca, k: signed_dynamic_data(k, bytes(104), b""), "does not fit"),
    (lambda ca, k: cda_icc_dynamic_data(b"\1", b"\x80", bytes(8), bytes(20)), "dynamic number"),
])
def test_impossible_certificates_are_refused(call: Callable[[RsaKeyPair, RsaKeyPair], object],
                                            message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(load_test_pki().ca, load_test_pki().icc["visa_contactless"])


def test_the_generator_writes_loadable_files(tmp_path: Path) -> None:
    out = tmp_path / "test_keys"
    proc = subprocess.run([sys.executable, str(ROOT / "kiosk/resources/test_keys/generate.py"),
                           "--out", str(out)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    pki = load_test_pki(out / "TEST_ONLY_emv_pki.json")
    assert pki.ca != load_test_pki().ca  # new random keys
    store = CaKeyStore.load(tmp_path / "ca_keys.json")
    issuer = pki.issuers["mastercard_issuer"]
    c = issuer_certificate(pki.ca, issuer.public, issuer_id="541333", expiry="1230",
                           serial=b"\xde\xad\x01")
    revoked = functools.partial(store.is_revoked, MC, 0xE1)
    with pytest.raises(OdaError, match="revoked"):
        recover_issuer_key(c.cert, c.remainder, c.exponent, store.get(MC, 0xE1, TODAY), TODAY,
                           revoked)
    assert recover_issuer_key(c.cert, c.remainder, c.exponent, store.get(VISA, 0xE1, TODAY),
                              TODAY) == issuer.public
