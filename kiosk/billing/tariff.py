"""OCPI 2.2.1 tariffs: the strict model and the loader.

A tariff file is the Tariff object as a CPO publishes it (module "Tariffs"), or a JSON list of
them (the first one valid at a moment is the active one, so a price change can be scheduled).
Every key is checked: an unknown or misspelled key, a wrong type or an impossible restriction is
a :class:`TariffError` whose message starts with the JSON path (``$.elements[1].restrictions.
start_time``). Amounts are read as exact decimals, never through a float.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from kiosk.billing.money import MINOR_UNITS


class TariffError(ValueError):
    """A tariff that cannot be used. The message names the JSON path."""


class Dimension(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS = list(DayOfWeek)  # index = date.weekday()


class ReservationRestriction(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


def _json_number(v: object) -> object:
    """OCPI numbers are JSON numbers: a string, a bool or a float object is a wrong type."""
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        raise ValueError("must be a JSON number")
    return Decimal(v)


Amount = Annotated[Decimal, BeforeValidator(_json_number),
                   Field(ge=0, max_digits=18, allow_inf_nan=False)]
Kwh = Amount
Seconds = Annotated[int, Strict(), Field(ge=0, le=10**9)]
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Day = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    excl_vat: Amount
    incl_vat: Amount | None = None

    @model_validator(mode="after")
    def _incl_not_below_excl(self) -> Price:
        if self.incl_vat is not None and self.incl_vat < self.excl_vat:
            raise ValueError("incl_vat is lower than excl_vat")
        return self


class PriceComponent(_Strict):
    type: Dimension
    price: Amount
    vat: Annotated[Decimal, BeforeValidator(_json_number),
                   Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    step_size: Annotated[int, Strict(), Field(ge=1, le=10**9)]


class Restrictions(_Strict):
    start_time: Clock | None = None
    end_time: Clock | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    min_kwh: Kwh | None = None
    max_kwh: Kwh | None = None
    min_current: Kwh | None = None
    max_current: Kwh | None = None
    min_power: Kwh | None = None
    max_power: Kwh | None = None
    min_duration: Seconds | None = None
    max_duration: Seconds | None = None
    day_of_week: list[DayOfWeek] | None = Field(default=None, min_length=1, max_length=7)
    reservation: ReservationRestriction | None = None

    @field_validator("start_date", "end_date")
    @classmethod
    def _real_date(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a date") from None
        return v

    @model_validator(mode="after")
    def _possible(self) -> Restrictions:
        pairs = [("min_kwh", "max_kwh"), ("min_current", "max_current"),
                 ("min_power", "max_power"), ("min_duration", "max_duration"),
                 ("start_date", "end_date")]
        for lo, hi in pairs:
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and not a < b:
                raise ValueError(f"{lo} must be below {hi}: nothing could ever match")
        if self.start_time is not None and self.start_time == self.end_time:
            raise ValueError("start_time equals end_time: an empty window")
        if self.day_of_week is not None and len(set(self.day_of_week)) != len(self.day_of_week):
            raise ValueError("day_of_week repeats a day")
        return self

    @property
    def start_clock(self) -> time | None:
        return time.fromisoformat(self.start_time) if self.start_time else None

    @property
    def end_clock(self) -> time | None:
        return time.fromisoformat(self.end_time) if self.end_time else None


class TariffElement(_Strict):
    price_components: list[PriceComponent] = Field(min_length=1, max_length=16)
    restrictions: Restrictions | None = None


class DisplayText(_Strict):
    language: Annotated[str, StringConstraints(min_length=2, max_length=2)]
    text: Annotated[str, StringConstraints(max_length=512)]


class Tariff(_Strict):
    country_code: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = None
    party_id: Annotated[str, StringConstraints(min_length=1, max_length=3)] | None = None
    id: Annotated[str, StringConstraints(min_length=1, max_length=36)] = "tariff"
    currency: str
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] = Field(default_factory=list)
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: list[TariffElement] = Field(min_length=1, max_length=64)
    energy_mix: dict[str, Any] | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    last_updated: datetime | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            raise ValueError(f"unsupported currency {v!r}")
        return v

    @field_validator("start_date_time", "end_date_time", "last_updated")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("a timestamp needs a time zone (OCPI uses UTC, e.g. ...Z)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Tariff:
        if self.min_price and self.max_price and self.min_price.excl_vat > \
                self.max_price.excl_vat:
            raise ValueError("min_price is above max_price")
        if self.start_date_time and self.end_date_time and \
                self.start_date_time >= self.end_date_time:
            raise ValueError("start_date_time must be before end_date_time")
        return self

    def valid_at(self, moment: datetime) -> bool:
        if self.start_date_time is not None and moment < self.start_date_time:
            return False
        return self.end_date_time is None or moment < self.end_date_time


def _path(loc: tuple[int | str, ...]) -> str:
    out = "$"
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _parse_floats_as_decimal(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise TariffError(f"$: {name} is not a number")


def _validate(data: Any, prefix: tuple[int | str, ...] = ()) -> Tariff:
    if not isinstance(data, dict):
        raise TariffError(f"{_path(prefix)}: a tariff is a JSON object")
    try:
        return Tariff.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = _path(prefix + tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise TariffError(f"{where}: {msg}{more}") from None


def parse_tariffs(text: str | bytes) -> list[Tariff]:
    """One OCPI Tariff object, or a list of them, from JSON text."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise TariffError("$: not UTF-8 text") from None
    try:
        data = _parse_floats_as_decimal(text)
    except json.JSONDecodeError as exc:
        raise TariffError(f"$: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise TariffError("$: nested too deeply") from None
    if isinstance(data, list):
        if not data:
            raise TariffError("$: an empty list of tariffs")
        return [_validate(d, (i,)) for i, d in enumerate(data)]
    return [_validate(data)]


def parse_tariff(text: str | bytes) -> Tariff:
    tariffs = parse_tariffs(text)
    if len(tariffs) != 1:
        raise TariffError("$: expected one tariff, found a list")
    return tariffs[0]


def load_tariffs(path: Path | str) -> list[Tariff]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TariffError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return parse_tariffs(raw)
    except TariffError as exc:
        raise TariffError(f"{path}: {exc}") from None


def active_tariff(tariffs: list[Tariff], moment: datetime) -> Tariff | None:
    return next((t for t in tariffs if t.valid_at(moment)), None)


def simple_tariff(currency: str, *, energy_per_kwh: Decimal, time_per_hour: Decimal,
                  session_fee: Decimal, vat: Decimal) -> Tariff:
    """The config's simple prices as an OCPI tariff, so one engine prices everything."""
    components: list[dict[str, Any]] = []
    if session_fee:
        components.append({"type": "FLAT", "price": session_fee, "vat": vat, "step_size": 1})
    components.append({"type": "ENERGY", "price": energy_per_kwh, "vat": vat, "step_size": 1})
    if time_per_hour:
        components.append({"type": "TIME", "price": time_per_hour, "vat": vat, "step_size": 1})
    return Tariff.model_validate({"id": "config", "currency": currency, "type": "AD_HOC_PAYMENT",
                                  "elements": [{"price_components": components}]})
