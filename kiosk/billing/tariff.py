"""OCPI 2.2.1 tariffs: the strict model and the loader.

A tariff file is the Tariff object as a CPO publishes it (module "Tariffs"), or a JSON list of
them (the first one valid at a moment is the active one, so a price change can be scheduled).
Every key is checked: an unknown or misspelled key, a wrong type or an impossible restriction is
a :class:`TariffError` whose message starts with the JSON path (``$.elements[1].restrictions.
start_time``). Every problem of a file is listed, each with its path, joined with ``"; "`` on one
line (at most :data:`MAX_PROBLEMS`, then ``and N more``); :attr:`TariffError.problems` holds
them one by one. Amounts are read as exact decimals, never through a float.

Limits (besides the file limits of :mod:`kiosk.billing.inputs`): prices and min/max prices at
most 10^6 with at most 18 digits; kWh, A and kW restrictions at most 10^7; the validity and
``last_updated`` timestamps between 1970 and 2100.

Leniency, with a warning (never silent): ``step_size: 0``, found in published test tariffs, is
read as 1 (no stepping; OCPI asks for at least 1). Warnings go to the list the caller passes
(``load_tariffs(path, warnings=found)``), else to this module's log at WARNING.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
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

from kiosk.billing.inputs import (
    MAX_PRICE,
    MAX_VOLUME,
    InputError,
    json_path,
    parse_json,
    read_file,
    shown,
)
from kiosk.billing.money import MINOR_UNITS

log = logging.getLogger(__name__)

MAX_PROBLEMS = 20
VALID_FROM = datetime(1970, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


class TariffError(ValueError):
    """A tariff that cannot be used. The message names the JSON path of every problem, joined
    with ``"; "`` on one line; :attr:`problems` lists them one by one (without the file name
    that :func:`load_tariffs` puts in front of the message)."""

    def __init__(self, message: str, problems: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = problems if problems is not None else (message,)


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
                   Field(ge=0, le=MAX_PRICE, max_digits=18, allow_inf_nan=False)]
Kwh = Annotated[Decimal, BeforeValidator(_json_number),
                Field(ge=0, le=MAX_VOLUME, max_digits=18, allow_inf_nan=False)]
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
            raise ValueError(f"unsupported currency {v[:8]!r}")
        return v

    @field_validator("start_date_time", "end_date_time", "last_updated")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("a timestamp needs a time zone (OCPI uses UTC, e.g. ...Z)")
        if v is not None and not (VALID_FROM.year <= v.year < VALID_UNTIL.year
                                  and VALID_FROM <= v < VALID_UNTIL):
            raise ValueError("a timestamp must be between 1970 and 2100")
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


def _problem(err: Any, prefix: tuple[int | str, ...]) -> str:
    where = json_path(prefix + tuple(err["loc"]))
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (misspelled?)"
    return f"{where}: {msg}"


def _lenient(data: Any, prefix: tuple[int | str, ...], warnings: list[str]) -> Any:
    """What OCPI data gets wrong and a price can still be read from, mended with a warning:
    ``step_size: 0`` means no stepping (1). Returns a copy; ``data`` is not changed."""
    if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
        return data
    elements = []
    for i, el in enumerate(data["elements"]):
        if isinstance(el, dict) and isinstance(el.get("price_components"), list):
            comps = []
            for j, c in enumerate(el["price_components"]):
                if isinstance(c, dict) and type(c.get("step_size")) is int and \
                        c["step_size"] == 0:
                    where = json_path((*prefix, "elements", i, "price_components", j,
                                       "step_size"))
                    warnings.append(f"{where}: 0 read as 1 (no stepping; OCPI asks for at "
                                    f"least 1)")
                    comps.append({**c, "step_size": 1})
                else:
                    comps.append(c)
            elements.append({**el, "price_components": comps})
        else:
            elements.append(el)
    return {**data, "elements": elements}


def _validate(data: Any, prefix: tuple[int | str, ...], problems: list[str],
              warnings: list[str]) -> Tariff | None:
    if not isinstance(data, dict):
        problems.append(f"{json_path(prefix)}: a tariff is a JSON object")
        return None
    try:
        return Tariff.model_validate(_lenient(data, prefix, warnings))
    except ValidationError as exc:
        problems.extend(_problem(err, prefix) for err in exc.errors(include_url=False))
        return None


def _joined(problems: list[str]) -> str:
    shown_ = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown_)
    return "; ".join(shown_) + (f"; and {more} more" if more else "")


def _report(warnings: list[str], sink: list[str] | None) -> None:
    if sink is not None:
        sink.extend(warnings)
    else:
        for w in warnings:
            log.warning("tariff: %s", w)


def parse_tariffs(text: str | bytes, *, warnings: list[str] | None = None) -> list[Tariff]:
    """One OCPI Tariff object, or a list of them, from JSON text. Every problem is in the
    :class:`TariffError`; warnings (a mended ``step_size: 0``) are appended to ``warnings``,
    or logged when it is ``None``."""
    try:
        data = parse_json(text)
    except InputError as exc:
        raise TariffError(str(exc)) from None
    problems: list[str] = []
    found: list[str] = []
    if isinstance(data, list):
        if not data:
            raise TariffError("$: an empty list of tariffs")
        tariffs = [_validate(d, (i,), problems, found) for i, d in enumerate(data)]
    else:
        tariffs = [_validate(data, (), problems, found)]
    if problems:
        raise TariffError(_joined(problems), tuple(problems))
    _report(found, warnings)
    return [t for t in tariffs if t is not None]


def parse_tariff(text: str | bytes, *, warnings: list[str] | None = None) -> Tariff:
    tariffs = parse_tariffs(text, warnings=warnings)
    if len(tariffs) != 1:
        raise TariffError("$: expected one tariff, found a list")
    return tariffs[0]


def load_tariffs(path: Path | str, *, warnings: list[str] | None = None) -> list[Tariff]:
    """The tariffs of a file (a regular file of at most 1 MiB). A :class:`TariffError` starts
    with the file's name: ``demo.json: $.elements[0].price: …; $.currency: …``. Warnings
    (``demo.json: $.elements[0]…step_size: 0 read as 1 …``) are appended to ``warnings``, or
    logged when it is ``None``."""
    name = shown(path)
    try:
        raw = read_file(path)
    except InputError as exc:
        raise TariffError(f"{name}: {exc}") from None
    found: list[str] = []
    try:
        tariffs = parse_tariffs(raw, warnings=found)
    except TariffError as exc:
        raise TariffError(f"{name}: {exc}", exc.problems) from None
    _report([f"{name}: {w}" for w in found], warnings)
    return tariffs


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
