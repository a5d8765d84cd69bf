"""What the idle screen shows before a session starts (AFIR art. 5, German PAngV): every price
component of the active tariff, incl. VAT, with the condition under which it applies, the hold
amount, in the station's currency and the driver's language.

Prices shown are unit prices incl. VAT, exact (up to four decimals, never rounded up or down
to hide a fraction of a cent); a component without VAT data is shown as it is ("VAT included").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from kiosk.billing import figures
from kiosk.billing.money import exponent, from_minor
from kiosk.billing.tariff import DayOfWeek, Dimension, PriceComponent, Restrictions, Tariff

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Idle fee",
        "FLAT": "Session fee", "per_kwh": "/ kWh", "per_min": "/ min", "per_session": "",
        "min_price": "Minimum price per session", "max_price": "Maximum price per session",
        "vat": "All prices incl. {vat} VAT.", "vat_mixed": "All prices incl. VAT ({vat}).",
        "vat_unknown": "Prices include VAT.",
        "hold": "We reserve {hold} on your card; you pay only what you charge.",
        "from_kwh": "from {v} kWh", "below_kwh": "up to {v} kWh",
        "from_kw": "at {v} kW or more", "below_kw": "below {v} kW",
        "from_a": "at {v} A or more", "below_a": "below {v} A",
        "after": "after {v}", "first": "for the first {v}",
        "from_date": "from {v}", "until_date": "until {v}",
        "step_time": "billed per started {v}", "step_energy": "billed per {v} Wh",
        "idle_note": "while the car stays plugged in without charging",
        "no_price": "No price is set for this time: charging is not available.",
        "days": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    },
    "de": {
        "ENERGY": "Energie", "TIME": "Ladezeit", "PARKING_TIME": "Blockiergebühr",
        "FLAT": "Startgebühr", "per_kwh": "/ kWh", "per_min": "/ Min.", "per_session": "",
        "min_price": "Mindestpreis pro Ladevorgang", "max_price": "Höchstpreis pro Ladevorgang",
        "vat": "Alle Preise inkl. {vat} MwSt.", "vat_mixed": "Alle Preise inkl. MwSt. ({vat}).",
        "vat_unknown": "Preise inkl. MwSt.",
        "hold": "Wir reservieren {hold} auf Ihrer Karte; Sie zahlen nur, was Sie laden.",
        "from_kwh": "ab {v} kWh", "below_kwh": "bis {v} kWh",
        "from_kw": "ab {v} kW", "below_kw": "unter {v} kW",
        "from_a": "ab {v} A", "below_a": "unter {v} A",
        "after": "nach {v}", "first": "in den ersten {v}",
        "from_date": "ab {v}", "until_date": "bis {v}",
        "step_time": "abgerechnet je angefangene {v}", "step_energy": "abgerechnet je {v} Wh",
        "idle_note": "solange das Auto ohne zu laden angesteckt bleibt",
        "no_price": "Für diese Zeit ist kein Preis hinterlegt: Laden nicht möglich.",
        "days": "Mo,Di,Mi,Do,Fr,Sa,So",
    },
    "fr": {
        "ENERGY": "Énergie", "TIME": "Temps de charge", "PARKING_TIME": "Frais d'occupation",
        "FLAT": "Frais de session", "per_kwh": "/ kWh", "per_min": "/ min", "per_session": "",
        "min_price": "Prix minimum par session", "max_price": "Prix maximum par session",
        "vat": "Tous les prix TTC (TVA {vat}).", "vat_mixed": "Tous les prix TTC ({vat}).",
        "vat_unknown": "Prix TTC.",
        "hold": "Nous réservons {hold} sur votre carte ; vous ne payez que ce que vous "
                "chargez.",
        "from_kwh": "à partir de {v} kWh", "below_kwh": "jusqu'à {v} kWh",
        "from_kw": "à {v} kW ou plus", "below_kw": "sous {v} kW",
        "from_a": "à {v} A ou plus", "below_a": "sous {v} A",
        "after": "après {v}", "first": "pendant les premières {v}",
        "from_date": "à partir du {v}", "until_date": "jusqu'au {v}",
        "step_time": "facturé par {v} entamée", "step_energy": "facturé par {v} Wh",
        "idle_note": "tant que la voiture reste branchée sans charger",
        "no_price": "Aucun prix n'est fixé pour cette heure : recharge impossible.",
        "days": "lun,mar,mer,jeu,ven,sam,dim",
    },
    "nl": {
        "ENERGY": "Energie", "TIME": "Laadtijd", "PARKING_TIME": "Blokkeertarief",
        "FLAT": "Starttarief", "per_kwh": "/ kWh", "per_min": "/ min", "per_session": "",
        "min_price": "Minimumprijs per sessie", "max_price": "Maximumprijs per sessie",
        "vat": "Alle prijzen incl. {vat} btw.", "vat_mixed": "Alle prijzen incl. btw ({vat}).",
        "vat_unknown": "Prijzen incl. btw.",
        "hold": "We reserveren {hold} op uw kaart; u betaalt alleen wat u laadt.",
        "from_kwh": "vanaf {v} kWh", "below_kwh": "tot {v} kWh",
        "from_kw": "bij {v} kW of meer", "below_kw": "onder {v} kW",
        "from_a": "bij {v} A of meer", "below_a": "onder {v} A",
        "after": "na {v}", "first": "de eerste {v}",
        "from_date": "vanaf {v}", "until_date": "tot {v}",
        "step_time": "per begonnen {v} gerekend", "step_energy": "per {v} Wh gerekend",
        "idle_note": "zolang de auto aangesloten blijft zonder te laden",
        "no_price": "Voor dit tijdstip is geen prijs ingesteld: laden niet mogelijk.",
        "days": "ma,di,wo,do,vr,za,zo",
    },
}


@dataclass(frozen=True)
class PriceItem:
    dimension: str  # ENERGY | TIME | PARKING_TIME | FLAT | MIN | MAX
    label: str
    amount: str  # "0.595 € / kWh"
    condition: str = ""  # "22:00–06:00 · Mon–Fri", empty when always


@dataclass(frozen=True)
class PriceDisplay:
    headline: str  # the energy price, the largest text on the idle screen
    items: tuple[PriceItem, ...]
    vat_note: str
    hold_note: str


def _t(lang: str) -> dict[str, str]:
    return TEXTS.get(lang, TEXTS["en"])


def unit_price(amount: Decimal, currency: str, lang: str = "en") -> str:
    """An exact unit price: at least the currency's decimals, at most four, no trailing zeros
    beyond the currency's (``0.5950`` → ``€0.595``, ``0.6`` → ``€0.60``), in ``lang``'s
    format (:mod:`kiosk.billing.figures`)."""
    text = format(amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    shown = figures.money(text, currency, lang, exponent(currency), trim=True)
    return shown if shown is not None else f"{text} {currency}"


def _number(v: Decimal, lang: str) -> str:
    text = format(v.normalize(), "f")
    return figures.decimal(text, lang) or text


def _span(seconds: int, lang: str) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _days(days: list[DayOfWeek], lang: str) -> str:
    names = _t(lang)["days"].split(",")
    idx = sorted(list(DayOfWeek).index(d) for d in days)
    if len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{names[idx[0]]}–{names[idx[-1]]}"
    return ", ".join(names[i] for i in idx)


def condition(r: Restrictions | None, lang: str) -> str:
    if r is None:
        return ""
    t = _t(lang)
    parts: list[str] = []
    if r.start_time or r.end_time:
        parts.append(f"{r.start_time or '00:00'}–{r.end_time or '24:00'}")
    if r.day_of_week:
        parts.append(_days(r.day_of_week, lang))
    if r.start_date:
        parts.append(t["from_date"].format(v=r.start_date))
    if r.end_date:
        parts.append(t["until_date"].format(v=r.end_date))
    for lo, hi, key in ((r.min_kwh, r.max_kwh, "kwh"), (r.min_power, r.max_power, "kw"),
                        (r.min_current, r.max_current, "a")):
        if lo is not None:
            parts.append(t[f"from_{key}"].format(v=_number(lo, lang)))
        if hi is not None:
            parts.append(t[f"below_{key}"].format(v=_number(hi, lang)))
    if r.min_duration is not None:
        parts.append(t["after"].format(v=_span(r.min_duration, lang)))
    if r.max_duration is not None:
        parts.append(t["first"].format(v=_span(r.max_duration, lang)))
    return " · ".join(parts)


def _gross(c: PriceComponent) -> Decimal:
    return c.price if c.vat is None else c.price * (1 + c.vat / 100)


def _item(c: PriceComponent, r: Restrictions | None, currency: str, lang: str) -> PriceItem:
    t = _t(lang)
    cond = [condition(r, lang)] if r is not None else []
    if c.type is Dimension.ENERGY:
        amount = f"{unit_price(_gross(c), currency, lang)} {t['per_kwh']}"
        if c.step_size > 1:
            cond.append(t["step_energy"].format(v=c.step_size))
    elif c.type in (Dimension.TIME, Dimension.PARKING_TIME):
        amount = f"{unit_price(_gross(c) / 60, currency, lang)} {t['per_min']}"
        if c.type is Dimension.PARKING_TIME:
            cond.append(t["idle_note"])
        if c.step_size > 60:
            cond.append(t["step_time"].format(v=_span(c.step_size, lang)))
    else:
        amount = unit_price(_gross(c), currency, lang)
    return PriceItem(c.type.value, t[c.type.value], amount.strip(),
                     " · ".join(x for x in cond if x))


def price_display(tariff: Tariff, *, hold_minor: int, lang: str = "en") -> PriceDisplay:
    t = _t(lang)
    items: list[PriceItem] = []
    for el in tariff.elements:
        if el.restrictions is not None and el.restrictions.reservation is not None:
            continue  # no reservations at this kiosk
        for c in el.price_components:
            item = _item(c, el.restrictions, tariff.currency, lang)
            if c.price > 0 and item not in items:
                items.append(item)
    for key, bound in (("MIN", tariff.min_price), ("MAX", tariff.max_price)):
        if bound is not None:
            gross = bound.incl_vat if bound.incl_vat is not None else bound.excl_vat
            items.append(PriceItem(key, t[f"{key.lower()}_price"],
                                   unit_price(gross, tariff.currency, lang)))
    vats = sorted({c.vat for el in tariff.elements for c in el.price_components
                   if c.vat is not None and c.price > 0})
    unknown = any(c.vat is None and c.price > 0 for el in tariff.elements
                  for c in el.price_components)
    pct = [f"{_number(v, lang)}{figures.NBSP}%" for v in vats]
    if len(pct) == 1 and not unknown:
        vat_note = t["vat"].format(vat=pct[0])
    elif pct:
        vat_note = t["vat_mixed"].format(vat=", ".join(pct))
    else:
        vat_note = t["vat_unknown"]
    energies = [i for i in items if i.dimension == "ENERGY"]
    energy = next((i for i in energies if not i.condition), energies[0] if energies else None)
    headline = (energy or (items[0] if items else PriceItem("", "", "0"))).amount
    hold = unit_price(from_minor(hold_minor, tariff.currency), tariff.currency, lang)
    return PriceDisplay(headline, tuple(items), vat_note, t["hold"].format(hold=hold))
