"""The invoice pages' languages: texts and number, money and date formats (en, de, fr, nl).

Formatting works on the decimal TEXT the invoice carries (``"1234.50"``): the digits are
regrouped and the separator swapped, nothing is converted to a float or rounded, so the page
shows exactly the invoice's figures. A text that is not a plain decimal number gives ``None``
(the page shows a dash). Babel is not a dependency; the four formats are small enough to
state here:

====  ==============  ==================  ============================
lang  1234.5 (number)  money (EUR)         date and time
====  ==============  ==================  ============================
en    1,234.5          €1,234.50           1 Dec 2026, 10:00
de    1.234,5          1.234,50 €          01.12.2026, 10:00
fr    1 234,5          1 234,50 €          01/12/2026 10:00
nl    1.234,5          € 1.234,50          01-12-2026 10:00
====  ==============  ==================  ============================

(fr groups with a narrow no-break space, U+202F; negative amounts take a minus sign, U+2212.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.billing.figures import NBSP as _NBSP
from kiosk.billing.figures import decimal, money, percent, symbol

__all__ = ["DEFAULT", "LANGUAGES", "NAMES", "TEXTS", "date_time", "decimal", "duration",
           "money", "offset", "parse_time", "percent", "pick", "symbol", "wh_as_kwh"]

LANGUAGES = ("en", "de", "fr", "nl")
DEFAULT = "en"
NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "nl": "Nederlands"}

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice", "invoice_no": "Invoice no.", "invoice_date": "Invoice date",
        "total_paid": "Total", "incl_vat": "incl. VAT", "seller": "Seller",
        "session": "Charging session", "station": "Station", "station_id": "Station ID",
        "connector": "Connector", "start": "Start", "stop": "End", "duration": "Duration",
        "meter_start": "Meter at start", "meter_stop": "Meter at end",
        "energy": "Energy charged", "positions": "Items", "description": "Description",
        "vat": "VAT", "excl_vat": "excl. VAT", "net": "Net", "gross": "Gross",
        "vat_summary": "VAT summary",
        "vat_rate": "Rate", "rounding": "Rounding", "total": "Total", "payment": "Payment",
        "card": "Card", "auth_code": "Authorisation code", "held": "Reserved on your card",
        "released": "Released again", "charged": "Charged to your card",
        "session_id": "Session ID",
        "local_time": "Times are the station's local time ({offset}).",
        "download_pdf": "Download PDF", "language": "Language", "mixed": "mixed",
        "thanks": "Thank you for charging with us.",
        "ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Idle fee",
        "FLAT": "Session fee", "unit_session": "session",
        "Minimum price": "Minimum price", "Maximum price": "Maximum price",
        "Limited to the amount reserved on the card":
            "Limited to the amount reserved on the card",
    },
    "de": {
        "invoice": "Rechnung", "invoice_no": "Rechnungsnr.", "invoice_date": "Rechnungsdatum",
        "total_paid": "Gesamtbetrag", "incl_vat": "inkl. MwSt.", "seller": "Verkäufer",
        "session": "Ladevorgang", "station": "Ladestation", "station_id": "Stations-ID",
        "connector": "Ladepunkt", "start": "Beginn", "stop": "Ende", "duration": "Dauer",
        "meter_start": "Zählerstand Beginn", "meter_stop": "Zählerstand Ende",
        "energy": "Geladene Energie", "positions": "Positionen", "description": "Beschreibung",
        "vat": "MwSt.", "excl_vat": "netto", "net": "Netto", "gross": "Brutto",
        "vat_summary": "MwSt.-Übersicht", "vat_rate": "Satz", "rounding": "Rundung",
        "total": "Gesamt", "payment": "Zahlung", "card": "Karte",
        "auth_code": "Autorisierungscode", "held": "Auf Ihrer Karte reserviert",
        "released": "Wieder freigegeben", "charged": "Von Ihrer Karte abgebucht",
        "session_id": "Vorgangs-ID",
        "local_time": "Zeiten in der Ortszeit der Ladestation ({offset}).",
        "download_pdf": "PDF herunterladen", "language": "Sprache", "mixed": "gemischt",
        "thanks": "Danke, dass Sie bei uns geladen haben.",
        "ENERGY": "Energie", "TIME": "Ladezeit", "PARKING_TIME": "Blockiergebühr",
        "FLAT": "Startgebühr", "unit_session": "Vorgang",
        "Minimum price": "Mindestpreis", "Maximum price": "Höchstpreis",
        "Limited to the amount reserved on the card":
            "Begrenzt auf den auf der Karte reservierten Betrag",
    },
    "fr": {
        "invoice": "Facture", "invoice_no": "Facture n°", "invoice_date": "Date de facture",
        "total_paid": "Montant total", "incl_vat": "TTC", "seller": "Vendeur",
        "session": "Session de recharge", "station": "Borne", "station_id": "ID de la borne",
        "connector": "Point de charge", "start": "Début", "stop": "Fin", "duration": "Durée",
        "meter_start": "Compteur au début", "meter_stop": "Compteur à la fin",
        "energy": "Énergie rechargée", "positions": "Détail", "description": "Désignation",
        "vat": "TVA", "excl_vat": "HT", "net": "HT", "gross": "TTC",
        "vat_summary": "Récapitulatif TVA",
        "vat_rate": "Taux", "rounding": "Arrondi", "total": "Total", "payment": "Paiement",
        "card": "Carte", "auth_code": "Code d'autorisation",
        "held": "Réservé sur votre carte", "released": "Libéré",
        "charged": "Débité de votre carte", "session_id": "ID de session",
        "local_time": "Heures locales de la borne ({offset}).",
        "download_pdf": "Télécharger le PDF", "language": "Langue", "mixed": "mixte",
        "thanks": "Merci d'avoir rechargé chez nous.",
        "ENERGY": "Énergie", "TIME": "Temps de charge", "PARKING_TIME": "Frais d'occupation",
        "FLAT": "Frais de session", "unit_session": "session",
        "Minimum price": "Prix minimum", "Maximum price": "Prix maximum",
        "Limited to the amount reserved on the card":
            "Limité au montant réservé sur la carte",
    },
    "nl": {
        "invoice": "Factuur", "invoice_no": "Factuurnummer", "invoice_date": "Factuurdatum",
        "total_paid": "Totaalbedrag", "incl_vat": "incl. btw", "seller": "Verkoper",
        "session": "Laadsessie", "station": "Laadstation", "station_id": "Station-ID",
        "connector": "Laadpunt", "start": "Start", "stop": "Einde", "duration": "Duur",
        "meter_start": "Meterstand begin", "meter_stop": "Meterstand einde",
        "energy": "Geladen energie", "positions": "Specificatie", "description": "Omschrijving",
        "vat": "Btw", "excl_vat": "excl. btw", "net": "Netto", "gross": "Bruto",
        "vat_summary": "Btw-overzicht",
        "vat_rate": "Tarief", "rounding": "Afronding", "total": "Totaal",
        "payment": "Betaling", "card": "Kaart", "auth_code": "Autorisatiecode",
        "held": "Gereserveerd op uw kaart", "released": "Weer vrijgegeven",
        "charged": "Afgeschreven van uw kaart", "session_id": "Sessie-ID",
        "local_time": "Tijden in de lokale tijd van het laadstation ({offset}).",
        "download_pdf": "PDF downloaden", "language": "Taal", "mixed": "gemengd",
        "thanks": "Bedankt voor het laden bij ons.",
        "ENERGY": "Energie", "TIME": "Laadtijd", "PARKING_TIME": "Blokkeertarief",
        "FLAT": "Starttarief", "unit_session": "sessie",
        "Minimum price": "Minimumprijs", "Maximum price": "Maximumprijs",
        "Limited to the amount reserved on the card":
            "Beperkt tot het op de kaart gereserveerde bedrag",
    },
}


def pick(requested: str | None, invoice_language: object) -> str:
    """The page's language: ``requested`` (``?lang=``) when it is one of ours, else the
    invoice's own, else English."""
    if requested in LANGUAGES:
        return str(requested)
    if isinstance(invoice_language, str) and invoice_language in LANGUAGES:
        return invoice_language
    return DEFAULT


def wh_as_kwh(wh: object, lang: str) -> str | None:
    """Watt-hours (an int) as kWh with three decimals, exact: ``2750`` → ``2.750 kWh``."""
    if not isinstance(wh, int) or isinstance(wh, bool) or abs(wh) >= 10**15:
        return None
    sign = "-" if wh < 0 else ""
    text = f"{sign}{abs(wh) // 1000}.{abs(wh) % 1000:03d}"
    number = decimal(text, lang)
    return None if number is None else f"{number}{_NBSP}kWh"


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def date_time(moment: datetime, lang: str, *, with_time: bool = True) -> str:
    """As the station's clock showed it (the offset the invoice carries, not converted)."""
    hm = f"{moment.hour:02d}:{moment.minute:02d}"
    if lang == "de":
        day = f"{moment.day:02d}.{moment.month:02d}.{moment.year}"
        return f"{day}, {hm}" if with_time else day
    if lang == "fr":
        day = f"{moment.day:02d}/{moment.month:02d}/{moment.year}"
        return f"{day} {hm}" if with_time else day
    if lang == "nl":
        day = f"{moment.day:02d}-{moment.month:02d}-{moment.year}"
        return f"{day} {hm}" if with_time else day
    day = f"{moment.day}{_NBSP}{_MONTHS_EN[moment.month - 1]}{_NBSP}{moment.year}"
    return f"{day}, {hm}" if with_time else day


def offset(moment: datetime) -> str | None:
    """``UTC+01:00`` (None for a time without an offset)."""
    delta = moment.utcoffset()
    if delta is None:
        return None
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def duration(seconds: object) -> str | None:
    """``900`` → ``15 min``; ``3725`` → ``1 h 02 min``; ``45`` → ``45 s`` (the same in the
    four languages)."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds < 10**9:
        return None
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}{_NBSP}h {m:02d}{_NBSP}min"
    if m:
        return f"{m}{_NBSP}min" + (f" {s:02d}{_NBSP}s" if s else "")
    return f"{s}{_NBSP}s"
