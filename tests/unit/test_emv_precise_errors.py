"""The kernel says what it knows by the class of its error (what the driver is told follows from
the class alone, :func:`kiosk.devices.card.card_say`): a blocked card, a card with nothing this
terminal takes, a contactless card that must be inserted, a card that declines with its PIN
blocked, and a card that leaves before its final word. Each drives the real kernel with a
virtual card (drivers.sim.emv_card), some of its answers changed where no test card has them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from drivers.emv import tlv
from drivers.emv.api import (
    CardBlocked,
    CardDeclined,
    CardError,
    CardNotSupported,
    CardRemoved,
    CardUnreadable,
    ContactRequired,
    Interface,
    PinBlocked,
    PinRequest,
)
from drivers.emv.capk import CaKeyStore
from drivers.emv.selection import PPSE, PSE, TerminalAid
from drivers.emv.transaction import MSG_DECLINED, MSG_INSERT, TerminalConfig, Transaction
from drivers.emv.transmit import transmit
from drivers.sim.cards import TEST_CARDS, SimCard
from drivers.sim.cryptogram import issuer_check
from drivers.sim.emv_card import CardLeft, EmvCardApp
from kiosk.devices.card import card_say
from kiosk.session.says import Say
from tests.support.cards import CA_KEYS

STORE = CaKeyStore.load(CA_KEYS)
SELECT, GPO, GENERATE_AC, VERIFY = 0xA4, 0xA8, 0xAE, 0x20
NO_FILE, BLOCKED, APP_BLOCKED = b"\x6a\x82", b"\x6a\x81", b"\x62\x83"
BLOCKED_MSG = "This card is blocked. Please try another card."
# Changes one answer of the card: the command → an answer, or None for the card's own
Change = Callable[[bytes], bytes | None]


class Link:
    """The reader between the kernel and a virtual card: ``change`` answers in the card's
    place where it returns something; after :meth:`pull` the card is gone."""

    def __init__(self, app: EmvCardApp, change: Change | None = None) -> None:
        self.app, self.change = app, change
        self.gone = False
        self.sent: list[bytes] = []

    def raw(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        answer = self.change(apdu) if self.change is not None else None
        if self.gone:
            raise CardRemoved("The card was removed too early. Please try again.")
        if answer is not None:
            return answer
        try:
            return self.app.apdu(apdu)
        except CardLeft:
            raise CardRemoved("The card was removed too early. Please try again.") from None

    def __call__(self, apdu: bytes) -> bytes:
        return transmit(self.raw, apdu)

    def pull(self) -> None:
        self.gone = True


def card_of(card: SimCard | str) -> SimCard:
    return TEST_CARDS[card] if isinstance(card, str) else card


def transaction(link: Link, interface: Interface, **kw: object) -> Transaction:
    return Transaction(link, interface, ca_keys=STORE, **kw)  # type: ignore[arg-type]


def read_fails(link: Link, interface: Interface, **kw: object) -> CardError:
    with pytest.raises(CardError) as failed:
        transaction(link, interface, **kw).run(5000, "978")
    return failed.value


def is_select(apdu: bytes, name: bytes, *, p2: int = 0) -> bool:
    return apdu[1] == SELECT and apdu[3] == p2 and apdu[5:5 + apdu[4]].startswith(name)


def when(test: Callable[[bytes], bool], answer: bytes) -> Change:
    return lambda apdu: answer if test(apdu) else None


# --- blocked: SELECT 6A81, or the application blocked (6283) -----------------------------
@pytest.mark.parametrize("change", [
    when(lambda a: is_select(a, PSE), BLOCKED),  # SELECT PSE: the card is blocked
    lambda a: NO_FILE if is_select(a, PSE) else BLOCKED if is_select(a, b"\xa0") else None,
], ids=["pse_6a81", "first_aid_6a81"])
def test_a_card_that_answers_select_with_6a81_is_blocked(change: Change) -> None:
    exc = read_fails(Link(EmvCardApp(TEST_CARDS["visa_contact_online_pin"]), change),
                     Interface.CONTACT)
    assert type(exc) is CardBlocked and str(exc) == BLOCKED_MSG
    assert card_say(exc) is Say.CARD_BLOCKED


def test_an_application_the_issuer_blocked_by_script_is_blocked_at_the_next_read() -> None:
    """The issuer blocks the application (script 84 1E) on the host's answer; the next read
    finds it in the PSE directory and its final SELECT answers 6283."""
    app = EmvCardApp(TEST_CARDS["visa_script"])
    tx = transaction(Link(app), Interface.CONTACT)
    out = tx.run(5000, "978")
    block = tlv.encode(0x72, tlv.encode_many([(0x9F18, bytes.fromhex("00000002")),
                                              (0x86, bytes.fromhex("841E000000"))]))
    _, de55 = issuer_check(out.icc_data, out.pan, True, scripts=block)
    tx.complete(True, de55)
    assert app.blocked
    link = Link(app)
    exc = read_fails(link, Interface.CONTACT)
    assert type(exc) is CardBlocked and str(exc) == BLOCKED_MSG
    assert card_say(exc) is Say.CARD_BLOCKED
    assert not any(a[1] == GPO for a in link.sent)  # a blocked application gets no GPO


@pytest.mark.parametrize(("name", "interface", "change"), [
    ("visa_contact_online_pin", Interface.CONTACT,  # no PSE: the terminal's AID list
     when(lambda a: is_select(a, PSE), NO_FILE)),
    ("visa_contactless", Interface.CONTACTLESS, None),  # PPSE, then the final SELECT
    ("mastercard_contactless", Interface.CONTACTLESS, None),
], ids=["aid_list", "visa_contactless", "mastercard_contactless"])
def test_a_blocked_application_6283_is_blocked(name: str, interface: Interface,
                                               change: Change | None) -> None:
    app = EmvCardApp(TEST_CARDS[name])
    app.blocked = True
    exc = read_fails(Link(app, change), interface)
    assert type(exc) is CardBlocked and str(exc) == BLOCKED_MSG
    assert card_say(exc) is Say.CARD_BLOCKED
    assert app.apdu(bytes.fromhex("00A4040007") + app.profile.aid + b"\x00") == APP_BLOCKED


def test_identification_of_a_blocked_card_is_blocked_too() -> None:
    app = EmvCardApp(TEST_CARDS["visa_contactless"])
    app.blocked = True
    with pytest.raises(CardBlocked):
        transaction(Link(app), Interface.CONTACTLESS).identify()


# --- not supported: nothing this terminal accepts ----------------------------------------
MASTERCARD_ONLY = (TerminalAid(bytes.fromhex("A0000000041010"), "mastercard", kernel=2),)


@pytest.mark.parametrize(("name", "interface"), [
    ("visa_contact_online_pin", Interface.CONTACT), ("visa_contactless", Interface.CONTACTLESS)])
def test_a_card_with_no_application_this_terminal_accepts_is_not_supported(
        name: str, interface: Interface) -> None:
    exc = read_fails(Link(EmvCardApp(TEST_CARDS[name])), interface, aids=MASTERCARD_ONLY)
    assert type(exc) is CardNotSupported
    assert str(exc).endswith("(no application this terminal accepts)")
    assert card_say(exc) is Say.CARD_NOT_SUPPORTED


def test_a_contactless_card_with_a_kernel_this_terminal_lacks_is_not_supported() -> None:
    app = EmvCardApp(TEST_CARDS["mastercard_contactless"])

    def kernel_4(apdu: bytes) -> bytes | None:  # its PPSE entry names kernel 4, not 2
        if not is_select(apdu, PPSE):
            return None
        answer = app.apdu(apdu)
        assert b"\x9f\x2a\x01\x02" in answer
        return answer.replace(b"\x9f\x2a\x01\x02", b"\x9f\x2a\x01\x04")

    exc = read_fails(Link(app, kernel_4), Interface.CONTACTLESS)
    assert type(exc) is CardNotSupported and card_say(exc) is Say.CARD_NOT_SUPPORTED


def test_a_card_without_a_ppse_has_no_contactless_payment_application() -> None:
    """A contact card's chip (no PPSE) read over the contactless interface."""
    exc = read_fails(Link(EmvCardApp(TEST_CARDS["mastercard_pin"])), Interface.CONTACTLESS)
    assert type(exc) is CardNotSupported
    assert str(exc).endswith("(no contactless payment application)")
    assert card_say(exc) is Say.CARD_NOT_SUPPORTED


def test_a_card_that_is_merely_broken_stays_unreadable() -> None:
    exc = read_fails(Link(EmvCardApp(TEST_CARDS["garbage_card"])), Interface.CONTACT)
    assert type(exc) is CardUnreadable and card_say(exc) is Say.CARD_UNREADABLE


# --- contact required: a contactless card that can pay only by contact -------------------
@pytest.mark.parametrize(("name", "sw"), [
    ("visa_contactless", b"\x69\x84"), ("visa_contactless", b"\x69\x86"),
    ("mastercard_contactless", b"\x69\x84"), ("mastercard_contactless", b"\x69\x86")])
def test_a_gpo_that_asks_for_another_interface_requires_contact(name: str, sw: bytes) -> None:
    link = Link(EmvCardApp(TEST_CARDS[name]), when(lambda a: a[1] == GPO, sw))
    exc = read_fails(link, Interface.CONTACTLESS)
    assert type(exc) is ContactRequired and str(exc) == MSG_INSERT
    assert card_say(exc) is Say.INSERT_CARD


def test_the_same_gpo_answer_on_contact_is_unreadable() -> None:
    link = Link(EmvCardApp(TEST_CARDS["visa_contact_online_pin"]),
                when(lambda a: a[1] == GPO, b"\x69\x86"))
    exc = read_fails(link, Interface.CONTACT)
    assert type(exc) is CardUnreadable and card_say(exc) is Say.CARD_UNREADABLE


def test_a_visa_card_that_answers_no_qvsdc_cryptogram_requires_contact() -> None:
    """A kernel 3 card whose GPO answer carries no cryptogram (9F26): MSD or VSDC only."""
    def link() -> Link:
        app = EmvCardApp(TEST_CARDS["visa_contactless"])

        def without_cryptogram(apdu: bytes) -> bytes | None:
            if apdu[1] != GPO:
                return None
            answer = app.apdu(apdu)
            gpo = tlv.parse_one(answer[:-2])
            return tlv.encode(0x77, tlv.encode_many(
                [(c.tag, c.value) for c in gpo.children if c.tag != 0x9F26])) + answer[-2:]

        return Link(app, without_cryptogram)

    exc = read_fails(link(), Interface.CONTACTLESS)
    assert type(exc) is ContactRequired and str(exc) == MSG_INSERT
    assert card_say(exc) is Say.INSERT_CARD
    with pytest.raises(ContactRequired):  # card-info reads it the same way
        transaction(link(), Interface.CONTACTLESS).inspect()


# --- PIN blocked: an AAC with "PIN try limit exceeded" in the TVR ------------------------
def declines_when_pin_blocked(app: EmvCardApp) -> Change:
    """A card whose own risk management declines once its PIN is blocked (as an issuer's
    card action codes may say): its first GENERATE AC is an AAC whatever the terminal asks."""
    def change(apdu: bytes) -> bytes | None:
        if apdu[1] == GENERATE_AC and not app._cids and app.pin_tries_left == 0:
            return app.apdu(apdu[:2] + b"\x00" + apdu[3:])  # P1: AAC
        return None
    return change


@pytest.mark.parametrize(("card", "pin", "asked"), [
    ("visa_contact_sda_pin", "0000", 3),  # plaintext: three wrong PINs block it in this read
    ("mastercard_contact_cda", "9999", 3),  # enciphered, the same
    (dataclasses.replace(TEST_CARDS["visa_contact_sda_pin"], name="visa_pin_blocked",
                         pin_tries=0), "4321", 0),  # blocked before: no PIN is asked
], ids=["plaintext", "enciphered", "blocked_before"])
def test_a_card_that_declines_with_its_pin_try_limit_exceeded_is_pin_blocked(
        card: SimCard | str, pin: str, asked: int) -> None:
    app = EmvCardApp(card_of(card))
    requests: list[PinRequest] = []

    def pin_entry(req: PinRequest) -> str:
        requests.append(req)
        return pin

    tx = transaction(Link(app, declines_when_pin_blocked(app)), Interface.CONTACT,
                     pin_entry=pin_entry)
    with pytest.raises(CardError) as failed:
        tx.run(5000, "978")
    exc = failed.value
    assert type(exc) is PinBlocked and str(exc) == MSG_DECLINED
    assert isinstance(exc, CardDeclined) and card_say(exc) is Say.PIN_BLOCKED
    assert len(requests) == asked and app.pin_tries_left == 0
    assert bytes(tx.tvr)[2] & 0x20  # TVR byte 3 bit 6: PIN try limit exceeded
    assert app._cids == [0x00]  # the card's AAC


def test_the_right_pin_after_a_wrong_one_is_no_decline() -> None:
    app = EmvCardApp(TEST_CARDS["visa_contact_sda_pin"])
    pins = iter(["0000", "4321"])
    tx = transaction(Link(app, declines_when_pin_blocked(app)), Interface.CONTACT,
                     pin_entry=lambda _req: next(pins))
    assert tx.run(5000, "978").needs_completion
    assert not bytes(tx.tvr)[2] & 0x20


def test_an_aac_without_a_blocked_pin_is_a_plain_decline() -> None:
    exc = read_fails(Link(EmvCardApp(TEST_CARDS["visa_atm_only"])), Interface.CONTACT)
    assert type(exc) is CardDeclined and str(exc) == MSG_DECLINED
    assert card_say(exc) is Say.DECLINED_BY_CARD


@pytest.mark.parametrize("pin_blocked", [False, True])
def test_a_qvsdc_aac_is_pin_blocked_only_with_the_tvr_bit(pin_blocked: bool) -> None:
    """A Visa contactless card that wants online PIN declines (AAC in its GPO answer) at a
    terminal that cannot take one. The qVSDC path itself never sets the PIN try limit bit
    (no offline PIN over the air): it is set here before the read."""
    tx = transaction(Link(EmvCardApp(TEST_CARDS["visa_contactless_pin"])),
                     Interface.CONTACTLESS, terminal=TerminalConfig(ttq=bytes.fromhex("32804000")))
    if pin_blocked:
        tx.tvr.set("PIN try limit exceeded")
    with pytest.raises(CardDeclined) as failed:
        tx.run(5000, "978")
    assert type(failed.value) is (PinBlocked if pin_blocked else CardDeclined)
    assert card_say(failed.value) is (Say.PIN_BLOCKED if pin_blocked else Say.DECLINED_BY_CARD)


# --- removed before the final word -------------------------------------------------------
def issuer_answer(tx: Transaction, name: str) -> bytes:
    out = tx.run(5000, "978")
    assert out.needs_completion
    return issuer_check(out.icc_data, TEST_CARDS[name].pan, True)[1]


@pytest.mark.parametrize("at", ["first_command", "second_generate_ac"])
def test_a_card_removed_before_its_second_generate_ac_is_a_removed_completion(at: str) -> None:
    app = EmvCardApp(TEST_CARDS["visa_contact_online_pin"])
    link = Link(app)
    tx = transaction(link, Interface.CONTACT)
    de55 = issuer_answer(tx, "visa_contact_online_pin")
    if at == "first_command":
        link.pull()
    else:
        link.change = lambda a: link.pull() if a[1] == GENERATE_AC else None
    done = tx.complete(True, de55)
    assert not done.approved and done.removed
    assert done.message == "The card was removed before the payment was complete."
    assert len(app._cids) == 1  # the card never gave its second cryptogram


def test_a_card_that_declines_or_fails_at_the_end_is_not_removed() -> None:
    tx = transaction(Link(EmvCardApp(TEST_CARDS["visa_declines_at_end"])), Interface.CONTACT)
    done = tx.complete(True, issuer_answer(tx, "visa_declines_at_end"))
    assert (done.approved, done.removed, done.message) == (False, False, MSG_DECLINED)
    link = Link(EmvCardApp(TEST_CARDS["visa_contact_online_pin"]))
    tx = transaction(link, Interface.CONTACT)
    de55 = issuer_answer(tx, "visa_contact_online_pin")
    link.change = when(lambda a: a[1] == GENERATE_AC, b"\x6f\x00")  # a broken answer
    done = tx.complete(True, de55)
    assert (done.approved, done.removed) == (False, False)
    assert done.message == "The card could not complete the payment."
    ok = transaction(Link(EmvCardApp(TEST_CARDS["visa_contact_online_pin"])), Interface.CONTACT)
    done = ok.complete(True, issuer_answer(ok, "visa_contact_online_pin"))
    assert done.approved and not done.removed
