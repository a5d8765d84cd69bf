"""Online PIN: an ISO 9564 PIN block under a DUKPT key, and its KSN.

Default: ISO 9564 format 4 (AES, 16 bytes) under the AES DUKPT PIN encryption key (X9.24-3).
Legacy: format 0 (8 bytes) under the TDES DUKPT PIN key (X9.24-1). The PIN block formats come
from psec; the key schedule from :mod:`drivers.acquirer.dukpt`.

The transaction counter belongs to the key: :class:`PinKeyFile` keeps it inside the key file
(``{"scheme", "initial_key", "key_id", "counter"}``; no ``counter`` = 0 = a fresh key), so
deleting the counter means deleting the key, and two journals that use one key file share one
counter. Each counter is persisted *before* its key is used (a temporary file 0600, fsync,
rename, fsync of the folder), under a lock on the folder, and never handed out twice: a crash
can skip counters but never reuse one. A damaged, negative or exhausted counter is a
:class:`DukptError` naming the file. The PIN exists as a ``str`` only inside :meth:`encrypt`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from psec import pinblock

from drivers.acquirer.dukpt import (
    DukptError,
    aes_initial_key,
    aes_next_counter,
    aes_working_key,
    tdes_encrypt_block,
    tdes_ipek,
    tdes_pin_key,
)
from drivers.files import write_private

Scheme = Literal["aes", "tdes"]
AES_COUNTER_MAX = 0xFFFFFFFF
TDES_COUNTER_BITS = 21


@dataclass(frozen=True, repr=False)
class OnlinePin:
    block: bytes  # enciphered PIN block
    ksn: bytes
    scheme: Scheme

    def __repr__(self) -> str:
        return f"OnlinePin(scheme={self.scheme}, ksn={self.ksn.hex().upper()})"


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock between the processes that share a counter (flock on the folder)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _counter_value(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DukptError(f"{where}: the DUKPT counter is damaged (not an integer: {value!r})")
    if value < 0:
        raise DukptError(f"{where}: the DUKPT counter is damaged (negative: {value})")
    if value > AES_COUNTER_MAX:
        raise DukptError(f"{where}: the DUKPT counter is damaged (out of range: {value})")
    return value


class CounterStore:
    """A DUKPT transaction counter in a file of its own (a decimal number). Kept for tools and
    tests; the terminal keeps its counter inside its key file (:class:`PinKeyFile`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def current(self) -> int:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise DukptError(f"{self.path}: cannot read the DUKPT counter: {exc}") from None
        try:
            value = int(text, 10) if text else 0
        except ValueError:
            raise DukptError(f"{self.path}: the DUKPT counter file is damaged "
                             f"(not an integer)") from None
        return _counter_value(value, str(self.path))

    def reserve(self, nxt: int) -> int:
        """Persist ``nxt`` as used, then hand it out. Refused when the stored counter has
        already reached ``nxt`` (another process uses the same counter): never twice."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with _folder_lock(self.path.parent):
                stored = self.current()
                if stored >= nxt:
                    raise DukptError(f"{self.path}: the DUKPT counter moved to {stored} (another "
                                     f"process uses it): {nxt} is not handed out twice")
                write_private(self.path, str(nxt).encode())
        except OSError as exc:
            raise DukptError(f"{self.path}: cannot persist the DUKPT counter: "
                             f"{exc.strerror or exc}") from None
        return nxt


@dataclass(frozen=True, repr=False)
class PinKey:
    """The content of a PIN key file (repr shows no key material)."""

    scheme: Scheme
    initial_key: bytes
    key_id: bytes  # AES: the 8-byte initial key ID; TDES: the 10-byte initial KSN
    counter: int

    def __repr__(self) -> str:
        return f"PinKey(scheme={self.scheme}, key_id={self.key_id.hex().upper()}, " \
               f"counter={self.counter})"


_KEY_FIELDS = {"scheme", "initial_key", "key_id", "counter"}


def parse_pin_key(text: str | bytes, where: str) -> PinKey:
    """A PIN key file's JSON; every problem a :class:`DukptError` that starts with ``where``."""
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise DukptError(f"{where}: not a JSON key file") from None
    if not isinstance(data, dict):
        raise DukptError(f"{where}: a key file is a JSON object {{\"scheme\", \"initial_key\", "
                         f"\"key_id\"}}")
    unknown = sorted(set(data) - _KEY_FIELDS)
    if unknown:
        raise DukptError(f"{where}: unknown field {unknown[0]!r} (known: counter, initial_key, "
                         f"key_id, scheme)")
    for name in ("scheme", "initial_key", "key_id"):
        if name not in data:
            raise DukptError(f"{where}: {name}: missing")
        if not isinstance(data[name], str):
            raise DukptError(f"{where}: {name}: must be a string")
    scheme = data["scheme"]
    if scheme not in ("aes", "tdes"):
        raise DukptError(f"{where}: scheme: {scheme!r} is neither 'aes' nor 'tdes'")
    raw: dict[str, bytes] = {}
    for name in ("initial_key", "key_id"):
        try:
            raw[name] = bytes.fromhex(data[name])
        except ValueError:
            raise DukptError(f"{where}: {name}: not hex") from None
    if len(raw["initial_key"]) != 16:
        raise DukptError(f"{where}: initial_key: 16 bytes (32 hex digits) expected, found "
                         f"{len(raw['initial_key'])}")
    id_len = 8 if scheme == "aes" else 10
    if len(raw["key_id"]) != id_len:
        what = "the initial key ID" if scheme == "aes" else "the initial KSN"
        raise DukptError(f"{where}: key_id: {what} of {scheme.upper()} DUKPT is {id_len} bytes, "
                         f"found {len(raw['key_id'])}")
    counter = _counter_value(data.get("counter", 0), f"{where}: counter")
    if scheme == "tdes" and counter >= 1 << TDES_COUNTER_BITS:
        raise DukptError(f"{where}: counter: the DUKPT counter is damaged (out of range: "
                         f"{counter})")
    return PinKey(scheme, raw["initial_key"], raw["key_id"], counter)


def dump_pin_key(key: PinKey) -> bytes:
    return (json.dumps({"scheme": key.scheme, "initial_key": key.initial_key.hex().upper(),
                        "key_id": key.key_id.hex().upper(), "counter": key.counter},
                       indent=1) + "\n").encode()


class PinKeyFile(CounterStore):
    """The terminal's DUKPT initial key and its transaction counter, in one file. The counter is
    read from the file every time (another kiosk process may share the key); the key in the
    file must stay the one this terminal loaded, and its counter never goes back: a replaced
    or restored key file is an error, not a counter that counts again."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.key = self.read()
        self._seen = self.key.counter  # the highest counter this process has seen

    def read(self) -> PinKey:
        try:
            text = self.path.read_bytes()
        except OSError as exc:
            raise DukptError(f"{self.path}: cannot read the PIN key file: "
                             f"{exc.strerror or exc}") from None
        return parse_pin_key(text, str(self.path))

    def _same_key(self) -> PinKey:
        now = self.read()
        if (now.scheme, now.initial_key, now.key_id) != (self.key.scheme, self.key.initial_key,
                                                         self.key.key_id):
            raise DukptError(f"{self.path}: the key file now holds another key: restart the "
                             f"kiosk to load it")
        if now.counter < self._seen:
            raise DukptError(f"{self.path}: the DUKPT counter went back from {self._seen} to "
                             f"{now.counter} (a restored or edited key file): counters are "
                             f"never used twice")
        self._seen = now.counter
        return now

    def current(self) -> int:
        return self._same_key().counter

    def reserve(self, nxt: int) -> int:
        try:
            with _folder_lock(self.path.parent):
                now = self._same_key()
                if now.counter >= nxt:
                    raise DukptError(f"{self.path}: the DUKPT counter moved to {now.counter} "
                                     f"(another process uses this key): {nxt} is not handed out "
                                     f"twice")
                write_private(self.path, dump_pin_key(
                    PinKey(now.scheme, now.initial_key, now.key_id, nxt)))
                self._seen = nxt
        except OSError as exc:
            raise DukptError(f"{self.path}: cannot persist the DUKPT counter: "
                             f"{exc.strerror or exc}") from None
        return nxt

class PinEncryptor:
    """The terminal side: holds the initial key (never the BDK) and its counter store."""

    def __init__(self, scheme: Scheme, initial_key: bytes, initial_ksn: bytes,
                 counter: CounterStore) -> None:
        self.scheme, self.initial_key, self.counter = scheme, initial_key, counter
        self.initial_ksn = initial_ksn
        if scheme == "aes" and (len(initial_key) != 16 or len(initial_ksn) != 8):
            raise DukptError("AES DUKPT needs a 16-byte initial key and an 8-byte key ID")
        if scheme == "tdes" and (len(initial_key) != 16 or len(initial_ksn) != 10):
            raise DukptError("TDES DUKPT needs a 16-byte IPEK and a 10-byte initial KSN")

    @classmethod
    def from_key_file(cls, path: Path) -> PinEncryptor:
        """The key of a PIN key file, counting in that file (:class:`PinKeyFile`)."""
        store = PinKeyFile(path)
        return cls(store.key.scheme, store.key.initial_key, store.key.key_id, store)

    def next_counter(self, current: int) -> int:
        """The counter after ``current``; :class:`DukptError` when the key is used up."""
        if self.scheme == "aes":
            return aes_next_counter(current)
        n = current + 1
        while bin(n).count("1") > 10:
            n += n & -n
        if n >= 1 << TDES_COUNTER_BITS:
            raise DukptError("the DUKPT counter is exhausted: the terminal needs a new key")
        return n

    def check(self) -> int:
        """Read the counter and make sure one more can be handed out (nothing is written):
        a damaged or exhausted counter fails at start, not at a driver's PIN."""
        current = self.counter.current()
        self.next_counter(current)
        return current

    def _next_ksn(self) -> bytes:
        n = self.counter.reserve(self.next_counter(self.counter.current()))
        if self.scheme == "aes":
            return self.initial_ksn + n.to_bytes(4, "big")
        base = int.from_bytes(self.initial_ksn, "big") & ~((1 << TDES_COUNTER_BITS) - 1)
        return (base | n).to_bytes(10, "big")

    def encrypt(self, pin: str, pan: str) -> OnlinePin:
        if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
            raise ValueError("a PIN is 4 to 12 digits")
        ksn = self._next_ksn()
        if self.scheme == "aes":
            key = aes_working_key(self.initial_key, ksn)
            return OnlinePin(pinblock.encipher_pinblock_iso_4(key, pin, pan), ksn, "aes")
        key = tdes_pin_key(self.initial_key, ksn)
        block = tdes_encrypt_block(key, pinblock.encode_pinblock_iso_0(pin, pan))
        return OnlinePin(block, ksn, "tdes")


def decrypt_pin(bdk: bytes, pin: OnlinePin, pan: str) -> str:
    """The host side: derive the key from the BDK and the KSN, recover the PIN."""
    if pin.scheme == "aes":
        ik = aes_initial_key(bdk, pin.ksn[:8])
        key = aes_working_key(ik, pin.ksn)
        return str(pinblock.decipher_pinblock_iso_4(key, pin.block, pan))
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = tdes_pin_key(tdes_ipek(bdk, pin.ksn), pin.ksn)
    dec = Cipher(TripleDES(key + key[:8]), modes.ECB()).decryptor()  # noqa: S305
    clear = dec.update(pin.block) + dec.finalize()
    return str(pinblock.decode_pinblock_iso_0(clear, pan))
