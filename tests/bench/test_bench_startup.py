"""Cold start to the painted idle screen (offscreen) and idle resident memory.

Targets on the 2-core machine: start ≤ 1.5 s, idle RSS ≤ 150 MB. Each round is a new process;
the figure includes the interpreter, imports, the journal, the simulators and the first paint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("startup_child.py")


def start_once(tmp: Path) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(CHILD), str(tmp / "journal.sqlite")],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    ready = next(x["ready"] for x in lines if "ready" in x)
    rss = next(x["rss"] for x in lines if "rss" in x)
    return ready - t0, rss


def test_bench_cold_start_and_idle_rss(benchmark, tmp_path: Path) -> None:
    results: list[tuple[float, int]] = []

    def once() -> None:
        results.append(start_once(tmp_path))

    benchmark.pedantic(once, rounds=5, iterations=1, warmup_rounds=1)
    starts = sorted(r[0] for r in results)
    rss = max(r[1] for r in results)
    benchmark.extra_info["start_to_idle_s_median"] = round(starts[len(starts) // 2], 3)
    benchmark.extra_info["idle_rss_mb_max"] = round(rss / 2**20, 1)
    print(f"\ncold start to painted idle screen: median {starts[len(starts) // 2]:.3f} s, "
          f"max {starts[-1]:.3f} s; idle RSS max {rss / 2**20:.1f} MiB")
