"""The payment adapter's card side, one layer alone: offline PIN handed from the PIN pad to a
waiting kernel, and the card's final word (second GENERATE AC) after the host answered.

The card terminal and the host are scripted fakes; the adapter's worker threads are real, so
which thread talks to the card is checked, not assumed."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.acquirer.api import Ack, AuthRequest, AuthResult, HostTimeout, HostUnavailable
from drivers.acquirer.pin import CounterStore, PinEncryptor
from drivers.emv.api import (
    CardOutcome,
    Completion,
    Cvm,
    Interface,
    PinBlocked,
    PinCancelled,
    PinEntry,
    PinRequest,
)
from drivers.sim.charger import SimCharger
from drivers.sim.keys import TEST_IK_ID, sim_terminal_initial_key
from kiosk.devices.card import MSG_CARD_GONE
from kiosk.runtime import DeviceAdapters
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import State
from kiosk.session.says import Say
from tests.support.machine import Driver

SID = "sess-1"
PIN = "4321"
PAN = "4761739001010044"
ICC_RESPONSE = bytes.fromhex("910A0102030405060708300030")
CONTACT = CardOutcome(pan=PAN, expiry="2910", scheme="visa", interface=Interface.CONTACT,
                      cvm=Cvm.OFFLINE_PIN, icc_data=b"\x9f\x26\x08" + bytes(8),
                      needs_completion=True)
CONTACTLESS = CardOutcome(pan="4761739001010119", expiry="2912", scheme="visa",
                          interface=Interface.CONTACTLESS, cvm=Cvm.NO_CVM)


@dataclass
class ScriptedTerminal:
    """A card that asks for its offline PIN (when ``asks_pin``) and checks it, like VERIFY."""

    outcome: CardOutcome = CONTACT
    asks_pin: bool = True
    pin: str = PIN
    tries: int = 3
    completion: Completion = field(default_factory=lambda: Completion(True))
    requests: list[PinRequest] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    raised: list[Exception] = field(default_factory=list)
    read_threads: list[str] = field(default_factory=list)
    completions: list[tuple[bool, bytes, str]] = field(default_factory=list)
    completed: threading.Event = field(default_factory=threading.Event)
    cancels: int = 0

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        self.read_threads.append(threading.current_thread().name)
        if self.asks_pin:
            assert pin_entry is not None, "the adapter must offer a PIN entry"
            tries, wrong = self.tries, False
            while True:
                req = PinRequest(offline=True, tries_left=tries, wrong=wrong)
                self.requests.append(req)
                try:
                    pin = pin_entry(req)
                except PinCancelled as exc:
                    self.raised.append(exc)
                    raise
                ok = pin == self.pin
                del pin
                self.verified.append(ok)
                if ok:
                    break
                tries, wrong = tries - 1, True
                if tries == 0:
                    raise PinBlocked("PIN try limit exceeded")
        return self.outcome

    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        self.completions.append((approved, issuer_data, threading.current_thread().name))
        self.completed.set()
        return self.completion if approved else Completion(False)

    def cancel(self) -> None:
        self.cancels += 1

    def close(self) -> None:
        pass


@dataclass
class ScriptedHost:
    answer: AuthResult | Exception = field(default_factory=lambda: AuthResult(
        True, "00", "Approved", auth_code="123456", approved_minor=5000,
        icc_response=ICC_RESPONSE))
    requests: list[AuthRequest] = field(default_factory=list)

    def authorize(self, req: AuthRequest) -> AuthResult:
        self.requests.append(req)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def increment(self, ref: str, amount_minor: int, total_minor: int) -> AuthResult:
        return AuthResult(True, "00", "Approved", approved_minor=total_minor)

    def complete(self, ref: str, amount_minor: int) -> Ack:
        return Ack(True, "00")

    def reverse(self, ref: str, amount_minor: int, *, advice: bool) -> Ack:
        return Ack(True, "00")

    def echo(self) -> float:
        return 0.0

    def close(self) -> None:
        pass


class Rig:
    def __init__(self, terminal: ScriptedTerminal, host: ScriptedHost, tmp_path: Path,
                 card_timeout_s: float = 10.0) -> None:
        self.terminal, self.host = terminal, host
        self.events: queue.Queue[ev.Event] = queue.Queue()
        self.charger = SimCharger((1,), auto=False)
        encryptor = PinEncryptor("aes", sim_terminal_initial_key(), TEST_IK_ID,
                                 CounterStore(tmp_path / "dukpt.counter"))
        self.adapters = DeviceAdapters(
            post=self.events.put, card_terminal=terminal, host=host, charger=self.charger,
            currency="EUR", token_key=bytes(32), clock=lambda: datetime.now(UTC),
            card_timeout_s=card_timeout_s, pin_encryptor=encryptor)

    def expect(self, kind: type[ev.Event], timeout: float = 5.0) -> ev.Event:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind.__name__} arrived") from None
        assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
        return event

    def quiet(self, seconds: float = 0.3) -> None:
        try:
            event = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected {event!r}")

    def read_with_pin(self, sid: str = SID) -> ev.CardRead:
        """ReadCard, the right PIN at the first request: the card is read."""
        self.adapters(fx.ReadCard(sid, 5000))
        self.expect(ev.PinRequested)
        self.adapters.submit_pin(sid, PIN)
        self.expect(ev.PinEntered)
        card = self.expect(ev.CardRead)
        assert isinstance(card, ev.CardRead)
        return card

    def close(self) -> None:
        self.adapters.close()
        self.charger.close()


Make = Callable[..., Rig]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    rigs: list[Rig] = []

    def build(terminal: ScriptedTerminal | None = None, host: ScriptedHost | None = None,
              **kw: float) -> Rig:
        rig = Rig(terminal or ScriptedTerminal(), host or ScriptedHost(), tmp_path, **kw)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        rig.close()


# --- offline PIN ---------------------------------------------------------------------------
def test_offline_pin_goes_from_the_pad_to_the_waiting_card(make: Make) -> None:
    rig = make()
    rig.adapters(fx.ReadCard(SID, 5000))
    asked = rig.expect(ev.PinRequested)
    assert asked == ev.PinRequested(SID, offline=True, tries_left=3, wrong=False)
    rig.adapters.submit_pin(SID, PIN)
    assert rig.expect(ev.PinEntered) == ev.PinEntered(SID, offline=True)
    read = rig.expect(ev.CardRead)
    assert isinstance(read, ev.CardRead) and read.masked_pan == "476173******0044"
    assert not read.needs_online_pin
    assert rig.terminal.verified == [True] and rig.terminal.read_threads == ["kiosk-card"]
    assert rig.adapters.card._pin_waits == {}  # nothing waits, nothing holds the PIN
    assert rig.host.requests == []  # the PIN never goes to the host


def test_a_wrong_offline_pin_is_asked_again_with_the_tries_left(make: Make) -> None:
    rig = make()
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.PinRequested)
    rig.adapters.submit_pin(SID, "0000")
    assert rig.expect(ev.PinEntered) == ev.PinEntered(SID, offline=True)
    again = rig.expect(ev.PinRequested)
    assert again == ev.PinRequested(SID, offline=True, tries_left=2, wrong=True)
    rig.adapters.submit_pin(SID, PIN)
    rig.expect(ev.PinEntered)
    rig.expect(ev.CardRead)
    assert rig.terminal.verified == [False, True]


def test_the_events_follow_the_machine_from_pin_to_card(make: Make) -> None:
    """Posted in an order the machine takes: PinEntered reaches it before the card's next
    word, so the session is back in READING_CARD when PinRequested or CardRead arrives."""
    rig = make()
    d = Driver()
    rig.adapters(fx.ReadCard(SID, 5000))
    for pin in ("1111", PIN):
        d.send(rig.expect(ev.PinRequested))
        assert d.s.state is State.PIN_ENTRY
        rig.adapters.submit_pin(SID, pin)
        d.send(rig.expect(ev.PinEntered))
        assert d.s.state is State.READING_CARD
    d.send(rig.expect(ev.CardRead))
    assert d.s.state is State.AUTHORIZING


def test_pin_tries_exceeded_fails_the_read(make: Make) -> None:
    rig = make()
    rig.adapters(fx.ReadCard(SID, 5000))
    for _ in range(3):
        rig.expect(ev.PinRequested)
        rig.adapters.submit_pin(SID, "0000")
        rig.expect(ev.PinEntered)
    failed = rig.expect(ev.CardFailed)
    assert failed == ev.CardFailed(SID, "PinBlocked: PIN try limit exceeded", declined=True,
                                   say=Say.PIN_BLOCKED)


def test_cancel_wakes_the_waiting_kernel_and_frees_the_reader(make: Make) -> None:
    rig = make()
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.PinRequested)
    rig.adapters(fx.CancelCardRead(SID))
    rig.quiet()  # the session ended itself: no CardFailed for it
    assert len(rig.terminal.raised) == 1 and isinstance(rig.terminal.raised[0], PinCancelled)
    assert rig.adapters.card._pin_waits == {}
    rig.adapters.submit_pin(SID, PIN)  # a late OK finds nothing waiting: the session is over
    assert rig.expect(ev.Cancelled) == ev.Cancelled(SID)
    # the next driver's card is read at once
    rig.adapters(fx.ReadCard("sess-2", 5000))
    assert rig.expect(ev.PinRequested) == ev.PinRequested("sess-2", tries_left=3)


def test_cancel_before_the_card_asks_never_shows_the_pad(make: Make) -> None:
    rig = make()
    gate = threading.Event()
    rig.adapters.card.worker.submit(gate.wait)  # the read stays queued behind this
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.adapters(fx.CancelCardRead(SID))
    gate.set()
    rig.quiet()
    assert rig.terminal.requests == []


def test_a_pin_never_entered_ends_the_wait_after_the_card_timeout(make: Make) -> None:
    rig = make(card_timeout_s=0.2)
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.PinRequested)
    failed = rig.expect(ev.CardFailed)
    assert isinstance(failed, ev.CardFailed) and failed.say is Say.PIN_TIMEOUT
    assert not failed.declined and failed.message.startswith("PinTimedOut: ")
    assert rig.adapters.card._pin_waits == {}


def test_close_wakes_a_waiting_kernel(make: Make) -> None:
    rig = make()
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.PinRequested)
    rig.adapters.close()
    assert len(rig.terminal.raised) == 1


def test_online_pin_still_goes_to_the_host_enciphered(make: Make) -> None:
    online = CardOutcome(pan="5413330089020011", expiry="2812", scheme="mastercard",
                         interface=Interface.CONTACT, cvm=Cvm.ONLINE_PIN, needs_completion=True)
    rig = make(ScriptedTerminal(outcome=online, asks_pin=False))
    rig.adapters(fx.ReadCard(SID, 5000))
    read = rig.expect(ev.CardRead)
    assert isinstance(read, ev.CardRead) and read.needs_online_pin
    rig.adapters.submit_pin(SID, "1234")
    assert rig.expect(ev.PinEntered) == ev.PinEntered(SID, offline=False)
    rig.adapters(fx.Authorize(SID, SID, 5000))
    rig.expect(ev.HostApproved)
    req = rig.host.requests[0]
    assert len(req.pin_block) == 16 and req.pin_ksn  # format 4 under AES DUKPT


def test_the_pin_is_never_logged_nor_posted(make: Make,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig = make()
    rig.adapters(fx.ReadCard(SID, 5000))
    seen: list[ev.Event] = [rig.expect(ev.PinRequested)]
    rig.adapters.submit_pin(SID, "9876")  # wrong
    seen += [rig.expect(ev.PinEntered), rig.expect(ev.PinRequested)]
    rig.adapters.submit_pin(SID, PIN)
    seen += [rig.expect(ev.PinEntered), rig.expect(ev.CardRead)]
    rig.adapters(fx.Authorize(SID, SID, 5000))
    seen.append(rig.expect(ev.HostApproved))
    texts = [repr(e) for e in seen] + [r.getMessage() for r in caplog.records]
    texts += [repr(r.__dict__) for r in caplog.records]
    assert not [t for t in texts if "9876" in t or PIN in t]


# --- the card's final word -----------------------------------------------------------------
def test_an_approved_hold_is_completed_on_the_card_worker(make: Make) -> None:
    rig = make()
    rig.read_with_pin()
    rig.adapters(fx.Authorize(SID, SID, 5000))
    assert rig.expect(ev.HostApproved) == ev.HostApproved(SID, "123456", 5000)
    assert rig.terminal.completions == [(True, ICC_RESPONSE, "kiosk-card")]
    assert rig.adapters.card._cards == {}  # the PAN went with the request


def test_a_card_declining_after_approval_asks_for_the_reversal(make: Make) -> None:
    message = "Your card declined the payment."
    rig = make(ScriptedTerminal(completion=Completion(False, message)))
    rig.read_with_pin()
    rig.adapters(fx.Authorize(SID, SID, 5000))
    declined = rig.expect(ev.CardDeclined)
    # what the host approved; the card's text is the detail, the driver is told by type
    assert declined == ev.CardDeclined(SID, message, 5000, say=Say.DECLINED_BY_CARD)
    rig.quiet()  # and no HostApproved: the charger is never enabled
    assert rig.terminal.completions == [(True, ICC_RESPONSE, "kiosk-card")]
    d = Driver().to(State.AUTHORIZING)
    d.send(declined)
    assert d.s.state is State.DECLINED
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 5000)
    assert d.s.say is Say.DECLINED_BY_CARD and message in d.s.message


def test_a_silent_card_decline_is_a_decline_by_the_card(make: Make) -> None:
    rig = make(ScriptedTerminal(completion=Completion(False)))
    rig.read_with_pin()
    rig.adapters(fx.Authorize(SID, SID, 5000))
    declined = rig.expect(ev.CardDeclined)
    assert isinstance(declined, ev.CardDeclined) and declined.message
    assert declined.say is Say.DECLINED_BY_CARD and declined.approved_minor == 5000


def test_a_host_decline_gives_the_card_its_refusal(make: Make) -> None:
    host = ScriptedHost(AuthResult(False, "51", "Insufficient funds",
                                   icc_response=ICC_RESPONSE))
    rig = make(host=host)
    rig.read_with_pin()
    rig.adapters(fx.Authorize(SID, SID, 5000))
    assert rig.expect(ev.HostDeclined) == ev.HostDeclined(SID, "51", "Insufficient funds",
                                                          say=Say.INSUFFICIENT_FUNDS)
    assert rig.terminal.completions == [(False, ICC_RESPONSE, "kiosk-card")]


@pytest.mark.parametrize(("error", "then"), [
    (HostTimeout("no answer"), ev.HostTimedOut),
    (HostUnavailable("connection refused"), ev.HostDeclined),
])
def test_no_host_answer_completes_the_card_with_a_refusal(
        make: Make, error: Exception, then: type[ev.Event]) -> None:
    rig = make(host=ScriptedHost(error))
    rig.read_with_pin()
    rig.adapters(fx.Authorize(SID, SID, 5000))
    answer = rig.expect(then)
    if isinstance(answer, ev.HostDeclined):  # never reached the host: a decline to retry
        assert answer.say is Say.SERVICE_UNREACHABLE
    assert rig.terminal.completions == [(False, b"", "kiosk-card")]


def test_a_contactless_card_is_not_completed(make: Make) -> None:
    rig = make(ScriptedTerminal(outcome=CONTACTLESS, asks_pin=False))
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.CardRead)
    rig.adapters(fx.Authorize(SID, SID, 5000))
    rig.expect(ev.HostApproved)
    assert rig.terminal.completions == []


def test_a_card_another_read_replaced_cannot_agree(make: Make) -> None:
    """Only the card the terminal holds for this session may give the final word: one that a
    newer read replaced counts as gone, and the approved hold is reversed."""
    rig = make(ScriptedTerminal(asks_pin=False))
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.CardRead)
    rig.adapters(fx.ReadCard("sess-2", 5000))
    rig.expect(ev.CardRead)
    rig.adapters(fx.Authorize(SID, SID, 5000))
    assert rig.expect(ev.CardDeclined) == ev.CardDeclined(SID, MSG_CARD_GONE, 5000,
                                                          say=Say.CARD_REMOVED)
    assert rig.terminal.completions == []


def test_a_card_left_at_the_online_pin_pad_gets_its_refusal(make: Make) -> None:
    online = CardOutcome(pan="5413330089020011", expiry="2812", scheme="mastercard",
                         interface=Interface.CONTACT, cvm=Cvm.ONLINE_PIN, needs_completion=True)
    rig = make(ScriptedTerminal(outcome=online, asks_pin=False))
    rig.adapters(fx.ReadCard(SID, 5000))
    rig.expect(ev.CardRead)
    rig.adapters(fx.CancelCardRead(SID))  # the driver cancelled at the PIN pad
    assert rig.terminal.completed.wait(5)
    assert rig.terminal.completions == [(False, b"", "kiosk-card")]
    assert rig.adapters.card._cards == {}  # the PAN is gone too
