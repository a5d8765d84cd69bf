"""The kernel against a real card dialogue with one answer spoiled (hypothesis): truncated,
bit-flipped, replaced, or with another status word. Whatever the card does, the kernel ends with
a result or a typed card error, and ``complete`` never raises."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.emv.api import CardError, PinCancelled
from drivers.emv.capk import CaKeyStore
from drivers.emv.transaction import Transaction
from drivers.emv.transmit import transmit
from drivers.sim.cards import TEST_CARDS
from drivers.sim.emv_card import CardLeft, EmvCardApp
from tests.support.cards import CA_KEYS

STORE = CaKeyStore.load(CA_KEYS)
CARDS = ["visa_contactless", "mastercard_contactless", "mastercard_contact_cda",
         "visa_contact_sda_pin", "visa_script"]
spoil = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 300)),
    st.tuples(st.just("flip"), st.integers(0, 300)),
    st.tuples(st.just("replace"), st.binary(max_size=64)),
    st.tuples(st.just("sw"), st.binary(min_size=2, max_size=2)),
)


def spoiled(answer: bytes, how: tuple[str, object]) -> bytes:
    kind, arg = how
    if kind == "truncate":
        return answer[:int(arg) % (len(answer) + 1)]  # type: ignore[call-overload]
    if kind == "flip" and answer:
        i = int(arg) % len(answer)  # type: ignore[call-overload]
        return answer[:i] + bytes([answer[i] ^ 0x5A]) + answer[i + 1:]
    if kind == "sw":
        return answer[:-2] + arg  # type: ignore[operator]
    return arg if isinstance(arg, bytes) else answer


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CARDS), st.integers(0, 30), spoil)
def test_one_spoiled_answer_gives_a_typed_error_or_a_result(name: str, which: int,
                                                            how: tuple[str, object]) -> None:
    app = EmvCardApp(TEST_CARDS[name])
    n = [0]

    def card(apdu: bytes) -> bytes:
        n[0] += 1
        try:
            answer = app.apdu(apdu)
        except CardLeft:
            return b""
        return spoiled(answer, how) if n[0] == which else answer

    tries = [0]

    def pin_entry(req: object) -> str:
        tries[0] += 1
        if tries[0] > 5:
            raise PinCancelled("enough")
        return TEST_CARDS[name].offline_pin or "1234"

    tx = Transaction(lambda a: transmit(card, a), TEST_CARDS[name].interface, ca_keys=STORE,
                     pin_entry=pin_entry)
    with contextlib.suppress(CardError):
        tx.run(5000, "978")
    done = tx.complete(True, bytes.fromhex("910A") + bytes(8) + b"00")
    assert isinstance(done.approved, bool)
