"""A simple forecast of a station's daily occupancy share, and when it reaches a threshold.

The model (ordinary least squares, numpy only):

    y[t] = a + b·t + c[weekday(t)] + e[t]        t = 0, 1, ... the days of the history

``y`` is the daily occupancy share (the SQL aggregates per local date,
:func:`kiosk.backoffice.analytics.queries.daily_occupancy`), ``b`` a linear trend per day,
``c`` one level per weekday (Monday is the baseline: six dummies), ``e`` the residuals with
standard deviation ``s = sqrt(RSS / (n − p))``. For a future day with regressors ``x`` the
forecast is ``x·β`` and its 95 % prediction band ``± 1.96 · s · sqrt(1 + xᵀ(XᵀX)⁻¹x)``: the
day's own noise plus the uncertainty of the fitted trend, so the band widens with the horizon
(a normal approximation; no Student's t, no autocorrelation, no saturation at 100 %).

The **7-day mean** ending on a day is the model's mean over that day and the six before it (the
weekday pattern cancels: what is left is the trend), with the mean ``a`` of those seven rows of
regressors and the band ``± 1.96 · s · sqrt(1/7 + aᵀ(XᵀX)⁻¹a)``: the noise of seven days
averaged (taken as independent) and the trend's uncertainty. The **crossing** is the first
future day whose 7-day mean reaches the threshold; the **earliest** and **latest** are the
first days the band's upper and lower edges reach it. ``already``: the mean of the last seven
days of the history reaches it. ``not within the horizon``: no crossing by the forecast in
``horizon_days`` (the latest may then be missing while an earliest exists). ``not enough
data``: fewer than ``min_days`` days of history.

It is meant to flag a station to look at, not to plan a build-out: a straight line through a
few weeks says nothing of seasons, new stations nearby or price changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

__all__ = ["Z95", "Forecast", "ForecastDay", "forecast"]

Z95 = 1.96
WINDOW = 7


@dataclass(frozen=True)
class ForecastDay:
    """One day of the horizon: the day's forecast and its 95 % prediction band; the 7-day mean
    ending that day and its band (what the crossing is read from)."""

    day: date
    value: float
    low: float
    high: float
    mean7: float
    mean7_low: float
    mean7_high: float


@dataclass(frozen=True)
class Forecast:
    status: str  # crosses | already | not within the horizon | not enough data
    threshold: float
    horizon_days: int
    history: tuple[tuple[date, float], ...]
    fitted: tuple[float, ...]  # the model on the history's days
    days: tuple[ForecastDay, ...]  # the horizon
    slope_per_day: float | None
    residual_sd: float | None
    crossing: date | None
    earliest: date | None
    latest: date | None

    def describe(self) -> str:
        """One line for a table."""
        if self.status == "crosses":
            latest = self.latest.isoformat() if self.latest else "beyond the horizon"
            earliest = self.earliest.isoformat() if self.earliest else "?"
            return f"{self.crossing} (earliest {earliest}, latest {latest})"
        if self.status == "not within the horizon" and self.earliest is not None:
            return f"not within {self.horizon_days} days (earliest {self.earliest})"
        if self.status == "not within the horizon":
            return f"not within {self.horizon_days} days"
        return self.status


def _design(t: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    cols = [np.ones_like(t, dtype=float), t.astype(float)]
    cols += [(weekdays == d).astype(float) for d in range(1, 7)]
    return np.column_stack(cols)


def _first_reaching(days: Sequence[date], curve: np.ndarray, threshold: float) -> date | None:
    hits = np.nonzero(curve >= threshold)[0]
    return days[int(hits[0])] if hits.size else None


def forecast(history: Sequence[tuple[date, float]], threshold: float, horizon_days: int = 180,
             min_days: int = 14) -> Forecast:
    """Fit ``history`` (consecutive days, oldest first) and look ``horizon_days`` ahead."""
    hist = tuple((d, float(v)) for d, v in history)
    if len(hist) < max(min_days, 9):  # 8 parameters and one degree of freedom at least
        return Forecast("not enough data", threshold, horizon_days, hist, (), (), None, None,
                        None, None, None)
    n = len(hist)
    y = np.array([v for _, v in hist])
    first = hist[0][0]
    x = _design(np.arange(n), np.array([d.weekday() for d, _ in hist]))
    beta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ beta
    s = float(np.sqrt(np.sum((y - fitted) ** 2) / max(n - int(rank), 1)))
    cov = np.linalg.pinv(x.T @ x)
    # the model's rows from six days before the horizon (the first windows reach back)
    all_t = np.arange(n - (WINDOW - 1), n + horizon_days)
    all_x = _design(all_t, np.array([(first + timedelta(days=int(k))).weekday()
                                     for k in all_t]))
    xf = all_x[WINDOW - 1:]
    future_days = [first + timedelta(days=int(k)) for k in all_t[WINDOW - 1:]]
    value = xf @ beta
    spread = Z95 * s * np.sqrt(1.0 + np.einsum("ij,jk,ik->i", xf, cov, xf))
    # the 7-day mean ending on each day: its mean regressors, and the noise of 7 days averaged
    xm = np.stack([all_x[i:i + WINDOW].mean(axis=0) for i in range(horizon_days)])
    mean = xm @ beta
    mean_spread = Z95 * s * np.sqrt(1.0 / WINDOW + np.einsum("ij,jk,ik->i", xm, cov, xm))
    days = tuple(ForecastDay(d, float(v), float(v - e), float(v + e), float(m),
                             float(m - me), float(m + me))
                 for d, v, e, m, me in zip(future_days, value, spread, mean, mean_spread,
                                           strict=True))
    crossing = _first_reaching(future_days, mean, threshold)
    earliest = _first_reaching(future_days, mean + mean_spread, threshold)
    latest = _first_reaching(future_days, mean - mean_spread, threshold)
    if float(np.mean(y[-WINDOW:])) >= threshold:
        status = "already"
        crossing, earliest, latest = hist[-1][0], None, None
    elif crossing is not None:
        status = "crosses"
    else:
        status = "not within the horizon"
    return Forecast(status, threshold, horizon_days, hist, tuple(float(v) for v in fitted), days,
                    float(beta[1]), s, crossing, earliest, latest)
