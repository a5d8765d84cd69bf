"""The terminal's secret keys on disk (v0: the card-token key).

A key file is created once with 32 random bytes and mode 0600; a file of the wrong size is an
error, never silently replaced (records keyed by it would stop matching).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


class KeyError_(Exception):
    """A key file exists but cannot be used."""


def load_or_create_key(path: str | Path) -> bytes:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        p.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        return key
    if len(data) != KEY_BYTES:
        raise KeyError_(f"key file {p}: expected {KEY_BYTES} bytes, found {len(data)}")
    return data
