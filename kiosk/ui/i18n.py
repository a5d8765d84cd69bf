"""The driver's language: Qt translations and locale-aware figures.

Every text on the driver's screens is a literal inside ``translate("Context", "...")`` (Qt's
``QCoreApplication.translate``), so ``pyside6-lupdate`` finds it (``make translations`` updates
``kiosk/resources/translations/kiosk_<lang>.ts`` and compiles the ``.qm`` files the kiosk loads).
English is the source language: it needs no file.

:class:`Translations` installs the translator of the chosen language; a language the station
offers whose compiled file is missing or unreadable stops the kiosk (:class:`TranslationError`)
instead of showing English to a driver who chose German.

:class:`Figures` formats money, energy, power, durations and times in a language's locale
(QLocale's separators, grouping and currency pattern) from exact values: an amount is split
into whole and minor units as integers, never through a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTime, QTranslator

from kiosk.billing.money import exponent
from kiosk.config import RESOURCES

TRANSLATIONS_DIR = RESOURCES / "translations"
# the languages the screens are written in, each with the name a speaker looks for
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "nl": "Nederlands"}
SOURCE_LANGUAGE = "en"
# the locale whose separators and currency pattern a language uses at this kiosk
LOCALES = {"en": "en_IE", "de": "de_DE", "fr": "fr_FR", "nl": "nl_NL"}
SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF", "JPY": "¥"}


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """``QCoreApplication.translate``; call it with literals so lupdate finds them."""
    return QCoreApplication.translate(context, text, disambiguation, n)


class TranslationError(Exception):
    """A language the station offers cannot be shown (no compiled translation)."""


def qm_path(lang: str, folder: Path = TRANSLATIONS_DIR) -> Path:
    return folder / f"kiosk_{lang}.qm"


class Translations:
    """The installed translator; :meth:`use` switches the whole application's language."""

    def __init__(self, offered: list[str], folder: Path = TRANSLATIONS_DIR) -> None:
        self.offered = [lang for lang in offered if lang in LANGUAGE_NAMES]
        unknown = [lang for lang in offered if lang not in LANGUAGE_NAMES]
        if unknown:
            raise TranslationError(
                f"the screens are not written in {', '.join(unknown)} "
                f"(they are in {', '.join(LANGUAGE_NAMES)})")
        self._translators: dict[str, QTranslator] = {}
        for lang in self.offered:
            if lang == SOURCE_LANGUAGE:
                continue
            path = qm_path(lang, folder)
            translator = QTranslator()
            if not path.is_file() or not translator.load(str(path)):
                raise TranslationError(
                    f"{path}: no compiled translation for {LANGUAGE_NAMES[lang]} "
                    "(run `make translations`)")
            self._translators[lang] = translator
        self.current = SOURCE_LANGUAGE
        self._installed: QTranslator | None = None

    def use(self, lang: str) -> None:
        if lang not in self.offered and lang != SOURCE_LANGUAGE:
            raise TranslationError(f"language {lang!r} is not offered here")
        app = QCoreApplication.instance()
        if self._installed is not None and app is not None:
            QCoreApplication.removeTranslator(self._installed)
            self._installed = None
        translator = self._translators.get(lang)
        if translator is not None and app is not None:
            QCoreApplication.installTranslator(translator)
            self._installed = translator
        self.current = lang

    def close(self) -> None:
        if self._installed is not None and QCoreApplication.instance() is not None:
            QCoreApplication.removeTranslator(self._installed)
        self._installed = None


@dataclass(frozen=True)
class Figures:
    """Figures in one language's locale."""

    lang: str

    @property
    def locale(self) -> QLocale:
        return QLocale(LOCALES.get(self.lang, LOCALES[SOURCE_LANGUAGE]))

    def number(self, value: Decimal | int, places: int = 0) -> str:
        """``value`` rounded half-even to ``places`` decimals with the locale's separators."""
        loc = self.locale
        q = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        text = f"{abs(q):f}"
        whole, _, frac = text.partition(".")
        out = loc.toString(int(whole))
        if frac:
            out += loc.decimalPoint() + frac
        return (loc.negativeSign() + out) if q < 0 else out

    def money(self, minor: int, currency: str) -> str:
        """An amount in minor units: ``1234, "EUR"`` → ``€12.34`` / ``12,34 €``."""
        e = exponent(currency)
        whole, part = divmod(abs(int(minor)), 10 ** e)
        loc = self.locale
        number = loc.toString(whole)
        if e:
            number += loc.decimalPoint() + f"{part:0{e}d}"
        pattern = loc.toCurrencyString(0, SYMBOLS.get(currency, currency))
        text = pattern.replace("0", number, 1)
        return (loc.negativeSign() + text) if minor < 0 else text

    def kwh(self, energy_wh: int) -> str:
        return f"{self.number(Decimal(energy_wh) / 1000, 2)} kWh"

    def kw(self, power_w: int) -> str:
        return f"{self.number(Decimal(power_w) / 1000, 1)} kW"

    def percent(self, value: Decimal) -> str:
        """``19.00`` → ``19 %``, ``7.5`` → ``7,5 %`` (as many decimals as it has)."""
        normal = value.normalize()
        places = max(0, -int(normal.as_tuple().exponent))
        return f"{self.number(normal, places)}\u00a0%"

    def time(self, at: datetime) -> str:
        """Hours and minutes (``14:05``) in the locale's short format."""
        return self.locale.toString(QTime(at.hour, at.minute), QLocale.FormatType.ShortFormat)


def format_duration(seconds: int) -> str:
    """Seconds → ``h:mm:ss`` (the same in every language here)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
