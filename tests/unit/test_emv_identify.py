"""The kernel's identification (stop with the same card): selection, GPO and records only, the
card number from 5A (or the track 2 equivalent), and a card's trouble as the kernel's typed
errors."""

from __future__ import annotations

import dataclasses

import pytest

from drivers.emv.api import CardRemoved, CardUnreadable
from drivers.emv.transaction import Transaction, identify
from drivers.emv.transmit import transmit
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS, SimCard
from drivers.sim.emv_card import CardLeft, EmvCardApp

VERIFY, GENERATE_AC = 0x20, 0xAE


def sent_to(card: SimCard) -> tuple[list[bytes], EmvCardApp, object]:
    app = EmvCardApp(card)
    sent: list[bytes] = []

    def raw(apdu: bytes) -> bytes:
        sent.append(apdu)
        try:
            return app.apdu(apdu)
        except CardLeft:
            raise CardRemoved("The card was removed too early. Please try again.") from None

    return sent, app, lambda apdu: transmit(raw, apdu)


@pytest.mark.parametrize("name", ["visa_contactless", "mastercard_contactless",
                                  "mastercard_contact_cda", "visa_contact_sda_pin",
                                  "mastercard_pin"])
def test_identify_reads_the_card_number_and_nothing_of_a_payment(name: str) -> None:
    card = TEST_CARDS[name]
    sent, _, link = sent_to(card)
    got = identify(link, card.interface)
    assert (got.pan, got.scheme, got.interface) == (card.pan, card.scheme, card.interface)
    assert card.pan not in repr(got)
    assert {a[1] for a in sent}.isdisjoint({VERIFY, GENERATE_AC})  # no PIN, no cryptogram
    assert any(a[:2] == b"\x80\xa8" for a in sent)  # GET PROCESSING OPTIONS
    assert any(a[1] == 0xB2 for a in sent)  # READ RECORD


def test_the_track_2_equivalent_when_there_is_no_5a() -> None:
    card = TEST_CARDS["visa_contactless"]
    tx = Transaction(lambda _apdu: b"", card.interface)
    tx.data = {0x57: bytes.fromhex(card.pan + "D" + card.expiry + "201000000000F")}
    assert tx.pan == card.pan


def test_a_card_that_leaves_or_answers_garbage_is_a_typed_error() -> None:
    leaving = dataclasses.replace(TEST_CARDS["visa_contactless"], name="leaves",
                                  behaviour="removed", leave_at="gpo")
    _, _, link = sent_to(leaving)
    with pytest.raises(CardRemoved):
        identify(link, leaving.interface)
    garbage = TEST_CARDS["garbage_card"]
    _, _, link = sent_to(garbage)
    with pytest.raises(CardUnreadable):
        identify(link, garbage.interface)


def test_the_sim_terminal_leaves_a_card_waiting_for_completion_alone() -> None:
    terminal = SimCardTerminal()
    terminal.present(TEST_CARDS["mastercard_contact_cda"])
    out = terminal.read_card(5000, "EUR", 5, pin_entry=lambda _req: "1234")
    assert out.needs_completion
    terminal.present(TEST_CARDS["visa_contactless"])
    assert terminal.identify_card("EUR", 5, lambda: False).scheme == "visa"
    assert not terminal.complete(False, b"").approved  # still its card: the AAC
    assert terminal.reads == 1 and terminal.identified == 1
