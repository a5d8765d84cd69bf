"""The maintenance audit log, on real files: appended entries read back and chain; verify finds
every kind of tampering (edited, re-hashed, removed, reordered, cut off, head deleted or forged,
garbage, forged entries) and names the entry; a crash between the append and the head rewrite
is accepted and repaired; secrets are refused; concurrent appends keep the chain; the disk
refusing a write (a full tmpfs) is an AuditError and leaves the log as it was."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.security.audit import (
    HEAD_NAME,
    LOG_NAME,
    MAX_LINE_BYTES,
    SECRET_KEY_WORDS,
    ZERO_HASH,
    AuditError,
    AuditLog,
    AuditTampered,
    Entry,
    verify_file,
)
from tests.support.fullfs import fill, unfill

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()
OTHER = Ed25519PrivateKey.generate()


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def ticking(start: datetime = T0) -> Callable[[], datetime]:
    """A clock one second further at every call."""
    state = {"t": start}

    def now() -> datetime:
        state["t"] += timedelta(seconds=1)
        return state["t"]
    return now


def open_log(folder: Path, key: Ed25519PrivateKey = KEY) -> AuditLog:
    return AuditLog(folder, key, clock=ticking())


def make_log(folder: Path, n: int = 5) -> list[Entry]:
    with open_log(folder) as log:
        return [log.append("technician:alice", "test", {"i": i, "ok": i % 2 == 0})
                for i in range(1, n + 1)]


def lines(folder: Path) -> list[bytes]:
    return (folder / LOG_NAME).read_bytes().splitlines(keepends=True)


def write_lines(folder: Path, new: list[bytes]) -> None:
    (folder / LOG_NAME).write_bytes(b"".join(new))


def signed_line(obj: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """An entry line made here, independently of the module: hash and signature as specified."""
    body = {k: obj[k] for k in ("seq", "at", "actor", "action", "details", "prev")}
    h = hashlib.sha256(canonical(body)).hexdigest()
    sig = base64.b64encode(key.sign(b"evkiosk-audit/1\x00" + bytes.fromhex(h))).decode()
    return canonical({**body, "hash": h, "sig": sig}) + b"\n"


def tampered(folder: Path) -> AuditTampered:
    with pytest.raises(AuditTampered) as info:
        verify_file(folder, PUBLIC)
    return info.value


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


# --- writing and reading -----------------------------------------------------------------------

def test_append_and_read_back(folder: Path) -> None:
    with open_log(folder) as log:
        assert log.path == folder / LOG_NAME
        assert log.entries() == [] and log.recent(3) == []
        a = log.append("technician:alice", "login", {"method": "pin+totp", "ok": True})
        b = log.append("system", "health",
                       {"devices": {"reader": "ok", "charger": None}, "list": [1, "x", False]})
        c = log.append("technician:alice", "logout")
        assert log.entries() == [a, b, c]
        assert log.recent(2) == [b, c]
        assert log.recent(10) == [a, b, c]
        assert log.recent(0) == []
    assert (a.seq, a.actor, a.action, a.details) == (1, "technician:alice", "login",
                                                     {"method": "pin+totp", "ok": True})
    assert a.at == "2026-11-30T09:00:01.000+00:00"
    assert b.details == {"devices": {"reader": "ok", "charger": None}, "list": [1, "x", False]}
    assert c.details == {}
    with open_log(folder) as again:  # a new process reads the same
        assert again.entries() == [a, b, c]
        assert again.recent(1) == [c]


def test_the_time_is_utc_whatever_the_clock_zone(folder: Path) -> None:
    cet = timezone(timedelta(hours=1))
    with AuditLog(folder, KEY, clock=lambda: datetime(2026, 1, 2, 10, 30, tzinfo=cet)) as log:
        assert log.append("system", "boot").at == "2026-01-02T09:30:00.000+00:00"
    naive = AuditLog(folder, KEY, clock=lambda: datetime(2026, 1, 2))
    with naive, pytest.raises(ValueError, match="offset"):
        naive.append("system", "boot")
    assert verify_file(folder, PUBLIC) == 1


def test_chain_seq_prev_hash_and_signature_as_specified(folder: Path) -> None:
    entries = make_log(folder, 4)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev == ZERO_HASH == "0" * 64
    for before, after in itertools.pairwise(entries):
        assert after.prev == before.hash
    for raw, e in zip(lines(folder), entries, strict=True):
        obj = json.loads(raw)
        assert raw == canonical(obj) + b"\n"  # canonical on disk
        assert raw == signed_line(obj, KEY)  # hash and signature computed independently
        PUBLIC.verify(base64.b64decode(e.sig), b"evkiosk-audit/1\x00" + bytes.fromhex(e.hash))
    head = json.loads((folder / HEAD_NAME).read_bytes())
    assert head["seq"] == 4 and head["hash"] == entries[-1].hash
    PUBLIC.verify(base64.b64decode(head["sig"]),
                  b"evkiosk-audit-head/1\x00" + (4).to_bytes(8, "big")
                  + bytes.fromhex(entries[-1].hash))


def test_verify_passes_on_an_intact_log_and_counts(folder: Path) -> None:
    make_log(folder, 7)
    assert verify_file(folder, PUBLIC) == 7


def test_a_new_log_is_empty_with_a_head_of_seq_0(folder: Path) -> None:
    open_log(folder).close()
    assert (folder / LOG_NAME).read_bytes() == b""
    assert json.loads((folder / HEAD_NAME).read_bytes())["seq"] == 0
    assert verify_file(folder, PUBLIC) == 0


def test_nothing_to_verify_is_an_error_not_a_pass(folder: Path) -> None:
    folder.mkdir()
    with pytest.raises(AuditError, match="nothing to verify") as info:
        verify_file(folder, PUBLIC)
    assert not isinstance(info.value, AuditTampered)


def test_files_are_mode_0600(folder: Path) -> None:
    old = os.umask(0)
    try:
        make_log(folder, 2)
    finally:
        os.umask(old)
    for name in (LOG_NAME, HEAD_NAME):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # none left


# --- tampering ---------------------------------------------------------------------------------

def test_details_edited_hash_mismatch(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    obj = json.loads(ls[2])
    obj["details"]["ok"] = not obj["details"]["ok"]
    ls[2] = canonical(obj) + b"\n"
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 3 and "edited" in str(exc) and str(folder / LOG_NAME) in str(exc)


def test_edited_with_the_hash_recomputed_fails_the_signature(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    obj = json.loads(ls[2])
    obj["actor"] = "technician:mallory"
    body = {k: v for k, v in obj.items() if k not in ("hash", "sig")}
    obj["hash"] = hashlib.sha256(canonical(body)).hexdigest()
    ls[2] = canonical(obj) + b"\n"
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 3 and "signature" in str(exc)


def test_an_entry_removed_in_the_middle(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    del ls[2]
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 3 and "removed" in str(exc)


def test_two_entries_swapped(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    ls[1], ls[2] = ls[2], ls[1]
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 2 and "reordered" in str(exc)


def test_an_entry_duplicated(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    ls.insert(2, ls[1])
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 3


@pytest.mark.parametrize(("keep", "first_missing"), [(4, 5), (2, 3), (0, 1)])
def test_the_tail_truncated_head_ahead(folder: Path, keep: int, first_missing: int) -> None:
    make_log(folder, 5)
    write_lines(folder, lines(folder)[:keep])  # keep=0: the whole log emptied, the head kept
    exc = tampered(folder)
    assert exc.seq == first_missing and "truncated" in str(exc)


def test_the_last_line_cut_in_the_middle(folder: Path) -> None:
    make_log(folder, 3)
    data = (folder / LOG_NAME).read_bytes()
    (folder / LOG_NAME).write_bytes(data[:-40])
    exc = tampered(folder)
    assert exc.seq == 3 and "incomplete" in str(exc)


def test_the_head_deleted(folder: Path) -> None:
    make_log(folder, 3)
    (folder / HEAD_NAME).unlink()
    exc = tampered(folder)
    assert exc.seq is None and "missing" in str(exc)


def test_the_log_deleted_with_the_head_kept(folder: Path) -> None:
    make_log(folder, 3)
    (folder / LOG_NAME).unlink()
    assert tampered(folder).seq == 1


def test_the_head_resigned_with_another_key(folder: Path) -> None:
    entries = make_log(folder, 3)
    sig = base64.b64encode(OTHER.sign(b"evkiosk-audit-head/1\x00" + (3).to_bytes(8, "big")
                                      + bytes.fromhex(entries[-1].hash))).decode()
    (folder / HEAD_NAME).write_bytes(
        canonical({"seq": 3, "hash": entries[-1].hash, "sig": sig}) + b"\n")
    exc = tampered(folder)
    assert exc.seq is None and "signature" in str(exc)


def test_the_head_edited_to_hide_truncation(folder: Path) -> None:
    make_log(folder, 3)
    head = json.loads((folder / HEAD_NAME).read_bytes())
    head["seq"] = 2
    (folder / HEAD_NAME).write_bytes(canonical(head) + b"\n")
    write_lines(folder, lines(folder)[:2])
    assert "signature" in str(tampered(folder))


def test_an_old_head_put_back(folder: Path) -> None:
    with open_log(folder) as log:
        log.append("system", "a")
        old_head = (folder / HEAD_NAME).read_bytes()
        log.append("system", "b")
        log.append("system", "c")
    (folder / HEAD_NAME).write_bytes(old_head)
    exc = tampered(folder)
    assert exc.seq == 2 and "old head" in str(exc)


@pytest.mark.parametrize("garbage", [b"hello world\n", b"{}\n", b"[1,2]\n", b"\n",
                                     b"\xff\xfe\n", b'{"seq":2\n'])
def test_a_line_of_garbage(folder: Path, garbage: bytes) -> None:
    make_log(folder)
    ls = lines(folder)
    ls[1] = garbage
    write_lines(folder, ls)
    assert tampered(folder).seq == 2


def test_garbage_inserted(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    ls.insert(3, b"not json\n")
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 4 and "not JSON" in str(exc)


def test_a_line_over_16_kib(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    obj = json.loads(ls[1])
    obj["details"]["filler"] = "x" * MAX_LINE_BYTES
    ls[1] = canonical(obj) + b"\n"
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 2 and "longer than" in str(exc)


def test_the_spare_bits_of_a_signature_changed(folder: Path) -> None:
    """The last base64 digit of a 64-byte signature carries 4 unused bits: base64 decoding
    ignores them, the signature still verifies, so only the one-form check finds it."""
    make_log(folder, 2)
    ls = lines(folder)
    obj = json.loads(ls[0])
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sig = obj["sig"]
    obj["sig"] = sig[:85] + alphabet[alphabet.index(sig[85]) | 1] + sig[86:]
    assert obj["sig"] != sig and base64.b64decode(obj["sig"]) == base64.b64decode(sig)
    ls[0] = canonical(obj) + b"\n"
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 1 and "signature" in str(exc)


def test_a_non_canonical_line(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    ls[3] = json.dumps(json.loads(ls[3]), sort_keys=True).encode() + b"\n"  # spaces added
    write_lines(folder, ls)
    exc = tampered(folder)
    assert exc.seq == 4 and "canonical" in str(exc)


def test_a_forged_entry_appended_at_the_end(folder: Path) -> None:
    entries = make_log(folder, 5)
    forged = signed_line({"seq": 6, "at": "2026-11-30T10:00:00.000+00:00",
                          "actor": "technician:alice", "action": "config",
                          "details": {"price": 0}, "prev": entries[-1].hash}, OTHER)
    write_lines(folder, [*lines(folder), forged])
    exc = tampered(folder)
    assert exc.seq == 6 and "signature" in str(exc)


def test_a_forged_entry_with_a_forged_head(folder: Path) -> None:
    """Even with the head made to match, an entry not signed by the terminal's key fails."""
    entries = make_log(folder, 2)
    forged = signed_line({"seq": 3, "at": "2026-11-30T10:00:00.000+00:00", "actor": "x",
                          "action": "y", "details": {}, "prev": entries[-1].hash}, OTHER)
    write_lines(folder, [*lines(folder), forged])
    assert tampered(folder).seq == 3


def test_opening_an_audit_log_on_a_tampered_folder_refuses(folder: Path) -> None:
    make_log(folder)
    ls = lines(folder)
    del ls[1]
    write_lines(folder, ls)
    before = (folder / LOG_NAME).read_bytes()
    with pytest.raises(AuditTampered) as info:
        open_log(folder)
    assert info.value.seq == 2
    assert (folder / LOG_NAME).read_bytes() == before  # nothing appended, nothing "repaired"


def test_tampering_while_open_is_found_at_the_next_append(folder: Path) -> None:
    with open_log(folder) as log:
        log.append("system", "a")
        log.append("system", "b")
        write_lines(folder, lines(folder)[:1])
        with pytest.raises(AuditTampered):
            log.append("system", "c")


def test_the_log_replaced_while_open(folder: Path) -> None:
    with open_log(folder) as log:
        log.append("system", "a")
        data = (folder / LOG_NAME).read_bytes()
        (folder / LOG_NAME).unlink()
        (folder / LOG_NAME).write_bytes(data)
        with pytest.raises(AuditTampered, match="replaced"):
            log.append("system", "b")


# --- a crash between the append and the head rewrite -------------------------------------------

def test_a_head_one_behind_is_accepted_and_repaired(folder: Path) -> None:
    with open_log(folder) as log:
        log.append("system", "a")
        log.append("system", "b")
        previous_head = (folder / HEAD_NAME).read_bytes()
        last = log.append("technician:bob", "out-of-service", {"on": True})
    (folder / HEAD_NAME).write_bytes(previous_head)  # as if the crash came before the rename
    assert verify_file(folder, PUBLIC) == 3
    with open_log(folder) as reopened:
        assert json.loads((folder / HEAD_NAME).read_bytes())["seq"] == 3
        assert reopened.recent(1) == [last]
    assert verify_file(folder, PUBLIC) == 3
    head = json.loads((folder / HEAD_NAME).read_bytes())
    assert (head["seq"], head["hash"]) == (3, last.hash)


def test_a_crash_after_the_first_append(folder: Path) -> None:
    open_log(folder).close()
    empty_head = (folder / HEAD_NAME).read_bytes()
    with open_log(folder) as log:
        log.append("system", "boot")
    (folder / HEAD_NAME).write_bytes(empty_head)
    assert verify_file(folder, PUBLIC) == 1
    open_log(folder).close()
    assert json.loads((folder / HEAD_NAME).read_bytes())["seq"] == 1


def test_a_crash_before_the_first_head(folder: Path) -> None:
    folder.mkdir()
    (folder / LOG_NAME).write_bytes(b"")
    assert verify_file(folder, PUBLIC) == 0
    with open_log(folder) as log:
        log.append("system", "boot")
    assert verify_file(folder, PUBLIC) == 1


# --- what is refused ---------------------------------------------------------------------------

@pytest.mark.parametrize("details", [
    {"pin": "1234"},
    {"x": {"totp_code": 1}},
    {"PIN": 1},
    {"entered_Password": "x"},
    {"card": {"PAN": "4111111111111111"}},
    {"list": [1, {"track2": "..."}]},
    {"deep": [[{"a": {"client_secret": None}}]]},
    {"auth code": "x"},
])
def test_secrets_are_refused(folder: Path, details: dict[str, Any]) -> None:
    with open_log(folder) as log:
        with pytest.raises(ValueError, match="secret"):
            log.append("technician:alice", "login", details)
        assert log.entries() == []
    assert (folder / LOG_NAME).read_bytes() == b""


def test_every_secret_word_is_refused(folder: Path) -> None:
    with open_log(folder) as log:
        for word in SECRET_KEY_WORDS:
            with pytest.raises(ValueError):
                log.append("system", "x", {f"my_{word.upper()}_x": 1})


@pytest.mark.parametrize(("actor", "action"), [
    ("", "login"), ("system", ""), ("a" * 201, "login"), ("system", "x" * 201),
    ("tech\nnician", "login"), ("system", "log\x00in"), ("system", "\x1b[2J"),
    ("tech\u202eecinh", "login"), ("system", "a\u2028b"), ("system", "del\x7f"),
])
def test_bad_actor_or_action_refused(folder: Path, actor: str, action: str) -> None:
    with open_log(folder) as log, pytest.raises(ValueError):
        log.append(actor, action)
    assert verify_file(folder, PUBLIC) == 0


def test_200_characters_are_enough(folder: Path) -> None:
    with open_log(folder) as log:
        log.append("a" * 200, "é" * 200)
    assert verify_file(folder, PUBLIC) == 1


@pytest.mark.parametrize("details", [
    {"x": 1.5}, {"x": float("nan")}, {"x": object()}, {"x": {1, 2}}, {1: "x"},
    {"x": b"bytes"}, {"x": "\ud800"}, {"x": {"y": datetime(2026, 1, 1, tzinfo=UTC)}},
    {"big": "x" * MAX_LINE_BYTES}, ["not", "a", "mapping"],
])
def test_bad_details_refused_with_value_error(folder: Path, details: Any) -> None:
    with open_log(folder) as log, pytest.raises(ValueError):
        log.append("system", "x", details)
    assert (folder / LOG_NAME).read_bytes() == b""


def test_details_too_deep_refused(folder: Path) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(50):
        node["a"] = {}
        node = node["a"]
    with open_log(folder) as log, pytest.raises(ValueError, match="deep"):
        log.append("system", "x", deep)


def test_tuples_read_back_as_lists(folder: Path) -> None:
    with open_log(folder) as log:
        e = log.append("system", "x", {"t": (1, 2)})
        assert e.details == {"t": [1, 2]} and log.entries() == [e]


def test_a_symlinked_log_is_refused(folder: Path) -> None:
    folder.mkdir()
    (folder / LOG_NAME).symlink_to("/dev/full")
    with pytest.raises(AuditError, match="symbolic link") as info:
        open_log(folder)
    assert LOG_NAME in str(info.value)
    with pytest.raises(AuditError, match="symbolic link"):
        verify_file(folder, PUBLIC)


def test_a_symlinked_head_is_refused(folder: Path, tmp_path: Path) -> None:
    make_log(folder, 1)
    target = tmp_path / "elsewhere"
    (folder / HEAD_NAME).rename(target)
    (folder / HEAD_NAME).symlink_to(target)
    with pytest.raises(AuditError, match="symbolic link"):
        verify_file(folder, PUBLIC)


def test_a_fifo_in_place_of_the_log_does_not_hang(folder: Path) -> None:
    folder.mkdir()
    os.mkfifo(folder / LOG_NAME)
    with pytest.raises(AuditError, match="named pipe"):
        verify_file(folder, PUBLIC)
    with pytest.raises(AuditError, match="named pipe"):
        open_log(folder)


def test_a_log_over_64_mib_is_an_error_naming_it(folder: Path) -> None:
    make_log(folder, 1)
    with open(folder / LOG_NAME, "r+b") as f:
        f.truncate(64 * 1024 * 1024 + 1)  # sparse: no 64 MiB written
    with pytest.raises(AuditError, match="larger than") as info:
        verify_file(folder, PUBLIC)
    assert str(folder / LOG_NAME) in str(info.value)


def test_append_after_close(folder: Path) -> None:
    log = open_log(folder)
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.append("system", "x")


# --- the disk refusing -------------------------------------------------------------------------

def test_a_full_disk_is_an_audit_error_and_leaves_the_log_as_it_was(small_fs: Path) -> None:
    folder = small_fs / "data"
    with open_log(folder) as log:  # the log empty: its first line needs a new block
        fill(small_fs)
        with pytest.raises(AuditError, match="cannot append") as info:
            log.append("system", "health", {"state": "ok"})
        assert "No space left" in str(info.value) or "disk is full" in str(info.value)
        assert (folder / LOG_NAME).read_bytes() == b""
        assert verify_file(folder, PUBLIC) == 0
        unfill(small_fs)
        e = log.append("system", "health", {"state": "ok"})
        assert e.seq == 1
    assert verify_file(folder, PUBLIC) == 1


def test_a_short_write_is_cut_off_again(small_fs: Path) -> None:
    """The disk takes only part of the line (the rest of the log's last block): the part is
    cut off, not left as a torn line."""
    folder = small_fs / "data"
    with open_log(folder) as log:
        log.append("system", "pad", {"pad": ""})
        base = (folder / LOG_NAME).stat().st_size  # the line's length with an empty pad
        size = base
        k = (4096 - 60 - size - base) % 4096  # the next line leaves 60 bytes of its block free
        log.append("system", "pad", {"pad": "x" * k})
        size = (folder / LOG_NAME).stat().st_size
        assert 4096 - size % 4096 == 60
        fill(small_fs)
        with pytest.raises(AuditError, match="cannot append"):
            log.append("system", "health", {"state": "degraded", "why": "y" * 100})
        assert (folder / LOG_NAME).stat().st_size == size
        assert verify_file(folder, PUBLIC) == 2
        unfill(small_fs)
        log.append("system", "health", {"state": "ok"})
    assert verify_file(folder, PUBLIC) == 3


def test_a_full_disk_at_the_head_is_an_error_and_repaired_later(small_fs: Path) -> None:
    folder = small_fs / "data"
    with open_log(folder) as log:
        log.append("system", "boot")  # the log's block has room for more lines
        fill(small_fs)
        with pytest.raises(AuditError, match="entry 2 was written"):
            log.append("system", "health", {"state": "degraded"})
        assert verify_file(folder, PUBLIC) == 2  # the head one behind: accepted
        unfill(small_fs)
    with open_log(folder) as reopened:
        assert json.loads((folder / HEAD_NAME).read_bytes())["seq"] == 2
        reopened.append("system", "health", {"state": "ok"})
    assert verify_file(folder, PUBLIC) == 3


# --- concurrency -------------------------------------------------------------------------------

def appender(log: AuditLog, actor: str, n: int) -> Callable[[], None]:
    """A thread's work: ``n`` appends, each with its number in the details."""
    def run() -> None:
        for i in range(n):
            log.append(actor, "test", {"i": i})
    return run


def run_threads(work: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
        return run
    threads = [threading.Thread(target=wrap(fn)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_four_threads_fifty_appends_each(folder: Path) -> None:
    with AuditLog(folder, KEY) as log:
        run_threads([appender(log, f"thread:{n}", 50) for n in range(4)])
        entries = log.entries()
    assert [e.seq for e in entries] == list(range(1, 201))
    for n in range(4):
        assert [e.details["i"] for e in entries if e.actor == f"thread:{n}"] == list(range(50))
    assert verify_file(folder, PUBLIC) == 200


def test_two_writers_on_one_folder_as_two_processes_would(folder: Path) -> None:
    """Two AuditLog objects have two descriptors: flock, not the thread lock, keeps them apart,
    and each catches up with what the other appended."""
    logs = [AuditLog(folder, KEY), AuditLog(folder, KEY)]
    try:
        run_threads([appender(log, f"p{n}:{t}", 30) for n, log in enumerate(logs)
                     for t in range(2)])
        assert [e.seq for e in logs[0].entries()] == list(range(1, 121))
        assert logs[1].recent(1)[0].seq == 120
    finally:
        for log in logs:
            log.close()
    assert verify_file(folder, PUBLIC) == 120


# --- properties --------------------------------------------------------------------------------

_SAFE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
names = st.text(_SAFE, min_size=1, max_size=40)
keys = st.text(max_size=12).filter(lambda k: not any(w in k.lower() for w in SECRET_KEY_WORDS))
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=30)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=12)
details_st = st.dictionaries(keys, values, max_size=5)
FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # each example makes its own files


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(items=st.lists(st.tuples(names, names, details_st), min_size=1, max_size=5))
def test_random_entries_round_trip_and_verify(
        tmp_path: Path, items: list[tuple[str, str, dict[str, Any]]]) -> None:
    folder = tmp_path / uuid.uuid4().hex
    with open_log(folder) as log:
        written = [log.append(a, b, d) for a, b, d in items]
        assert [(e.actor, e.action, e.details) for e in written] == items
    with open_log(folder) as again:
        assert again.entries() == written
    assert verify_file(folder, PUBLIC) == len(items)


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[tuple[Path, bytes, bytes]]:
    """A small log with a bit of everything in it, and a folder to corrupt copies of it in."""
    src = tmp_path / "src"
    with open_log(src) as log:
        log.append("technician:zoë", "login", {"method": "pin+totp", "ok": True})
        log.append("system", "health", {"reader": None, "n": -12, "list": [1, "ü\\\"", False]})
        log.append("technician:zoë", "config", {"price": {"kWh": 39, "note": "Ωμέγα €"}})
        log.append("technician:zoë", "logout")
    work = tmp_path / "work"
    work.mkdir()
    yield work, (src / LOG_NAME).read_bytes(), (src / HEAD_NAME).read_bytes()


@settings(max_examples=400, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=st.data())
def test_any_single_byte_changed_in_the_log_is_found(
        sample: tuple[Path, bytes, bytes], data: st.DataObject) -> None:
    work, log_bytes, head_bytes = sample
    pos = data.draw(st.integers(0, len(log_bytes) - 1), label="pos")
    xor = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(log_bytes)
    changed[pos] ^= xor
    (work / LOG_NAME).write_bytes(bytes(changed))
    (work / HEAD_NAME).write_bytes(head_bytes)
    with pytest.raises(AuditError):  # AuditTampered is one; any other exception fails the test
        verify_file(work, PUBLIC)


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=st.data())
def test_any_single_byte_changed_in_the_head_is_found(
        sample: tuple[Path, bytes, bytes], data: st.DataObject) -> None:
    work, log_bytes, head_bytes = sample
    pos = data.draw(st.integers(0, len(head_bytes) - 1), label="pos")
    xor = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(head_bytes)
    changed[pos] ^= xor
    (work / LOG_NAME).write_bytes(log_bytes)
    (work / HEAD_NAME).write_bytes(bytes(changed))
    with pytest.raises(AuditTampered):
        verify_file(work, PUBLIC)


# --- opening at the kiosk's start: the end only ----------------------------------------------

def _tail_log(tmp_path: Path, n: int = 5) -> tuple[Path, Ed25519PrivateKey]:
    folder = tmp_path / "tail"
    key = Ed25519PrivateKey.generate()
    with AuditLog(folder, key) as log:
        for i in range(n):
            log.append("system", "health", {"i": i})
    return folder, key


def test_opening_by_the_tail_continues_the_chain(tmp_path: Path) -> None:
    folder, key = _tail_log(tmp_path)
    with AuditLog(folder, key, check="tail") as log:
        assert log.append("system", "started", {}).seq == 6
    assert verify_file(folder, key.public_key()) == 6


def test_opening_by_the_tail_finds_the_end_altered(tmp_path: Path) -> None:
    folder, key = _tail_log(tmp_path)
    log_path = folder / "audit.log"
    good = log_path.read_bytes()
    lines = good.splitlines(keepends=True)
    # the last entry edited
    log_path.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"i":4', b'"i":7'))
    with pytest.raises(AuditTampered):
        AuditLog(folder, key, check="tail")
    # cut off by one entry: the head says more
    log_path.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(AuditTampered, match="truncated"):
        AuditLog(folder, key, check="tail")
    # a torn last line
    log_path.write_bytes(good[:-10])
    with pytest.raises(AuditTampered, match="incomplete"):
        AuditLog(folder, key, check="tail")


def test_an_edit_deep_inside_is_left_to_the_full_check(tmp_path: Path) -> None:
    """The documented limit of the tail check; the kiosk runs the full one after start."""
    folder, key = _tail_log(tmp_path)
    log_path = folder / "audit.log"
    lines = log_path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"i":1', b'"i":9')
    log_path.write_bytes(b"".join(lines))
    AuditLog(folder, key, check="tail").close()  # opens: only the end is checked
    with pytest.raises(AuditTampered) as err:
        verify_file(folder, key.public_key())
    assert err.value.seq == 2
