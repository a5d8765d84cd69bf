"""The signed update of kind "members" (issue #18): the member list reaches the terminal as a
config or a tariff does, is checked by kiosk.billing.plans.parse_members in the station's
currency, lands in the data folder and takes effect without a restart."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kiosk.billing.plans import MAX_BYTES, Plan, dumps_members, parse_members
from kiosk.maintenance.updates import (
    BUNDLE_MAX_BYTES,
    KINDS,
    LIVE_KINDS,
    MEMBERS_FILE,
    UpdateRefused,
)
from kiosk.records import update_poll
from tests.unit.test_updates import NOW, Site, _site

TOKEN = "0123456789abcdef0123456789abcdef"


def members(currency: str = "EUR", percent: str = "15", days: int = 30) -> bytes:
    return dumps_members(issued_at=NOW - timedelta(hours=1),
                         valid_until=NOW + timedelta(days=days), currency=currency,
                         plans=[Plan("night", "Night plan", Decimal(percent), (22, 6))],
                         members={TOKEN: "night"})


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return _site(tmp_path / "site", production=False)


def test_members_is_a_kind_that_takes_effect_without_a_restart() -> None:
    assert "members" in KINDS and "members" in update_poll.KINDS
    assert {"members"} == LIVE_KINDS
    # the largest member list fits a bundle, and a bundle fits an answer
    assert 4 * (MAX_BYTES // 3 + 1) + 1024 < BUNDLE_MAX_BYTES <= update_poll.MAX_BUNDLE_BYTES
    assert len(KINDS) * 4 * (BUNDLE_MAX_BYTES // 3) <= update_poll.MAX_ANSWER_BYTES


def test_a_signed_member_list_is_taken_into_the_data_folder(site: Site) -> None:
    target = site.data / MEMBERS_FILE
    assert not target.exists()  # the first list: nothing to keep, still taken
    got = site.updates.apply_bytes(site.bundle("members", 1, members()), "b")
    assert got.kind == "members" and site.updates.target("members") == target.resolve()
    assert target.read_bytes() == members()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not (site.data / (MEMBERS_FILE + ".previous")).exists()
    assert site.updates.state() == {"config": 0, "tariff": 0, "members": 1}
    with pytest.raises(UpdateRefused, match="no previous version"):
        site.updates.rollback("members")
    # the next one keeps the first for a rollback
    site.updates.apply_bytes(site.bundle("members", 2, members(percent="20")), "b")
    assert parse_members(target.read_bytes()).plans["night"].percent_off == 20
    site.updates.rollback("members")
    assert target.read_bytes() == members()
    assert site.updates.state()["members"] == 2


def test_a_stale_previous_goes_when_the_list_was_missing(site: Site) -> None:
    (site.data / (MEMBERS_FILE + ".previous")).write_bytes(members(percent="40"))
    site.updates.apply_bytes(site.bundle("members", 1, members()), "b")
    assert not (site.data / (MEMBERS_FILE + ".previous")).exists()


@pytest.mark.parametrize("content, words", [
    (members(currency="CHF"), r"the member list: currency: CHF, the station's is EUR"),
    (b"not json", r"the member list: not JSON"),
    (b'{"format": "evkiosk-members/1"}', r"the member list: expected one object"),
    (b"\xff\xfe", r"the member list: not UTF-8"),
])
def test_a_bad_member_list_is_refused_and_changes_no_file(site: Site, content: bytes,
                                                          words: str) -> None:
    before = site.snapshot()
    with pytest.raises(UpdateRefused, match=r"b: invalid content: " + words):
        site.updates.apply_bytes(site.bundle("members", 1, content), "b")
    assert site.snapshot() == before
    assert site.updates.state()["members"] == 0


def test_a_member_list_over_4_mib_is_not_even_signed(site: Site) -> None:
    with pytest.raises(ValueError, match="content over"):
        site.bundle("members", 1, b" " * (MAX_BYTES + 1))


def test_a_member_list_signed_by_another_key_is_refused(site: Site) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with pytest.raises(UpdateRefused, match="wrongly signed"):
        site.updates.apply_bytes(site.bundle("members", 1, members(),
                                             key=Ed25519PrivateKey.generate()), "b")
    assert not (site.data / MEMBERS_FILE).exists()


def test_the_remote_updates_ask_no_restart_for_a_member_list(site: Site) -> None:
    """The runtime's on_applied: a member list is read again by the runtime at the next card,
    a tariff asks for the restart."""
    from kiosk.maintenance.updates import read_update
    from kiosk.runtime import _restart_for

    m = read_update(site.bundle("members", 1, members()), site.cfg.maintenance.operator_key,
                    terminal=site.cfg.station.id, now=NOW)
    t = read_update(site.bundle("tariff", 1), site.cfg.maintenance.operator_key,
                    terminal=site.cfg.station.id, now=NOW)
    assert _restart_for(m) == ""
    assert _restart_for(t) == "the tariff update 1 from the back office"


def test_an_old_terminals_poll_without_members_is_still_read() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    poll = update_poll.read_poll(update_poll.make_poll(key, "T-1", {"config": 1, "tariff": 2},
                                                       NOW))
    assert poll.have == {"config": 1, "tariff": 2}
    with pytest.raises(update_poll.PollError, match="exactly config, tariff"):
        update_poll.make_poll(key, "T-1", {"config": 1}, NOW)
