"""The analytics report: one self-contained ``index.html`` (inline CSS, the charts inline as
SVG, no script, nothing fetched), the same charts as ``charts/*.svg`` beside it, and one CSV per
table (``csv`` module, a header row, plain numbers: integers, shares as fractions to six
places, money in integer minor units with a currency column, dates ISO 8601, empty for none).

Data → structure → template: :func:`kiosk.backoffice.analytics.queries.compute` gives the
figures, :func:`sections` turns them into titled sections of tables and charts, each with its
definition, the period and the thresholds, and the Jinja2 template
(``kiosk/backoffice/templates/analytics.html``, autoescaped) lays them out. Text from the
database (station ids, sites, reason codes) is escaped by the template and by matplotlib's SVG
writer; ``$`` is escaped for matplotlib so that no label turns into mathtext.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from kiosk.backoffice.analytics import charts
from kiosk.backoffice.analytics import customers as cu
from kiosk.backoffice.analytics.forecast import Forecast
from kiosk.backoffice.analytics.queries import (
    DEFINITIONS,
    RESULTS,
    Analytics,
    Money,
    Period,
    Thresholds,
    compute,
)
from kiosk.backoffice.storage import Database

__all__ = ["HTML_ROWS", "Report", "Section", "Table", "chart_figures", "page_html", "render",
           "sections", "write_report"]

HTML_ROWS = 200  # a table longer than that shows its first rows; the CSV has them all
FORECAST_CHARTS = 6

Fmt = Callable[[Any], str]


@dataclass(frozen=True)
class Table:
    """One table: its CSV (``file``: ``columns`` and the raw ``rows``) and how the page shows
    it (``heads``, default the columns; ``formats`` per column, None: as text; a column named
    ``*_minor`` in a table with a ``currency`` column shows in major units of the row's
    currency; ``page``: other rows for the page than the CSV's, () for none)."""

    file: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    formats: tuple[Fmt | None, ...] = ()
    heads: tuple[str, ...] = ()
    page: tuple[tuple[Any, ...], ...] | None = None

    @property
    def headings(self) -> tuple[str, ...]:
        return self.heads or self.columns

    def shown(self, limit: int = HTML_ROWS) -> list[list[str]]:
        fmts = list(self.formats or (None,) * len(self.columns))
        cur = self.columns.index("currency") if "currency" in self.columns else None
        out = []
        for row in (self.rows if self.page is None else self.page)[:limit]:
            cells = []
            for i, (f, v) in enumerate(zip(fmts, row, strict=True)):
                if cur is not None and self.columns[i].endswith("_minor") and f is None:
                    cells.append(_money(v, str(row[cur])))
                else:
                    cells.append((f or _plain)(v))
            out.append(cells)
        return out


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    definition: str
    notes: tuple[str, ...] = ()
    charts: tuple[str, ...] = ()  # chart names (charts/NAME.svg)
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True)
class Report:
    index: Path
    csv_files: tuple[Path, ...]
    svg_files: tuple[Path, ...]
    analytics: Analytics = field(repr=False)
    customers: cu.CustomerFigures | None = field(default=None, repr=False)


# --- formats ------------------------------------------------------------------------------

def _plain(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "—" if v is None or v == "" else str(v)


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f} %"


def growth(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f} %"


def unknown(v: str | None) -> str:
    return v or "unknown"


def _all(_v: Any) -> str:
    return "all"


def kwh(wh: int | None) -> str:
    return "—" if wh is None else f"{wh / 1000:,.1f}"


def hours(s: int | None) -> str:
    return "—" if s is None else f"{s / 3600:,.1f}"


def num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def _money(minor: int | None, currency: str) -> str:
    if minor is None:
        return "—"
    exp = charts._EXPONENT.get(currency, 2)
    return f"{minor / 10 ** exp:,.{exp}f} {currency}"


def _revenue(rev: Sequence[Money]) -> str:
    return ", ".join(_money(m.minor, m.currency) for m in rev) or "—"


def csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, date):
        return v.isoformat()
    return v


# --- the structure --------------------------------------------------------------------------

def sections(a: Analytics, customers: cu.CustomerFigures | None = None) -> list[Section]:
    """The report's sections, tables and charts: what the template and the CSVs show (the
    customers' section when ``customers`` is given)."""
    th, period = a.thresholds, a.period
    out = [_summary(a)]
    # utilization
    use_cols = ("site", "station_id", "connector", "connectors", "sessions", "energy_wh",
                "charging_s", "occupied_s", "idle_s", "capacity_s", "charging_share",
                "occupancy_share", "idle_share", "in_service_s", "adjusted_share")
    use_fmts: tuple[Fmt | None, ...] = (None, None, None, None, None, kwh, hours, hours, hours,
                                        hours, pct, pct, pct, hours, pct)

    def use_rows(level: str) -> tuple[tuple[Any, ...], ...]:
        return tuple((u.site, u.station_id, u.connector or None, u.connectors, u.sessions,
                      u.energy_wh, u.charging_s, u.occupied_s, u.idle_s, u.capacity_s,
                      u.charging_share, u.occupancy_share, u.idle_share, u.in_service_s,
                      u.adjusted_share) for u in a.level(level))

    heads = ("site", "station", "connector", "connectors", "sessions", "energy (kWh)",
             "charging (h)", "occupied (h)", "idle (h)", "capacity (h)", "charging",
             "occupancy", "idle", "in service (connector-h)", "charging ÷ in service")
    revenue_rows = tuple((u.level, u.site, u.station_id, u.connector or None, m.currency,
                          m.minor) for u in a.usage for m in u.revenue)
    out.append(Section(
        "utilization", "Utilization", DEFINITIONS["utilization"],
        (f"Period: {period.label()}.", "Energy and sessions: the sessions created in the "
         "period (whole); times: the part of each session inside the period."),
        ("utilization",),
        (Table("usage_sites.csv", "Per site", use_cols, use_rows("site"), use_fmts, heads),
         Table("usage_stations.csv", "Per station", use_cols, use_rows("station"), use_fmts,
                heads),
         Table("usage_connectors.csv", "Per connector", use_cols, use_rows("connector"),
                use_fmts, heads),
         Table("revenue_by_station.csv", "Revenue per site, station and connector (minor units)",
               ("level", "site", "station_id", "connector", "currency", "revenue_minor"),
               revenue_rows, (), ("level", "site", "station", "connector", "currency",
                                  "revenue")))))
    # availability
    av_cols = ("site", "station_id", "stations", "period_s", "in_service_s", "faulted_s",
               "in_service_share", "out_of_service_share", "faulted_share", "faults", "events")
    av_fmts: tuple[Fmt | None, ...] = (None, None, None, hours, hours, hours, pct, pct, pct,
                                       None, None)
    av_heads = ("site", "station", "stations", "period (h)", "in service (h)", "faulted (h)",
                "in service", "out of service", "faulted", "faults begun", "health events")

    def av_rows(rows: Sequence[Any]) -> tuple[tuple[Any, ...], ...]:
        return tuple((x.site, x.station_id, x.stations, x.period_s, x.in_service_s,
                      x.faulted_s, x.in_service_share, x.out_of_service_share, x.faulted_share,
                      x.faults, x.events) for x in rows)

    out.append(Section(
        "availability", "Availability", DEFINITIONS["availability"],
        (f"Period: {period.label()}.",), ("availability",),
        (Table("availability_stations.csv", "Per station", av_cols, av_rows(a.availability),
                av_fmts, av_heads),
         Table("availability_sites.csv", "Per site (station-hours)", av_cols,
                av_rows(a.site_availability), av_fmts, av_heads))))
    # success
    others = tuple(r for r in RESULTS if r != "paid")
    oc_cols = ("station_id", "sessions", "attempts", "paid", "failed", "success_rate", *others)
    oc_rows = tuple((o.station_id or "(all)", o.sessions, o.attempts, o.paid, o.failed,
                     o.success_rate, *(n for r, n in o.by_result if r != "paid"))
                    for o in a.outcomes)
    fleet = a.outcomes[0]
    out.append(Section(
        "success", "Session success and failures", DEFINITIONS["success"],
        (f"Period: {period.label()}.", "Attempts exclude: " + ", ".join(
            f"'{r}'" for r in ("driver", "none")) + "."),
        ("success",),
        (Table("outcomes.csv", "Per station (the first row: all stations)", oc_cols, oc_rows,
                (None, None, None, None, None, pct) + (None,) * len(others),
                ("station", "sessions", "attempts", "paid", "failed", "success rate",
                 *others)),
         Table("failures_by_say.csv", "Failed attempts by result and reason (say), all "
               "stations", ("result", "say", "sessions"), fleet.by_say))))
    # peaks
    peak_rows = tuple((c.dow, charts.DAYS[c.dow], c.hour, c.sessions, c.energy_wh)
                      for c in a.peak)
    busiest = tuple(sorted((r for r in peak_rows if r[3]), key=lambda r: (-r[3], r[0], r[2]))[:10])
    out.append(Section(
        "peak", "Peak hours", DEFINITIONS["peak"], (f"Period: {period.label()}.",),
        ("peak", "peak_energy"),
        (Table("peak_hours.csv", "The ten busiest hours (all 168 in the CSV)",
               ("dow", "day", "hour", "sessions", "energy_wh"), peak_rows,
               (None, None, None, None, kwh), ("weekday", "day", "hour", "sessions",
                                               "energy (kWh)"), busiest),)))
    # revenue
    rev_cols = ("granularity", "label", "first_date", "last_date", "currency", "sessions",
                "paid", "energy_wh", "revenue_minor", "whole_minor", "previous_minor",
                "partial", "growth")
    rev_heads = ("bucket", "label", "first date", "last date", "currency", "sessions", "paid",
                 "paid energy (kWh)", "revenue", "whole bucket", "previous bucket",
                 "partial", "growth")
    rev_fmts: tuple[Fmt | None, ...] = (None, None, None, None, None, None, None, kwh,
                                        None, None, None,
                                        lambda v: "partial" if v else "", growth)

    def rev_rows(g: str) -> tuple[tuple[Any, ...], ...]:
        return tuple((b.granularity, b.label, b.first_date, b.last_date, b.currency,
                      b.sessions, b.paid, b.energy_wh, b.revenue_minor, b.whole_minor,
                      b.previous_minor, b.partial, b.growth)
                     for b in a.revenue if b.granularity == g)

    avg_rows = tuple((x.currency, x.paid, x.energy_wh, x.revenue_minor, x.timed, x.charging_s,
                      x.idle_s, x.avg_kwh, x.avg_charging_min, x.avg_idle_min,
                      x.avg_amount_minor, x.price_per_kwh_minor) for x in a.averages)
    out.append(Section(
        "revenue", "Revenue", DEFINITIONS["revenue"],
        (f"Period: {period.label()}.", DEFINITIONS["averages"]), ("revenue",),
        (Table("revenue_day.csv", "By day", rev_cols, rev_rows("day"), rev_fmts, rev_heads),
         Table("revenue_week.csv", "By ISO week", rev_cols, rev_rows("week"), rev_fmts,
                rev_heads),
         Table("revenue_month.csv", "By month", rev_cols, rev_rows("month"), rev_fmts,
                rev_heads),
         Table("averages.csv", "Average paid session, and price per kWh",
                ("currency", "paid", "energy_wh", "revenue_minor", "timed", "charging_s",
                 "idle_s", "avg_kwh", "avg_charging_min", "avg_idle_min", "avg_amount_minor",
                 "price_per_kwh_minor"), avg_rows,
                (None, None, kwh, None, None, hours, hours, num, num, num, None, None),
                ("currency", "paid sessions", "energy (kWh)", "revenue",
                 "with charge times", "charging (h)", "idle (h)", "kWh per session",
                 "minutes charging", "minutes idle after charging", "average amount",
                 "price per kWh")))))
    # loads
    th_text = th.describe()
    load_rows = tuple((x.site, x.station_id, x.connectors, x.sessions, x.charging_share,
                       None if x.peak_dow is None else charts.DAYS[x.peak_dow], x.peak_hour,
                       x.peak_occupancy, x.back_to_back, x.back_to_back_share, x.under_used,
                       x.congested, "; ".join(x.reasons)) for x in a.loads)
    yes: Fmt = lambda v: "yes" if v else ""  # noqa: E731
    out.append(Section(
        "loads", "Under-used and congested stations", DEFINITIONS["loads"],
        (f"Period: {period.label()}.", f"Under-used: {th_text['under-used']}.",
         f"Congested: {th_text['congested']}."), (),
        (Table("loads.csv", "Per station", (
            "site", "station_id", "connectors", "sessions", "charging_share", "peak_day",
            "peak_hour", "peak_occupancy", "back_to_back", "back_to_back_share", "under_used",
            "congested", "reasons"), load_rows,
            (None, None, None, None, pct, None, None, pct, None, pct, yes, yes, None),
            ("site", "station", "connectors", "sessions", "charging", "peak day", "peak hour",
             "peak-hour occupancy", "back to back", "back-to-back share", "under-used",
             "congested", "why")),)))
    # payment
    p = a.payment

    def scheme_rows(rows: Sequence[Any]) -> tuple[tuple[Any, ...], ...]:
        return tuple((s.scheme, s.interface, s.sessions, s.attempts, s.paid, s.declined,
                      s.success_rate, _revenue(s.revenue)) for s in rows)

    sc_cols = ("scheme", "interface", "sessions", "attempts", "paid", "declined",
               "success_rate", "revenue")
    sc_heads = ("scheme", "interface", "sessions", "attempts", "paid", "declined",
                "success rate", "revenue")
    sc_fmts: tuple[Fmt | None, ...] = (unknown, unknown, None, None, None, None, pct, None)
    out.append(Section(
        "payment", "Payment health", DEFINITIONS["payment"],
        (f"Period: {period.label()}.", f"Reversals: {p.reversals}.",
         "Pending settlements: not in the facts, not shown."), (),
        (Table("payment_declines.csv", "Declines by reason (say)", ("say", "sessions"),
               p.declines_by_say),
         Table("payment_reversals.csv", "Reversals per station", ("station_id", "sessions"),
               p.reversed_stations, (), ("station", "sessions")),
         Table("payment_schemes.csv", "By card scheme", sc_cols, scheme_rows(p.by_scheme),
               (unknown, _all, *sc_fmts[2:]), sc_heads),
         Table("payment_interfaces.csv", "Contact and contactless", sc_cols,
               scheme_rows(p.by_interface), (_all, unknown, *sc_fmts[2:]), sc_heads),
         Table("payment_scheme_interface.csv", "By scheme and interface", sc_cols,
               scheme_rows(p.schemes), sc_fmts, sc_heads))))
    # trends
    prev = a.previous_period
    tr_rows = tuple((g.level, g.site, g.station_id, g.sessions, g.previous_sessions,
                     g.sessions_growth, g.energy_wh, g.previous_energy_wh, g.energy_growth)
                    for g in a.trends)
    out.append(Section(
        "trends", "Trends", DEFINITIONS["trends"],
        (f"Period: {period.label()}; previous: {prev.label()}.",), (),
        (Table("trends.csv", "Per station and site", (
            "level", "site", "station_id", "sessions", "previous_sessions", "sessions_growth",
            "energy_wh", "previous_energy_wh", "energy_growth"), tr_rows,
            (None, None, None, None, None, growth, kwh, kwh, growth),
            ("level", "site", "station", "sessions", "previous", "growth", "energy (kWh)",
             "previous (kWh)", "growth")),)))
    # forecast
    fc_rows = tuple((sid, f.status, f.threshold, f.crossing, f.earliest, f.latest,
                     f.slope_per_day, f.residual_sd, len(f.history), f.horizon_days)
                    for sid, f in sorted(a.forecasts.items()))
    fc_days = tuple((sid, "history", d, v, None, None, None, None, None)
                    for sid, f in sorted(a.forecasts.items()) for d, v in f.history) + tuple(
        (sid, "forecast", d.day, d.value, d.low, d.high, d.mean7, d.mean7_low, d.mean7_high)
        for sid, f in sorted(a.forecasts.items()) for d in f.days)
    out.append(Section(
        "forecast", "Occupancy forecast", DEFINITIONS["forecast"],
        (f"History: {period.label()}.", f"Threshold: {th_text['forecast']}.",
         "The model and its limits: kiosk/backoffice/analytics/forecast.py."), ("forecast",),
        (Table("forecast.csv", "Per station", (
            "station_id", "status", "threshold", "crossing", "earliest", "latest",
            "slope_per_day", "residual_sd", "history_days", "horizon_days"), fc_rows,
            (None, None, pct, None, None, None, lambda v: growth(v).replace(" %", " pt/day")
             if v is not None else "—", pct, None, None),
            ("station", "status", "threshold", "crossing", "earliest", "latest",
             "trend (share per day)", "residual sd", "history (days)", "horizon (days)")),
         Table("forecast_days.csv", "Every day of history and forecast",
               ("station_id", "kind", "date", "value", "low", "high", "mean7", "mean7_low",
                "mean7_high"), fc_days, page=()))))
    if customers is not None:
        out.append(customers_section(customers, a.station))
    return out


def customers_section(c: cu.CustomerFigures, station: str | None = None) -> Section:
    """Segments by card token, the suggested plans and their simulated effect
    (:mod:`kiosk.backoffice.analytics.customers`)."""
    name: Fmt = lambda v: cu.SEGMENT_NAMES.get(str(v), str(v))  # noqa: E731
    rules = c.rules.describe()
    notes = (f"Period: {c.period.label()}.",
             *(("All stations: a card's segment is over the whole fleet (the station filter "
                "does not apply here).",) if station else ()),
             *(f"{k}: {v}." for k, v in rules.items()),
             cu.DEFINITIONS["plans"],
             "Card tokens are the same at every terminal (the operator-wide card token key "
             "given at provisioning); no card data is in the facts.")
    seg_rows = tuple((s.segment, s.currency, s.tokens, s.sessions, s.revenue_minor,
                      s.energy_wh, s.share) for s in c.segments)
    plan_rows = tuple((e.plan.id, e.segment, e.currency, str(e.plan.percent_off),
                       e.hours_text(), e.min_sessions_month, e.members, e.member_sessions,
                       e.discounted_sessions, e.change_minor, e.change_share,
                       e.break_even_sessions, e.revenue_before_minor, e.revenue_after_minor,
                       e.member_before_minor, e.member_after_minor, e.avg_member_after_minor,
                       e.plan.name) for e in c.effects)
    top_rows = tuple((x.card_token, x.currency, x.segment, x.sessions, x.per_month,
                      x.spend_minor, x.energy_wh, x.night_share, x.commute_share, x.stations,
                      x.sites, x.home_station) for x in c.top)
    return Section(
        "customers", "Customers and plans", cu.DEFINITIONS["segments"], notes, (),
        (Table("customer_segments.csv", "Segments (by card token)",
               ("segment", "currency", "tokens", "sessions", "revenue_minor", "energy_wh",
                "revenue_share"), seg_rows, (name, None, None, None, None, kwh, pct),
               ("segment", "currency", "cards", "sessions", "revenue", "energy (kWh)",
                "share of revenue")),
         Table("customer_plans.csv", "Suggested plans and their simulated effect (no change "
               "in behaviour assumed)",
               ("plan_id", "segment", "currency", "percent_off", "hours", "min_sessions_month",
                "members", "member_sessions", "discounted_sessions", "change_minor",
                "change_share", "break_even_sessions", "revenue_before_minor",
                "revenue_after_minor", "member_before_minor", "member_after_minor",
                "avg_member_after_minor", "name"), plan_rows,
               (None, name, None, lambda v: f"{v} %", None, None, None, None, None, None,
                growth, None, None, None, None, None, None, None),
               ("plan", "segment", "currency", "off", "hours", "after N", "members",
                "sessions", "discounted", "change", "change %", "break-even",
                "revenue before", "revenue after", "members before", "members after",
                "member average after", "name")),
         Table("customer_top.csv", f"The {cu.TOP_CUSTOMERS} cards with the highest spend",
               ("card_token", "currency", "segment", "sessions", "per_month", "spend_minor",
                "energy_wh", "night_share", "commute_share", "stations", "sites",
                "home_station"),
               top_rows, (lambda v: f"{v[:12]}…", None, name, None, num, None, kwh, pct, pct,
                          None, None, None),
               ("card token", "currency", "segment", "sessions", "a month", "spend",
                "energy (kWh)", "at night", "commute hours", "stations", "sites",
                "home station"))))


def _summary(a: Analytics) -> Section:
    notes = (f"Period: {a.period.label()}.",
             f"Stations: {a.station or 'all'}.",
             f"Computed at {a.computed_at} from the back office's facts tables.",
             "Shares are computed from whole seconds and rounded only here; money is in integer "
             "minor units (shown in major units with the currency where a table has one).",
             "Not shown: pending settlements (not in the facts).")
    return Section("summary", "Period and definitions", DEFINITIONS["period"], notes)


# --- rendering -------------------------------------------------------------------------------

def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kiosk.backoffice", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)


def chart_figures(a: Analytics) -> dict[str, Any]:
    """The report's charts as matplotlib figures, by name."""
    fleet = a.outcomes[0]
    soonest = sorted(a.forecasts.items(), key=_forecast_order)[:FORECAST_CHARTS]
    return {
        "utilization": charts.utilization_chart(a.usage, a.period, a.thresholds),
        "availability": charts.availability_chart(a.availability, a.period),
        "success": charts.success_chart(fleet, a.period),
        "peak": charts.peak_chart(a.peak, a.period, "sessions"),
        "peak_energy": charts.peak_chart(a.peak, a.period, "energy"),
        "revenue": charts.revenue_chart(a.revenue, a.period),
        "forecast": charts.forecast_chart(soonest, a.period, a.thresholds),
    }


def _forecast_order(item: tuple[str, Forecast]) -> tuple[int, str, str]:
    """Already congested first, then by the crossing, the earliest, then the rest."""
    sid, f = item
    rank = {"already": 0, "crosses": 1, "not within the horizon": 2}.get(f.status, 3)
    when = f.crossing or f.earliest
    return (rank if when or rank == 0 else 3, when.isoformat() if when else "9999", sid)


def render(a: Analytics, out_dir: Path,
           customers: cu.CustomerFigures | None = None) -> Report:
    """Write the report of ``a`` (and ``customers``) into ``out_dir`` (made if missing; files
    replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "charts").mkdir(exist_ok=True)
    secs = sections(a, customers)
    svgs: dict[str, str] = {}
    svg_files = []
    for name, fig in chart_figures(a).items():
        svgs[name] = charts.to_svg(fig, name)
        path = out_dir / "charts" / f"{name}.svg"
        path.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + svgs[name],
                        encoding="utf-8")
        svg_files.append(path)
    csv_files = write_csvs(out_dir, secs)
    html = page_html(a, secs, svgs)
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    return Report(index, tuple(csv_files), tuple(svg_files), a, customers)


def page_html(a: Analytics, secs: Sequence[Section], svgs: dict[str, str], *,
              base: str = "", suffix: str = "", form: dict[str, Any] | None = None) -> str:
    """The page of the report: the files it links are ``base + name + suffix`` (the report's
    folder: as they lie beside it; the service's ``/analytics``: its routes with the filter's
    query); ``form``: the service's filter form (its values and the stations to pick)."""
    return _env().get_template("analytics.html").render(
        a=a, sections=secs, svgs=svgs, limit=HTML_ROWS, thresholds=a.thresholds.describe(),
        base=base, suffix=suffix, form=form)


def write_csvs(out_dir: Path, secs: Sequence[Section]) -> list[Path]:
    """One CSV per table of ``secs`` in ``out_dir`` (files replaced), the report's and the
    what-if's: the columns, then each row with :func:`csv_value`."""
    files = []
    for sec in secs:
        for t in sec.tables:
            path = out_dir / t.file
            with path.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(t.columns)
                w.writerows([csv_value(v) for v in row] for row in t.rows)
            files.append(path)
    return files


def write_report(db: Database, out_dir: Path, period: Period, station: str | None = None,
                 thresholds: Thresholds | None = None) -> Report:
    """Compute every figure of ``period`` (one station, or all) and write the report (the
    customers' section: all stations)."""
    a = compute(db, period, station, thresholds)
    return render(a, out_dir, cu.compute_customers(db, period))
