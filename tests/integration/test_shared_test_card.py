"""The public test card of ../shared/vectors/test_card (mrautio/emvpt), its T=0 transcript
replayed as a card on the real vpcd reader: PSE selection with 61xx and 6Cxx, GPO format 1,
the AFL records, and DDA with the test CA key AFFFFFFFFF/92. Skips without ../shared."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from drivers.emv import tlv
from drivers.emv.kernel import explore_contact
from drivers.emv.oda import OdaError, PublicKey, recover_icc_key, recover_issuer_key, verify_dda
from drivers.emv.transmit import transmit as t0_transmit
from drivers.pcsc.reader import wait_for_card
from drivers.sim.vpcd import VirtualCard
from tests.support.pcsc import READER, pcscd  # noqa: F401 - the fixture

CARD = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "test_card"
pytestmark = pytest.mark.skipif(not CARD.exists(), reason="../shared/vectors is not beside "
                                                            "this clone")
TODAY = date(2026, 11, 25)


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
    un = bytes.fromhex("01234567")
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
