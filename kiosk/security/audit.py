"""The maintenance audit log: append-only, hash-chained, every entry signed by the terminal.

Every maintenance action (technician login, logout, failed login, lockout, device test, config
change, out-of-service switch ...) and every change of terminal health is appended here;
``kiosk audit verify`` (:func:`verify_file`) finds an entry that was edited, removed, reordered
or cut off.

Files, in the terminal's data folder, both mode 0600:

``audit.log``
    One entry a line, UTF-8, each line the canonical JSON of the entry
    (``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``) and a
    ``\\n``; at most 16 KiB a line including the newline, at most 64 MiB a file (an append that
    would pass that is refused: the log must then be archived, which is not done here). Fields:

    - ``seq``: 1, 2, 3 ... without gaps; an entry's seq is its line number.
    - ``at``: when, ISO 8601 in UTC with its offset and milliseconds
      (``2026-11-30T09:00:00.000+00:00``), from the injectable clock. Not required to grow: a
      clock may be stepped back.
    - ``actor`` (``"technician:alice"``, ``"system"``) and ``action`` (``"login"``,
      ``"health"``): 1 to 200 characters, no control, format or line/paragraph separator
      characters (they could hide or disguise text on the status screen).
    - ``details``: a JSON object of str, int, bool, None, lists and objects (no floats: their
      text form is not the same in every language, and nothing here needs them), nested at most
      16 deep. No key may look like a secret (see :data:`SECRET_KEY_WORDS`): a PIN or a TOTP code
      is never logged.
    - ``prev``: the previous entry's ``hash`` (the first entry's is 64 zeros), which chains them.
    - ``hash``: hex SHA-256 (lower case) of the canonical JSON of the other fields (all but
      ``hash`` and ``sig``).
    - ``sig``: standard base64 (with padding) of the Ed25519 signature by the terminal's signing
      key over ``b"evkiosk-audit/1\\x00"`` followed by the 32 bytes of ``hash``.

    A line must be exactly the canonical form of what it parses to (so every byte counts: no
    other spacing, escaping, key order, duplicate key, upper-case hex, or base64 with other
    padding bits is taken).

``audit.head``
    The newest entry, as one canonical JSON line ``{"hash", "seq", "sig"}``, the signature over
    ``b"evkiosk-audit-head/1\\x00"`` + seq as 8 bytes big-endian + the 32 bytes of the hash. An
    empty log has a head of seq 0 with 64 zeros, written when the log is created. The head is
    rewritten after each append (a temp file ``audit.head.tmp`` in the same folder, fsync,
    ``os.replace``, fsync of the folder). It is what shows that entries were cut off the end.

    A crash between the append and the head rewrite leaves the head one entry behind: that last
    entry is still signed and its prev is the head's hash, so it is accepted, and the next
    :class:`AuditLog` opened on the folder rewrites the head. Anything else is tampering: a head
    ahead of the log (entries cut off), further behind (an old head put back), a hash that is not
    the log's entry at its seq, a bad signature, or no head while the log has entries.

What this cannot find: someone who kept an old copy of both files and puts both back. Only a
copy of the head kept elsewhere (the back office) can tell that.

Writing: the log is opened with ``O_APPEND | O_NOFOLLOW`` (a symbolic link is refused) and read
and written through that one descriptor (``O_RDWR``, so what is verified is the file appended
to). Each entry is one ``os.write`` of the whole line and an ``os.fsync``; a failed or short
write is cut back off (``ftruncate``) and raised as :class:`AuditError`. Appends are serialised
by a ``threading.Lock`` in the process and an ``fcntl.flock`` on the log between processes;
:func:`verify_file` takes a shared flock so it never sees an append half done. A lock is waited
for at most 10 s, never forever.

Reading is bounded: a line over 16 KiB or a file over 64 MiB is an error naming the file; a
FIFO, a device or a folder in the log's place is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drivers.files import fsync_dir
from kiosk.files import write_private_file

__all__ = [
    "HEAD_NAME",
    "LOG_NAME",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "SECRET_KEY_WORDS",
    "ZERO_HASH",
    "AuditError",
    "AuditLog",
    "AuditTampered",
    "Entry",
    "verify_file",
]

LOG_NAME = "audit.log"
HEAD_NAME = "audit.head"
MAX_LINE_BYTES = 16 * 1024  # one line, its newline included
MAX_FILE_BYTES = 64 * 1024 * 1024
_MAX_HEAD_BYTES = 4096
MAX_NAME_CHARS = 200
MAX_DEPTH = 16
LOCK_TIMEOUT_S = 10.0
ZERO_HASH = "0" * 64
ENTRY_DOMAIN = b"evkiosk-audit/1\x00"
HEAD_DOMAIN = b"evkiosk-audit-head/1\x00"
# A details key whose lower-case name is or contains one of these is refused, at any depth.
SECRET_KEY_WORDS = ("pin", "totp", "code", "secret", "pan", "password", "track")

_FIELDS = frozenset({"seq", "at", "actor", "action", "details", "prev", "hash", "sig"})
_HEAD_FIELDS = frozenset({"seq", "hash", "sig"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Control, format, surrogate, private use; line and paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


class AuditError(Exception):
    """The audit log cannot be written or read; the message names the file and why."""


class AuditTampered(AuditError):
    """verify found the log altered. ``seq`` (int | None): the first entry (by its position,
    1-based line number) that is wrong, None when no one entry is (the head); the message says
    what (edited, removed, reordered, truncated, bad signature, not JSON ...)."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass(frozen=True)
class Entry:
    """One line of the log, as read back or as just appended."""

    seq: int
    at: str
    actor: str
    action: str
    details: dict[str, Any]
    prev: str
    hash: str
    sig: str

    def body(self) -> dict[str, Any]:
        """The fields the hash is made over."""
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "details": self.details, "prev": self.prev}


# --- encoding ----------------------------------------------------------------------------------

def _canonical(obj: Any) -> bytes:
    """The one byte form of a JSON value (raises ValueError, TypeError, UnicodeEncodeError)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _hash_of(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _signature_bytes(text: str) -> bytes | None:
    """The 64 bytes of a signature in its one base64 form, or None."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return raw if len(raw) == 64 and _b64(raw) == text else None


def _head_message(seq: int, hash_hex: str) -> bytes:
    return HEAD_DOMAIN + seq.to_bytes(8, "big") + bytes.fromhex(hash_hex)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _format_time(when: datetime) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the audit clock returned a time without a UTC offset")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(line: bytes) -> Any:
    """A JSON value, or ValueError for anything that is not strict JSON in UTF-8."""
    try:
        return json.loads(line.decode("utf-8"), parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("nested too deep") from None


# --- checking what is appended -----------------------------------------------------------------

def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"audit {what}: must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"audit {what}: empty")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"audit {what}: {len(value)} characters, at most {MAX_NAME_CHARS}")
    for ch in value:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            raise ValueError(f"audit {what}: contains the control character U+{ord(ch):04X}")
    return value


def _secret_word(key: str) -> str | None:
    low = key.lower()
    return next((w for w in SECRET_KEY_WORDS if w in low), None)


def _check_details(value: object, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"audit {where}: nested more than {MAX_DEPTH} deep")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"audit {where}: the key {key!r} is not a string")
            if word := _secret_word(key):
                raise ValueError(f"audit {where}: the key {key!r} looks like a secret (it "
                                 f"contains {word!r}); PINs, codes, card numbers and passwords "
                                 f"are never logged")
            _check_details(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_details(item, f"{where}[{i}]", depth + 1)
    elif value is not None and not isinstance(value, str | int):  # bool is an int
        raise ValueError(f"audit {where}: a {type(value).__name__} is not allowed (only str, "
                         f"int, bool, None, lists and objects)")


def _normal_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The details as they will read back (tuples as lists, str subclasses as str)."""
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise ValueError(f"audit details: must be a mapping, not {type(details).__name__}")
    _check_details(details, "details", 0)
    try:
        normal = json.loads(_canonical(dict(details)))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) is one
        raise ValueError(f"audit details: not JSON-serialisable: {exc}") from None
    assert isinstance(normal, dict)
    return normal


# --- files -------------------------------------------------------------------------------------

def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link, which is refused"
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _check_regular(fd: int, path: Path) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise AuditError(f"{path}: {_kind(st.st_mode)}, not a regular file")
    return st


def _open_read(path: Path) -> int | None:
    """A read-only descriptor of a regular file, or None when there is no file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                     | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"{path}: cannot open: {_reason(exc)}") from None
    try:
        _check_regular(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int, path: Path, limit: int) -> bytes:
    """All of a regular file, at most ``limit`` bytes (a larger or growing file is an error)."""
    try:
        st = _check_regular(fd, path)
        if st.st_size > limit:
            raise AuditError(f"{path}: {st.st_size} bytes, larger than the {limit} bytes allowed")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.pread(fd, min(1 << 20, limit + 1 - total), total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise AuditError(f"{path}: cannot read: {_reason(exc)}") from None
    if total > limit:
        raise AuditError(f"{path}: larger than the {limit} bytes allowed")
    return b"".join(chunks)


def _read_head(path: Path) -> bytes | None:
    fd = _open_read(path)
    if fd is None:
        return None
    try:
        return _read_fd(fd, path, _MAX_HEAD_BYTES)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _flocked(fd: int, path: Path, operation: int) -> Iterator[None]:
    """``flock`` the descriptor (shared or exclusive), waiting at most LOCK_TIMEOUT_S."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise AuditError(f"{path}: still locked by another writer after "
                                 f"{LOCK_TIMEOUT_S:.0f} s") from None
            time.sleep(0.005)
        except OSError as exc:
            raise AuditError(f"{path}: cannot lock: {_reason(exc)}") from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


def _write_head(folder: Path, seq: int, hash_hex: str, key: Ed25519PrivateKey) -> None:
    """Replace audit.head atomically (temp file, fsync, rename, fsync of the folder)."""
    head = folder / HEAD_NAME
    sig = _b64(key.sign(_head_message(seq, hash_hex)))
    data = _canonical({"seq": seq, "hash": hash_hex, "sig": sig}) + b"\n"
    try:
        write_private_file(head, data)
    except OSError as exc:
        raise AuditError(f"{head}: cannot write the head: {_reason(exc)}") from None


# --- verifying ---------------------------------------------------------------------------------

def _parse_entry(line: bytes, lineno: int, path: Path) -> Entry:
    """One line as an entry, its form checked (not yet its hash or signature)."""
    def bad(what: str) -> AuditTampered:
        return AuditTampered(f"{path}: line {lineno}: {what}", lineno)

    if not line:
        raise bad("empty line, not JSON")
    try:
        obj = _loads(line)
    except ValueError:
        raise bad("not JSON (or not UTF-8): edited or garbage") from None
    if not isinstance(obj, dict) or set(obj) != _FIELDS:
        raise bad("not an audit entry (not an object of seq, at, actor, action, details, prev, "
                  "hash and sig)")
    seq, details = obj["seq"], obj["details"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise bad("seq is not a whole number from 1")
    if not all(isinstance(obj[k], str) for k in ("at", "actor", "action", "prev", "hash", "sig")):
        raise bad("at, actor, action, prev, hash and sig must be strings")
    if not isinstance(details, dict):
        raise bad("details is not an object")
    if not (_HEX64.fullmatch(obj["prev"]) and _HEX64.fullmatch(obj["hash"])):
        raise bad("prev or hash is not 64 lower-case hex digits")
    try:
        if _canonical(obj) != line:
            raise bad("not in canonical JSON form: edited")
    except (TypeError, ValueError):  # a lone surrogate cannot be written back as UTF-8
        raise bad("not in canonical JSON form: edited") from None
    return Entry(seq=seq, at=obj["at"], actor=obj["actor"], action=obj["action"],
                 details=details, prev=obj["prev"], hash=obj["hash"], sig=obj["sig"])


def _next_line(data: bytes, pos: int, lineno: int, path: Path) -> tuple[bytes, int]:
    """The line starting at ``pos`` (without its newline) and where the next one starts."""
    nl = data.find(b"\n", pos, pos + MAX_LINE_BYTES)
    if nl < 0:
        if len(data) - pos >= MAX_LINE_BYTES:
            raise AuditTampered(f"{path}: line {lineno}: longer than {MAX_LINE_BYTES} bytes",
                                lineno)
        raise AuditTampered(f"{path}: line {lineno}: incomplete, no newline at its end: the log "
                            f"was cut off (or a write was torn)", lineno)
    return data[pos:nl], nl + 1


def _line_with_seq(data: bytes, pos: int, lineno: int, seq: int) -> int | None:
    """The number of a later line whose seq is ``seq`` (bad lines skipped), or None."""
    while pos < len(data):
        lineno += 1
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl
        with contextlib.suppress(ValueError):
            obj = _loads(data[pos:end])
            if isinstance(obj, dict) and obj.get("seq") == seq:
                return lineno
        pos = end + 1
    return None


def _iter_entries(data: bytes, public_key: Ed25519PublicKey, path: Path, *, start_seq: int = 1,
                  prev: str | None = ZERO_HASH) -> Iterator[Entry]:
    """Every line of ``data`` checked as entries ``start_seq``, ``start_seq + 1`` ...; the first
    must follow ``prev`` (None: not checked). Raises AuditTampered at the first wrong one."""
    pos, lineno = 0, start_seq - 1
    while pos < len(data):
        lineno += 1
        line, after = _next_line(data, pos, lineno, path)
        entry = _parse_entry(line, lineno, path)
        here = f"{path}: line {lineno}"
        if _hash_of(entry.body()) != entry.hash:
            raise AuditTampered(f"{here}: edited (its hash does not match its content)", lineno)
        raw_sig = _signature_bytes(entry.sig)
        if raw_sig is None:
            raise AuditTampered(f"{here}: bad signature (not a base64 Ed25519 signature)", lineno)
        try:
            public_key.verify(raw_sig, ENTRY_DOMAIN + bytes.fromhex(entry.hash))
        except InvalidSignature:
            raise AuditTampered(f"{here}: bad signature: edited with its hash recomputed, or not "
                                f"written by this terminal", lineno) from None
        if entry.seq != lineno:
            later = _line_with_seq(data, after, lineno, lineno)
            if later is not None:
                raise AuditTampered(f"{here}: reordered: entry {lineno} is on line {later}, "
                                    f"this line holds entry {entry.seq}", lineno)
            if entry.seq > lineno:
                gone = (f"entry {lineno}" if entry.seq == lineno + 1
                        else f"entries {lineno} to {entry.seq - 1}")
                raise AuditTampered(f"{here}: removed: {gone} missing (this line holds entry "
                                    f"{entry.seq})", lineno)
            raise AuditTampered(f"{here}: reordered or duplicated: holds entry {entry.seq} "
                                f"again", lineno)
        if prev is not None and entry.prev != prev:
            raise AuditTampered(f"{here}: does not follow the entry before it (prev differs): "
                                f"an entry was replaced or the log was spliced", lineno)
        prev = entry.hash
        pos = after
        yield entry


@dataclass(frozen=True)
class _Chain:
    count: int
    last_hash: str
    size: int
    head_stale: bool  # one behind (a crash after the append), or absent from an empty log


def _parse_head(data: bytes, path: Path, public_key: Ed25519PublicKey) -> tuple[int, str]:
    try:
        obj = _loads(data[:-1] if data.endswith(b"\n") else data)
    except ValueError:
        raise AuditTampered(f"{path}: not JSON: edited or garbage") from None
    if (not isinstance(obj, dict) or set(obj) != _HEAD_FIELDS
            or not isinstance(obj["seq"], int) or isinstance(obj["seq"], bool)
            or not 0 <= obj["seq"] < 1 << 63 or not isinstance(obj["hash"], str)
            or not _HEX64.fullmatch(obj["hash"]) or not isinstance(obj["sig"], str)):
        raise AuditTampered(f"{path}: not an audit head (an object of seq, hash and sig)")
    seq, hash_hex = obj["seq"], obj["hash"]
    try:
        canonical = _canonical(obj) + b"\n" == data
    except ValueError:  # a lone surrogate in sig
        canonical = False
    if not canonical:
        raise AuditTampered(f"{path}: not in canonical JSON form: edited")
    raw_sig = _signature_bytes(obj["sig"])
    try:
        if raw_sig is None:
            raise InvalidSignature
        public_key.verify(raw_sig, _head_message(seq, hash_hex))
    except InvalidSignature:
        raise AuditTampered(f"{path}: bad signature: the head was edited or not written by "
                            f"this terminal") from None
    if seq == 0 and hash_hex != ZERO_HASH:
        raise AuditTampered(f"{path}: seq 0 with a hash other than zeros")
    return seq, hash_hex


def _verify(data: bytes, head: bytes | None, public_key: Ed25519PublicKey, folder: Path,
            collect: list[Entry] | None = None) -> _Chain:
    """Check the log's bytes and the head's against each other (see the module)."""
    log_path = folder / LOG_NAME
    count, last_hash, before_last = 0, ZERO_HASH, ZERO_HASH
    for entry in _iter_entries(data, public_key, log_path):
        count, last_hash, before_last = entry.seq, entry.hash, entry.prev
        if collect is not None:
            collect.append(entry)
    return _against_head(count, last_hash, before_last, len(data), head, public_key, folder)


def _against_head(count: int, last_hash: str, before_last: str, size: int, head: bytes | None,
                  public_key: Ed25519PublicKey, folder: Path) -> _Chain:
    """The log's end (``count`` entries, the last two hashes) checked against the head."""
    log_path, head_path = folder / LOG_NAME, folder / HEAD_NAME
    if head is None:
        if count:
            raise AuditTampered(f"{head_path}: missing while {log_path} has {count} entries: "
                                f"deleted")
        return _Chain(0, ZERO_HASH, size, head_stale=True)
    head_seq, head_hash = _parse_head(head, head_path, public_key)
    if head_seq > count:
        raise AuditTampered(f"{log_path}: truncated: the head records {head_seq} entries, the "
                            f"log holds {count}", count + 1)
    if head_seq == count:
        if head_hash != last_hash:
            raise AuditTampered(f"{log_path}: line {count}: not the entry the head records "
                                f"(replaced)", count)
        return _Chain(count, last_hash, size, head_stale=False)
    if head_seq == count - 1:
        if head_hash != before_last:
            raise AuditTampered(f"{log_path}: line {head_seq}: not the entry the head records "
                                f"(replaced)", head_seq)
        return _Chain(count, last_hash, size, head_stale=True)
    raise AuditTampered(f"{head_path}: {count - head_seq} entries behind the log: an old head "
                        f"was put back", head_seq + 1)


def verify_file(folder: Path, public_key: Ed25519PublicKey) -> int:
    """Check the whole chain and head with the terminal's public key; return the number of
    entries; raise AuditTampered / AuditError. No audit.log and no audit.head is an AuditError
    (nothing to verify: the wrong folder, or a terminal that never opened its log)."""
    folder = Path(folder)
    log_path = folder / LOG_NAME
    fd = _open_read(log_path)
    if fd is None:
        head = _read_head(folder / HEAD_NAME)
        if head is None:
            raise AuditError(f"{log_path}: no such file (nor {HEAD_NAME}): nothing to verify")
        data = b""
    else:
        try:
            with _flocked(fd, log_path, fcntl.LOCK_SH):
                data = _read_fd(fd, log_path, MAX_FILE_BYTES)
                head = _read_head(folder / HEAD_NAME)
        finally:
            os.close(fd)
    return _verify(data, head, public_key, folder).count


# --- the log -----------------------------------------------------------------------------------

class AuditLog:
    """The terminal's audit log in ``folder`` (created 0700 if missing), appended to with
    ``signing_key``. Opening it verifies the existing chain once (AuditTampered: the kiosk must
    not append to a tampered log without anyone noticing) and rewrites a head one behind.
    Safe to use from several threads, and from several processes at once."""

    def __init__(self, folder: Path, signing_key: Ed25519PrivateKey, *,
                 clock: Callable[[], datetime] = _utc_now,
                 check: Literal["full", "tail"] = "full") -> None:
        """``check="tail"`` (the kiosk's start): only the last entries and the head are
        verified at opening, in constant time; the whole chain is then :func:`verify_file`'s
        job (the kiosk runs it on a thread of its own after start). Verifying 2,000 entries
        takes about a quarter of a second here: a year of entries would delay every start."""
        self._check = check
        self._folder = Path(folder)
        self._path = self._folder / LOG_NAME
        self._key = signing_key
        self._public = signing_key.public_key()
        self._clock = clock
        self._lock = threading.Lock()
        self._dropped = False  # the descriptor was closed after an I/O error: open it again
        self._drop = False  # ... it is to be closed (an append failed with an I/O error)
        self._fd = -1
        self._open()

    def _open(self) -> None:
        try:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_CREAT | os.O_APPEND | os.O_RDWR | os.O_NOFOLLOW
                         | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditError(f"{self._path}: cannot open: {_reason(exc)}") from None
        self._fd = fd
        try:
            st = _check_regular(fd, self._path)
            if stat.S_IMODE(st.st_mode) & 0o077:
                os.fchmod(fd, 0o600)  # a log copied in with a wider mode
            fsync_dir(self._folder)
            with _flocked(fd, self._path, fcntl.LOCK_EX):
                self._load()
        except OSError as exc:
            os.close(fd)
            self._fd = -1
            raise AuditError(f"{self._path}: cannot open: {_reason(exc)}") from None
        except BaseException:
            os.close(fd)
            self._fd = -1
            raise

    def _ensure_open(self) -> None:
        """After an I/O error the descriptor was let go (it would keep a failed file system
        mounted): open the file again, checked as at the start."""
        if self._fd < 0 and self._dropped:
            self._open()
            self._dropped = False

    @property
    def path(self) -> Path:
        """The audit.log file."""
        return self._path

    @property
    def head_path(self) -> Path:
        """The audit.head file beside it."""
        return self._folder / HEAD_NAME

    @property
    def public_key(self) -> Ed25519PublicKey:
        """What verifies this log (for :func:`verify_file`)."""
        return self._public

    def close(self) -> None:
        """Close the log's descriptor; an append after this raises AuditError."""
        with self._lock:
            self._dropped = False
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Called with both locks held.
    def _load(self, collect: list[Entry] | None = None) -> None:
        """Verify the whole file (or, ``check="tail"``, its end), remember where it ends,
        rewrite a stale head."""
        self._check_same_file()
        if collect is None and self._check == "tail":
            chain = self._tail_chain()
        else:
            data = _read_fd(self._fd, self._path, MAX_FILE_BYTES)
            chain = _verify(data, _read_head(self.head_path), self._public, self._folder,
                            collect)
        self._seq, self._hash, self._size = chain.count, chain.last_hash, chain.size
        if chain.head_stale:
            _write_head(self._folder, chain.count, chain.last_hash, self._key)

    def _tail_chain(self) -> _Chain:
        """The last two entries (form, hash, signature, order) and the head, read from the
        file's end only."""
        try:
            size = os.fstat(self._fd).st_size
            if size > MAX_FILE_BYTES:
                raise AuditError(f"{self._path}: over {MAX_FILE_BYTES} bytes: archive it")
            start = max(0, size - 2 * (MAX_LINE_BYTES + 1))
            tail = os.pread(self._fd, size - start, start)
        except OSError as exc:
            raise AuditError(f"{self._path}: cannot read: {_reason(exc)}") from None
        head = _read_head(self.head_path)
        if not tail:
            return _against_head(0, ZERO_HASH, ZERO_HASH, 0, head, self._public, self._folder)
        if not tail.endswith(b"\n"):
            raise AuditTampered(f"{self._path}: the last line is incomplete, no newline at its "
                                f"end: the log was cut off (or a write was torn)")
        lines = tail[:-1].split(b"\n")
        if start > 0:
            lines = lines[1:]  # the first may begin inside a line
        lines = lines[-2:]
        if not lines or not lines[0]:
            raise AuditTampered(f"{self._path}: the end of the log is not audit entries")
        first = _parse_entry(lines[0], 0, self._path)
        found = list(_iter_entries(b"\n".join(lines) + b"\n", self._public, self._path,
                                   start_seq=first.seq, prev=None))
        last = found[-1]
        return _against_head(last.seq, last.hash, last.prev, size, head, self._public,
                             self._folder)

    def _check_same_file(self) -> None:
        if self._fd < 0:
            raise AuditError(f"{self._path}: the audit log is closed")
        try:
            named, ours = os.stat(self._path, follow_symlinks=False), os.fstat(self._fd)
        except FileNotFoundError:
            raise AuditTampered(f"{self._path}: removed while the terminal had it open") from None
        except OSError as exc:
            raise AuditError(f"{self._path}: cannot read: {_reason(exc)}") from None
        if (named.st_dev, named.st_ino) != (ours.st_dev, ours.st_ino):
            raise AuditTampered(f"{self._path}: replaced by another file while the terminal had "
                                f"it open")

    def _catch_up(self) -> None:
        """If the file changed since this object last saw it (another process appended),
        verify it again whole."""
        self._check_same_file()
        try:
            size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise AuditError(f"{self._path}: cannot read: {_reason(exc)}") from None
        if size != self._size:
            self._load()

    def append(self, actor: str, action: str,
               details: Mapping[str, Any] | None = None) -> Entry:
        """Append one entry and rewrite the head; the entry is on disk (fsync) when this returns.
        ValueError: a bad actor, action or details (see the module), a line over 16 KiB.
        AuditError: the disk refused (the log is left as it was), or the entry was written but
        the head could not be (the next open repairs that), or the log is full (64 MiB).
        AuditTampered: the file was changed under the terminal."""
        actor = _check_name("actor", actor)
        action = _check_name("action", action)
        normal = _normal_details(details)
        with self._lock:
            try:
                return self._append(actor, action, normal)
            finally:
                self._drop_if_failed()

    def _append(self, actor: str, action: str, normal: dict[str, Any]) -> Entry:
        """Called with self._lock held."""
        self._ensure_open()
        self._check_same_file()
        with _flocked(self._fd, self._path, fcntl.LOCK_EX):
            self._catch_up()
            body: dict[str, Any] = {
                "seq": self._seq + 1, "at": _format_time(self._clock()), "actor": actor,
                "action": action, "details": normal, "prev": self._hash}
            entry_hash = _hash_of(body)
            sig = _b64(self._key.sign(ENTRY_DOMAIN + bytes.fromhex(entry_hash)))
            line = _canonical({**body, "hash": entry_hash, "sig": sig}) + b"\n"
            if len(line) > MAX_LINE_BYTES:
                raise ValueError(f"audit entry: {len(line)} bytes, at most {MAX_LINE_BYTES} "
                                 f"a line (details too large)")
            if self._size + len(line) > MAX_FILE_BYTES:
                raise AuditError(f"{self._path}: full ({MAX_FILE_BYTES} bytes): archive it")
            self._write_line(line)
            self._seq, self._hash = body["seq"], entry_hash
            self._size += len(line)
            entry = Entry(sig=sig, hash=entry_hash, **body)
            try:
                _write_head(self._folder, entry.seq, entry_hash, self._key)
            except AuditError as exc:
                raise AuditError(f"entry {entry.seq} was written to {self._path}, but: "
                                 f"{exc}") from None
        return entry

    def _write_line(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write (the disk is full?)")
            os.fsync(self._fd)
        except OSError as exc:
            try:  # the log stays as it was: no half line, no entry that may not be on disk
                os.ftruncate(self._fd, self._size)
            except OSError as cut:
                self._let_go(exc)
                raise AuditError(f"{self._path}: cannot append: {_reason(exc)}; and cannot cut "
                                 f"the partial line off again: {_reason(cut)}") from None
            self._let_go(exc)
            raise AuditError(f"{self._path}: cannot append: {_reason(exc)}") from None

    def _let_go(self, exc: OSError) -> None:
        """A failing disk (EIO, read-only now): the descriptor is closed once the lock is let
        go (:meth:`_drop_if_failed`), so the file system can be unmounted and mounted again;
        the next use opens the file anew (and checks it)."""
        if exc.errno in (errno.EIO, errno.EROFS, errno.ENODEV, errno.ENXIO):
            self._drop = True

    def _drop_if_failed(self) -> None:
        if self._drop:
            self._drop = False
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd, self._dropped = -1, True

    def entries(self) -> list[Entry]:
        """Every entry, oldest first, the whole chain and the head verified on the way."""
        with self._lock:
            self._ensure_open()
            self._check_same_file()
            with _flocked(self._fd, self._path, fcntl.LOCK_EX):
                found: list[Entry] = []
                self._load(found)
                return found

    def recent(self, n: int) -> list[Entry]:
        """The newest ``n`` entries, newest last (for a status screen). Reads only the end of
        the file: each entry's hash and signature are checked and that they follow each other,
        not the whole chain (that is :func:`verify_file`'s job); the log is verified whole again
        if another process appended since this object last looked."""
        if n <= 0:
            return []
        with self._lock:
            self._ensure_open()
            self._check_same_file()
            with _flocked(self._fd, self._path, fcntl.LOCK_EX):  # _catch_up may write the head
                self._catch_up()
                count, last_seq, size = min(n, self._seq), self._seq, self._size
                if count == 0:
                    return []
                start = max(0, size - count * MAX_LINE_BYTES - 1)
                try:
                    tail = os.pread(self._fd, size - start, start)
                except OSError as exc:
                    raise AuditError(f"{self._path}: cannot read: {_reason(exc)}") from None
        changed = AuditTampered(f"{self._path}: changed in place since it was verified")
        if len(tail) != size - start or not tail.endswith(b"\n"):
            raise changed
        cut = len(tail) - 1
        for _ in range(count):  # back to the newline before the count-th line from the end
            if cut < 0:
                raise changed
            cut = tail.rfind(b"\n", 0, cut)
        if cut < 0 and start:
            raise changed
        return list(_iter_entries(tail[cut + 1:], self._public, self._path,
                                  start_seq=last_seq - count + 1, prev=None))
