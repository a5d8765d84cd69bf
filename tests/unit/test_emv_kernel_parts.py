"""The kernel's pure parts one by one: CVM list processing, processing restrictions, velocity,
terminal action analysis, TVR/TSI bits, and application selection against scripted cards."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.emv import cvm, risk, selection, tlv
from drivers.emv.api import CardBlocked, CardNotSupported, CardUnreadable
from drivers.emv.tvr import new_tsi, new_tvr

CAPS = 0xD8  # 9F33 byte 2 of this terminal: plain + enc offline PIN, online PIN, no CVM
CTX = cvm.Context(5000, True, CAPS)


def cvm_list(x: int, y: int, *rules: str) -> bytes:
    return x.to_bytes(4, "big") + y.to_bytes(4, "big") + bytes.fromhex("".join(rules))


def test_first_applicable_rule_wins_and_results_are_recorded() -> None:
    asked: list[int] = []

    def perform(code: int) -> bool | None:
        asked.append(code)
        return code == cvm.ENC_PIN

    out = cvm.process(cvm_list(0, 0, "4403", "0203", "1F00"), CTX, perform)
    assert out.passed and out.results == bytes.fromhex("440302") and asked == [cvm.ENC_PIN]


def test_a_failed_rule_goes_on_only_when_it_says_so() -> None:
    out = cvm.process(cvm_list(0, 0, "4403", "0203"), CTX, lambda c: False if c == 4 else None)
    assert out.passed and out.results == bytes.fromhex("020300")  # online PIN: result unknown
    out = cvm.process(cvm_list(0, 0, "0403", "1F00"), CTX, lambda c: False)
    assert not out.passed and out.results == bytes.fromhex("040301")


def test_signature_is_never_supported_and_no_rule_left_fails() -> None:
    out = cvm.process(cvm_list(0, 0, "5E00", "0300"), CTX, lambda c: True)
    assert not out.passed and out.results == bytes.fromhex("030001")
    out = cvm.process(cvm_list(0, 0, "5E03"), CTX, lambda c: True)  # skipped: not supported
    assert not out.passed and out.results == bytes.fromhex("3F0001")


def test_amount_conditions_and_contactless_pin() -> None:
    under_x = cvm_list(10000, 0, "1F06", "0200")
    assert cvm.process(under_x, CTX, lambda c: True).results == bytes.fromhex("1F0602")
    over = cvm.Context(20000, True, CAPS)
    assert cvm.process(under_x, over, lambda c: None).results == bytes.fromhex("020000")
    other_currency = cvm.Context(5000, False, CAPS)
    assert cvm.process(under_x, other_currency, lambda c: None).method == cvm.ONLINE_PIN
    air = cvm.Context(5000, True, CAPS, contactless=True)
    out = cvm.process(cvm_list(0, 0, "4100", "1F00"), air, lambda c: True)
    assert out.method == cvm.NO_CVM  # no offline PIN over the air


def test_unknown_methods_are_flagged() -> None:
    out = cvm.process(cvm_list(0, 0, "6A00", "1F00"), CTX, lambda c: True)
    assert out.passed and out.unrecognised


@given(st.binary(max_size=40))
def test_cvm_lists_from_a_card_give_results_or_a_typed_error(raw: bytes) -> None:
    try:
        out = cvm.process(raw, CTX, lambda c: c == cvm.NO_CVM)
    except cvm.CvmListError:
        return
    assert len(out.results) == 3
    assert all(isinstance(w, str) for w in cvm.words(raw))


def test_processing_restrictions() -> None:
    today = date(2026, 11, 25)
    tvr = new_tvr()
    data = {0x5F24: bytes.fromhex("261124"), 0x5F25: bytes.fromhex("261201"),
            0x9F08: b"\x00\x02", 0x9F07: bytes.fromhex("2B00"), 0x5F28: b"\x08\x26"}
    risk.restrictions(data, tvr, today=today, country=b"\x02\x76", app_version=b"\x00\x8c")
    assert set(tvr.names()) == {"expired application", "application not yet effective",
                                "ICC and terminal have different application versions",
                                "requested service not allowed"}  # international goods: no
    tvr = new_tvr()
    data = {0x5F24: bytes.fromhex("291231"), 0x9F07: bytes.fromhex("FF00"),
            0x5F28: b"\x02\x76"}
    risk.restrictions(data, tvr, today=today, country=b"\x02\x76", app_version=None)
    assert tvr.names() == []
    tvr = new_tvr()
    risk.restrictions({0x5F24: b"\x99\x99\x99"}, tvr, today=today, country=b"", app_version=None)
    assert "expired application" in tvr  # a date that is no date


def test_velocity_and_action_analysis() -> None:
    limits = {0x9F14: b"\x02", 0x9F23: b"\x05"}
    tvr = new_tvr()
    risk.velocity(limits, tvr, b"\x00\x10", b"\x00\x00")
    assert {"new card", "lower consecutive offline limit exceeded",
            "upper consecutive offline limit exceeded"} <= set(tvr.names())
    tvr = new_tvr()
    risk.velocity(limits, tvr, b"\x00\x10", b"\x00\x0f")
    assert tvr.names() == []
    tvr = new_tvr()
    risk.velocity(limits, tvr, None, b"\x00\x0f")  # the card would not tell: both set
    assert len(tvr.names()) == 2
    assert risk.action({}, bytes(5), "visa") == risk.ARQC
    assert risk.action({}, bytes.fromhex("0010000000"), "visa") == risk.AAC  # TAC denial
    assert risk.action({0x9F0E: bytes.fromhex("0000800000")}, bytes.fromhex("0000800000"),
                       "mastercard") == risk.AAC  # IAC denial


def test_tvr_and_tsi_bits() -> None:
    tvr, tsi = new_tvr(), new_tsi()
    tvr.set("transaction exceeds floor limit")
    tvr.set("CDA failed")
    tsi.set("script processing was performed")
    assert bytes(tvr) == bytes.fromhex("0400008000") and bytes(tsi) == bytes.fromhex("0400")
    with pytest.raises(KeyError):
        tvr.set("no such bit")


def fci(name: bytes, priority: int | None = None, label: bytes = b"APP") -> bytes:
    a5 = [(0x50, label)] + ([(0x87, bytes([priority]))] if priority is not None else [])
    return tlv.encode(0x6F, tlv.encode(0x84, name) + tlv.encode(0xA5, tlv.encode_many(a5)))


def scripted(answers: dict[bytes, list[bytes]]):
    """A card that answers SELECTs by name (P2 00 first, 02 next occurrence)."""
    def card(apdu: bytes) -> bytes:
        if apdu[1] != 0xA4:
            return b"\x6d\x00"
        name = apdu[5:5 + apdu[4]]
        options = answers.get(name, [])
        key = (name, apdu[3])
        nth = seen[key] = seen.get(key, -1) + 1 if apdu[3] == 2 else 0
        if apdu[3] == 2:
            nth += 1
        return options[nth] if nth < len(options) else b"\x6a\x82"
    seen: dict[tuple[bytes, int], int] = {}
    return card


def test_aid_list_selection_with_partial_names_and_priorities() -> None:
    visa, electron = bytes.fromhex("A0000000031010"), bytes.fromhex("A0000000032010")
    debit = visa + b"\x01"
    card = scripted({
        visa: [fci(visa, 2) + b"\x90\x00", fci(debit, 1) + b"\x90\x00"],
        electron: [fci(electron, 0x81) + b"\x90\x00"],  # asks for confirmation
    })
    found = selection.contact_candidates(card)
    assert [c.aid for c in found] == [debit, visa]  # priority 1 first; Electron excluded
    card = scripted({visa: [fci(visa, 2) + b"\x90\x00"],
                     electron: [fci(electron, 0x81) + b"\x90\x00"]})
    found = selection.contact_candidates(card, confirm=lambda c: True)
    assert [c.aid for c in found] == [electron, visa]


def test_a_blocked_card_and_a_card_with_nothing_we_take() -> None:
    with pytest.raises(CardBlocked, match="blocked"):
        selection.contact_candidates(lambda apdu: b"\x6a\x81")
    assert selection.contact_candidates(lambda apdu: b"\x6a\x82") == []
    visa = bytes.fromhex("A0000000031010")
    blocked = scripted({visa: [b"\x62\x83"]})  # no PSE; its one application blocked
    with pytest.raises(CardBlocked, match="blocked"):
        selection.contact_candidates(blocked)
    other = bytes.fromhex("A0000000041010")  # a blocked one and a usable one: the usable one
    card = scripted({visa: [b"\x62\x83"], other: [fci(other, 1) + b"\x90\x00"]})
    assert [c.aid for c in selection.contact_candidates(card)] == [other]
    with pytest.raises(CardNotSupported, match="no contactless payment application"):
        selection.contactless_candidates(lambda apdu: b"\x6a\x82")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=12))
def test_selection_on_hostile_answers(answers: list[bytes]) -> None:
    it = iter(answers * 30)
    for find in (selection.contact_candidates, selection.contactless_candidates):
        with contextlib.suppress(CardUnreadable, tlv.TlvError):
            find(lambda apdu: next(it, b"\x6a\x82"))


def exchange(*answers: bytes):
    """A raw card link answering in order, recording the commands."""
    sent: list[bytes] = []
    queue = list(answers)

    def raw(apdu: bytes) -> bytes:
        sent.append(apdu)
        return queue.pop(0)
    return raw, sent


def test_transmission_layer_t0_procedures() -> None:
    from drivers.emv.transmit import MAX_CHAIN, transmit

    select = bytes.fromhex("00A4040007A000000003101000")
    raw, sent = exchange(b"\x61\x04", b"\x6f\x02\x84\x00\x61\x02", b"\x90\x00\x90\x00")
    assert transmit(raw, select) == bytes.fromhex("6F0284009000") + b"\x90\x00"
    assert sent[1:] == [bytes.fromhex("00C0000004"), bytes.fromhex("00C0000002")]
    raw, sent = exchange(b"\x6c\x1a", bytes(26) + b"\x90\x00")  # wrong Le: sent again
    assert transmit(raw, bytes.fromhex("00B2010C00")) == bytes(26) + b"\x90\x00"
    assert sent[1] == bytes.fromhex("00B2010C1A")
    # a warning without data on a case 4 command: the data is fetched, the warning kept
    raw, sent = exchange(b"\x62\x83", b"\x6c\x03", b"\x6f\x01\x00\x90\x00")
    assert transmit(raw, select) == b"\x6f\x01\x00\x62\x83"
    assert sent[1:] == [bytes.fromhex("00C0000000"), bytes.fromhex("00C0000003")]
    raw, _ = exchange(b"\x62\x83", b"\x6a\x82")  # nothing to fetch: the warning alone
    assert transmit(raw, select) == b"\x62\x83"
    raw, sent = exchange(b"\x63\xc2")  # VERIFY is case 3: its 63Cx is the answer itself
    assert transmit(raw, bytes.fromhex("002000800824" + "1234FFFFFFFFFF")) == b"\x63\xc2"
    assert len(sent) == 1
    raw, _ = exchange(*[b"\x61\x01"] * (MAX_CHAIN + 2))
    with pytest.raises(CardUnreadable):
        transmit(raw, select)  # endless chaining is cut
    raw, _ = exchange(b"\x90")
    with pytest.raises(CardUnreadable, match="no SW"):
        transmit(raw, select)


def test_the_pin_encipherment_key_certificate_is_preferred_to_the_icc_key() -> None:
    """9F2D (no static data in its hash) gives the key an offline enciphered PIN goes under."""
    from drivers.emv.api import Interface
    from drivers.emv.transaction import Transaction
    from drivers.sim.pki import generate_rsa, icc_certificate, load_test_pki

    pan = "4761739001010119"
    issuer, pin_key = load_test_pki().issuers["visa_issuer"], generate_rsa(1024)
    c = icc_certificate(issuer, pin_key.public, pan=pan, expiry="1230", serial=b"\x00\x00\x01",
                        static_data=b"")
    tx = Transaction(lambda apdu: b"\x6d\x00", Interface.CONTACT, today=date(2026, 11, 25))
    tx.data = {0x5A: bytes.fromhex(pan), 0x9F2D: c.cert, 0x9F2E: c.exponent,
               0x9F2F: c.remainder}
    tx._issuer_key = issuer.public
    assert tx._pin_key() == pin_key.public
