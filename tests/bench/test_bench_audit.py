"""The audit log at the kiosk's start and on each entry (figures, not pass/fail).

- **Opening** with 2,000 entries: the tail check (what the kiosk does at start) beside the full
  check (``verify_file``, which the kiosk runs on a thread after start). Floor: reading the
  same file's bytes (what any check must do at least once).
- **Appending** one entry (two fsyncs: the line and the signed head). Floor: one ``os.write``
  and ``os.fsync`` of a line of the same size in the same folder.
Under ``--benchmark-disable`` each runs once on 20 entries, as a smoke test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.security.audit import AuditLog, verify_file
from tests.bench.stats import percentile


def timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def test_bench_audit_open_and_append(benchmark: Any, tmp_path: Path) -> None:
    enabled = not benchmark.disabled
    entries = 2000 if enabled else 20
    key = Ed25519PrivateKey.generate()
    folder = tmp_path / "audit"
    log = AuditLog(folder, key)
    details = {"part": "host", "ok": False, "detail": "echo failing: timed out after 10 s"}
    appends = []
    for _ in range(entries):
        t = time.perf_counter()
        log.append("system", "health", details)
        appends.append(time.perf_counter() - t)
    log.close()
    line = (folder / "audit.log").read_bytes().splitlines(keepends=True)[-1]
    rounds = 20 if enabled else 1

    def tail_open() -> None:
        AuditLog(folder, key, check="tail").close()

    def full_check() -> None:
        verify_file(folder, key.public_key())

    def read_floor() -> None:
        (folder / "audit.log").read_bytes()

    tail, full, read = timed(tail_open, rounds), timed(full_check, max(1, rounds // 4)), \
        timed(read_floor, rounds)
    fd = os.open(tmp_path / "floor.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        def write_floor() -> None:
            os.write(fd, line)
            os.fsync(fd)
        write = timed(write_floor, min(entries, 500))
    finally:
        os.close(fd)
    benchmark.pedantic(tail_open, rounds=1, iterations=1)
    ms = 1e3
    print(f"\naudit log of {entries} entries: opening (tail check) median "
          f"{percentile(tail, 50) * ms:.2f} ms; full check {percentile(full, 50) * ms:.1f} ms; "
          f"floor, reading the file: {percentile(read, 50) * ms:.2f} ms")
    print(f"  append median {percentile(appends, 50) * ms:.2f} ms, p99 "
          f"{percentile(appends, 99) * ms:.2f} ms; floor, one write + fsync of the same line: "
          f"median {percentile(write, 50) * ms:.2f} ms")
    assert tail and full and read  # the figures exist; no timing is asserted
