"""The driver's languages: figures in each locale (QLocale) agree with the price list's and the
invoice's (kiosk.billing.figures) to the character; every language the screens offer has a
complete, compiled translation; a missing one stops the kiosk; the .ts files hold every text of
the screens and the .qm files are compiled from them."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.billing import figures
from kiosk.config import SCREEN_LANGUAGES
from kiosk.ui.i18n import (
    LANGUAGE_NAMES,
    TRANSLATIONS_DIR,
    Figures,
    TranslationError,
    Translations,
    qm_path,
    translate,
)

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
UI_SOURCES = sorted((Path(__file__).resolve().parents[2] / "kiosk" / "ui").glob("*.py"))
TRANSLATED = [lang for lang in SCREEN_LANGUAGES if lang != "en"]


def test_the_screens_languages_are_the_configs() -> None:
    assert set(LANGUAGE_NAMES) == set(SCREEN_LANGUAGES)


@settings(max_examples=300, deadline=None)
@given(minor=st.integers(min_value=0, max_value=10**13),
       lang=st.sampled_from(SCREEN_LANGUAGES), currency=st.sampled_from(["EUR", "GBP", "JPY"]))
def test_money_on_screen_is_the_price_lists_and_the_invoices(
        qapp: object, minor: int, lang: str, currency: str) -> None:
    places = 0 if currency == "JPY" else 2
    text = f"{Decimal(minor).scaleb(-places):.{places}f}"
    assert Figures(lang).money(minor, currency) == figures.money(text, currency, lang, places)


@settings(max_examples=200, deadline=None)
@given(wh=st.integers(min_value=0, max_value=10**9), lang=st.sampled_from(SCREEN_LANGUAGES))
def test_energy_is_exact_in_every_language(qapp: object, wh: int, lang: str) -> None:
    shown = Figures(lang).kwh(wh)
    expected = figures.decimal(f"{(Decimal(wh) / 1000).quantize(Decimal('0.01'))}", lang)
    assert shown == f"{expected} kWh"


def test_figures_examples(qapp: object) -> None:
    assert Figures("en").money(123456, "EUR") == "€1,234.56"
    assert Figures("de").money(123456, "EUR") == "1.234,56\u00a0€"
    assert Figures("fr").money(123456, "EUR") == "1\u202f234,56\u00a0€"
    assert Figures("nl").money(123456, "EUR") == "€\u00a01.234,56"
    assert Figures("de").percent(Decimal("19.00")) == "19\u00a0%"
    assert Figures("fr").percent(Decimal("7.5")) == "7,5\u00a0%"
    assert Figures("nl").kw(11040) == "11,0 kW"


def test_every_offered_language_switches_the_texts(qapp: object) -> None:
    t = Translations(list(SCREEN_LANGUAGES))
    try:
        english = translate("ChargingPage", "Stop charging")
        assert english == "Stop charging"
        seen = {english}
        for lang in TRANSLATED:
            t.use(lang)
            seen.add(translate("ChargingPage", "Stop charging"))
        assert len(seen) == len(SCREEN_LANGUAGES)  # each its own words
        t.use("en")
        assert translate("ChargingPage", "Stop charging") == english
    finally:
        t.close()


def test_a_missing_translation_stops_the_kiosk(qapp: object, tmp_path: Path) -> None:
    for lang in TRANSLATED:
        shutil.copy(qm_path(lang), tmp_path)
    qm_path("fr", tmp_path).unlink()
    with pytest.raises(TranslationError, match=r"kiosk_fr\.qm: no compiled translation"):
        Translations(["en", "fr"], tmp_path)
    qm_path("nl", tmp_path).write_bytes(b"not a qm file")
    with pytest.raises(TranslationError, match="Nederlands"):
        Translations(["nl"], tmp_path)
    with pytest.raises(TranslationError, match="not written in xx"):
        Translations(["en", "xx"], tmp_path)
    Translations(["en", "de"], tmp_path).close()  # the others are fine


def _messages(ts: Path) -> list[tuple[str, str, list[str], str | None]]:
    out = []
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for msg in context.iter("message"):
            tr = msg.find("translation")
            assert tr is not None
            forms = [f.text or "" for f in tr.findall("numerusform")] or [tr.text or ""]
            out.append((name, msg.findtext("source") or "", forms, tr.get("type")))
    return out


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_ts_file_holds_every_text_of_the_screens_translated(tmp_path: Path,
                                                               lang: str) -> None:
    """lupdate over the sources adds nothing and drops nothing: the file is current; every
    entry is translated, keeps its placeholders and is not left unfinished."""
    ts = TRANSLATIONS_DIR / f"kiosk_{lang}.ts"
    copy = tmp_path / ts.name
    shutil.copy(ts, copy)
    run = subprocess.run(
        [str(VENV_BIN / "pyside6-lupdate"), "-no-obsolete", "-locations", "none",
         "-source-language", "en", *map(str, UI_SOURCES), "-ts", str(copy)],
        capture_output=True, text=True, timeout=120, check=True)
    assert "0 new and" in run.stdout or "(0 new" in run.stdout, run.stdout
    before = {(c, s) for c, s, _, _ in _messages(ts)}
    after = {(c, s) for c, s, _, _ in _messages(copy)}
    assert after == before, f"run `make update-translations`: {after ^ before}"
    for context, source, forms, kind in _messages(ts):
        assert kind is None, f"{lang}: unfinished: {context}: {source!r}"
        for text in forms:
            assert text.strip(), f"{lang}: empty: {context}: {source!r}"
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", source)), (
                f"{lang}: placeholders differ: {source!r} → {text!r}")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_qm_file_is_compiled_from_the_ts_file(tmp_path: Path, lang: str) -> None:
    out = tmp_path / f"kiosk_{lang}.qm"
    subprocess.run([str(VENV_BIN / "pyside6-lrelease"), "-silent",
                    str(TRANSLATIONS_DIR / f"kiosk_{lang}.ts"), "-qm", str(out)],
                   check=True, timeout=60)
    assert qm_path(lang).read_bytes() == out.read_bytes(), "run `make translations`"


def test_numbers_in_texts_are_translated_placeholders(qapp: object) -> None:
    from kiosk.session.says import Say
    from kiosk.ui import driver_texts

    t = Translations(["en", "de"])
    try:
        t.use("de")
        two = driver_texts.text(Say.PIN_WRONG, tries_left=2)
        assert "2" in two and "{n}" not in two and "PIN" in two
        assert two != driver_texts.text(Say.PIN_WRONG, tries_left=1)  # the last try's words
        t.use("en")
        assert two != driver_texts.text(Say.PIN_WRONG, tries_left=2)
    finally:
        t.close()
