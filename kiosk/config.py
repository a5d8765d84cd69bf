"""The kiosk's configuration: one TOML file, one typed schema.

Every value is checked when the file is read; a wrong value gives one :class:`ConfigError` that
names the file and the dotted key (``payment.hold_amount``), and the kiosk does not start half
configured. Unknown keys are errors too: a misspelled key must not silently fall back to its
default. Amounts are decimal strings in major units (``"50.00"``), so no float ever touches
money.

The defaults are the demo on simulators (``resources/kiosk.toml`` spells them out).
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers import iso3166
from kiosk.billing.money import MINOR_UNITS, exponent

SCHEMA_VERSION = 1
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_CONFIG_PATH = RESOURCES / "kiosk.toml"


class ConfigError(Exception):
    """The config file is missing, is not TOML, or has a wrong value. The message names the
    file and the key."""


def _no_float(v: object) -> object:
    if isinstance(v, float | bool):
        raise ValueError("write amounts as strings, e.g. \"50.00\" (a float is not exact)")
    return v


Money = Annotated[Decimal, BeforeValidator(_no_float),
                  Field(ge=0, max_digits=12, allow_inf_nan=False, strict=False)]
Percent = Annotated[Decimal, BeforeValidator(_no_float),
                    Field(ge=0, le=100, allow_inf_nan=False, strict=False)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Section(BaseModel):
    # strict: "yes" is not a bool and "3" is not a number; Decimal fields take strings
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              strict=True)


class StationConfig(_Section):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,36}$")] = "DEMO-0001"
    name: Name = "Demo charging station"
    operator: Name = "Open EV Kiosk"
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "DE"
    party_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3}$")] = "EVK"  # OCPI CPO id
    address: str = ""
    currency: str = "EUR"
    timezone: str = "Europe/Berlin"
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=lambda: ["en", "de"], min_length=1)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            known = ", ".join(sorted(MINOR_UNITS))
            raise ValueError(f"unknown currency {v!r}; known: {known}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name like "
                             f"'Europe/Berlin')") from None
        return v


class ConnectorConfig(_Section):
    id: int = Field(ge=1, le=16)
    label: Name = "1"
    max_current_a: int = Field(default=32, ge=6, le=80)


class PaymentConfig(_Section):
    hold_amount: Money = Decimal("50.00")
    increment_amount: Money = Decimal("25.00")
    max_total_hold: Money = Decimal("150.00")
    hold_threshold_percent: int = Field(default=90, ge=50, le=99)
    allow_increments: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> PaymentConfig:
        if self.hold_amount <= 0:
            raise ValueError("hold_amount must be more than zero")
        if self.allow_increments and self.max_total_hold < self.hold_amount:
            raise ValueError("max_total_hold must be at least hold_amount")
        return self


class TariffConfig(_Section):
    """Either an OCPI 2.2.1 tariff file (``file``: one Tariff object or a list; the first one
    valid at the session start applies), or the simple prices below, which become a one-element
    OCPI tariff. A relative ``file`` is relative to the config file's folder."""

    file: str = ""

    energy_price_per_kwh: Money = Decimal("0.50")
    time_price_per_hour: Money = Decimal("0.00")
    session_fee: Money = Decimal("0.00")
    vat_percent: Percent = Decimal("19")


class ReaderConfig(_Section):
    """``ca_keys``: the terminal's CA public keys for offline data authentication (JSON, see
    :mod:`drivers.emv.capk`), relative to the config file's folder; checked at load time when
    ``kind = "pcsc"`` (the virtual cards of "sim" need none)."""

    kind: Literal["sim", "pcsc"] = "sim"
    name: str = ""  # PC/SC reader name (substring); empty: the first reader
    ca_keys: str = "ca_keys.json"


class ChargerConfig(_Section):
    kind: Literal["sim", "serial"] = "sim"
    port: str = ""  # serial device, e.g. /dev/ttyUSB0
    baud: int = Field(default=115200, gt=0)
    sim_speed: int = Field(default=1, ge=1, le=3600)  # simulator: seconds of charge per second
    poll_interval_s: float = Field(default=1.0, ge=0.1, le=60)
    command_timeout_s: float = Field(default=0.5, ge=0.05, le=10)
    link_grace_s: float = Field(default=10.0, ge=1, le=600)  # link down this long: a fault
    max_power_w: int = Field(default=22_000, ge=1000, le=400_000)  # meter plausibility
    meter: Literal["controller", "modbus"] = "controller"  # "modbus": a MID meter bills
    meter_port: str = ""
    meter_address: int = Field(default=1, ge=1, le=247)
    meter_baud: int = Field(default=9600, gt=0)


class HostConfig(_Section):
    kind: Literal["sim", "iso8583"] = "sim"
    address: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)  # sim with 0: run the simulator in-process
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    tls: bool = False
    ca_file: str = ""  # with tls: the host's CA (empty: the system's)
    terminal_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{0,8}$")] = ""
    merchant_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{0,15}$")] = ""
    # the terminal's DUKPT initial key for online PIN, as injected at provisioning: a JSON file
    # {"scheme": "aes", "initial_key": hex, "key_id": hex}; empty with kind = "sim": test keys
    pin_key_file: str = ""


class BackofficeConfig(_Section):
    url: Annotated[str, StringConstraints(pattern=r"^(|https?://\S+)$")] = ""
    upload_interval_s: int = Field(default=60, ge=5)


class JournalConfig(_Section):
    path: str = ""  # empty: $EVKIOSK_DATA_DIR or ~/.local/share/evkiosk


class UiConfig(_Section):
    fullscreen: bool = False
    demo_mode: bool = True
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "en"
    plug_timeout_s: int = Field(default=180, ge=10, le=3600)
    receipt_timeout_s: int = Field(default=60, ge=5, le=3600)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    path: str = ""  # empty: standard error


class KioskConfig(_Section):
    schema_version: Literal[1]
    station: StationConfig = StationConfig()
    connectors: list[ConnectorConfig] = Field(
        default_factory=lambda: [ConnectorConfig(id=1, label="1")], min_length=1, max_length=16)
    payment: PaymentConfig = PaymentConfig()
    tariff: TariffConfig = TariffConfig()
    reader: ReaderConfig = ReaderConfig()
    charger: ChargerConfig = ChargerConfig()
    host: HostConfig = HostConfig()
    backoffice: BackofficeConfig = BackofficeConfig()
    journal: JournalConfig = JournalConfig()
    ui: UiConfig = UiConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> KioskConfig:
        ids = [c.id for c in self.connectors]
        if len(set(ids)) != len(ids):
            raise ValueError("connectors: each connector id must be unique")
        if self.ui.language not in self.station.languages:
            raise ValueError(f"ui.language {self.ui.language!r} is not in station.languages")
        if self.charger.kind == "serial" and not self.charger.port:
            raise ValueError("charger.port is needed when charger.kind = 'serial'")
        if self.charger.meter == "modbus" and not self.charger.meter_port:
            raise ValueError("charger.meter_port is needed when charger.meter = 'modbus'")
        if self.reader.kind == "pcsc" and self.station.country_code not in iso3166.NUMERIC:
            raise ValueError(f"station.country_code {self.station.country_code!r}: the card "
                             f"kernel knows no ISO 3166 numeric code for it")
        if self.host.kind == "iso8583" and self.host.port == 0:
            raise ValueError("host.port is needed when host.kind = 'iso8583'")
        if self.host.kind == "iso8583" and not self.host.pin_key_file:
            raise ValueError("host.pin_key_file is needed when host.kind = 'iso8583'")
        e = exponent(self.station.currency)
        for key, value in (("payment.hold_amount", self.payment.hold_amount),
                           ("payment.increment_amount", self.payment.increment_amount),
                           ("payment.max_total_hold", self.payment.max_total_hold)):
            if value != value.quantize(Decimal(1).scaleb(-e)):
                raise ValueError(f"{key} has more decimals than {self.station.currency} allows")
        return self

    def tariff_path(self) -> Path | None:
        return Path(self.tariff.file) if self.tariff.file else None

    def ca_keys_path(self) -> Path | None:
        return Path(self.reader.ca_keys) if self.reader.ca_keys else None

    def to_minor(self, amount: Decimal) -> int:
        """An exact amount of the station's currency in minor units (validated exact)."""
        return int(amount.scaleb(exponent(self.station.currency)))

    def journal_path(self) -> Path:
        if self.journal.path:
            return Path(self.journal.path).expanduser()
        base = os.environ.get("EVKIOSK_DATA_DIR") or Path.home() / ".local/share/evkiosk"
        return Path(base) / "journal.sqlite"


def _where(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append(p)
    return ".".join(parts) or "(top level)"


def _check_tariffs(cfg: KioskConfig, source: str) -> None:
    from kiosk.billing.tariff import TariffError, load_tariffs

    path = cfg.tariff_path()
    if path is None:
        return
    try:
        tariffs = load_tariffs(path)
    except TariffError as exc:
        raise ConfigError(f"{source}: tariff.file: {exc}") from None
    for i, t in enumerate(tariffs):
        if t.currency != cfg.station.currency:
            raise ConfigError(f"{source}: tariff.file: tariff {i} ({t.id}) is in {t.currency}, "
                              f"the station sells in {cfg.station.currency}")


def _check_ca_keys(cfg: KioskConfig, source: str) -> None:
    from drivers.emv.capk import CaKeyError, CaKeyStore

    if cfg.reader.kind != "pcsc":
        return
    path = cfg.ca_keys_path()
    if path is None:
        raise ConfigError(f"{source}: reader.ca_keys: a CA key file is needed when "
                          f"reader.kind = 'pcsc'")
    if not path.is_file():
        raise ConfigError(f"{source}: reader.ca_keys: {path}: no such file")
    try:
        CaKeyStore.load(path)
    except CaKeyError as exc:  # one line, even if the file's text holds line breaks
        raise ConfigError(f"{source}: reader.ca_keys: {' '.join(str(exc).splitlines())}"
                          ) from None


def _relative_to(data: dict[str, object], section: str, key: str, base: Path,
                 default: str = "") -> None:
    """A file name in the config (or its default) taken relative to ``base``."""
    part = data.setdefault(section, {}) if default else data.get(section)
    if isinstance(part, dict) and isinstance(name := part.get(key, default), str) and name:
        part[key] = str(base / Path(name).expanduser())


def parse_config(text: str, source: str = "<config>", base: Path | None = None) -> KioskConfig:
    """Check a TOML text against the schema (and the tariff and CA key files it names).
    Relative file names are taken from ``base`` (the config file's folder; without one, the
    current folder). Raises :class:`ConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    _relative_to(data, "tariff", "file", base or Path.cwd())
    _relative_to(data, "reader", "ca_keys", base or Path.cwd(), ReaderConfig().ca_keys)
    if "schema_version" not in data:
        raise ConfigError(f"{source}: schema_version: missing (this kiosk reads version "
                          f"{SCHEMA_VERSION})")
    try:
        cfg = KioskConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        # a cross-field check fails at the model itself; its message holds the key
        key = _where(tuple(p for p in err["loc"] if p != "__root__"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        elif err["type"] == "literal_error" and key == "schema_version":
            msg = f"this kiosk reads version {SCHEMA_VERSION}, the file says {err['input']!r}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        if not err["loc"]:  # a cross-field check: its message names the keys
            raise ConfigError(f"{source}: {msg}{more}") from None
        raise ConfigError(f"{source}: {key}: {msg}{more}") from None
    _check_tariffs(cfg, source)
    _check_ca_keys(cfg, source)
    return cfg


def load_config(path: Path | str) -> KioskConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, str(path), path.resolve().parent)
