"""The public test card of ../shared/vectors/test_card (mrautio/emvpt), its T=0 transcript
replayed as a card on the real vpcd reader: PSE selection with 61xx and 6Cxx, GPO format 1,
the AFL records, and DDA with the test CA key AFFFFFFFFF/92. Skips without ../shared."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from drivers.emv import tlv
from drivers.emv.api import Interface
from drivers.emv.capk import CaKey, CaKeyStore
from drivers.emv.oda import OdaError, PublicKey, recover_icc_key, recover_issuer_key, verify_dda
from drivers.emv.selection import TerminalAid
from drivers.emv.transaction import Transaction
from drivers.emv.transmit import transmit as t0_transmit
from drivers.pcsc.reader import wait_for_card
from drivers.sim.vpcd import VirtualCard
from tests.support import shared
from tests.support.pcsc import READER

CARD = shared.VECTORS / "test_card"
pytestmark = shared.needs(CARD)
TODAY = date(2026, 11, 25)
UN = bytes.fromhex("01234567")  # the transcript's unpredictable number


def transcript() -> dict[bytes, list[bytes]]:
    """Request → its answers in transcript order (the same request may be answered
    differently later: the PSE's record 2 and the application's record 2 of SFI 1)."""
    pairs: dict[bytes, list[bytes]] = {}
    req = None
    for line in (CARD / "test_data.yaml").read_text().splitlines():
        m = re.match(r"\s*-?\s*(req|res):\s*'([0-9A-Fa-f ]*)'", line)
        if not m:
            continue
        value = bytes.fromhex(m.group(2).replace(" ", ""))
        if m.group(1) == "req":
            req = value
        elif req is not None:
            pairs.setdefault(req, []).append(value)
            req = None
    return pairs


def ca_key(rid: str, index: str) -> PublicKey:
    text = (CARD / "scheme_ca_public_keys_test.yaml").read_text()
    block = text[text.index(f"{rid}:"):]
    m = re.search(rf"'{index}':\s*\n\s*modulus:\s*(\w+)\s*\n\s*exponent:\s*'(\w+)'", block)
    assert m is not None
    return PublicKey(int(m.group(1), 16), int(m.group(2), 16))


@dataclass(frozen=True)
class Read:
    aid: bytes
    data: dict[int, bytes]
    static_data: bytes


def kernel(transmit, today: date = TODAY) -> Transaction:
    """Our kernel on the test card: its AID in the terminal list, its CA key in the store."""
    store = CaKeyStore([CaKey(bytes.fromhex("AFFFFFFFFF"), 0x92, ca_key("AFFFFFFFFF", "92"))])
    tx = Transaction(transmit, Interface.CONTACT, ca_keys=store, today=today, unpredictable=UN,
                     aids=(TerminalAid(bytes.fromhex("AFFFFFFFFF"), "test"),))
    tx.inspect()
    return tx


def explore_contact(transmit) -> Read:
    tx = kernel(transmit)
    assert tx.candidate is not None
    return Read(tx.candidate.aid, tx.data, tx.static_data)


def replay(pairs: dict[bytes, list[bytes]]):
    seen: dict[bytes, int] = {}

    def card(apdu: bytes) -> bytes:
        # the transcript was taken over T=0, where a case 4 command goes without its Le
        key = apdu if apdu in pairs else apdu[:-1]
        answers = pairs.get(key)
        if not answers:
            return b"\x6d\x00"
        i = seen.get(key, 0)
        seen[key] = i + 1
        return answers[min(i, len(answers) - 1)]
    return card


def in_process(pairs: dict[bytes, list[bytes]]):
    raw = replay(pairs)
    return lambda apdu: t0_transmit(raw, apdu)


def run_dda(transmit, read, today: date = TODAY) -> bytes:
    d = read.data
    issuer = recover_issuer_key(d[0x90], d.get(0x92, b""), d[0x9F32], ca_key("AFFFFFFFFF",
                                                                               "92"), today)
    pan = d[0x5A].hex().upper().rstrip("F") if 0x5A in d else \
        d[0x57].hex().upper().split("D")[0]
    icc = recover_icc_key(d[0x9F46], d.get(0x9F48, b""), d[0x9F47], issuer, read.static_data,
                          pan, today)
    un = UN
    r = transmit(bytes([0x00, 0x88, 0x00, 0x00, 4]) + un + b"\x00")
    assert r[-2:] == b"\x90\x00"
    answer = tlv.parse_one(r[:-2])
    sdad = answer.value if answer.tag == 0x80 else answer.find(0x9F4B).value
    return verify_dda(sdad, icc, un)


def test_selection_gpo_records_and_dda_in_process() -> None:
    card = in_process(transcript())
    read = explore_contact(card)
    assert read.aid == bytes.fromhex("AFFFFFFFFF1234")
    assert read.data[0x57].hex().upper().startswith("1234560012345608")
    assert len(read.static_data) == 82  # as the vectors' README says, with the AIP
    assert len(run_dda(card, read)) >= 2


def test_the_kernel_selects_and_authenticates_the_card() -> None:
    """The kernel's own path: PSE, GPO, records, DDA (INTERNAL AUTHENTICATE) with the CA key
    from its store; and a store without the key reports why ODA failed."""
    tx = kernel(in_process(transcript()))
    assert (tx.oda.method, tx.oda.ok) == ("dda", True)
    assert "offline data authentication was performed" in tx.tsi.names()
    bare = Transaction(in_process(transcript()), Interface.CONTACT, today=TODAY,
                       aids=(TerminalAid(bytes.fromhex("AFFFFFFFFF"), "test"),))
    bare.inspect()
    assert bare.oda.ok is False and "no CA key AFFFFFFFFF/92" in bare.oda.reason
    assert "DDA failed" in bare.tvr.names()


def test_dda_fails_on_altered_static_data() -> None:
    card = in_process(transcript())
    read = explore_contact(card)
    flipped = bytes([read.static_data[0] ^ 0x01]) + read.static_data[1:]
    altered = type(read)(read.aid, read.data, flipped)
    with pytest.raises(OdaError, match="static data"):
        run_dda(card, altered)


@pytest.mark.usefixtures("pcscd")
def test_the_transcript_as_a_card_on_the_vpcd_reader() -> None:
    """The same card through pcscd: 61xx (GET RESPONSE) and 6Cxx (Le corrected) in real T=0
    exchanges, answered by the transmission layer."""
    vc = VirtualCard(replay(transcript()))
    vc.insert()
    try:
        link = wait_for_card(READER, 10, lambda: False)
        try:
            read = explore_contact(link.transmit)
            assert read.aid == bytes.fromhex("AFFFFFFFFF1234")
            assert len(run_dda(link.transmit, read)) >= 2
        finally:
            link.close()
    finally:
        vc.remove()


def icc_private_exponent() -> tuple[int, int]:
    from cryptography.hazmat.primitives import serialization

    pem = next((CARD / "test_keys").glob("icc_*_private_key.pem")).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    numbers = key.private_numbers()  # type: ignore[union-attr]
    return numbers.public_numbers.n, numbers.d


def test_offline_plaintext_pin_is_the_transcripts_verify() -> None:
    from drivers.emv.offline_pin import format2_block, verify_plaintext

    sent: list[bytes] = []
    raw = replay(transcript())

    def spy(apdu: bytes) -> bytes:
        sent.append(apdu)
        return raw(apdu)

    assert verify_plaintext(spy, "1234").ok
    assert sent[-1] == bytes.fromhex("0020008008241234FFFFFFFFFF")
    assert format2_block("123456") == bytes.fromhex("26123456FFFFFFFF")


def test_offline_enciphered_pin_decrypts_to_the_right_block() -> None:
    """Our enciphered PIN, opened with the test card's private key: 7F, the format 2 block, the
    card's challenge, the padding. The transcript's own block has the same structure."""
    from drivers.emv.offline_pin import verify_enciphered

    card = in_process(transcript())
    read = explore_contact(card)
    d = read.data
    issuer = recover_issuer_key(d[0x90], d.get(0x92, b""), d[0x9F32],
                                ca_key("AFFFFFFFFF", "92"), TODAY)
    pan = d[0x57].hex().upper().split("D")[0]
    icc = recover_icc_key(d[0x9F46], d.get(0x9F48, b""), d[0x9F47], issuer, read.static_data,
                          pan, TODAY)
    sent: list[bytes] = []

    def spy(apdu: bytes) -> bytes:
        sent.append(apdu)
        return card(apdu) if apdu[1] != 0x20 else b"\x90\x00"

    assert verify_enciphered(spy, "1234", icc).ok
    n, priv = icc_private_exponent()
    assert n == icc.modulus
    ours = sent[-1][5:]
    plain = pow(int.from_bytes(ours, "big"), priv, n).to_bytes(icc.size, "big")
    assert plain[0] == 0x7F and plain[1:9] == bytes.fromhex("241234FFFFFFFFFF")
    assert plain[9:17] == bytes.fromhex("B34571E839F2E14F")  # the card's challenge
    theirs = next(r for r in transcript() if r[:4] == bytes.fromhex("00200088"))[5:]
    plain = pow(int.from_bytes(theirs, "big"), priv, n).to_bytes(icc.size, "big")
    assert plain[0] == 0x7F and plain[1:9] == bytes.fromhex("241234FFFFFFFFFF")


def test_an_expired_or_revoked_issuer_certificate_fails_oda() -> None:
    card = in_process(transcript())
    read = explore_contact(card)
    d = read.data
    ca = ca_key("AFFFFFFFFF", "92")
    with pytest.raises(OdaError, match="expired"):
        recover_issuer_key(d[0x90], d.get(0x92, b""), d[0x9F32], ca, date(2099, 1, 1))
    with pytest.raises(OdaError, match="revoked"):
        recover_issuer_key(d[0x90], d.get(0x92, b""), d[0x9F32], ca, TODAY,
                           revoked=lambda serial: len(serial) == 3)
    wrong_ca = PublicKey(ca.modulus - 2, ca.exponent)
    with pytest.raises(OdaError):
        recover_issuer_key(d[0x90], d.get(0x92, b""), d[0x9F32], wrong_ca, TODAY)


def test_the_scheme_ca_keys_and_their_check_values() -> None:
    import json

    from drivers.emv.capk import CaKeyError, CaKeyStore, make_key

    keys = json.loads((CARD.parent / "capk" / "emv-utils_capk.json").read_text())
    loaded = [make_key(k["rid"], k["index"], k["modulus"], k["exponent"], k["sha1_checksum"])
              for k in keys if k["sha1_checksum_verified"]]
    assert len(loaded) >= 20
    store = CaKeyStore(loaded)
    visa = store.get(bytes.fromhex("A000000003"), 0x92, TODAY)
    assert visa.size == 176
    k = keys[0]
    bad = k["modulus"][:-2] + ("00" if k["modulus"][-2:] != "00" else "01")
    with pytest.raises(CaKeyError, match="check value"):
        make_key(k["rid"], k["index"], bad, k["exponent"], k["sha1_checksum"])
