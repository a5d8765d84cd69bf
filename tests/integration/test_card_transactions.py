"""Every virtual card through a whole transaction on the real reader stack: the card on
vsmartcard's vpcd reader, pcscd, pyscard, our kernel (PcscCardTerminal), the ISO 8583 link to
the host simulator over TCP (which checks the ARQC and answers the ARPC), and back to the card
for issuer authentication, scripts and the second GENERATE AC."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.acquirer.api import AuthRequest
from drivers.acquirer.iso_link import IsoHostLink
from drivers.acquirer.pin import CounterStore, PinEncryptor
from drivers.emv import tlv
from drivers.emv.api import (
    CardDeclined,
    CardOutcome,
    CardRemoved,
    CardUnreadable,
    Completion,
    Cvm,
    Interface,
    PinCancelled,
    PinRequest,
)
from drivers.emv.capk import CaKeyStore
from drivers.pcsc.terminal import PcscCardTerminal
from drivers.sim.cards import TEST_CARDS, SimCard
from drivers.sim.emv_card import EmvCardApp
from drivers.sim.host import HostSimulator
from drivers.sim.keys import TEST_IK_ID, sim_terminal_initial_key
from drivers.sim.vpcd import VirtualCard
from tests.support.cards import CA_KEYS
from tests.support.pcsc import READER

pytestmark = pytest.mark.usefixtures("pcscd")


@pytest.fixture
def terminal() -> Iterator[PcscCardTerminal]:
    t = PcscCardTerminal(READER, ca_keys=CaKeyStore.load(CA_KEYS))
    yield t
    t.close()


class Inserted:
    def __init__(self, card: SimCard) -> None:
        self.app = EmvCardApp(card)
        self.vc = VirtualCard(self.app.apdu, atr=self.app.atr)

    def __enter__(self) -> EmvCardApp:
        self.vc.insert()
        return self.app

    def __exit__(self, *exc: object) -> None:
        self.vc.remove()
        time.sleep(0.6)  # let the reader see it empty (pcscd polls about every 400 ms)


def pay(terminal: PcscCardTerminal, host: HostSimulator, card: SimCard, ref: str,
        pins: list[str] | None = None) -> tuple[CardOutcome, bool, Completion, list[PinRequest]]:
    """Read, authorize over ISO 8583 (online PIN from the pad when the card asks), complete."""
    asked: list[PinRequest] = []

    def pin_entry(req: PinRequest) -> str:
        asked.append(req)
        if not pins:
            raise PinCancelled("cancelled")
        return pins.pop(0)

    outcome = terminal.read_card(5000, "EUR", 10, pin_entry=pin_entry)
    block = ksn = b""
    if outcome.cvm is Cvm.ONLINE_PIN:
        enc = PinEncryptor("aes", sim_terminal_initial_key(), TEST_IK_ID,
                           CounterStore(Path(tempfile.mkdtemp()) / "c"))
        p = enc.encrypt(card.pin, outcome.pan)
        block, ksn = p.block, p.ksn
    link = IsoHostLink("127.0.0.1", host.port, terminal_id="KIOSK001", merchant_id="DEMO0001",
                       currency="EUR", timeout_s=2.0, connect_timeout_s=1.0)
    try:
        result = link.authorize(AuthRequest(
            ref=ref, amount_minor=5000, currency="EUR", pan=outcome.pan, expiry=outcome.expiry,
            icc_data=outcome.icc_data, pin_block=block, pin_ksn=ksn,
            entry_mode="071" if outcome.interface is Interface.CONTACTLESS else "051"))
    finally:
        link.close()
    return outcome, result.approved, terminal.complete(result.approved, result.icc_response), \
        asked


def final_data(c: Completion) -> dict[int, bytes]:
    return tlv.flatten(tlv.parse(c.icc_data))


@pytest.mark.parametrize("name", ["visa_contactless", "mastercard_contactless"])
def test_contactless_cards(terminal, host, name: str) -> None:
    card = TEST_CARDS[name]
    with Inserted(card):
        outcome, approved, done, _ = pay(terminal, host, card, f"cl-{name}")
    assert outcome.interface is Interface.CONTACTLESS and not outcome.needs_completion
    assert approved and done.approved  # the host checked the ARQC the card made
    tx = terminal.last
    assert tx is not None
    assert (tx.oda.method, tx.oda.ok) == (("fdda", True) if card.scheme == "visa" else
                                          ("cda", True))
    assert outcome.cvm is Cvm.NO_CVM


def test_mastercard_contact_cda_with_offline_enciphered_pin(terminal, host) -> None:
    card = TEST_CARDS["mastercard_contact_cda"]
    with Inserted(card) as app:
        outcome, approved, done, asked = pay(terminal, host, card, "mc-cda", ["1111", "1234"])
    assert asked == [PinRequest(True, 3, False), PinRequest(True, 2, True)]
    assert outcome.cvm is Cvm.OFFLINE_PIN and outcome.interface is Interface.CONTACT
    tx = terminal.last
    assert tx is not None and (tx.oda.method, tx.oda.ok) == ("cda", True)
    assert approved and done.approved
    final = final_data(done)
    assert final[0x9F27] == b"\x40"  # TC
    assert final[0x95] == bytes.fromhex("0000008000")  # only "exceeds floor limit"
    assert final[0x9B][0] & 0xF8 == 0xF8  # ODA, CVM, card and terminal risk, issuer auth
    assert tx.cvm_results == bytes.fromhex("440302")
    assert app.selected  # the card really saw the whole dialogue


def test_offline_pin_blocked_falls_back_to_the_next_rule(terminal, host) -> None:
    """Three wrong PINs: the card blocks its PIN; the CVM list then asks for online PIN."""
    card = TEST_CARDS["mastercard_contact_cda"]
    with Inserted(card):
        outcome = terminal.read_card(5000, "EUR", 10,
                                     pin_entry=lambda req: "0000")
        tx = terminal.last
        done = terminal.complete(False, b"")
    assert outcome.cvm is Cvm.ONLINE_PIN
    assert tx is not None and "PIN try limit exceeded" in tx.tvr
    assert not done.approved


def test_sda_card_with_offline_plaintext_pin(terminal, host) -> None:
    card = TEST_CARDS["visa_contact_sda_pin"]
    with Inserted(card):
        outcome, approved, done, asked = pay(terminal, host, card, "visa-sda", ["4321"])
    tx = terminal.last
    assert tx is not None and (tx.oda.method, tx.oda.ok) == ("sda", True)
    assert outcome.cvm is Cvm.OFFLINE_PIN and len(asked) == 1
    assert approved and done.approved


def test_online_pin_card(terminal, host) -> None:
    card = TEST_CARDS["visa_contact_online_pin"]
    with Inserted(card):
        outcome, approved, done, asked = pay(terminal, host, card, "visa-opin")
    assert outcome.cvm is Cvm.ONLINE_PIN and asked == []  # the PIN goes to the host
    tx = terminal.last
    assert tx is not None and (tx.oda.method, tx.oda.ok) == ("dda", True)
    assert "online PIN entered" in tx.tvr
    assert approved and done.approved  # EXTERNAL AUTHENTICATE, then TC


@pytest.mark.parametrize(("name", "reason"), [("visa_expired_issuer", "expired"),
                                              ("mastercard_revoked", "revoked")])
def test_failed_oda_goes_online_with_the_tvr_saying_so(terminal, host, name: str,
                                                       reason: str) -> None:
    card = TEST_CARDS[name]
    with Inserted(card):
        outcome, approved, done, _ = pay(terminal, host, card, f"oda-{name}")
    tx = terminal.last
    assert tx is not None and tx.oda.ok is False and reason in tx.oda.reason
    assert "DDA failed" in tx.tvr
    sent = tlv.flatten(tlv.parse(outcome.icc_data))
    assert sent[0x95][0] & 0x08  # the issuer sees it in field 55
    assert approved and done.approved  # this issuer approves anyway


def test_issuer_script_runs_after_the_second_generate_ac(terminal, host) -> None:
    card = TEST_CARDS["visa_script"]
    with Inserted(card) as app:
        _, approved, done, _ = pay(terminal, host, card, "visa-script")
    assert approved and done.approved
    results = final_data(done)[0x9F5B]
    assert results[0] == 0x20 and len(results) == 5  # script performed, all commands fine
    assert app.scripts and app.scripts[0][:2] == b"\x84\xda"


def test_host_decline_gets_the_cards_aac(terminal, host) -> None:
    card = TEST_CARDS["declined_honour"]
    with Inserted(card):
        _, approved, done, _ = pay(terminal, host, card, "mc-decl")
    assert not approved and not done.approved
    assert final_data(done)[0x9F27] == b"\x00"


def test_the_terminal_declines_a_card_its_usage_control_forbids(terminal, host) -> None:
    """ATM only: the TVR hits the Visa denial code, the first GENERATE AC asks for an AAC."""
    with Inserted(TEST_CARDS["visa_atm_only"]), pytest.raises(CardDeclined):
        terminal.read_card(5000, "EUR", 10)
    tx = terminal.last
    assert tx is not None and tx.data[0x9F27] == b"\x00"
    assert "requested service not allowed" in tx.tvr


def test_card_pulled_out_mid_transaction(terminal, host) -> None:
    card = TEST_CARDS["removed_card"]
    with Inserted(card), pytest.raises(CardRemoved):
        terminal.read_card(5000, "EUR", 10)


def test_card_pulled_out_before_the_host_answered(terminal, host) -> None:
    card = TEST_CARDS["visa_contact_online_pin"]
    inserted = Inserted(card)
    with inserted:
        outcome = terminal.read_card(5000, "EUR", 10)
    assert outcome.needs_completion
    done = terminal.complete(True, b"")
    assert not done.approved and "removed" in done.message


def test_garbage_card(terminal, host) -> None:
    with Inserted(TEST_CARDS["garbage_card"]), pytest.raises(CardUnreadable):
        terminal.read_card(5000, "EUR", 10)


def test_offline_pin_cancelled(terminal, host) -> None:
    with Inserted(TEST_CARDS["visa_contact_sda_pin"]), pytest.raises(PinCancelled):
        terminal.read_card(5000, "EUR", 10, pin_entry=lambda req: (_ for _ in ()).throw(
            PinCancelled("cancelled")))

