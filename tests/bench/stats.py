"""Percentiles for the benchmarks' printed figures."""

from __future__ import annotations


def percentile(samples: list[float], p: float) -> float:
    data = sorted(samples)
    return data[min(len(data) - 1, int(len(data) * p / 100))]


def median_p99(samples: list[float]) -> tuple[float, float]:
    return percentile(samples, 50), percentile(samples, 99)
