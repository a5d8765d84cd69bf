"""A small file system of the test's own that can be filled up: a 4 MiB tmpfs (the rig runs
as root, see domain/test-rig.md), and :func:`fill` / :func:`unfill` to make it refuse writes
with ENOSPC and take them again."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FILLERS = ("filler", "filler2")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted in the test's temp dir, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (the test rig and CI run as root)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(folder: Path) -> Path:
    """Write until the file system is full (ENOSPC), the last few blocks too; the filler."""
    filler = folder / FILLERS[0]
    chunk = b"\0" * 65536
    # unbuffered: a buffered file would try its last chunk again on close (ENOSPC there)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), open(folder / FILLERS[1], "wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 512)
    return filler


def unfill(folder: Path) -> None:
    """Room again: the fillers removed."""
    for name in FILLERS:
        (folder / name).unlink(missing_ok=True)
