"""DUKPT: a unique PIN key per transaction, derived from the terminal's initial key.

* AES DUKPT (ANSI X9.24-3:2017) for AES-128 keys: 12-byte KSN (8-byte initial key ID + 32-bit
  transaction counter with at most 16 bits set), derivation data per the standard, AES-ECB.
* TDES DUKPT (ANSI X9.24-1:2009) as the legacy option: 10-byte KSN, 21-bit counter, IPEK and the
  non-reversible key generation process, PIN key variant.

The terminal holds only the initial key (loaded at provisioning), never the BDK; the host holds
the BDK and derives the same keys from the KSN it receives. psec and pyemv have no DUKPT, so
this module implements the key schedule; the ciphers are from ``cryptography``.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# --- AES DUKPT ----------------------------------------------------------------------------------
AES_KSN_LEN = 12
IK_ID_LEN = 8
KEY_USAGE_KEY_DERIVATION = 0x8000
KEY_USAGE_INITIAL_KEY = 0x8001
KEY_USAGE_PIN_ENCRYPTION = 0x1000
KEY_USAGE_MAC_GENERATION = 0x2000
ALGORITHM_AES128 = 0x0002


class DukptError(ValueError):
    """A key, KSN or counter that DUKPT cannot use."""


def _aes_ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block
    return enc.update(block) + enc.finalize()


def _derivation_data(usage: int, ik_id: bytes, counter: int, *, initial: bool) -> bytes:
    head = bytes([0x01, 0x01]) + usage.to_bytes(2, "big") + ALGORITHM_AES128.to_bytes(2, "big") \
        + (128).to_bytes(2, "big")
    tail = ik_id[:8] if initial else ik_id[4:8] + counter.to_bytes(4, "big")
    return head + tail


def aes_initial_key(bdk: bytes, ik_id: bytes) -> bytes:
    if len(bdk) != 16 or len(ik_id) != IK_ID_LEN:
        raise DukptError("AES-128 DUKPT needs a 16-byte BDK and an 8-byte initial key ID")
    return _aes_ecb(bdk, _derivation_data(KEY_USAGE_INITIAL_KEY, ik_id, 0, initial=True))


def aes_split_ksn(ksn: bytes) -> tuple[bytes, int]:
    if len(ksn) != AES_KSN_LEN:
        raise DukptError("an AES DUKPT KSN is 12 bytes")
    counter = int.from_bytes(ksn[8:], "big")
    if counter == 0 or bin(counter).count("1") > 16:
        raise DukptError("transaction counter must be non-zero with at most 16 bits set")
    return ksn[:8], counter


def aes_derivation_key(initial_key: bytes, ksn: bytes) -> bytes:
    """The intermediate derivation key for the KSN's counter (the "transaction key")."""
    ik_id, counter = aes_split_ksn(ksn)
    key, working = initial_key, 0
    mask = 0x80000000
    while mask:
        if counter & mask:
            working |= mask
            key = _aes_ecb(key, _derivation_data(KEY_USAGE_KEY_DERIVATION, ik_id, working,
                                                 initial=False))
        mask >>= 1
    return key


def aes_working_key(initial_key: bytes, ksn: bytes, usage: int = KEY_USAGE_PIN_ENCRYPTION) -> bytes:
    ik_id, counter = aes_split_ksn(ksn)
    derivation = aes_derivation_key(initial_key, ksn)
    return _aes_ecb(derivation, _derivation_data(usage, ik_id, counter, initial=False))


def aes_next_counter(counter: int) -> int:
    """The next counter with at most 16 bits set (the standard's skip rule)."""
    n = counter + 1
    while bin(n).count("1") > 16:
        n += n & -n  # add the lowest set bit: clears a run of ones
    if n > 0xFFFFFFFF:
        raise DukptError("the DUKPT counter is exhausted: the terminal needs a new key")
    return n


# --- TDES DUKPT (legacy) ------------------------------------------------------------------------
TDES_KSN_LEN = 10
COUNTER_BITS = 21
KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _tdes_ecb(key: bytes, block: bytes) -> bytes:
    if len(key) == 16:  # two-key TDES as the three-key form K1 K2 K1
        key = key + key[:8]
    enc = Cipher(TripleDES(key), modes.ECB()).encryptor()  # noqa: S305 - one block
    return enc.update(block) + enc.finalize()


def _des_ecb(key8: bytes, block: bytes) -> bytes:
    return _tdes_ecb(key8 * 3, block)  # single DES as 3DES with K1 = K2 = K3


def tdes_ipek(bdk: bytes, ksn: bytes) -> bytes:
    if len(bdk) != 16 or len(ksn) != TDES_KSN_LEN:
        raise DukptError("TDES DUKPT needs a 16-byte BDK and a 10-byte KSN")
    reg = (int.from_bytes(ksn, "big") & ~((1 << COUNTER_BITS) - 1)).to_bytes(10, "big")[:8]
    left = _tdes_ecb(bdk, reg)
    right = _tdes_ecb(_xor(bdk, KEY_MASK), reg)
    return left + right


def _nrkgp(key: bytes, data: bytes) -> bytes:
    """The non-reversible key generation process of X9.24-1."""
    def half(k: bytes) -> bytes:
        left, right = k[:8], k[8:]
        return _xor(_des_ecb(left, _xor(data, right)), right)

    return half(_xor(key, KEY_MASK)) + half(key)


def tdes_transaction_key(ipek: bytes, ksn: bytes) -> bytes:
    if len(ksn) != TDES_KSN_LEN:
        raise DukptError("a TDES DUKPT KSN is 10 bytes")
    value = int.from_bytes(ksn, "big")
    counter = value & ((1 << COUNTER_BITS) - 1)
    if counter == 0 or bin(counter).count("1") > 10:
        raise DukptError("transaction counter must be non-zero with at most 10 bits set")
    base = (value & ((1 << 64) - 1)) & ~((1 << COUNTER_BITS) - 1)
    key, reg = ipek, base
    bit = 1 << (COUNTER_BITS - 1)
    while bit:
        if counter & bit:
            reg |= bit
            key = _nrkgp(key, reg.to_bytes(8, "big"))
        bit >>= 1
    return key


def tdes_pin_key(ipek: bytes, ksn: bytes) -> bytes:
    return _xor(tdes_transaction_key(ipek, ksn), PIN_VARIANT)


def tdes_encrypt_block(key: bytes, block: bytes) -> bytes:
    return _tdes_ecb(key, block)
