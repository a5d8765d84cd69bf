"""The v0 tariff: energy, time and session fee with one VAT rate.

The OCPI 2.2.1 engine replaces it (billing issue); the seam stays: a pricer maps the session's
energy and duration to an exact breakdown, rounded once with :func:`round_to_minor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kiosk.billing.money import round_to_minor

WH_PER_KWH = Decimal(1000)
SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True)
class PriceBreakdown:
    energy_kwh: Decimal
    duration_s: int
    energy_excl: Decimal  # exact, major units
    time_excl: Decimal
    fee_excl: Decimal
    total_excl_minor: int
    vat_minor: int
    total_incl_minor: int  # what the driver pays: the capture amount


@dataclass(frozen=True)
class SimpleTariff:
    currency: str
    energy_price_per_kwh: Decimal  # excl. VAT
    time_price_per_hour: Decimal
    session_fee: Decimal
    vat_percent: Decimal

    def price(self, energy_wh: int, duration_s: int) -> PriceBreakdown:
        if energy_wh < 0 or duration_s < 0:
            raise ValueError("energy and duration cannot be negative")
        kwh = Decimal(energy_wh) / WH_PER_KWH
        energy = kwh * self.energy_price_per_kwh
        time = Decimal(duration_s) / SECONDS_PER_HOUR * self.time_price_per_hour
        fee = self.session_fee if energy_wh > 0 else Decimal(0)
        excl = energy + time + fee
        incl = excl * (1 + self.vat_percent / 100)
        total_excl = round_to_minor(excl, self.currency)
        total_incl = round_to_minor(incl, self.currency)
        return PriceBreakdown(
            energy_kwh=kwh, duration_s=duration_s, energy_excl=energy, time_excl=time,
            fee_excl=fee, total_excl_minor=total_excl, vat_minor=total_incl - total_excl,
            total_incl_minor=total_incl,
        )

    def amount_minor(self, energy_wh: int, duration_s: int) -> int:
        return self.price(energy_wh, duration_s).total_incl_minor
