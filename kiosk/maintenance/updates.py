"""Signed config, tariff and member list updates, as a technician brings them (a USB stick in
maintenance mode) or the back office sends them (:mod:`kiosk.maintenance.remote`).

**The bundle** (``NAME.evkupdate``) is one UTF-8 JSON object with exactly these fields::

    format      "evkiosk-update/1"
    kind        "config" (the kiosk's TOML config), "tariff" (OCPI 2.2.1 Tariff JSON, one
                object or a list, as kiosk.billing.tariff.load_tariffs reads it) or "members"
                (the operator's member list, kiosk.billing.plans)
    terminal    the station id (station.id) of the one terminal it is for. There is no
                wildcard: "*" is refused, each bundle names one terminal (a bundle copied to
                the wrong kiosk, or a whole fleet's stick, does nothing elsewhere)
    sequence    an integer, 1 to 2**63-1 (a JSON bool is not one), greater than the last
                sequence of that kind accepted on this terminal
    issued_at   ISO 8601 with an offset ("2026-05-01T08:00:00+00:00"; "Z" too)
    expires_at  the same; after issued_at, at most MAX_VALIDITY (90 days) later
    content     the new file's bytes, base64 (RFC 4648, padded, canonical), at most 4 MiB
                (and at most the kind's own limit, below)
    sha256      the lowercase hex SHA-256 of those bytes
    sig         base64 of the operator's Ed25519 signature over
                b"evkiosk-update/1\\x00" + canonical JSON of every other field
                (json.dumps(fields, sort_keys=True, separators=(",", ":"),
                ensure_ascii=False).encode())

**It is taken only when** the bundle file is a regular file of at most 6 MiB, the JSON is
exactly that (no unknown, missing or duplicate field, no float, the right type for each), the
signature verifies with the running config's ``maintenance.operator_key`` (64 hex digits, a raw
Ed25519 public key; empty: no update is ever taken), the sha256 matches the content, the
terminal is this one, the time is inside the validity (``now < expires_at``, ``issued_at`` at
most MAX_CLOCK_SKEW (5 min) ahead of the kiosk's clock), the sequence is newer than the last
accepted of its kind (``updates-state.json`` in the data folder, 0600: an old signed bundle
cannot be replayed to roll a price back), and the content passes the same checks as at start:

- a config: at most 256 KiB of UTF-8, :func:`kiosk.config.parse_config` with the running mode
  (production or demo) and the running config's folder as the base for relative names, and the
  same ``station.id`` (an update must not re-identify the terminal). A config may change
  ``maintenance.operator_key`` (the operator's key rotation, signed by the old key) or empty
  it (no more updates on site).
- a tariff: written to a temporary file and read by :func:`kiosk.billing.tariff.load_tariffs`
  (as :func:`kiosk.config.parse_config` checks the tariff file), at least one tariff, each in
  the station's currency.
- a member list: at most :data:`kiosk.billing.plans.MAX_BYTES` (4 MiB), read by
  :func:`kiosk.billing.plans.parse_members` in the station's currency (its validity in time is
  the runtime's: an expired list is taken and gives no discount).

Every refusal is an :class:`UpdateRefused` naming the bundle and the reason, on one line; a
refused update changes no file (the checks all run before the first write).

**Applying** replaces the target (the config file; the running config's ``tariff.file``: both
with symlinks resolved, so the real file is replaced and load_config finds it where it looked;
``members.json`` in the data folder) and keeps the replaced bytes as ``<target>.previous``
(0600). The new target keeps the mode bits of the file it replaces (it is written 0600 by
:func:`kiosk.files.write_private_file`, then chmod-ed). A config or a tariff target must exist:
a missing file (nothing to keep for rollback) is refused. A missing member list is not (the
first list a terminal gets): it is written 0600 and no ``.previous`` is kept (a stale one is
removed), so a rollback then says there is no previous version. A config or a tariff takes
effect when the kiosk restarts (the caller does that); a member list at once, without a restart
(:data:`LIVE_KINDS`: the runtime reads ``members.json`` again when it changes). Targets are
the *running* config's: a tariff applied after a config that moved ``tariff.file`` still goes
to the old name until the restart.

**Crash order.** The sequence is the commit point and is written *before* the target: (1)
``<target>.previous`` := the current bytes, (2) ``updates-state.json`` := the new sequence,
(3) the target := the new content, (4) its mode. Each write is atomic (temporary file, fsync,
rename, fsync of the folder). A crash before (2) leaves the running file as it was and the
bundle can be applied again; a crash between (2) and (3) loses that update (the running file is
unchanged, the sequence is used up: the operator signs a newer bundle). Recording the sequence
*after* the file would let a crash between the two accept a replay: with 5 recorded and 7
written, an old signed bundle 6 would then pass. So a crash never accepts an older bundle.

**Rollback** swaps the target and ``<target>.previous`` (after checking that the previous
version still passes the content checks: a rollback must not leave a kiosk that will not
start), so a second rollback undoes the first. The sequence is never lowered: a later bundle
must still be newer than the newest ever accepted. Order: the target first, then
``.previous``; a crash between leaves both holding the rolled-back-to version.

Updates to one data folder are serialised by a lock (a ``threading.Lock`` and an ``flock`` on
``updates.lock`` in the data folder, so the kiosk and a shell command do not interleave).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk import strict_json
from kiosk.billing.plans import MAX_BYTES as MEMBERS_MAX_BYTES
from kiosk.config import (
    CONFIG_MAX_BYTES,
    TARIFF_MAX_BYTES,
    ConfigError,
    KioskConfig,
    one_line,
    parse_config,
)
from kiosk.files import FileRefused, read_regular_file, write_private_file

__all__ = ["BUNDLE_MAX_BYTES", "CONTENT_MAX_BYTES", "FORMAT", "KINDS", "LIVE_KINDS",
           "MEMBERS_FILE", "STATE_FILE",
           "SUFFIX", "Update", "UpdateRefused", "Updates", "bundle_terminal", "check_content",
           "find_bundles", "make_update", "read_update", "signed_message"]

FORMAT = "evkiosk-update/1"
SUFFIX = ".evkupdate"
KINDS = ("config", "tariff", "members")
LIVE_KINDS = frozenset({"members"})  # take effect without a restart
MEMBERS_FILE = "members.json"  # in the data folder
FIELDS = frozenset({"format", "kind", "terminal", "sequence", "issued_at", "expires_at",
                    "content", "sha256", "sig"})
BUNDLE_MAX_BYTES = 6 * 1024 * 1024  # 4 MiB of content in base64 (5.4 MiB) and the fields
CONTENT_MAX_BYTES = MEMBERS_MAX_BYTES  # the largest kind's; each kind has its own below
MAX_SEQUENCE = 2 ** 63 - 1
MAX_CLOCK_SKEW = timedelta(minutes=5)  # issued_at may be this far ahead of the kiosk's clock
MAX_VALIDITY = timedelta(days=90)
STATE_FILE = "updates-state.json"
STATE_MAX_BYTES = 64 * 1024
LOCK_FILE = "updates.lock"
LOCK_TIMEOUT_S = 10.0
PREVIOUS_SUFFIX = ".previous"

_DOMAIN = FORMAT.encode("ascii") + b"\x00"
_TERMINAL = re.compile(r"[A-Za-z0-9._-]{1,36}")  # as config.StationConfig.id
_TIMESTAMP = re.compile(r"[0-9T:.+Z -]{10,40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_CONTENT_LIMITS = {"config": CONFIG_MAX_BYTES, "tariff": TARIFF_MAX_BYTES,
                   "members": MEMBERS_MAX_BYTES}


class UpdateRefused(Exception):
    """Why an update (or a rollback) was not taken: the message names the bundle and the
    reason (unsigned, wrongly signed, expired, not for this terminal, replayed/older sequence,
    invalid content: and then the content's own error message), on one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@dataclass(frozen=True)
class Update:
    kind: str
    terminal: str
    sequence: int
    issued_at: datetime
    expires_at: datetime
    content: bytes
    sha256: str

    def __repr__(self) -> str:  # not a megabyte of content in a log line
        return (f"Update(kind={self.kind!r}, terminal={self.terminal!r}, "
                f"sequence={self.sequence}, sha256={self.sha256[:16]}…)")


# --- the bundle ------------------------------------------------------------------------------

def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def signed_message(fields: dict[str, Any]) -> bytes:
    """What the signature covers: the domain tag and the canonical JSON of every field but
    ``sig`` (for the operator's tool; :func:`make_update` uses it)."""
    return _DOMAIN + _canonical({k: v for k, v in fields.items() if k != "sig"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def make_update(private_key: Ed25519PrivateKey, kind: str, terminal: str, sequence: int,
                content: bytes, *, issued_at: datetime, expires_at: datetime) -> bytes:
    """The bytes of a signed bundle (compact JSON, no trailing newline). Raises
    ``ValueError`` for what :func:`read_update` would refuse in any case (a wrong kind, "*"
    or a malformed terminal, a sequence below 1, a time without an offset, an empty or too long
    validity, content over 4 MiB)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if not _TERMINAL.fullmatch(terminal):
        raise ValueError("terminal must be one station id (1 to 36 of A-Z a-z 0-9 . _ -)")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not (
            1 <= sequence <= MAX_SEQUENCE):
        raise ValueError(f"sequence must be an integer from 1 to {MAX_SEQUENCE}")
    if issued_at.utcoffset() is None or expires_at.utcoffset() is None:
        raise ValueError("issued_at and expires_at need a time zone")
    if not issued_at < expires_at <= issued_at + MAX_VALIDITY:
        raise ValueError(f"expires_at must be after issued_at, at most {MAX_VALIDITY.days} "
                         f"days later")
    if len(content) > CONTENT_MAX_BYTES:
        raise ValueError(f"content over {CONTENT_MAX_BYTES} bytes")
    fields: dict[str, Any] = {
        "format": FORMAT, "kind": kind, "terminal": terminal, "sequence": sequence,
        "issued_at": issued_at.isoformat(), "expires_at": expires_at.isoformat(),
        "content": _b64(content), "sha256": hashlib.sha256(content).hexdigest(),
    }
    fields["sig"] = _b64(private_key.sign(signed_message(fields)))
    return _canonical(fields)


def _parse(data: bytes) -> dict[str, Any]:
    """The bundle's JSON object, or ``ValueError`` saying why not."""
    if len(data) > BUNDLE_MAX_BYTES:
        raise ValueError(f"too large: {len(data)} bytes, at most "
                         f"{BUNDLE_MAX_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    try:
        obj = strict_json.loads(text)
    except RecursionError:
        raise ValueError("not an update bundle: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                         ) from None
    # ValueError from the hooks passes through with its own message
    if not isinstance(obj, dict):
        raise ValueError("not an update bundle: the JSON is not an object")
    return obj


def _b64_field(obj: dict[str, Any], name: str, limit: int) -> bytes:
    value = obj[name]
    if not isinstance(value, str):
        raise ValueError(f"{name}: not a base64 string")
    if len(value) > 4 * (limit // 3 + 1):
        raise ValueError(f"{name}: over {limit} bytes")
    if not _B64.fullmatch(value) or len(value) % 4:
        raise ValueError(f"{name}: not base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name}: not base64") from None
    if _b64(raw) != value:  # unused bits set: another spelling of the same bytes
        raise ValueError(f"{name}: not canonical base64")
    if len(raw) > limit:
        raise ValueError(f"{name}: {len(raw)} bytes, at most {limit}")
    return raw


def _timestamp(obj: dict[str, Any], name: str) -> datetime:
    value = obj[name]
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError(f"{name}: not an ISO 8601 time with an offset")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: not an ISO 8601 time ({value})") from None
    if when.utcoffset() is None:
        raise ValueError(f"{name}: {value} has no offset (add +00:00 or Z)")
    return when


def _fields(obj: dict[str, Any]) -> tuple[str, str, int, datetime, datetime, bytes, str,
                                          bytes]:
    """The checked fields (kind, terminal, sequence, issued, expires, content, sha256, sig),
    or ``ValueError``."""
    if obj.get("format") != FORMAT:
        shown = repr(obj["format"])[:40] if "format" in obj else "missing"
        raise ValueError(f"not an update bundle: format is {shown}, expected {FORMAT!r}")
    unknown = sorted(k[:40] for k in obj.keys() - FIELDS)
    if unknown:
        raise ValueError(f"unknown field{'s' * (len(unknown) > 1)}: {', '.join(unknown[:5])}")
    if "sig" not in obj:
        raise ValueError("unsigned: no sig field")
    missing = sorted(FIELDS - obj.keys())
    if missing:
        raise ValueError(f"missing field{'s' * (len(missing) > 1)}: {', '.join(missing)}")
    kind = obj["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind: {repr(kind)[:40]}, expected one of {', '.join(KINDS)}")
    terminal = obj["terminal"]
    if terminal == "*":
        raise ValueError("terminal: '*' (every terminal) is not allowed: a bundle names one "
                         "terminal")
    if not isinstance(terminal, str) or not _TERMINAL.fullmatch(terminal):
        raise ValueError(f"terminal: {repr(terminal)[:40]} is not a station id")
    sequence = obj["sequence"]
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise ValueError(f"sequence: {repr(sequence)[:40]} is not an integer")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence: {sequence} is not from 1 to {MAX_SEQUENCE}")
    issued, expires = _timestamp(obj, "issued_at"), _timestamp(obj, "expires_at")
    content = _b64_field(obj, "content", CONTENT_MAX_BYTES)
    sha = obj["sha256"]
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise ValueError("sha256: not 64 lowercase hex digits")
    sig = _b64_field(obj, "sig", 64)
    if len(sig) != 64:
        raise ValueError(f"sig: {len(sig)} bytes, an Ed25519 signature is 64")
    return kind, terminal, sequence, issued, expires, content, sha, sig


def bundle_terminal(data: bytes) -> str:
    """The terminal a bundle names, once its form is checked (not its signature: that is
    :func:`read_update`'s, which then needs this terminal). Raises ``ValueError`` saying why."""
    return _fields(_parse(data))[1]


def _operator_key(key_hex: str, source: str) -> Ed25519PublicKey:
    if not key_hex:
        raise UpdateRefused(f"{source}: refused: no operator key is configured "
                            f"(maintenance.operator_key): this terminal takes no updates")
    if not _HEX64.fullmatch(key_hex):
        raise UpdateRefused(f"{source}: refused: maintenance.operator_key is not 64 lowercase "
                            f"hex digits")
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
    except ValueError:  # pragma: no cover - any 32 bytes load
        raise UpdateRefused(f"{source}: refused: maintenance.operator_key is not an Ed25519 "
                            f"public key") from None


def read_update(data: bytes, operator_key_hex: str, *, terminal: str, now: datetime,
                source: str = "<update>") -> Update:
    """The update a bundle holds, after its form, its signature (by the operator's key), its
    sha256, its terminal and its validity at ``now`` (aware) are checked; the sequence and the
    content are checked by :class:`Updates` and :func:`check_content`. Raises
    :class:`UpdateRefused` (``source`` names the bundle in the message)."""
    if now.utcoffset() is None:
        raise ValueError("read_update: now must be an aware datetime")
    key = _operator_key(operator_key_hex, source)
    try:
        obj = _parse(data)
        kind, term, sequence, issued, expires, content, sha, sig = _fields(obj)
        message = signed_message(obj)
    except (ValueError, UnicodeError) as exc:
        raise UpdateRefused(f"{source}: refused: {exc}") from None
    try:
        key.verify(sig, message)
    except InvalidSignature:
        raise UpdateRefused(f"{source}: refused: wrongly signed: the signature is not the "
                            f"operator's (another key, or the bundle was altered after "
                            f"signing)") from None
    if not hmac.compare_digest(hashlib.sha256(content).hexdigest(), sha):
        raise UpdateRefused(f"{source}: refused: the sha256 does not match the content")
    if term != terminal:
        raise UpdateRefused(f"{source}: refused: not for this terminal: it is for {term!r}, "
                            f"this is {terminal!r}")
    if expires <= issued:
        raise UpdateRefused(f"{source}: refused: it expires ({expires.isoformat()}) before it "
                            f"is issued ({issued.isoformat()})")
    if expires - issued > MAX_VALIDITY:
        raise UpdateRefused(f"{source}: refused: valid for more than {MAX_VALIDITY.days} days")
    if now >= expires:
        raise UpdateRefused(f"{source}: refused: expired at {expires.isoformat()} (now "
                            f"{now.isoformat(timespec='seconds')})")
    if issued > now + MAX_CLOCK_SKEW:
        raise UpdateRefused(f"{source}: refused: issued in the future ({issued.isoformat()}, "
                            f"now {now.isoformat(timespec='seconds')}): check the kiosk's "
                            f"clock")
    return Update(kind, term, sequence, issued, expires, content, sha)


# --- the content -----------------------------------------------------------------------------

def _check(kind: str, content: bytes, terminal: str, *, source: str, config_path: Path,
           demo: bool, currency: str | None) -> None:
    def invalid(message: str) -> UpdateRefused:
        return UpdateRefused(f"{source}: invalid content: {message}")

    limit = _CONTENT_LIMITS.get(kind)
    if limit is None:
        raise invalid(f"unknown kind {kind!r}")
    if len(content) > limit:
        raise invalid(f"{len(content)} bytes, a {kind} file is at most {limit // 1024} KiB")
    if kind == "members":
        from kiosk.billing.plans import MembersError, parse_members

        try:
            parse_members(content, currency=currency)
        except MembersError as exc:
            raise invalid(f"the member list: {exc}") from None
        return
    if kind == "config":
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("the config is not UTF-8 text") from None
        try:
            base = config_path.resolve().parent
        except (OSError, RuntimeError) as exc:
            raise invalid(f"{config_path}: cannot resolve: {exc}") from None
        try:
            cfg = parse_config(text, source, base, demo=demo)
        except ConfigError as exc:
            raise invalid(str(exc).removeprefix(f"{source}: ")) from None
        if cfg.station.id != terminal:
            raise invalid(f"station.id: {cfg.station.id!r}: an update must not change the "
                          f"terminal's id ({terminal!r})")
        return
    from kiosk.billing.inputs import shown
    from kiosk.billing.tariff import TariffError, load_tariffs

    with tempfile.TemporaryDirectory(prefix="evkiosk-update-") as folder:
        path = Path(folder) / "tariff.json"
        try:
            write_private_file(path, content)
        except OSError as exc:
            raise UpdateRefused(f"{source}: cannot check the tariff: {exc.strerror or exc}"
                                ) from None
        found: list[str] = []
        try:
            tariffs = load_tariffs(path, warnings=found)
        except TariffError as exc:
            raise invalid(str(exc).removeprefix(f"{shown(path)}: ")) from None
    if not tariffs:  # pragma: no cover - load_tariffs refuses an empty list
        raise invalid("no tariff in the file")
    for i, t in enumerate(tariffs):
        if currency is not None and t.currency != currency:
            raise invalid(f"tariff {i} ({t.id[:40]!r}) is in {t.currency}, the station sells "
                          f"in {currency}")


def check_content(update: Update, *, config_path: Path, demo: bool,
                  currency: str | None = None, source: str = "<update>") -> None:
    """The content must pass the checks the kiosk makes when it starts (see the module): a
    config parsed with ``parse_config`` relative to ``config_path``'s folder with the same
    station id; a tariff read by ``load_tariffs``, each in ``currency`` when it is given; a
    member list read by ``parse_members`` in ``currency``.
    Raises :class:`UpdateRefused` carrying the validator's message."""
    _check(update.kind, update.content, update.terminal, source=source,
           config_path=config_path, demo=demo, currency=currency)


# --- applying --------------------------------------------------------------------------------

def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class Updates:
    """Applies bundles to a terminal's files and rolls them back (see the module)."""

    def __init__(self, data_dir: Path, config_path: Path, cfg: KioskConfig, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._data_dir = Path(data_dir)
        self._config_path = Path(config_path)
        self._cfg = cfg
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def state_path(self) -> Path:
        return self._data_dir / STATE_FILE

    def target(self, kind: str) -> Path:
        """The file an update of ``kind`` replaces, symlinks resolved."""
        if kind == "config":
            path = self._config_path
        elif kind == "tariff":
            tariff = self._cfg.tariff_path()
            if tariff is None:
                raise UpdateRefused("tariff: no tariff file is configured (tariff.file): the "
                                    "prices are in the config, update the config instead")
            path = tariff if tariff.is_absolute() else self._config_path.parent / tariff
        elif kind == "members":
            path = self._data_dir / MEMBERS_FILE
        else:
            raise UpdateRefused(f"unknown kind {kind!r}, expected one of {', '.join(KINDS)}")
        return Path(os.path.realpath(path))

    def state(self) -> dict[str, int]:
        """The last accepted sequence per kind (0: none yet). Raises :class:`UpdateRefused`
        when the state file cannot be read: then no update is taken (fail closed)."""
        try:
            raw = read_regular_file(self.state_path, STATE_MAX_BYTES)
        except FileRefused as exc:
            if str(exc) == "no such file":
                return dict.fromkeys(KINDS, 0)
            raise UpdateRefused(f"{self.state_path}: {exc}: no update is taken until it is "
                                f"fixed") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and data.keys() <= set(KINDS) and all(
                type(v) is int and 0 <= v <= MAX_SEQUENCE for v in data.values()):
            return {kind: int(data.get(kind, 0)) for kind in KINDS}
        raise UpdateRefused(f"{self.state_path}: not a state file ({{\"config\": N, "
                            f"\"tariff\": N, \"members\": N}}): no update is taken until "
                            f"it is fixed")

    def _write_state(self, state: dict[str, int]) -> None:
        write_private_file(self.state_path, _canonical(state) + b"\n")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise UpdateRefused("another update is being applied")
        try:
            path = self._data_dir / LOCK_FILE
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o600)
            except OSError as exc:
                raise UpdateRefused(f"{path}: cannot lock: {_reason(exc)}") from None
            try:
                deadline = time.monotonic() + LOCK_TIMEOUT_S
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise UpdateRefused(f"{path}: another process is applying an "
                                                f"update") from None
                        time.sleep(0.01)
                yield
            finally:
                os.close(fd)  # releases the flock
        finally:
            self._lock.release()

    def _read_current(self, target: Path, source: str, *, may_be_missing: bool = False
                      ) -> tuple[bytes | None, int]:
        """The target's bytes and mode bits (it must be a regular file); ``may_be_missing``:
        (None, 0o600) when there is none."""
        try:
            data = read_regular_file(target, BUNDLE_MAX_BYTES)
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileRefused as exc:
            if may_be_missing and str(exc) == "no such file":
                return None, 0o600
            raise UpdateRefused(f"{source}: refused: the current file {target}: {exc} "
                                f"(nothing to keep for rollback)") from None
        except OSError as exc:
            raise UpdateRefused(f"{source}: refused: {target}: {_reason(exc)}") from None
        return data, mode

    def _write_target(self, target: Path, data: bytes, mode: int) -> None:
        write_private_file(target, data)
        os.chmod(target, mode)

    def apply_file(self, bundle_path: Path, source: str | None = None) -> Update:
        """Read a bundle file (a regular file of at most 2 MiB) and apply it; ``source`` names
        it in the messages (default: its path)."""
        source = source or str(bundle_path)
        try:
            data = read_regular_file(bundle_path, BUNDLE_MAX_BYTES)
        except FileRefused as exc:
            raise UpdateRefused(f"{source}: refused: {exc}") from None
        return self.apply_bytes(data, source)

    def apply_bytes(self, data: bytes, source: str) -> Update:
        """Check a bundle and, when every check passes, swap the file (see the module)."""
        update = read_update(data, self._cfg.maintenance.operator_key,
                             terminal=self._cfg.station.id, now=self._clock(), source=source)
        try:
            target = self.target(update.kind)
        except UpdateRefused as exc:
            raise UpdateRefused(f"{source}: refused: {exc}") from None
        if not self._data_dir.is_dir():
            raise UpdateRefused(f"{source}: refused: the data folder {self._data_dir} is not "
                                f"a folder (the sequence cannot be recorded)")
        with self._locked():
            state = self.state()
            last = state[update.kind]
            if update.sequence <= last:
                raise UpdateRefused(f"{source}: refused: replayed or older: sequence "
                                    f"{update.sequence} is not newer than the last accepted "
                                    f"{update.kind} update ({last})")
            check_content(update, config_path=self._config_path, demo=self._cfg.demo,
                          currency=self._cfg.station.currency, source=source)
            current, mode = self._read_current(target, source,
                                               may_be_missing=update.kind == "members")
            previous = target.with_name(target.name + PREVIOUS_SUFFIX)
            try:
                if current is not None:
                    write_private_file(previous, current)
                else:  # the first member list: nothing to roll back to
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(previous)
            except OSError as exc:
                raise UpdateRefused(f"{source}: not applied: cannot keep {previous}: "
                                    f"{_reason(exc)}") from None
            try:
                self._write_state({**state, update.kind: update.sequence})
            except OSError as exc:
                raise UpdateRefused(f"{source}: not applied: cannot record the sequence in "
                                    f"{self.state_path}: {_reason(exc)}") from None
            try:
                self._write_target(target, update.content, mode)
            except OSError as exc:
                raise UpdateRefused(f"{source}: not applied: cannot write {target}: "
                                    f"{_reason(exc)} (sequence {update.sequence} is used up: "
                                    f"a newer bundle is needed)") from None
        return update

    def rollback(self, kind: str) -> None:
        """Swap the target and ``<target>.previous`` (see the module); the sequence stays."""
        target = self.target(kind)
        previous = target.with_name(target.name + PREVIOUS_SUFFIX)
        source = f"rollback of the {kind}"
        with self._locked():
            try:
                old = read_regular_file(previous, BUNDLE_MAX_BYTES)
            except FileRefused as exc:
                if str(exc) == "no such file":
                    raise UpdateRefused(f"{source}: refused: there is no previous version "
                                        f"({previous})") from None
                raise UpdateRefused(f"{source}: refused: {previous}: {exc}") from None
            current, mode = self._read_current(target, source)
            assert current is not None  # not may_be_missing
            _check(kind, old, self._cfg.station.id, source=str(previous),
                   config_path=self._config_path, demo=self._cfg.demo,
                   currency=self._cfg.station.currency)
            try:
                self._write_target(target, old, mode)
                write_private_file(previous, current)
            except OSError as exc:
                raise UpdateRefused(f"{source}: failed: {_reason(exc)}") from None


def find_bundles(folder: Path, limit: int = 50) -> list[Path]:
    """The ``*.evkupdate`` regular files directly in ``folder`` (a USB stick), sorted by name,
    at most ``limit``. Symlinks, folders and other non-regular files are skipped, and so are
    hidden names (``._x.evkupdate``, the metadata files macOS writes on a FAT stick). A missing
    folder has none; an unreadable one is an :class:`UpdateRefused`."""
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(SUFFIX) and not entry.name.startswith(".") and \
                        entry.is_file(follow_symlinks=False):
                    names.append(entry.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UpdateRefused(f"{folder}: cannot list the update folder: {_reason(exc)}"
                            ) from None
    return [Path(folder) / name for name in sorted(names)[:max(limit, 0)]]
