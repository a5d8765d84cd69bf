"""The invoice page's rendering: every value from the record is hostile (escaped, bounded, a
missing or malformed field is a dash, never an error), and the figures are the invoice's own,
exact to the cent, in each language's format."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from copy import deepcopy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.backoffice import i18n
from kiosk.backoffice.invoices import (
    DASH,
    RateLimiter,
    clean_text,
    content_security_policy,
    invoice_view,
    render_html,
    render_pdf,
)

NBSP, NNBSP, MINUS = "\u00a0", "\u202f", "\u2212"

INVOICE: dict[str, Any] = {  # the form kiosk.records.invoice.build_invoice makes
    "invoice_version": 1, "number": "MUC-0042-00000007", "seq": 7,
    "issued_at": "2026-12-01T10:15:00+01:00", "language": "de",
    "seller": {"operator": "Stadtwerke Musterstadt GmbH",
               "address": "Hauptstraße 1, 12345 Musterstadt"},
    "station_id": "MUC-0042", "station_name": "Marktplatz Nord", "connector": 1,
    "connector_label": "Links (Typ 2)", "session_id": "9f3c0a", "tariff_id": "config",
    "start": "2026-12-01T10:00:00+01:00", "stop": "2026-12-01T11:45:30+01:00",
    "duration_s": 6330, "meter_start_wh": 1234567, "meter_stop_wh": 1271692,
    "energy_wh": 37125, "currency": "EUR",
    "lines": [
        {"component": "ENERGY", "description": "Energy", "unit": "kWh",
         "unit_price_excl": "0.4958", "quantity": "37.1250", "vat_percent": "19",
         "amount_excl": "18.41", "amount_incl": "21.90"},
        {"component": "TIME", "description": "Charging time", "unit": "h",
         "unit_price_excl": "1.20", "quantity": "1.7583", "vat_percent": "19",
         "amount_excl": "2.11", "amount_incl": "2.51"},
        {"component": "FLAT", "description": "Session fee", "unit": "session",
         "unit_price_excl": "0.83", "quantity": "1.0000", "vat_percent": "19",
         "amount_excl": "0.83", "amount_incl": "0.99"},
    ],
    "adjustments": [],
    "vat_summary": [{"vat_percent": "19", "net": "21.35", "vat": "4.06", "gross": "25.41"}],
    "rounding": "-0.01", "total": "25.40", "total_minor": 2540,
    "masked_pan": "476173******0119", "scheme": "visa", "auth_code": "537817",
    "held": "50.00", "hold_released": "24.60", "token": "M53srXFzRKXNl58W99HYDQ",
    "url": "https://backoffice.invalid/i/MUC-0042/MUC-0042-00000007?t=M53srXFzRKXNl58W99HYDQ",
}


def text_of(html: str, element_id: str) -> str:
    """The text of the element with ``id`` (tags dropped), as it would read."""
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|p|td|span)>', html, re.S)
    assert m, element_id
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", m.group(1))).strip()


def html_for(payload: object, lang: str | None = None) -> str:
    return render_html(invoice_view(payload, lang))


# --- hostile values ----------------------------------------------------------------------------
def test_a_hostile_station_name_and_operator_are_escaped() -> None:
    p = deepcopy(INVOICE)
    p["station_name"] = "<script>alert('station')</script>"
    p["seller"] = {"operator": '"><img src=x onerror=alert(1)>',
                   "address": "</style><script>alert(2)</script>"}
    p["number"] = "</title><script>alert(3)</script>"
    p["connector_label"] = "<b onmouseover=alert(4)>1</b>"
    p["lines"][0]["description"] = "<iframe src=//evil>"
    p["lines"][0]["component"] = "<svg onload=alert(5)>"
    html = html_for(p)
    assert "<script" not in html.lower()
    assert "<img" not in html and "<iframe" not in html and "<svg" not in html
    assert "<b " not in html
    assert "&lt;script&gt;alert(&#39;station&#39;)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<style>") == 1 and html.count("</style>") == 1
    assert text_of(html, "station-name") == "&lt;script&gt;alert(&#39;station&#39;)&lt;/script&gt;"


def test_invisible_and_control_characters_are_dropped_and_lengths_bounded() -> None:
    p = deepcopy(INVOICE)
    p["station_name"] = "Nord\u202eetats\u202c\x00\x1b[31m\u200b" + "x" * 5000
    html = html_for(p)
    shown = text_of(html, "station-name")
    assert "\u202e" not in html and "\x00" not in html and "\x1b" not in html
    assert shown.startswith("Nordetats[31m") and shown.endswith("…") and len(shown) <= 80
    assert clean_text("  a \n\t b  ") == "a b"
    assert clean_text("") == DASH and clean_text(None) == DASH and clean_text(["x"]) == DASH


def test_only_a_masked_pan_is_ever_shown() -> None:
    assert text_of(html_for(INVOICE), "masked-pan") == "4761 73•• •••• 0119"
    for bad in ("4761731234560119", "4761731234******0119", "476173******01190", "",
                "<b>476173******0119</b>", 4761730000000119, None):
        p = {**INVOICE, "masked_pan": bad}
        html = html_for(p)
        assert text_of(html, "masked-pan") == DASH, bad
        assert "4761731234560119" not in html and "1234" not in text_of(html, "card")


def test_a_record_missing_every_field_renders_dashes() -> None:
    for payload in ({}, None, [], "x", 42, {"lines": "x", "vat_summary": {"a": 1},
                                             "seller": "x", "adjustments": [None, 3]}):
        html = html_for(payload)
        assert text_of(html, "total") == DASH
        assert text_of(html, "number") == DASH
        assert text_of(html, "station-name") == DASH
        assert text_of(html, "masked-pan") == DASH
        assert text_of(html, "start") == DASH and text_of(html, "energy") == DASH
        assert 'class="line empty"' in html and 'class="vat-row empty"' in html
        assert '<html lang="en">' in html


@pytest.mark.parametrize("field,value,element,shown", [
    ("total_minor", "2540", "total", f"25,40{NBSP}€"),  # then the total text
    ("total_minor", True, "total", f"25,40{NBSP}€"),
    ("total_minor", -5, "total", f"25,40{NBSP}€"),
    ("currency", "€", "total", DASH),
    ("start", "yesterday", "start", DASH),
    ("start", 3, "start", DASH),
    ("issued_at", "2026-13-45T99:00:00", "issued", DASH),
    ("duration_s", "900", "duration", DASH),
    ("meter_start_wh", 1.5, "meter-start", DASH),
    ("energy_wh", None, "energy", DASH),
    ("held", {"a": 1}, "held", DASH),
    ("hold_released", "1,00", "released", DASH),
    ("auth_code", "<b>", "auth-code", DASH),
    ("scheme", 7, "card", "4761 73•• •••• 0119"),  # no scheme shown
    ("connector_label", None, "connector", "1"),  # then the connector number
    ("connector_label", ["x"], "connector", "1"),
    ("session_id", {"x": 1}, "session-id", DASH),
])
def test_a_field_of_the_wrong_type_or_form_is_a_dash_not_an_error(
        field: str, value: object, element: str, shown: str) -> None:
    html = html_for({**INVOICE, field: value})
    assert text_of(html, element) == shown


def test_malformed_lines_and_vat_rows_are_dashes() -> None:
    p = {**INVOICE, "lines": [{"amount_incl": "1e3", "quantity": "lots"}, "x", None],
         "vat_summary": [{"net": "1,00", "vat": float("nan"), "gross": None}],
         "rounding": "abc", "language": "xx"}
    v = invoice_view(p)
    assert v.lang == "en"
    assert [(ln.description, ln.detail, ln.gross) for ln in v.lines] == [
        (DASH, "", DASH), (DASH, "", DASH), (DASH, "", DASH)]
    assert [(r.rate, r.net, r.vat, r.gross) for r in v.vat_rows] == [(DASH,) * 4]
    assert v.rounding == DASH
    assert "nan" not in render_html(v).lower().split("</style>")[1]


def test_the_total_comes_from_total_minor_and_a_missing_one_from_the_text() -> None:
    assert text_of(html_for(INVOICE, "en"), "total") == "€25.40"
    p = {**INVOICE}
    del p["total_minor"]
    assert text_of(html_for(p, "en"), "total") == "€25.40"
    p["total"] = "25.4"  # a shorter fraction is padded (exact), never rounded
    assert text_of(html_for(p, "en"), "total") == "€25.40"
    p["total"] = "25.401"  # a longer one is shown as it is
    assert text_of(html_for(p, "en"), "total") == "€25.401"


# --- formats per language, exact to the cent ---------------------------------------------------
@pytest.mark.parametrize("lang,total,negative,unit,kwh,date,pct", [
    ("en", "€1,234,567.89", f"{MINUS}€0.01", f"€0.4958 excl.{NBSP}VAT".replace(NBSP, " "),
     f"1,234.567{NBSP}kWh", "1\u00a0Dec\u00a02026, 10:00", "19%"),
    ("de", f"1.234.567,89{NBSP}€", f"{MINUS}0,01{NBSP}€", f"0,4958{NBSP}€ netto",
     f"1.234,567{NBSP}kWh", "01.12.2026, 10:00", f"19{NBSP}%"),
    ("fr", f"1{NNBSP}234{NNBSP}567,89{NBSP}€", f"{MINUS}0,01{NBSP}€", f"0,4958{NBSP}€ HT",
     f"1{NNBSP}234,567{NBSP}kWh", "01/12/2026 10:00", f"19{NBSP}%"),
    ("nl", f"€{NBSP}1.234.567,89", f"€{NBSP}{MINUS}0,01", f"€{NBSP}0,4958 excl. btw",
     f"1.234,567{NBSP}kWh", "01-12-2026 10:00", f"19{NBSP}%"),
])
def test_numbers_and_money_in_each_language(lang: str, total: str, negative: str, unit: str,
                                            kwh: str, date: str, pct: str) -> None:
    p = {**INVOICE, "total_minor": 123456789, "total": "1234567.89"}
    view = invoice_view(p, lang)
    assert view.total == total
    assert view.rounding == negative
    assert view.lines[0].detail.endswith(unit)
    assert view.meter_start == kwh
    assert view.start == date
    assert view.lines[0].vat == pct
    assert view.vat_rows[0].rate == pct
    html = render_html(view)
    assert f'<html lang="{lang}">' in html
    assert f">{total}<" in html  # the hero
    assert f'id="grand-total">{total}<' in html


def test_amounts_are_the_invoice_digits_never_re_rounded() -> None:
    p = deepcopy(INVOICE)
    p["lines"][0].update(amount_excl="0.285", amount_incl="0.3391500", unit_price_excl="0.1",
                         quantity="0.0100")
    p["vat_summary"] = [{"vat_percent": "7.7", "net": "0.01", "vat": "0.00",
                         "gross": "999999999.99"}]
    p["held"], p["hold_released"] = "0.1", "1000000"
    v = invoice_view(p, "de")
    assert v.lines[0].net == f"0,285{NBSP}€"  # shown exactly: 3 decimals, not 0,29
    assert v.lines[0].gross == f"0,3391500{NBSP}€"
    assert v.lines[0].detail == f"0,01{NBSP}kWh × 0,10{NBSP}€ netto"
    assert [v.vat_rows[0].rate, v.vat_rows[0].net, v.vat_rows[0].vat, v.vat_rows[0].gross] == [
        f"7,7{NBSP}%", f"0,01{NBSP}€", f"0,00{NBSP}€", f"999.999.999,99{NBSP}€"]
    assert (v.held, v.released) == (f"0,10{NBSP}€", f"1.000.000,00{NBSP}€")
    assert i18n.money("0.005", "EUR", "en", 2) == "€0.005"
    assert i18n.money("12", "JPY", "en", 0) == "¥12"
    assert i18n.money("12.5", "CHF", "de", 2) == f"12,50{NBSP}CHF"
    assert i18n.money("-0.00", "EUR", "en", 2) == "€0.00"
    assert i18n.money("1.5e3", "EUR", "en", 2) is None
    assert i18n.money(1.5, "EUR", "en", 2) is None  # a float is not an amount
    jpy = invoice_view({**INVOICE, "currency": "JPY", "total_minor": 123456}, "en")
    assert jpy.total == "¥123,456"


@pytest.mark.parametrize("lang,title,energy,released", [
    ("en", "Invoice", "Energy", "Released again"),
    ("de", "Rechnung", "Energie", "Wieder freigegeben"),
    ("fr", "Facture", "Énergie", "Libéré"),
    ("nl", "Factuur", "Energie", "Weer vrijgegeven"),
])
def test_all_four_languages(lang: str, title: str, energy: str, released: str) -> None:
    html = html_for(INVOICE, lang)
    assert f'<h1 id="title">{title}</h1>' in html
    assert f'<span class="what">{energy}</span>' in html
    assert f"<dt>{released}</dt>" in html
    assert set(i18n.TEXTS[lang]) == set(i18n.TEXTS["en"])  # no text missing in any language


def test_the_language_is_the_invoice_own_unless_asked() -> None:
    assert invoice_view(INVOICE).lang == "de"
    assert invoice_view(INVOICE, "fr").lang == "fr"
    assert invoice_view(INVOICE, "es").lang == "de"  # not one of ours: the invoice's
    assert invoice_view({**INVOICE, "language": "es"}).lang == "en"


def test_session_facts_duration_and_time_zone() -> None:
    v = invoice_view(INVOICE, "en")
    assert (v.duration, v.energy) == (f"1{NBSP}h 45{NBSP}min", f"37.125{NBSP}kWh")
    assert v.stop == f"1{NBSP}Dec{NBSP}2026, 11:45"
    assert v.connector == "Links (Typ 2)" and v.station_id == "MUC-0042"
    assert v.time_note == "Times are the station's local time (UTC+01:00)."
    assert (v.card_scheme, v.auth_code) == ("Visa", "537817")
    assert i18n.duration(45) == f"45{NBSP}s"
    assert i18n.duration(905) == f"15{NBSP}min 05{NBSP}s"


def test_adjustments_are_translated_and_unknown_ones_shown_as_they_are() -> None:
    p = {**INVOICE, "adjustments": [
        {"description": "Maximum price", "amount_excl": "-0.50", "amount_incl": "-0.60"},
        {"description": "Limited to the amount reserved on the card", "amount_excl": None,
         "amount_incl": "-3.00"},
        {"description": "Goodwill <credit>", "amount_incl": "-1.00"}]}
    v = invoice_view(p, "de")
    assert [(r.label, r.amount) for r in v.adjustments] == [
        ("Höchstpreis", f"{MINUS}0,60{NBSP}€"),
        ("Begrenzt auf den auf der Karte reservierten Betrag", f"{MINUS}3,00{NBSP}€"),
        ("Goodwill <credit>", f"{MINUS}1,00{NBSP}€")]
    assert "Goodwill &lt;credit&gt;" in render_html(v)


def test_the_stylesheet_is_the_one_the_csp_names_and_no_script_is_allowed() -> None:
    html = html_for(INVOICE)
    css = re.search(r"<style>(.*?)</style>", html, re.S)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    csp = content_security_policy()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "script" not in csp
    assert " style=" not in html  # an inline style attribute would need 'unsafe-hashes'


def test_the_pdf_is_a_pdf_without_layout_warnings(caplog: pytest.LogCaptureFixture) -> None:
    p = deepcopy(INVOICE)
    p["station_name"] = "<script>alert(1)</script>"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        data = render_pdf(invoice_view(p, "fr"))
    assert data.startswith(b"%PDF-")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []


def test_the_rate_limiter_counts_tokens_per_client() -> None:
    now = [100.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0], max_clients=2)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)  # one token comes back in half a second
    assert limiter.take("b") == 0.0  # another client has its own bucket
    now[0] += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a", 4) == pytest.approx(1.5)  # a cost above the burst: the burst
    limiter.take("c")  # a third client: the least recently seen ("b") is forgotten
    assert set(limiter._buckets) == {"a", "c"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(INVOICE)), JSON, max_size=12),
       st.sampled_from([None, *i18n.LANGUAGES]))
def test_any_record_renders_and_nothing_unescaped_gets_through(
        changes: dict[str, Any], lang: str | None) -> None:
    html = html_for({**INVOICE, **changes}, lang)
    body = html.split("</style>", 1)[1]
    assert "<script" not in body.lower()
    assert body.count("<") == body.count(">")  # every tag is ours: no text opens one
