"""RAPI figures over a real pty: command round trip (median, p99), $AT line to callback
latency, and the driver's CPU use while polling at 1 Hz (target <= 1 % of one core)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from drivers.charger.api import StateChanged
from drivers.sim.evse import EvseSimulator
from tests.bench.stats import median_p99
from tests.support.evse import open_charger

ROOT = Path(__file__).resolve().parents[2]


def test_bench_command_round_trip(benchmark, tmp_path: Path) -> None:
    sim = EvseSimulator(tmp_path)
    c, _ = open_charger(sim, poll_interval_s=60)
    try:
        samples: list[float] = []

        def one() -> None:
            t = time.perf_counter()
            assert c.link.command("GS").ok
            samples.append(time.perf_counter() - t)

        benchmark.pedantic(one, rounds=300 if benchmark.enabled else 3, iterations=1)
        p50, p99 = median_p99(samples)
        print(f"\nRAPI command round trip over a pty: median {p50 * 1e3:.2f} ms, "
              f"p99 {p99 * 1e3:.2f} ms")
    finally:
        c.close()
        sim.close()


def test_bench_state_line_to_callback(benchmark, tmp_path: Path) -> None:
    sim = EvseSimulator(tmp_path)
    c, _ = open_charger(sim, poll_interval_s=60)
    got = threading.Event()
    c.subscribe(lambda e: got.set() if isinstance(e, StateChanged) else None)
    samples: list[float] = []
    try:
        def one() -> None:
            got.clear()
            t = time.perf_counter()
            sim.unplug() if sim.plugged else sim.plug()
            assert got.wait(5)
            samples.append(time.perf_counter() - t)

        benchmark.pedantic(one, rounds=100 if benchmark.enabled else 2, iterations=1)
        samples.sort()
        print(f"\n$AT to StateChanged callback: median {samples[len(samples) // 2] * 1e3:.2f} ms, "
              f"max {samples[-1] * 1e3:.2f} ms")
    finally:
        c.close()
        sim.close()


def test_bench_cpu_while_polling_at_1_hz(benchmark, tmp_path: Path) -> None:
    sim = EvseSimulator(tmp_path)
    sim.plug()
    seconds = 20.0 if benchmark.enabled else 2.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        def run() -> dict:
            out = subprocess.run([sys.executable, str(Path(__file__).with_name(
                "rapi_poll_child.py")), str(sim.path), str(seconds)], capture_output=True,
                text=True, timeout=120, env=env, check=True)
            return json.loads(out.stdout.strip().splitlines()[-1])

        figures = benchmark.pedantic(run, rounds=1, iterations=1)
        share = figures["cpu_s"] / figures["wall_s"] * 100
        benchmark.extra_info["cpu_percent_of_one_core"] = round(share, 3)
        print(f"\nCPU of the driver polling at 1 Hz: {share:.3f} % of one core "
              f"({figures['cpu_s'] * 1e3:.0f} ms in {figures['wall_s']:.0f} s)")
    finally:
        sim.close()
