"""Billing figures: OCPI CDRs priced per second, and the cost of one live-cost update (track
the new reading + price the session so far), as the machine does for every meter reading."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.billing.cdr import parse_cdr, price_cdr
from kiosk.billing.live import LivePricer
from kiosk.billing.tariff import load_tariffs
from kiosk.config import RESOURCES
from kiosk.session.machine import Mark, Session, State

DATA = Path(__file__).resolve().parents[1] / "data" / "ocpi"
BERLIN = ZoneInfo("Europe/Berlin")


def test_bench_cdrs_priced_per_second(benchmark) -> None:
    (tariff,) = load_tariffs(DATA / "tariff_day_night.json")
    text = (DATA / "cdr_day_night.json").read_bytes()

    def hundred() -> None:
        for _ in range(100):
            price_cdr(tariff, parse_cdr(text), BERLIN)

    benchmark(hundred)
    per_second = 100 / benchmark.stats.stats.median if benchmark.stats else 0
    benchmark.extra_info["cdrs_per_second"] = round(per_second)
    print(f"\nOCPI CDRs parsed and priced: {per_second:,.0f} per second")


def test_bench_live_cost_update_per_reading(benchmark) -> None:
    (tariff,) = load_tariffs(RESOURCES / "tariffs" / "demo.json")
    pricer = LivePricer(tariff, BERLIN)
    start = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    s = Session("s", 1, State.CHARGING, start, start, charge_started_at=start,
                last_reading_at=start, marks=(Mark(start, 0, 11_000, True),))
    # two hours of readings already in (through the 22:00 boundary)
    for i in range(1, 7200):
        at = start + timedelta(seconds=i)
        prev = Mark(s.last_reading_at or at, s.meter_now_wh, 11_000, True)
        s = replace(s, marks=pricer.track(s.marks, prev, Mark(at, i * 3, 11_000, True)),
                    meter_now_wh=i * 3, last_reading_at=at)
    state = {"s": s, "i": 7200}

    def update() -> int:
        cur, i = state["s"], state["i"]
        at = start + timedelta(seconds=i)
        prev = Mark(cur.last_reading_at or at, cur.meter_now_wh, 11_000, True)
        cur = replace(cur, marks=pricer.track(cur.marks, prev, Mark(at, i * 3, 11_000, True)),
                      meter_now_wh=i * 3, last_reading_at=at)
        state["s"], state["i"] = cur, i + 1
        return pricer.price(cur)

    benchmark(update)
    median_us = benchmark.stats.stats.median * 1e6 if benchmark.stats else 0
    print(f"\nlive cost update per reading: median {median_us:.0f} µs "
          f"({len(state['s'].marks)} periods)")
