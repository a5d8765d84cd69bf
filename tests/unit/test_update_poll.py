"""The updates poll and its answer (kiosk.records.update_poll): what one side makes the other
reads; anything else is a PollError naming the field, never another exception."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.records.update_poll import (
    MAX_POLL_BYTES,
    Offered,
    PollClockError,
    PollError,
    make_answer,
    make_poll,
    read_answer,
    read_poll,
    verify_poll,
)

KEY = Ed25519PrivateKey.generate()
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
HAVE = {"config": 2, "tariff": 0}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4), max_leaves=12)


def test_a_poll_made_is_read_and_verified() -> None:
    poll = read_poll(make_poll(KEY, "SITE-1", HAVE, NOW))
    verify_poll(poll, KEY.public_key(), NOW + timedelta(minutes=4))
    assert poll.terminal_id == "SITE-1" and poll.have == HAVE


def test_another_key_an_edit_or_the_wrong_time_is_refused() -> None:
    data = make_poll(KEY, "SITE-1", HAVE, NOW)
    with pytest.raises(PollError, match="registered key"):
        verify_poll(read_poll(data), Ed25519PrivateKey.generate().public_key(), NOW)
    edited = data.replace(b'"tariff":0', b'"tariff":9')
    with pytest.raises(PollError, match="does not verify") as exc:
        verify_poll(read_poll(edited), KEY.public_key(), NOW)
    assert not isinstance(exc.value, PollClockError)
    with pytest.raises(PollClockError, match="clock"):
        verify_poll(read_poll(data), KEY.public_key(), NOW + timedelta(minutes=6))


@pytest.mark.parametrize("edit, words", [
    (lambda o: {**o, "extra": 1}, "unknown field"),
    (lambda o: {k: v for k, v in o.items() if k != "have"}, "missing field"),
    (lambda o: {**o, "have": {"config": 1}}, "exactly"),
    (lambda o: {**o, "have": {"config": True, "tariff": 0}}, "poll.have.config"),
    (lambda o: {**o, "have": {"config": -1, "tariff": 0}}, "poll.have.config"),
    (lambda o: {**o, "at": "yesterday"}, "poll.at"),
    (lambda o: {**o, "at": "2026-12-02T08:00:00"}, "time zone"),
    (lambda o: {**o, "terminal_id": "a b"}, "terminal_id"),
    (lambda o: {**o, "signature": "!!"}, "base64"),
    (lambda o: {**o, "format": "evkiosk-poll/2"}, "format"),
])
def test_a_malformed_poll_names_the_field(edit: object, words: str) -> None:
    obj = json.loads(make_poll(KEY, "SITE-1", HAVE, NOW))
    with pytest.raises(PollError, match=words):
        read_poll(json.dumps(edit(obj)).encode())  # type: ignore[operator]


def test_size_duplicates_and_floats_are_refused() -> None:
    with pytest.raises(PollError, match="at most"):
        read_poll(b" " * (MAX_POLL_BYTES + 1))
    data = make_poll(KEY, "SITE-1", HAVE, NOW)
    with pytest.raises(PollError, match="twice"):
        read_poll(data[:-1] + b',"format":"evkiosk-poll/1"}')
    with pytest.raises(PollError, match="fraction"):
        read_poll(data.replace(b'"config":2', b'"config":2.0'))


def test_an_answer_made_is_read_and_checked_against_what_was_asked() -> None:
    answer = make_answer("SITE-1", [Offered("config", 3, b"abc")])
    assert read_answer(answer, terminal_id="SITE-1", have=HAVE) == [
        Offered("config", 3, b"abc")]
    with pytest.raises(PollError, match="not this terminal"):
        read_answer(answer, terminal_id="SITE-2", have=HAVE)
    with pytest.raises(PollError, match="not above"):
        read_answer(answer, terminal_id="SITE-1", have={"config": 3, "tariff": 0})
    two = make_answer("SITE-1", [Offered("config", 3, b"a")]).replace(
        b'"updates":[', b'"updates":[{"kind":"config","sequence":4,"bundle":""},')
    with pytest.raises(PollError, match="twice"):
        read_answer(two, terminal_id="SITE-1", have=HAVE)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_a_poll_error_or_a_poll(value: object) -> None:
    for read in (read_poll, lambda d: read_answer(d, terminal_id="SITE-1", have=HAVE)):
        with contextlib.suppress(PollError):
            read(json.dumps(value).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_poll_error(data: bytes) -> None:
    for read in (read_poll, lambda d: read_answer(d, terminal_id="SITE-1", have=HAVE)):
        with pytest.raises(PollError):
            read(data)
