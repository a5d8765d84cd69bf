"""The back office's update bundles on real SQLite and real PostgreSQL: only a bundle the
operator signed, still valid, for a registered active terminal and above every sequence
published before is stored (the same bytes again are "already published"); a refusal stores
nothing; a poll is offered per kind the newest bundle above what the terminal has that is
neither expired nor withdrawn, the bytes exactly as published; publishers racing on one
terminal never let the sequence go backwards; the migration gives the table the code declares."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from kiosk.backoffice import updates as bo
from kiosk.backoffice.registry import add_terminal, revoke_terminal
from kiosk.backoffice.storage import (
    MIGRATIONS,
    SCHEMA_REVISION,
    Database,
    metadata,
    open_db,
    terminals,
    updates,
)
from kiosk.maintenance import updates as kiosk_updates
from kiosk.maintenance.updates import make_update, read_update, signed_message
from kiosk.records import update_poll
from kiosk.records.batch import public_key_raw
from kiosk.records.update_poll import Offered, make_poll, read_answer

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TERMINAL = "KIOSK-0042"
OTHER = "KIOSK-0043"
OPERATOR = Ed25519PrivateKey.generate()
OPERATOR_HEX = public_key_raw(OPERATOR.public_key()).hex()
TERMINAL_KEY = Ed25519PrivateKey.generate()
TARIFF = b'{"id": "T1", "currency": "EUR"}'
CONFIG = b'schema_version = 1\n'
HAVE_NONE = {"config": 0, "tariff": 0}


def bundle(sequence: int, kind: str = "tariff", terminal: str = TERMINAL, *,
           content: bytes = TARIFF, key: Ed25519PrivateKey = OPERATOR,
           issued_at: datetime = NOW - timedelta(hours=1),
           expires_at: datetime | None = None) -> bytes:
    return make_update(key, kind, terminal, sequence, content, issued_at=issued_at,
                       expires_at=expires_at or issued_at + timedelta(days=30))


def resigned(data: bytes, **changes: Any) -> bytes:
    """A bundle with fields changed, signed again by the operator."""
    obj = json.loads(data)
    obj.pop("sig")
    obj.update(changes)
    obj["sig"] = base64.b64encode(OPERATOR.sign(signed_message(obj))).decode()
    return json.dumps(obj).encode()


def unsigned(data: bytes) -> bytes:
    obj = json.loads(data)
    obj.pop("sig")
    return json.dumps(obj).encode()


def publish(db: Database, data: bytes, at: datetime = NOW) -> bo.Published:
    return bo.publish(db, data, OPERATOR_HEX, now=at)


def rows(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(updates)).scalar() or 0)


@pytest.fixture
def db(backoffice_url: str) -> Any:
    database = open_db(backoffice_url)
    add_terminal(database, TERMINAL, public_key_raw(TERMINAL_KEY.public_key()))
    add_terminal(database, OTHER, public_key_raw(Ed25519PrivateKey.generate().public_key()))
    yield database
    database.close()


# --- the two sides agree ----------------------------------------------------------------------

def test_the_poll_and_the_bundle_agree_on_kinds_and_sizes() -> None:
    assert update_poll.KINDS == kiosk_updates.KINDS
    assert update_poll.MAX_BUNDLE_BYTES == kiosk_updates.BUNDLE_MAX_BYTES
    assert update_poll.MAX_SEQUENCE == kiosk_updates.MAX_SEQUENCE


def test_bundle_terminal_reads_the_form_only() -> None:
    assert kiosk_updates.bundle_terminal(bundle(1, terminal="X.Y_z-9")) == "X.Y_z-9"
    assert kiosk_updates.bundle_terminal(bundle(1, key=Ed25519PrivateKey.generate())) == \
        TERMINAL  # the signature is read_update's to check
    for bad, words in ((b"{", "not JSON"), (b"[]", "not an object"),
                       (resigned(bundle(1), terminal="*"), "'*'"),
                       (unsigned(bundle(1)), "unsigned")):
        with pytest.raises(ValueError, match=words):
            kiosk_updates.bundle_terminal(bad)


# --- publishing -------------------------------------------------------------------------------

def test_published_once_then_already_published(db: Database) -> None:
    data = bundle(3)
    first = publish(db, data)
    assert (first.status, first.update.sequence, first.update.kind) == ("published", 3,
                                                                        "tariff")
    assert first.update.terminal_id == TERMINAL and first.update.withdrawn_at is None
    again = publish(db, data, NOW + timedelta(hours=1))
    assert again.status == "already published" and again.update == first.update
    assert rows(db) == 1
    assert first.line().startswith(f"published: {TERMINAL} tariff sequence 3, expires ")


def test_the_bytes_are_kept_exactly(db: Database) -> None:
    data = bundle(1)
    spaced = json.dumps(json.loads(data), indent=2).encode()  # another spelling, same fields
    assert spaced != data
    publish(db, spaced)
    with db.engine.connect() as conn:
        stored = conn.execute(select(updates.c.bundle, updates.c.sha256)).one()
    assert bytes(stored.bundle) == spaced
    assert stored.sha256 == hashlib.sha256(spaced).hexdigest()


def _refused(db: Database, data: bytes, words: str, at: datetime = NOW,
             key_hex: str = OPERATOR_HEX) -> None:
    before = rows(db)
    with pytest.raises(bo.PublishError, match=words) as caught:
        bo.publish(db, data, key_hex, now=at)
    assert "\n" not in str(caught.value) and not str(caught.value).startswith("bundle:")
    assert rows(db) == before


def test_what_is_refused_stores_nothing(db: Database) -> None:
    good = bundle(5)
    stranger = Ed25519PrivateKey.generate()
    altered = json.loads(good)
    altered["sequence"] = 6
    cases = {
        "not json": (b"not a bundle", "not JSON"),
        "unsigned": (unsigned(good), "unsigned: no sig field"),
        "wrong key": (bundle(5, key=stranger), "wrongly signed"),
        "altered after signing": (json.dumps(altered).encode(), "wrongly signed"),
        "sha256": (resigned(good, sha256="0" * 64), "sha256 does not match"),
        "unknown field": (resigned(good, extra=1), "unknown field"),
        "every terminal": (resigned(good, terminal="*"), "'\\*'"),
        "float sequence": (good.replace(b'"sequence":5', b'"sequence":5.0'), "fraction"),
        "expired": (bundle(5, issued_at=NOW - timedelta(days=31)), "expired at"),
        "from the future": (bundle(5, issued_at=NOW + timedelta(minutes=10)),
                            "issued in the future"),
        "too long valid": (resigned(good, expires_at=(NOW + timedelta(days=100)).isoformat()),
                           "more than 90 days"),
        "unknown terminal": (bundle(5, terminal="NOBODY"), "terminal NOBODY: not registered"),
    }
    for case, (data, words) in cases.items():
        try:
            _refused(db, data, words)
        except AssertionError as exc:  # pragma: no cover - names the case that failed
            raise AssertionError(case) from exc
    assert publish(db, good).status == "published"


def test_the_operator_key_is_checked_first(db: Database) -> None:
    for bad in ("", "00" * 31, "zz" * 32, OPERATOR_HEX + "00"):
        _refused(db, bundle(1), "operator key", key_hex=bad)
    assert bo.check_operator_key(f"  {OPERATOR_HEX.upper()}\n") == OPERATOR_HEX
    _refused(db, bundle(1), "wrongly signed",
             key_hex=public_key_raw(TERMINAL_KEY.public_key()).hex())


def test_a_revoked_terminal_gets_nothing_published(db: Database) -> None:
    publish(db, bundle(1))
    revoke_terminal(db, TERMINAL)
    _refused(db, bundle(2), f"terminal {TERMINAL}: revoked")


def test_publishing_only_goes_forwards(db: Database) -> None:
    publish(db, bundle(5))
    _refused(db, bundle(4), r"sequence 4 is not above the last one published \(5\)")
    _refused(db, bundle(5, content=b'{"other": true}'), "published already with other bytes")
    assert publish(db, bundle(5)).already  # the same bytes: fine
    # each terminal and each kind counts on its own
    assert not publish(db, bundle(1, kind="config", content=CONFIG)).already
    assert not publish(db, bundle(1, terminal=OTHER)).already
    assert not publish(db, bundle(6)).already
    assert [(u.terminal_id, u.kind, u.sequence) for u in bo.list_updates(db)] == [
        (TERMINAL, "config", 1), (TERMINAL, "tariff", 5), (TERMINAL, "tariff", 6),
        (OTHER, "tariff", 1)]


def test_the_content_is_left_to_the_kiosk(db: Database) -> None:
    """Not JSON, not a tariff: the back office cannot judge it (the kiosk's running config
    decides) and publishes it; the kiosk's read_update takes the offered bytes as they are."""
    data = bundle(1, content=b"\xff not a tariff at all")
    assert publish(db, data).status == "published"
    (offer,) = bo.offers_for(db, TERMINAL, HAVE_NONE, NOW)
    assert offer.bundle == data
    taken = read_update(offer.bundle, OPERATOR_HEX, terminal=TERMINAL, now=NOW)
    assert taken.content == b"\xff not a tariff at all"


# --- offers -----------------------------------------------------------------------------------

def test_offers_pick_the_newest_unexpired_of_each_kind(db: Database) -> None:
    t1, t2 = bundle(1), bundle(2, expires_at=NOW + timedelta(hours=1))
    t3 = bundle(3, issued_at=NOW - timedelta(days=2), expires_at=NOW - timedelta(hours=1))
    publish(db, t1)
    publish(db, t2)
    publish(db, t3, NOW - timedelta(days=1))  # valid when published, expired at NOW
    c7 = bundle(7, kind="config", content=CONFIG)
    publish(db, c7)
    publish(db, bundle(9, terminal=OTHER))
    assert bo.offers_for(db, TERMINAL, HAVE_NONE, NOW) == [
        Offered("config", 7, c7), Offered("tariff", 2, t2)]
    assert bo.offers_for(db, TERMINAL, {"config": 7, "tariff": 1}, NOW) == [
        Offered("tariff", 2, t2)]
    assert bo.offers_for(db, TERMINAL, {"config": 7, "tariff": 2}, NOW) == []
    assert bo.offers_for(db, TERMINAL, {"config": 0, "tariff": 0},
                         NOW + timedelta(hours=2)) == [Offered("config", 7, c7),
                                                       Offered("tariff", 1, t1)]
    assert bo.offers_for(db, "NOBODY", HAVE_NONE, NOW) == []


def test_a_kind_the_poll_does_not_name_is_not_offered(db: Database) -> None:
    """A terminal of a version before the member lists polls with config and tariff only; it
    would refuse a whole answer holding a kind it does not know, its config and tariff too."""
    members = bundle(1, kind="members", content=b"{}")
    publish(db, members)
    t1 = bundle(1)
    publish(db, t1)
    assert bo.offers_for(db, TERMINAL, HAVE_NONE, NOW) == [Offered("tariff", 1, t1)]
    assert bo.offers_for(db, TERMINAL, {**HAVE_NONE, "members": 0}, NOW) == [
        Offered("tariff", 1, t1), Offered("members", 1, members)]


def test_expiry_is_compared_as_time_not_as_text(db: Database) -> None:
    """14:00+05:00 is 09:00 UTC (expired at 12:00 UTC though "14" > "12"); 10:00-05:00 is
    15:00 UTC (valid though "10" < "12")."""
    plus5, minus5 = timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))
    early = bundle(1, issued_at=NOW.astimezone(plus5) - timedelta(hours=6),
                   expires_at=datetime(2026, 6, 1, 14, 0, tzinfo=plus5))
    late = bundle(1, kind="config", content=CONFIG,
                  issued_at=NOW.astimezone(minus5) - timedelta(hours=6),
                  expires_at=datetime(2026, 6, 1, 10, 0, tzinfo=minus5))
    publish(db, early, NOW - timedelta(hours=4))
    publish(db, late, NOW - timedelta(hours=4))
    stored = {u.kind: u for u in bo.list_updates(db)}
    assert stored["tariff"].expires_at == "2026-06-01T14:00:00+05:00"  # as the bundle says
    assert stored["tariff"].expires_utc == "2026-06-01T09:00:00.000000+00:00"
    assert bo.offers_for(db, TERMINAL, HAVE_NONE, NOW) == [Offered("config", 1, late)]
    assert bo.offers_for(db, TERMINAL, HAVE_NONE, datetime(2026, 6, 1, 8, 59, tzinfo=UTC)
                         ) == [Offered("config", 1, late), Offered("tariff", 1, early)]
    assert [stored[k].state(NOW) for k in ("config", "tariff")] == ["valid", "expired"]


def test_a_withdrawn_bundle_is_not_offered_and_not_published_again(db: Database) -> None:
    t1, t2 = bundle(1), bundle(2)
    publish(db, t1)
    publish(db, t2)
    gone = bo.withdraw(db, TERMINAL, "tariff", 2)
    assert gone.withdrawn_at is not None and gone.state(NOW) == "withdrawn"
    assert bo.offers_for(db, TERMINAL, HAVE_NONE, NOW) == [Offered("tariff", 1, t1)]
    assert bo.offers_for(db, TERMINAL, {"config": 0, "tariff": 1}, NOW) == []
    _refused(db, t2, "was withdrawn at")
    _refused(db, bundle(2, content=b"{}"), "published already with other bytes")
    assert not publish(db, bundle(3)).already  # the replacement: a newer sequence
    with pytest.raises(bo.WithdrawError, match="withdrawn already at"):
        bo.withdraw(db, TERMINAL, "tariff", 2)
    for args, words in (((TERMINAL, "tariff", 9), "not published"),
                        ((OTHER, "tariff", 1), "not published"),
                        ((TERMINAL, "firmware", 1), "kind"),
                        ((TERMINAL, "tariff", 0), "sequence"),
                        ((TERMINAL, "tariff", 2 ** 63), "sequence"),
                        (("a b", "tariff", 1), "terminal id")):
        with pytest.raises(bo.WithdrawError, match=words):
            bo.withdraw(db, *args)
    assert rows(db) == 3


def test_list_carries_no_bytes_and_filters_by_terminal(db: Database) -> None:
    publish(db, bundle(1))
    publish(db, bundle(1, terminal=OTHER))
    listed = bo.list_updates(db, TERMINAL)
    assert [(u.terminal_id, u.sequence) for u in listed] == [(TERMINAL, 1)]
    assert not hasattr(listed[0], "bundle")
    assert len(bo.list_updates(db)) == 2
    assert bo.list_updates(db, "NOBODY") == []


# --- polls ------------------------------------------------------------------------------------

def test_answer_poll_decides_each_refusal(db: Database) -> None:
    data = bundle(4)
    publish(db, data)
    good = bo.answer_poll(db, make_poll(TERMINAL_KEY, TERMINAL, HAVE_NONE, NOW), NOW)
    assert good.refusal is None and good.terminal_id == TERMINAL
    assert read_answer(good.body, terminal_id=TERMINAL, have=HAVE_NONE) == [
        Offered("tariff", 4, data)]
    stranger = Ed25519PrivateKey.generate()
    late = NOW + update_poll.MAX_SKEW + timedelta(seconds=1)
    forged = json.loads(make_poll(TERMINAL_KEY, TERMINAL, HAVE_NONE, NOW))
    forged["have"]["tariff"] = 1  # the signature no longer covers it
    cases = [
        (b"{}", bo.PollRefusal.INVALID, "poll.format"),
        (make_poll(stranger, "NOBODY", HAVE_NONE, NOW), bo.PollRefusal.UNKNOWN_TERMINAL,
         "not registered"),
        (make_poll(stranger, TERMINAL, HAVE_NONE, NOW), bo.PollRefusal.NOT_AUTHENTIC,
         "not the terminal's registered key"),
        (json.dumps(forged).encode(), bo.PollRefusal.NOT_AUTHENTIC, "does not verify"),
        (make_poll(stranger, TERMINAL, HAVE_NONE, late), bo.PollRefusal.NOT_AUTHENTIC,
         "registered key"),  # who it is comes before when
        (make_poll(TERMINAL_KEY, TERMINAL, HAVE_NONE, late), bo.PollRefusal.CLOCK,
         "check the terminal's clock"),
        (make_poll(TERMINAL_KEY, TERMINAL, HAVE_NONE, NOW - timedelta(minutes=6)),
         bo.PollRefusal.CLOCK, "more than 5 minutes"),
    ]
    for poll, refusal, words in cases:
        result = bo.answer_poll(db, poll, NOW)
        assert (result.refusal, result.body) == (refusal, b""), (poll, result)
        assert words in result.reason, result.reason
    revoke_terminal(db, TERMINAL)
    result = bo.answer_poll(db, make_poll(TERMINAL_KEY, TERMINAL, HAVE_NONE, NOW), NOW)
    assert result.refusal is bo.PollRefusal.REVOKED


# --- concurrency ------------------------------------------------------------------------------

@pytest.mark.parametrize("terminal", ["RACE-1", "RACE-2", "RACE-3"])
def test_racing_publishers_never_let_the_sequence_go_backwards(db: Database,
                                                               terminal: str) -> None:
    """Four threads publish the same 30 bundles, each in its own order: in the order they were
    stored (ids), the sequences only rise, and nothing fails but "not above the last one".
    (Without the lock on the terminal's row, PostgreSQL fails about every second round.)"""
    add_terminal(db, terminal, public_key_raw(Ed25519PrivateKey.generate().public_key()))
    bundles = [bundle(s, terminal=terminal) for s in range(1, 31)]
    problems: list[str] = []
    start = threading.Barrier(4)

    def run(order: list[bytes]) -> None:
        start.wait()
        for data in order:
            try:
                publish(db, data)
            except bo.PublishError as exc:
                if "is not above the last one published" not in str(exc):
                    problems.append(str(exc))

    orders = [bundles, bundles[::-1]]
    for seed in (1, 2):
        orders.append(random.Random(seed).sample(bundles, len(bundles)))
    threads = [threading.Thread(target=run, args=(order,)) for order in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not problems, problems
    with db.engine.connect() as conn:
        stored = [int(s) for s in conn.execute(select(updates.c.sequence)
                                               .order_by(updates.c.id)).scalars()]
    assert stored == sorted(set(stored)) and stored[-1] == 30


# --- a model of the offer, on SQLite ----------------------------------------------------------

_counter = iter(range(10 ** 9))


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    database = open_db(f"sqlite:///{tmp_path_factory.mktemp('model') / 'bo.sqlite'}")
    yield database
    database.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(published=st.lists(st.tuples(st.sampled_from(("config", "tariff")),
                                    st.integers(1, 6),  # the sequence step
                                    st.integers(-48, 48),  # expiry, hours from NOW
                                    st.booleans()),  # withdrawn
                          max_size=6),
       have=st.fixed_dictionaries({"config": st.integers(0, 20),
                                   "tariff": st.integers(0, 20)}))
def test_the_offer_is_the_newest_valid_above_have(sqlite_db: Database,
                                                  published: list[tuple[str, int, int, bool]],
                                                  have: dict[str, int]) -> None:
    terminal = f"M-{next(_counter)}"
    with sqlite_db.engine.begin() as conn:
        conn.execute(insert(terminals).values(
            id=terminal, public_key=bytes(32), key_id="0" * 64, status="active",
            added_at=NOW.isoformat(), revoked_at=None))
    last = {"config": 0, "tariff": 0}
    model: list[tuple[str, int, datetime, bool, bytes]] = []
    for kind, step, hours, withdrawn in published:
        last[kind] += step
        expires = NOW + timedelta(hours=hours)
        issued = expires - timedelta(days=1)
        data = bundle(last[kind], kind, terminal, issued_at=issued, expires_at=expires)
        bo.publish(sqlite_db, data, OPERATOR_HEX, now=issued)
        if withdrawn:
            bo.withdraw(sqlite_db, terminal, kind, last[kind])
        model.append((kind, last[kind], expires, withdrawn, data))
    expected = []
    for kind in ("config", "tariff"):
        valid = [m for m in model
                 if m[0] == kind and m[1] > have[kind] and not m[3] and m[2] > NOW]
        if valid:
            newest = max(valid, key=lambda m: m[1])
            expected.append(Offered(kind, newest[1], newest[4]))
    assert bo.offers_for(sqlite_db, terminal, have, NOW) == expected


# --- the migration ----------------------------------------------------------------------------

def test_the_migrated_schema_matches_the_code(backoffice_url: str) -> None:
    db = open_db(backoffice_url)
    try:
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        db.close()


def test_a_bo0002_database_is_migrated_with_its_rows(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "bo0002")
        conn.execute(insert(terminals).values(
            id=TERMINAL, public_key=public_key_raw(TERMINAL_KEY.public_key()),
            key_id="0" * 64, status="active", added_at=NOW.isoformat(), revoked_at=None))
    with engine.connect() as conn:
        assert "updates" not in inspect(conn).get_table_names()
    engine.dispose()
    db = open_db(url)
    try:
        assert publish(db, bundle(1)).status == "published"
        with db.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert version == SCHEMA_REVISION
    finally:
        db.close()
