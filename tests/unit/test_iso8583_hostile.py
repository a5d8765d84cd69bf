"""DE 48 (the kiosk's private reference field) read strictly, and the typed host errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.acquirer import iso8583 as iso
from drivers.acquirer.api import HostError, HostProtocolError, HostTimeout, HostUnavailable


def test_private_round_trip() -> None:
    text = iso.private("r-1", "inc", total=7500)
    assert text == "ref=r-1;kind=inc;total=7500"
    assert iso.parse_private(text) == {"ref": "r-1", "kind": "inc", "total": "7500"}


@pytest.mark.parametrize("text", ["ref=a;kind=auth;ref=b", "ref=a;ref=a;kind=auth", "ref=a",
                                  "kind=auth", "ref=;kind=auth", "ref=a;kind=auth;junk", ""])
def test_private_refuses_ambiguous_or_incomplete_text(text: str) -> None:
    with pytest.raises(iso.IsoError):
        iso.parse_private(text)


@pytest.mark.parametrize(("ref", "kind"), [("", "auth"), ("x" * 65, "auth"), ("a;kind=cap", "auth"),
                                           ("a=b", "auth"), ("a", "auth;x=1")])
def test_private_refuses_values_that_would_change_its_meaning(ref: str, kind: str) -> None:
    with pytest.raises(iso.IsoError):
        iso.private(ref, kind)


@given(st.text(max_size=80))
def test_any_private_text_parses_or_is_a_typed_error(text: str) -> None:
    try:
        out = iso.parse_private(text)
    except iso.IsoError:
        return
    assert out["ref"] and out["kind"]


def test_host_errors_by_type() -> None:
    err = HostProtocolError("DE 4 amount above the request")
    assert isinstance(err, HostError) and not isinstance(err, HostUnavailable | HostTimeout)
    assert err.field == "DE 4 amount above the request"
    assert "DE 4" in str(err) and "outcome is unknown" in str(err)
