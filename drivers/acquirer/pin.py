"""Online PIN: an ISO 9564 PIN block under a DUKPT key, and its KSN.

Default: ISO 9564 format 4 (AES, 16 bytes) under the AES DUKPT PIN encryption key (X9.24-3).
Legacy: format 0 (8 bytes) under the TDES DUKPT PIN key (X9.24-1). The PIN block formats come
from psec; the key schedule from :mod:`drivers.acquirer.dukpt`.

The KSN counter is persisted *before* a key is used (write, fsync, rename), so a crash can skip
counters but never reuse one. The PIN exists as a ``str`` only inside :meth:`encrypt`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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

Scheme = Literal["aes", "tdes"]


@dataclass(frozen=True, repr=False)
class OnlinePin:
    block: bytes  # enciphered PIN block
    ksn: bytes
    scheme: Scheme

    def __repr__(self) -> str:
        return f"OnlinePin(scheme={self.scheme}, ksn={self.ksn.hex().upper()})"


class CounterStore:
    """The DUKPT transaction counter of this terminal, on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def current(self) -> int:
        try:
            return int(self.path.read_text().strip() or "0")
        except FileNotFoundError:
            return 0
        except ValueError:
            raise DukptError(f"{self.path}: the DUKPT counter file is damaged") from None

    def reserve(self, nxt: int) -> int:
        """Persist ``nxt`` as used, then hand it out."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(str(nxt))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
        return nxt


class PinEncryptor:
    """The terminal side: holds the initial key (never the BDK)."""

    def __init__(self, scheme: Scheme, initial_key: bytes, initial_ksn: bytes,
                 counter: CounterStore) -> None:
        self.scheme, self.initial_key, self.counter = scheme, initial_key, counter
        self.initial_ksn = initial_ksn
        if scheme == "aes" and (len(initial_key) != 16 or len(initial_ksn) != 8):
            raise DukptError("AES DUKPT needs a 16-byte initial key and an 8-byte key ID")
        if scheme == "tdes" and (len(initial_key) != 16 or len(initial_ksn) != 10):
            raise DukptError("TDES DUKPT needs a 16-byte IPEK and a 10-byte initial KSN")

    def _next_ksn(self) -> bytes:
        current = self.counter.current()
        if self.scheme == "aes":
            n = self.counter.reserve(aes_next_counter(current))
            return self.initial_ksn + n.to_bytes(4, "big")
        n = current + 1
        while bin(n).count("1") > 10:
            n += n & -n
        if n >= 1 << 21:
            raise DukptError("the DUKPT counter is exhausted: the terminal needs a new key")
        self.counter.reserve(n)
        base = int.from_bytes(self.initial_ksn, "big") & ~((1 << 21) - 1)
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
