"""Writing a private file durably: the one atomic writer of the project (drivers and kiosk
alike; ``kiosk.files`` offers it as ``write_private_file``). No dependencies beyond the
standard library, so anything may import it without paying for more."""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["fsync_dir", "write_private"]


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, mode 0600: a temporary file of this process
    and thread in the same folder (``O_EXCL``), written whole, fsynced, renamed over ``path``,
    and the folder fsynced (the rename is durable too). Raises ``OSError``; the temporary file
    is gone whatever happens. The one atomic writer of the project (``kiosk.files`` offers it
    as ``write_private_file``)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
