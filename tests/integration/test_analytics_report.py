"""The analytics report on the hand-made fleet (tests/support/analytics_fleet.py), on SQLite
and PostgreSQL: the files written, every CSV parses with its columns, the HTML carries every
definition, period and threshold, every SVG is XML, text from the database is escaped; the
command line (``kiosk-backoffice report``) and its one-line errors.
"""

from __future__ import annotations

import csv
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from kiosk.backoffice import cli
from kiosk.backoffice.analytics import DEFINITIONS, Period, compute
from kiosk.backoffice.analytics.charts import to_png, utilization_chart
from kiosk.backoffice.analytics.report import sections, write_report
from kiosk.backoffice.storage import Database, charging_sessions, open_db, terminals
from tests.support.analytics_fleet import PERIOD, S, fleet_db, insert_fleet, session_row

HOSTILE = "<b>x</b>&'$y$"  # markup, an entity, a quote and mathtext


@pytest.fixture
def db(backoffice_url: str) -> Iterator[Database]:
    with fleet_db(backoffice_url) as database:
        yield database


def inline_svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def test_the_report_files(db: Database, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = write_report(db, out, Period(*PERIOD))
    assert done.index == out / "index.html"
    expected_csv = {t.file for s in sections(done.analytics, done.customers) for t in s.tables}
    assert {p.name for p in done.csv_files} == expected_csv
    assert {p.name for p in out.glob("*.csv")} == expected_csv
    assert {p.name for p in done.svg_files} == {
        "utilization.svg", "availability.svg", "success.svg", "peak.svg", "peak_energy.svg",
        "revenue.svg", "forecast.svg"}
    for s in sections(done.analytics, done.customers):
        for t in s.tables:
            with (out / t.file).open(newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            assert tuple(rows[0]) == t.columns, t.file
            assert len(rows) - 1 == len(t.rows), t.file
            assert all(len(r) == len(t.columns) for r in rows), t.file
    # plain numbers: integers and fractions, empty for none
    with (out / "usage_stations.csv").open(newline="") as fh:
        a = next(r for r in csv.DictReader(fh) if r["station_id"] == "ST-A")
    assert (a["connectors"], a["charging_s"], a["capacity_s"]) == ("2", "17940", "1209600")
    assert a["charging_share"] == "0.014831" and a["connector"] == ""
    with (out / "revenue_week.csv").open(newline="") as fh:
        (week,) = list(csv.DictReader(fh))
    assert (week["revenue_minor"], week["previous_minor"], week["partial"]) == (
        "6000", "1700", "0")
    with (out / "peak_hours.csv").open(newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 168
    for svg in done.svg_files:
        root = ET.parse(svg).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", svg


def test_the_page_states_its_definitions(db: Database, tmp_path: Path) -> None:
    done = write_report(db, tmp_path, Period(*PERIOD))
    page = done.index.read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for key, definition in DEFINITIONS.items():
        assert definition in text, key
    for rule in done.analytics.thresholds.describe().values():
        assert rule in text
    assert text.count("2026-11-02 to 2026-11-09 UTC, end excluded (7 days)") >= 10
    assert "Pending settlements" in text
    # nothing run, nothing fetched (the CSV and SVG links are relative)
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert "<metadata" not in page
    svgs = inline_svgs(page)
    assert len(svgs) == 7
    for svg in svgs:  # each chart inline is XML, and states its period
        ET.fromstring(svg)
        assert "2026-11-02 to 2026-11-09 UTC" in svg


def test_text_from_the_database_is_escaped(db: Database, tmp_path: Path) -> None:
    with db.engine.begin() as conn:
        conn.execute(insert(charging_sessions), [
            session_row(S("h1", HOSTILE, 1, 3600, 3660, 7200, 7300, "declined", HOSTILE,
                          scheme=HOSTILE, interface="contact"))])
        conn.execute(update(terminals).where(terminals.c.id == "ST-D").values(site=HOSTILE))
    done = write_report(db, tmp_path, Period(*PERIOD))
    page = done.index.read_text(encoding="utf-8")
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in page
    for svg in [*inline_svgs(page), *(p.read_text() for p in done.svg_files)]:
        ET.fromstring(svg.split("?>", 1)[-1])
    assert any("&lt;b&gt;x&lt;/b&gt;" in p.read_text() for p in done.svg_files)  # a label
    with (tmp_path / "usage_stations.csv").open(newline="") as fh:
        assert HOSTILE in {r["station_id"] for r in csv.DictReader(fh)}  # the CSV: verbatim


def test_one_station_and_an_empty_period(db: Database, tmp_path: Path) -> None:
    done = write_report(db, tmp_path / "a", Period(*PERIOD), station="ST-C")
    assert "Charging analytics: ST-C" in done.index.read_text(encoding="utf-8")
    with (tmp_path / "a" / "usage_stations.csv").open(newline="") as fh:
        assert [r["station_id"] for r in csv.DictReader(fh)] == ["ST-C"]
    empty = write_report(db, tmp_path / "b", Period(0, 7 * 86_400))
    page = empty.index.read_text(encoding="utf-8")
    assert "nothing in the period" in page and len(inline_svgs(page)) == 7


def test_a_chart_as_png(db: Database, tmp_path: Path) -> None:
    a = compute(db, Period(*PERIOD))
    png = to_png(utilization_chart(a.usage, a.period, a.thresholds))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    (tmp_path / "utilization.png").write_bytes(png)


# --- the command line ------------------------------------------------------------------------

def test_the_report_command(backoffice_url: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    db = open_db(backoffice_url)
    try:
        insert_fleet(db)
    finally:
        db.close()
    out = tmp_path / "out"
    rc = cli.main(["report", "--db", backoffice_url, "--out", str(out), "--from", "2026-11-02",
                   "--to", "2026-11-08"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert printed.out == (f"{out / 'index.html'}: 2026-11-02 to 2026-11-09 UTC, end excluded "
                           f"(7 days), 4 stations, 25 CSV files, 7 charts\n")
    assert (out / "index.html").is_file()
    for argv, message in [
        (["--from", "2026-11-31"], "kiosk-backoffice: --from: not a date (YYYY-MM-DD)\n"),
        (["--from", "2026-11-09", "--to", "2026-11-02"],
         "kiosk-backoffice: the period ends (2026-11-02) before it begins (2026-11-09)\n"),
        (["--station", "ST-NONE"], "kiosk-backoffice: station 'ST-NONE': not registered, "
                                   "and no session or health event of it before the "
                                   "period's end\n"),
    ]:
        rc = cli.main(["report", "--db", backoffice_url, "--out", str(out), *argv])
        printed = capsys.readouterr()
        assert (rc, printed.out, printed.err) == (2, "", message)
    blocked = tmp_path / "file"
    blocked.write_text("")
    rc = cli.main(["report", "--db", backoffice_url, "--out", str(blocked / "x")])
    printed = capsys.readouterr()
    assert rc == 2 and printed.err.startswith("kiosk-backoffice: report: ")
    assert printed.err.count("\n") == 1
