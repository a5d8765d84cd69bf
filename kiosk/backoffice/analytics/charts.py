"""The report's charts: matplotlib figures (no pyplot, so no global backend or state: Agg for
PNG, the SVG backend for SVG), each returned as SVG text to put inline, or as PNG bytes.

Every chart states its period, its definition in a line and its thresholds, in the figure
itself: a chart copied out of the report keeps them. Text stays text in the SVG
(``svg.fonttype = none``; DejaVu Sans, which Debian ships and matplotlib bundles); the ids are
salted with the chart's name so several SVGs inline in one page do not share ids, and no date
is written, so the same figures give the same bytes.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib as mpl
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kiosk.backoffice.analytics.forecast import Forecast
from kiosk.backoffice.analytics.queries import (
    ATTEMPT_EXCLUDED,
    Availability,
    HourCell,
    Outcomes,
    Period,
    RevenueBucket,
    Thresholds,
    Usage,
)

__all__ = ["CHARTS", "availability_chart", "forecast_chart", "major", "peak_chart",
           "revenue_chart", "success_chart", "text", "to_png", "to_svg", "utilization_chart"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# ISO 4217 minor units other than 2 (the currencies a European kiosk may meet)
_EXPONENT = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "HUF": 2, "BHD": 3, "KWD": 3, "JOD": 3,
             "OMR": 3, "TND": 3}
GREEN, RED, GREY, BLUE, AMBER = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0", "#ef6c00"
STYLE: dict[Any, Any] = {"font.family": "DejaVu Sans", "font.size": 9, "svg.fonttype": "none",
         "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 11,
         "axes.titleweight": "bold", "axes.titlelocation": "left"}
WIDTH = 9.0  # inches
NOTE_CHARS = 150  # a line of the notes under a chart (7.5 pt across WIDTH)


def text(s: str) -> str:
    """Text from the database for a label: ``$`` would start matplotlib's mathtext (the SVG
    writer escapes the rest for XML)."""
    return s.replace("$", r"\$")


def major(minor: int, currency: str) -> float:
    return float(minor / 10 ** _EXPONENT.get(currency, 2))


def _figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, height), layout="constrained")


def _notes(fig: Figure, *lines: str) -> None:
    """The definition, the period and the thresholds under the chart."""
    wrapped = [w for line in lines for w in textwrap.wrap(line, NOTE_CHARS)]
    fig.supxlabel("\n".join(wrapped), fontsize=7.5, color="#424242", ha="left", x=0.01)


def _legend(ax: Any, handles: Sequence[Any] | None = None) -> None:
    """Above the figure's axes, on the right (the titles are on the left of their axes):
    never over the data, a title or the tick labels."""
    handles = list(handles) if handles is not None else ax.get_legend_handles_labels()[0]
    ax.figure.legend(handles, [h.get_label() for h in handles], loc="outside upper right",
                     ncols=4, fontsize=7.5, frameon=False)


def to_svg(fig: Figure, name: str) -> str:
    """The figure as SVG text without the XML prolog (ready to inline)."""
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": name}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", buf.getvalue())
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, count=1, flags=re.S)
    return re.sub(r"^<!DOCTYPE[^>]*>\s*", "", svg)


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _empty(ax: Any, text: str = "no data in the period") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def _pct(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0))


def utilization_chart(usage: Sequence[Usage], period: Period, th: Thresholds) -> Figure:
    stations = [u for u in usage if u.level == "station"]
    with mpl.rc_context(STYLE):
        fig = _figure(1.6 + 0.28 * max(len(stations), 3))
        ax = fig.add_subplot()
        ax.set_title("Utilization per station")
        if not stations:
            _empty(ax)
        else:
            names = [text(u.station_id) for u in stations]
            y = list(range(len(stations)))
            h = 0.27
            occ = [u.occupancy_share or 0.0 for u in stations]
            chg = [u.charging_share or 0.0 for u in stations]
            idle = [u.idle_share or 0.0 for u in stations]
            ax.barh([v - h for v in y], occ, h, color=BLUE, label="occupancy (plugged in)")
            ax.barh(y, chg, h, color=GREEN, label="charging")
            ax.barh([v + h for v in y], idle, h, color=AMBER, label="idle after charging")
            ax.axvline(th.underused_share, color=RED, ls="--", lw=1,
                       label=f"under-used below {th.underused_share:.0%} charging")
            ax.set_yticks(y, names)
            ax.invert_yaxis()
            _pct(ax)
            ax.set_xlim(0, max([*occ, th.underused_share, 0.01]) * 1.15)
            _legend(ax)
        _notes(fig, f"Period: {period.label()}.",
               "Share of connectors × period: charging [charge start, stop]; occupancy "
               "[charge start, session end]; idle [charge stop, session end]; each clipped to "
               "the period.")
    return fig


def peak_chart(cells: Sequence[HourCell], period: Period, what: str = "sessions") -> Figure:
    with mpl.rc_context(STYLE):
        fig = _figure(3.4)
        ax = fig.add_subplot()
        ax.set_title("Peak hours: sessions started by local weekday and hour" if what ==
                     "sessions" else "Peak hours: energy (kWh) by local weekday and hour")
        grid = [[0.0] * 24 for _ in range(7)]
        for c in cells:
            grid[c.dow][c.hour] = c.sessions if what == "sessions" else c.energy_wh / 1000
        top = max(max(row) for row in grid)
        cmap = LinearSegmentedColormap.from_list("peak", ["#f5f5f5", "#90caf9", "#0d47a1"])
        im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0, vmax=top or 1)
        ax.set_yticks(range(7), DAYS)
        ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
        ax.set_xlabel("local hour of the start")
        if top:
            for d in range(7):
                for h in range(24):
                    if grid[d][h]:
                        ax.text(h, d, f"{grid[d][h]:.0f}", ha="center", va="center",
                                fontsize=6.5,
                                color="white" if grid[d][h] > top * 0.6 else "#212121")
        fig.colorbar(im, ax=ax, shrink=0.9, label=what if what == "sessions" else "kWh")
        _notes(fig, f"Period: {period.label()}. Sessions created in the period, by the "
                    f"station's local weekday and hour of Start (Monday first).")
    return fig


def revenue_chart(buckets: Sequence[RevenueBucket], period: Period) -> Figure:
    """Per currency: revenue by day with the growth against the previous day, and by ISO week
    with the week-on-week growth written over each bar."""
    days = [b for b in buckets if b.granularity == "day"]
    weeks = [b for b in buckets if b.granularity == "week"]
    currencies = sorted({b.currency for b in days}) or [""]
    with mpl.rc_context(STYLE):
        fig = _figure(1.3 + 4.6 * len(currencies))
        axes = fig.subplots(2 * len(currencies), 1, squeeze=False)[:, 0]
        for i, cur in enumerate(currencies):
            ax, wx = axes[2 * i], axes[2 * i + 1]
            rows = [b for b in days if b.currency == cur]
            ax.set_title(text(f"Revenue by day{f' ({cur})' if cur else ''}"))
            wx.set_title(text(f"Revenue by ISO week{f' ({cur})' if cur else ''}, growth "
                              f"against the previous week"))
            if not rows:
                _empty(ax)
                _empty(wx)
                continue
            x = list(range(len(rows)))
            ax.bar(x, [major(b.revenue_minor, cur) for b in rows],
                   color=[GREY if b.partial else BLUE for b in rows], label="revenue")
            ax.set_ylabel(text(cur))
            step = max(1, len(rows) // 15)
            ax.set_xticks(x[::step], [b.label[5:] for b in rows][::step])
            g = ax.twinx()
            g.spines["right"].set_visible(True)
            # NaN where there is no growth: the line breaks there
            g.plot(x, [math.nan if b.growth is None else b.growth for b in rows], "o-",
                   color=AMBER, ms=3, lw=1, label="growth vs previous day")
            g.axhline(0, color=GREY, lw=0.6)
            _pct(g, "y")
            g.set_ylabel("growth")
            _legend(ax, ax.get_legend_handles_labels()[0] + g.get_legend_handles_labels()[0])
            wrows = [b for b in weeks if b.currency == cur]
            wxs = list(range(len(wrows)))
            bars = wx.bar(wxs, [major(b.revenue_minor, cur) for b in wrows],
                          color=[GREY if b.partial else BLUE for b in wrows])
            wx.bar_label(bars, ["" if b.growth is None else f"{b.growth:+.0%}" for b in wrows],
                         fontsize=7, color=AMBER, padding=2)
            wx.set_xticks(wxs, [b.label[2:] for b in wrows],
                          rotation=0 if len(wrows) <= 14 else 90)
            wx.set_ylabel(text(cur))
            wx.margins(y=0.15)
        _notes(fig, f"Period: {period.label()}.",
               "Captured amounts of the paid sessions by the station's local date of Start "
               "and its ISO week; grey: a bucket the period holds only in part (UTC bounds). "
               "Growth: the bucket's whole revenue against the previous bucket's; none after "
               "one without revenue, nor for a bucket the period's end cuts.")
    return fig


def success_chart(fleet: Outcomes, period: Period) -> Figure:
    with mpl.rc_context(STYLE):
        fig = _figure(3.3)
        ax, bx = fig.subplots(1, 2, width_ratios=(1, 1.3))
        rate = fleet.success_rate
        ax.set_title("Sessions by result" + (f": success {rate:.1%}" if rate is not None
                                              else ""))
        if not fleet.sessions:
            _empty(ax)
            _empty(bx)
        else:
            names = [r for r, _ in fleet.by_result]
            counts = [n for _, n in fleet.by_result]
            colors = [GREEN if r == "paid" else GREY if r in ATTEMPT_EXCLUDED else RED
                      for r in names]
            ax.barh(names, counts, color=colors)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            ax.set_xlim(0, max(counts) * 1.18 or 1)
            ax.invert_yaxis()
            for i, n in enumerate(counts):
                ax.text(n, i, f" {n}", va="center", fontsize=7.5)
            bx.set_title("Failed attempts by reason (say)")
            top = fleet.by_say[:12]
            if top:
                bx.barh([text(f"{res}: {say or '—'}") for res, say, _ in top],
                        [n for *_, n in top],
                        color=RED)
                bx.invert_yaxis()
                bx.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            else:
                _empty(bx, "no failed attempt")
        _notes(fig, f"Period: {period.label()}. Sessions created in the period.",
               "Attempts = sessions whose result is not 'driver' nor 'none' (grey). Success "
               "rate = paid ÷ attempts; failures: declined, card, host, charger (red).")
    return fig


def availability_chart(rows: Sequence[Availability], period: Period) -> Figure:
    with mpl.rc_context(STYLE):
        fig = _figure(1.6 + 0.28 * max(len(rows), 3))
        ax = fig.add_subplot()
        ax.set_title("Availability per station")
        if not rows:
            _empty(ax)
        else:
            y = list(range(len(rows)))
            ins = [a.in_service_share or 0.0 for a in rows]
            ax.barh(y, ins, 0.6, color=GREEN, label="in service")
            ax.barh(y, [1 - v for v in ins], 0.6, left=ins, color=GREY, label="out of service")
            ax.barh([v + 0.38 for v in y], [a.faulted_share or 0.0 for a in rows], 0.16,
                    color=RED, label="faulted (may overlap either)")
            ax.set_yticks(y, [text(a.station_id) for a in rows])
            ax.invert_yaxis()
            ax.set_xlim(0, 1)
            _pct(ax)
            _legend(ax)
        _notes(fig, f"Period: {period.label()}.",
               "From the health events: the state after an event holds until the next; "
               "before the period, that of the last event before it; no event: in service.")
    return fig


def forecast_chart(forecasts: Sequence[tuple[str, Forecast]], period: Period,
                   th: Thresholds) -> Figure:
    shown = list(forecasts)[:6]
    with mpl.rc_context(STYLE):
        rows = max(1, (len(shown) + 1) // 2)
        fig = _figure(1.3 + 2.4 * rows)
        axes = fig.subplots(rows, 2 if len(shown) > 1 else 1, squeeze=False).ravel()
        if not shown:
            axes[0].set_title("Occupancy forecast")
            _empty(axes[0], "no station with sessions")
        for ax, (sid, f) in zip(axes, shown, strict=False):
            ax.set_title(text(f"{sid}: {f.describe()}"), fontsize=8.5)
            if f.history:
                ax.plot([d for d, _ in f.history], [v for _, v in f.history], color=BLUE,
                        lw=1, label="daily occupancy")
            if f.days:
                days = [d.day for d in f.days]
                ax.plot([d for d, _ in f.history], f.fitted, color=GREY, lw=0.8,
                        label="model")
                ax.plot(days, [d.value for d in f.days], color=GREY, ls=":", lw=0.8)
                ax.fill_between(days, [max(d.mean7_low, 0) for d in f.days],
                                [d.mean7_high for d in f.days], color="#bbdefb",
                                label="7-day mean: 95 % band")
                ax.plot(days, [d.mean7 for d in f.days], color=BLUE, lw=1.4,
                        label="7-day mean forecast")
            ax.axhline(f.threshold, color=RED, ls="--", lw=1,
                       label=f"threshold {f.threshold:.0%}")
            if f.crossing is not None:
                ax.axvline(f.crossing, color=RED, lw=0.6)
            _pct(ax, "y")
            ax.set_ylim(bottom=0)
            ax.tick_params(axis="x", labelsize=7, rotation=30)
        for ax in axes[len(shown):]:
            ax.set_visible(False)
        if shown:
            _legend(axes[0])
        _notes(fig, f"History: {period.label()}. Forecast {th.forecast_horizon_days} days.",
               "Daily occupancy share (sessions started that local date ÷ connectors × 24 h); "
               "least squares: linear trend + weekday levels (grey; dotted: the days ahead). "
               "Crossing: the first day the 7-day mean of the forecast reaches the threshold; "
               "earliest and latest: its 95 % band's edges.")
    return fig


CHARTS: dict[str, Callable[..., Figure]] = {
    "utilization": utilization_chart, "peak": peak_chart, "revenue": revenue_chart,
    "success": success_chart, "availability": availability_chart, "forecast": forecast_chart,
}
