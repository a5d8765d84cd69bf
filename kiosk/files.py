"""Reading a file someone else wrote (a config, a tariff, a CDR, a key list), safely.

Only a regular file is read: the name is checked with ``stat`` before it is opened (opening a
FIFO waits for a writer, opening a serial device may reset what is attached to it), the file
is opened non-blocking and checked again on the open descriptor (it may have been swapped),
and never more than the limit is read (``/dev/zero``, a file that grows). Every refusal is a
:class:`FileRefused` whose message is the reason, without the file name (callers add it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from drivers.files import write_private as write_private_file

__all__ = ["FileRefused", "file_kind", "read_regular_file", "write_private_file"]


class FileRefused(Exception):
    """A file the config names (or the config itself) cannot be read as one: missing, not a
    regular file, too large, unreadable. The message is the reason, without the file name."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words ("a named pipe (FIFO)")."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see the module); raises
    :class:`FileRefused`."""
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise FileRefused(f"cannot read: {file_kind(before.st_mode)}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileRefused("no such file") from None
    except OSError as exc:
        raise FileRefused(f"cannot read: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the name
        raise FileRefused("cannot read: a NUL in the file name") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev,
                                                                      before.st_ino):
            raise FileRefused("cannot read: the file changed while it was opened")
        if st.st_size > limit:
            raise FileRefused(f"too large: {st.st_size} bytes, at most {_size(limit)}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefused(f"too large: more than {_size(limit)}")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
