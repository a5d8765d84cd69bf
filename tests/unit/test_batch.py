"""The upload batch format: sealed by the terminal's Ed25519 key, verified over the exact bytes
received, every field of a hostile envelope a BatchError that names it."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.records.batch import (
    MAX_BATCH_BYTES,
    MAX_DEPTH,
    Batch,
    BatchError,
    Record,
    canonical,
    key_id,
    open_envelope,
    seal,
    verify,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
T = "2026-12-01T20:00:00+00:00"
DEEP: object = 1
for _ in range(16):
    DEEP = [DEEP]


def batch(sequence: int = 1, n: int = 2, terminal: str = "DEMO-0001") -> Batch:
    return Batch(terminal, sequence, T, tuple(
        Record(f"s{i}:session", f"s{i}", "session", T, {"amount_minor": 100 + i})
        for i in range(n)))


def test_a_sealed_batch_verifies_and_reads_back_as_sent() -> None:
    sent = batch(7)
    env = open_envelope(seal(sent, KEY))
    assert env.terminal_id == "DEMO-0001" and env.key_id == key_id(KEY.public_key())
    assert verify(env, KEY.public_key()) == sent


def test_the_signature_covers_the_exact_bytes() -> None:
    data = json.loads(seal(batch(), KEY))
    body = bytearray(base64.b64decode(data["batch"]))
    body[body.index(b"100")] = ord("9")  # 100 -> 900: the amount changed in transit
    data["batch"] = base64.b64encode(bytes(body)).decode()
    with pytest.raises(BatchError, match="signature: does not verify"):
        verify(open_envelope(canonical(data)), KEY.public_key())


def test_another_terminals_key_or_name_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(BatchError, match="key_id"):
        verify(open_envelope(seal(batch(), KEY)), other.public_key())
    data = json.loads(seal(batch(terminal="OTHER-1"), KEY))
    data["terminal_id"] = "DEMO-0001"  # the envelope claims another terminal than it signed
    with pytest.raises(BatchError, match=r"batch\.terminal_id"):
        verify(open_envelope(canonical(data)), KEY.public_key())


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.pop("signature"), "signature"),
    (lambda d: d.update(signature="!!"), "signature"),
    (lambda d: d.update(signature=base64.b64encode(b"x" * 10).decode()), "signature"),
    (lambda d: d.update(batch=None), "batch"),
    (lambda d: d.update(format="evkiosk-batch/0"), "format"),
    (lambda d: d.update(terminal_id="bad id\n"), "terminal_id"),
    (lambda d: d.update(key_id="00"), "key_id"),
    (lambda d: d.update(extra=1), "unknown key"),
])
def test_hostile_envelopes_are_named_errors(mutate, field: str) -> None:
    data = json.loads(seal(batch(), KEY))
    mutate(data)
    with pytest.raises(BatchError, match=field):
        open_envelope(canonical(data))


def signed(body: object) -> bytes:
    raw = canonical(body)
    return canonical({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001",
                      "key_id": key_id(KEY.public_key()),
                      "batch": base64.b64encode(raw).decode(),
                      "signature": base64.b64encode(KEY.sign(raw)).decode()})


@pytest.mark.parametrize(("body", "field"), [
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 0,
      "created_at": T, "records": [{}]}, "sequence"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": True,
      "created_at": T, "records": [{}]}, "sequence"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": "yesterday", "records": []}, "created_at"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": T, "records": []}, "records"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": T, "records": [["not", "an", "object"]]}, r"records\[0\]"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": T, "records": [{"id": "a:session", "session_id": "a", "kind": "session",
                                    "created_at": T, "payload": [1]}]}, "payload"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": T, "records": [{"id": "a:x", "session_id": "a", "kind": "nonsense",
                                    "created_at": T, "payload": {}}]}, "kind"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": T, "records": [{"id": "a:session", "session_id": "a", "kind": "session",
                                    "created_at": T, "payload": {}}] * 2}, "twice"),
    ({"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 1,
      "created_at": T, "records": [{"id": "a:session", "session_id": "a", "kind": "session",
                                    "created_at": T, "payload": {"x": DEEP}}]}, "nested"),
])
def test_signed_but_malformed_batches_are_named_errors(body: object, field: str) -> None:
    with pytest.raises(BatchError, match=field):
        verify(open_envelope(signed(body)), KEY.public_key())


def test_sizes_are_bounded() -> None:
    with pytest.raises(BatchError, match="envelope"):
        open_envelope(b" " * (3 * 1024 * 1024))
    big = Batch("DEMO-0001", 1, T, (Record("a:session", "a", "session", T,
                                           {"x": "y" * MAX_BATCH_BYTES}),))
    with pytest.raises(BatchError, match="more than"):
        seal(big, KEY)
    assert MAX_DEPTH >= 8


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 2000), st.integers(0, 255))
def test_any_damage_to_an_envelope_is_a_batch_error(noise: bytes, at: int, value: int) -> None:
    data = bytearray(seal(batch(), KEY))
    if noise:
        data[at % len(data):at % len(data) + len(noise)] = noise
    else:
        data[at % len(data)] = value
    with contextlib.suppress(BatchError):  # anything else fails the test
        verify(open_envelope(bytes(data)), KEY.public_key())


def _parsed_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_parsed_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_parsed_depth(v) for v in value), default=0)
    return 0


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n\u00e9'),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_the_nesting_bound_counts_arrays_and_objects_not_brackets_in_text(value: object) -> None:
    from kiosk.records.batch import _depth

    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert _depth(text.encode("utf-8")) == _parsed_depth(value)


def test_brackets_in_a_text_field_are_not_nesting() -> None:
    rec = Record("a:session", "a", "session", T, {"note": "[" * 40 + "{" * 40})
    env = seal(Batch("DEMO-0001", 1, T, (rec,)), KEY)
    assert verify(open_envelope(env), KEY.public_key()).records[0].payload == rec.payload
