"""Percentiles for the benchmarks' printed figures."""

from __future__ import annotations


def median_p99(samples: list[float]) -> tuple[float, float]:
    data = sorted(samples)
    return data[len(data) // 2], data[int(len(data) * 0.99)]


def percentile(samples: list[float], p: float) -> float:
    data = sorted(samples)
    return data[min(len(data) - 1, int(len(data) * p / 100))]
