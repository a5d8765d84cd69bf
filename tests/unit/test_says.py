"""What the driver is told: a typed :class:`Say` chosen from types (exception classes, ISO 8583
response codes, events), worded by the UI's catalog, never carrying the technician's detail."""

from __future__ import annotations

import logging
import queue
import re
from dataclasses import replace
from datetime import timedelta
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.acquirer.codes import MESSAGES
from drivers.emv import api
from drivers.emv.api import CardOutcome, Completion, Interface, PinEntry
from drivers.emv.transaction import Transaction
from kiosk.devices.card import CARD_SAYS, CardDevice, card_say, error_detail
from kiosk.session import codec
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import IGNORED, TRANSITIONS, SessionMachine, State
from kiosk.session.says import RESPONSE_CODES, Say, for_response_code
from tests.support.machine import T0, Driver, policy
from tests.unit.test_machine import SID, sample_events, session_in

PIN_PROMPTS = (Say.PIN_WRONG, Say.PIN_LAST_TRY, Say.PIN_WRONG_LAST_TRY)
NOTICES = (Say.CHARGER_NOT_ANSWERING,)
# charging stopped for a reason the driver did not choose: the receipt follows
STOPS = (Say.CHARGER_FAULT_STOPPED, Say.INCREMENT_DECLINED, Say.HOLD_USED_UP)
ENDS = tuple(s for s in Say if s not in (Say.NONE, *PIN_PROMPTS, *NOTICES, *STOPS))
GARBLED = "tag 2F: value of 36 bytes runs past the data"


def texts() -> ModuleType:
    """The UI's catalog (Qt); the rest of this file runs without Qt."""
    return pytest.importorskip("kiosk.ui.driver_texts")


# --- the catalog ------------------------------------------------------------------------------
def test_say_values_are_unique_and_none_is_falsy() -> None:
    values = [s.value for s in Say]
    assert len(values) == len(set(values)) == len(Say.__members__)  # no silent aliases
    assert not Say.NONE and all(s for s in Say if s is not Say.NONE)


def test_every_say_has_a_title_and_a_text() -> None:
    t = texts()
    for say in Say:
        if say is Say.NONE:
            assert t.title(say) == "" and t.text(say) == ""  # nothing to tell
            continue
        assert t.title(say).strip(), say
        assert t.text(say).strip(), say
        assert t.text(say).rstrip().endswith((".", "!")), say


def test_the_driver_texts_carry_no_technical_detail() -> None:
    """No digits (response codes, status words, tags, amounts), no brackets, no jargon: the
    only number a driver sees is the tries left, and that comes from the plural form."""
    t = texts()
    for line in [t.title(s) for s in Say] + [t.text(s) for s in Say] + [t.text(Say.PIN_WRONG)]:
        assert not re.search(r"[\d()\[\]{}_]", line), line
        assert not re.search(r"\b(?:tag|SW|AAC|ARQC|TVR|ISO|TLV|host|code|error)\b", line,
                             re.IGNORECASE), line


def test_tries_left_are_counted_in_the_plural_form() -> None:
    t = texts()
    assert "3" in t.text(Say.PIN_WRONG, tries_left=3)
    assert "2" in t.text(Say.PIN_WRONG, tries_left=2)
    assert t.text(Say.PIN_WRONG, tries_left=1) == t.text(Say.PIN_WRONG_LAST_TRY)
    assert not re.search(r"\d", t.text(Say.PIN_WRONG))  # the card did not tell


def test_every_end_says_whether_the_card_was_charged() -> None:
    t = texts()
    for say in ENDS:
        assert "Your card has not been charged." in t.text(say), say
    for say in STOPS:
        assert "You pay only for the energy delivered." in t.text(say), say


# --- the garbled card of the issue --------------------------------------------------------
class KernelTerminal:
    """A contactless card behind the real kernel, answering ``answers`` in turn."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = list(answers)

    def transmit(self, apdu: bytes) -> bytes:
        return self.answers.pop(0) if self.answers else b"\x6a\x82"

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        return Transaction(self.transmit, Interface.CONTACTLESS).run(amount_minor, "978")

    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        return Completion(approved)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_garbled_card_is_unreadable_and_the_driver_sees_none_of_the_detail(
        caplog: pytest.LogCaptureFixture) -> None:
    # the PPSE's FCI: tag 2F claims 36 bytes where three follow
    terminal = KernelTerminal(bytes.fromhex("2F24000000 9000"))
    posted: queue.Queue[ev.Event] = queue.Queue()
    device = CardDevice(terminal, post=posted.put, currency="EUR",  # type: ignore[arg-type]
                        token_key=bytes(32))
    caplog.set_level(logging.INFO, logger="kiosk.devices.card")
    try:
        device.read(fx.ReadCard(SID, 5000))
        failed = posted.get(timeout=5)
    finally:
        device.close()
    assert isinstance(failed, ev.CardFailed) and failed.say is Say.CARD_UNREADABLE
    assert GARBLED in failed.message and not failed.declined
    logged = [r.getMessage() for r in caplog.records if GARBLED in r.getMessage()]
    assert len(logged) == 1  # the detail is logged once, where it happened
    d = Driver()
    d.send(failed)
    assert d.s.state is State.ERROR and d.s.say is Say.CARD_UNREADABLE
    assert GARBLED in d.s.message  # for the technician
    t = texts()
    shown = t.title(d.s.say) + " " + t.text(d.s.say)
    for piece in ("2F", "36", "tag", "bytes", "runs past", "(", GARBLED):
        assert piece not in shown


# --- exception classes --------------------------------------------------------------------
@pytest.mark.parametrize(("exc", "say"), [
    (api.CardUnreadable("x"), Say.CARD_UNREADABLE),
    (api.CardNotSupported("x"), Say.CARD_NOT_SUPPORTED),
    (api.CardBlocked("x"), Say.CARD_BLOCKED),
    (api.ContactRequired("x"), Say.INSERT_CARD),
    (api.CardRemoved("x"), Say.CARD_REMOVED),
    (api.NoCard("x"), Say.CARD_TIMEOUT),
    (api.ReaderUnavailable("x"), Say.READER_UNAVAILABLE),
    (api.CardDeclined("x"), Say.DECLINED_BY_CARD),
    (api.PinBlocked("x"), Say.PIN_BLOCKED),
    (api.PinTimedOut("x"), Say.PIN_TIMEOUT),
    (api.PinCancelled("x"), Say.CANCELLED),
    (api.CardError("x"), Say.CARD_UNREADABLE),
    (ValueError("not a card number"), Say.CARD_UNREADABLE),
])
def test_each_card_error_class_says_its_own_thing(exc: Exception, say: Say) -> None:
    assert card_say(exc) is say


def test_subclasses_come_before_their_bases_in_the_table() -> None:
    classes = [cls for cls, _ in CARD_SAYS]
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, base) for base in classes[:i]), cls


CARD_ERRORS = [api.CardError, api.CardRemoved, api.CardUnreadable, api.CardNotSupported,
               api.CardBlocked, api.ContactRequired, api.CardDeclined, api.PinBlocked,
               api.PinCancelled, api.PinTimedOut, api.NoCard, api.ReaderUnavailable, ValueError]
# a detail with a digit in it: never a part of a driver text (they hold none)
DETAILS = st.from_regex(r"[A-Za-z ():,.]{0,20}[0-9][A-Za-z0-9 ():,.]{0,40}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CARD_ERRORS), DETAILS)
def test_random_card_errors_always_say_something_and_never_their_text(
        cls: type[Exception], detail: str) -> None:
    exc = cls(detail)
    say = card_say(exc)
    assert say in Say and say is not Say.NONE
    d = Driver()
    d.send(ev.CardFailed(SID, error_detail(exc), declined=isinstance(exc, api.CardDeclined),
                         say=say))
    assert d.s.state in (State.ERROR, State.DECLINED) and d.s.say is say
    assert detail.strip() in d.s.message
    t = texts()
    assert detail.strip() not in t.title(say) + t.text(say)


# --- ISO 8583 response codes ----------------------------------------------------------------
@pytest.mark.parametrize(("codes", "say"), [
    (("51",), Say.INSUFFICIENT_FUNDS),
    (("61", "65"), Say.LIMIT_EXCEEDED),
    (("54", "33"), Say.CARD_EXPIRED),
    (("55",), Say.DECLINED_WRONG_PIN),
    (("75",), Say.PIN_BLOCKED),
    (("01", "04", "05", "14", "41", "43"), Say.DECLINED_BY_BANK),
    (("03", "57", "58", "62"), Say.CARD_NOT_SUPPORTED),
    (("12", "13", "30", "94"), Say.PAYMENT_FAILED),
    (("91", "96"), Say.SERVICE_UNREACHABLE),
    (("99", "N7", "", "5", "051", "ZZ"), Say.DECLINED_BY_BANK),  # unknown: the bank said no
])
def test_each_response_code_class_maps_as_intended(codes: tuple[str, ...], say: Say) -> None:
    for code in codes:
        assert for_response_code(code) is say, code
        d = Driver().to(State.AUTHORIZING)
        d.send(ev.HostDeclined(SID, code, "whatever the host said"))
        assert d.s.state is State.DECLINED and d.s.say is say


def test_every_decline_code_the_host_link_knows_has_a_chosen_say() -> None:
    assert set(MESSAGES) - {"00"} <= set(RESPONSE_CODES)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789ABCDEFNZ", max_size=3), DETAILS)
def test_random_response_codes_always_say_something_and_never_the_code(
        code: str, message: str) -> None:
    say = for_response_code(code)
    assert say in Say and say is not Say.NONE
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.HostDeclined(SID, code, message, say=say))
    assert d.s.say is say and message in d.s.message
    t = texts()
    shown = t.title(say) + t.text(say)
    assert message not in shown
    if re.search(r"\d", code):
        assert code not in shown


# --- the machine: every end and every prompt is typed ---------------------------------------
def test_every_end_in_declined_or_error_has_a_say() -> None:
    m = SessionMachine(policy())
    ended = 0
    for state in State:
        for event in sample_events():
            key = (state, type(event))
            if key not in TRANSITIONS or key in IGNORED:
                continue
            s = replace(session_in(state), deadline=T0)  # every timer has run out
            new, _ = m.handle(s, event, T0 + timedelta(seconds=5))
            if new.state in (State.DECLINED, State.ERROR) and new.state is not state:
                assert new.say is not Say.NONE, (state, event)
                assert new.message, (state, event)
                ended += 1
    assert ended >= 8


def test_a_host_decline_without_a_say_falls_back_to_its_code() -> None:
    d = Driver().to(State.AUTHORIZING)
    d.send(ev.HostDeclined(SID, "54", "expired", say=Say.NONE))
    assert d.s.say is Say.CARD_EXPIRED


# --- the journal: new fields round-trip, old records decode ----------------------------------
def test_says_round_trip_through_the_codec() -> None:
    d = Driver()
    d.send(ev.PinRequested(SID, tries_left=2, wrong=True))
    assert d.s.say is Say.PIN_WRONG and d.s.pin_tries_left == 2
    assert codec.loads(codec.dumps(d.s)) == d.s
    d = Driver().to(State.CHARGING)
    d.send(ev.ChargerLinkLost(1, d.now))
    assert codec.loads(codec.dumps(d.s)) == d.s
    for e in (ev.CardFailed(SID, "detail", say=Say.CARD_BLOCKED),
              ev.HostDeclined(SID, "51", "funds", say=Say.INSUFFICIENT_FUNDS),
              ev.CardDeclined(SID, "gone", 4000, say=Say.CARD_REMOVED)):
        assert codec.loads(codec.dumps(e)) == e


# A snapshot as the journal stored it before says: the driver's text in message and notice.
OLD_CHARGING = (
    '{"type":"Session","id":"sess-1","connector":1,"state":"CHARGING",'
    '"created_at":"2026-11-24T12:00:00+00:00","updated_at":"2026-11-24T12:01:04+00:00",'
    '"seq":6,"masked_pan":"476173******0010","token":"tok","scheme":"visa",'
    '"pin_offline":false,"auth_code":"A1B2C3","held_minor":5000,"increment_pending":false,'
    '"deadline":null,"charge_started_at":"2026-11-24T12:00:03+00:00","meter_start_wh":1000,'
    '"meter_now_wh":3000,"power_w":0,"last_reading_at":"2026-11-24T12:01:03+00:00",'
    '"cost_minor":140,"marks":[{"type":"Mark","at":"2026-11-24T12:00:03+00:00",'
    '"meter_wh":1000,"power_w":11000,"charging":true}],"parking_since":null,'
    '"stop_reason":"","final_minor":0,"outcome":"","message":"","settle_kind":null,'
    '"notice":"The charger does not answer. Charging stops if it does not come back soon."}'
)
OLD_DECLINED = (
    '{"type":"Session","id":"sess-2","connector":1,"state":"DECLINED",'
    '"created_at":"2026-11-24T12:00:00+00:00","updated_at":"2026-11-24T12:00:02+00:00",'
    '"seq":3,"masked_pan":"476173******0010","token":"tok","scheme":"visa",'
    '"pin_offline":false,"auth_code":"","held_minor":0,"increment_pending":false,'
    '"deadline":"2026-11-24T12:00:22+00:00","charge_started_at":null,"meter_start_wh":0,'
    '"meter_now_wh":0,"power_w":0,"last_reading_at":null,"cost_minor":0,"marks":[],'
    '"parking_since":null,"stop_reason":"","final_minor":0,"outcome":"declined",'
    '"message":"Declined: not enough funds. Please try another card.","settle_kind":null,'
    '"notice":""}'
)


def test_old_snapshots_decode_with_sensible_says() -> None:
    charging = codec.loads(OLD_CHARGING)
    assert charging.state is State.CHARGING and charging.notice is Say.CHARGER_NOT_ANSWERING
    assert charging.say is Say.NONE and charging.pin_tries_left is None
    assert codec.loads(codec.dumps(charging)) == charging  # and stored again in the new shape
    declined = codec.loads(OLD_DECLINED)
    assert declined.state is State.DECLINED and declined.say is Say.DECLINED
    assert declined.notice is Say.NONE
    assert declined.message == "Declined: not enough funds. Please try another card."
    error = codec.loads(OLD_DECLINED.replace('"DECLINED"', '"ERROR"'))
    assert error.say is Say.PAYMENT_FAILED
    # what recovery does with them: the charging session resumes, the ended one finishes
    m = SessionMachine(policy())
    new, effects = m.handle(charging, ev.Recover(T0, True, 3100), T0)
    assert new.state is State.CHARGING and new.notice is Say.NONE
    assert effects == [fx.EnableCharger(1)]
    assert m.handle(declined, ev.Recover(T0, False, None), T0)[0].state is State.DONE


def test_old_events_decode_and_the_machine_decides_from_their_types() -> None:
    failed = codec.loads('{"type":"CardFailed","session_id":"sess-1","message":"This card '
                         'cannot be read. Please try another card. (tag 2F: value of 36 '
                         'bytes runs past the data)","declined":false}')
    assert failed.say is Say.NONE
    d = Driver()
    d.send(failed)
    assert d.s.say is Say.CARD_UNREADABLE
    card_declined = codec.loads('{"type":"CardFailed","session_id":"sess-1","message":'
                                '"Your card declined the payment.","declined":true}')
    d = Driver()
    d.send(card_declined)
    assert d.s.state is State.DECLINED and d.s.say is Say.DECLINED_BY_CARD
    host = codec.loads('{"type":"HostDeclined","session_id":"sess-1","response_code":"51",'
                       '"message":"Declined: not enough funds. Please try another card."}')
    assert host.say is Say.NONE
    d = Driver().to(State.AUTHORIZING)
    d.send(host)
    assert d.s.say is Say.INSUFFICIENT_FUNDS
    late = codec.loads('{"type":"CardDeclined","session_id":"sess-1","message":"Your card '
                       'was removed before the payment was complete.","approved_minor":4000}')
    d = Driver().to(State.AUTHORIZING)
    d.send(late)
    assert d.s.state is State.DECLINED and d.s.say is Say.DECLINED_BY_CARD
    assert d.effects[0] == fx.Settle(SID, SID, fx.SettleKind.REVERSAL, 4000)
