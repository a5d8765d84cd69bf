"""Card data: masking, tokens, redaction of free text and of log lines."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.logs import JsonFormatter, RedactingFilter
from kiosk.security.cards import CardIdentity, card_token, check_pan, luhn_valid, mask_pan
from kiosk.security.redaction import redact

PAN = "4761739001010119"
KEY = bytes(range(32))


def test_luhn() -> None:
    assert luhn_valid(PAN) and luhn_valid("79927398713")
    assert not luhn_valid("4761739001010118") and not luhn_valid("47617390010101a9")
    assert not luhn_valid("٤٧٦١")  # non-ASCII digits are not card digits


def test_mask_keeps_first_six_and_last_four() -> None:
    assert mask_pan(PAN) == "476173******0119"
    assert mask_pan("5413330089020011") == "541333******0011"


@pytest.mark.parametrize("bad", ["", "1234", "4761739001010118", "47617390010101191234",
                                 "4761 7390 0101 0119", "x" * 16])
def test_bad_pans_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match="not a card number") as err:
        check_pan(bad)
    assert bad not in str(err.value) or not bad


def test_token_is_keyed_and_stable() -> None:
    t = card_token(PAN, KEY)
    assert t == card_token(PAN, KEY) and len(t) == 32
    assert t != card_token(PAN, bytes(32)) and PAN not in t
    ident = CardIdentity.from_pan(PAN, "2912", "visa", KEY)
    assert (ident.masked_pan, ident.token) == ("476173******0119", t)
    with pytest.raises(ValueError, match="YYMM"):
        CardIdentity.from_pan(PAN, "2913", "visa", KEY)


@pytest.mark.parametrize("text", [
    f"pan {PAN} end", "pan 4761 7390 0101 0119 end", "pan 4761-7390-0101-0119 end",
    f"track2 {PAN}D29122010000000000000F", f"track2 {PAN}=2912201", f'{{"pan": "{PAN}"}}',
    f"card={PAN}", f"x{PAN}",
])
def test_redaction_removes_the_pan(text: str) -> None:
    out = redact(text)
    assert PAN not in out.replace(" ", "").replace("-", "")


@pytest.mark.parametrize("text", ["pin=1234", "PIN: 9876", 'pin_block="0412AC89"',
                                  "pinblock=0412AC89FFFF"])
def test_redaction_removes_pins(text: str) -> None:
    out = redact(text)
    assert "[REDACTED]" in out
    assert not any(secret in out for secret in ("1234", "9876", "0412AC89"))


def test_redaction_keeps_ordinary_numbers() -> None:
    text = "session 1234567890123 took 2026112412000000 ms; masked 476173******0119"
    assert redact(text) == text


@settings(max_examples=500, deadline=None)
@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30),
       sep=st.sampled_from(["", " ", "-"]))
def test_a_pan_anywhere_in_text_is_masked(prefix: str, suffix: str, sep: str) -> None:
    grouped = sep.join(PAN[i:i + 4] for i in range(0, 16, 4))
    out = redact(f"{prefix} {grouped} {suffix}")
    assert grouped not in out


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_redaction_never_fails(text: str) -> None:
    assert isinstance(redact(text), str)


def test_log_lines_are_json_and_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.card_data")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("card %s declined", PAN, extra={"fields": {"session": "s1", "pan": PAN,
                                                               "nested": [PAN]}})
        try:
            raise ValueError(f"bad card {PAN}")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "card 476173******0119 declined" and lines[0]["session"] == "s1"
    assert lines[1]["level"] == "ERROR" and "ValueError" in lines[1]["exc"]
    assert PAN not in stream.getvalue()
