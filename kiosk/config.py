"""The kiosk's configuration: one TOML file, one typed schema.

Every value is checked when the file is read; a wrong value gives one :class:`ConfigError` that
names the file and the dotted key (``payment.hold_amount``), and the kiosk does not start half
configured. Unknown keys are errors too: a misspelled key must not silently fall back to its
default. Amounts are decimal strings in major units (``"50.00"``), so no float ever touches
money.

Production is the default: without ``demo`` (``kiosk run --demo``) the file must name every
device (``[reader]``, ``[charger]``, ``[host]`` with an explicit ``kind``), no simulator may
run, the payment host is reached over TLS with certificate and host-name checks (plaintext only
with ``host.allow_plaintext_lab``), the records go to the back office over HTTPS with its CA
pinned (``backoffice.url`` and ``backoffice.ca_file``) unless ``backoffice.offline`` says they
leave by USB, and the CA key file must not hold the project's TEST CA.
With ``demo``, a missing device section is its simulator (``kiosk/resources/kiosk.toml``, the demo
config, spells every key out). ``demo`` is an argument of :func:`parse_config`, never a key of
the file.

Hostile files get one clean line too: only regular files are read (a FIFO, a device such as
``/dev/zero`` or a folder is refused before a byte is read), each with a size limit (the config
256 KiB, a tariff or a CA file 1 MiB, the PIN key 64 KiB); every free-text value is printable
(no control character, no NUL) and bounded in length; baud rates are the standard ones; the
journal and the log file must be files in a folder the kiosk can write, never under ``/proc``,
``/sys`` or ``/dev``.
"""

from __future__ import annotations

import os
import ssl
import stat
import tomllib
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
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
from kiosk.files import FileRefused, file_kind, read_regular_file

SCHEMA_VERSION = 1
RESOURCES = Path(__file__).resolve().parent / "resources"
DEFAULT_CONFIG_PATH = RESOURCES / "kiosk.toml"


# the files the config reads, and the most of each that is read
CONFIG_MAX_BYTES = 256 * 1024
TARIFF_MAX_BYTES = 1024 * 1024  # as kiosk.billing.inputs reads a tariff
CA_FILE_MAX_BYTES = 1024 * 1024  # reader.ca_keys (JSON), host.ca_file (PEM)
PIN_KEY_MAX_BYTES = 64 * 1024
# the standard serial rates an OpenEVSE controller or a Modbus RTU meter is set to
SCREEN_LANGUAGES = ("en", "de", "fr", "nl")  # the driver's screens are written in these
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
KERNEL_FILE_SYSTEMS = ("/proc", "/sys", "/dev")  # no journal or log file there
MESSAGE_MAX_CHARS = 4000  # a tariff lists up to 20 problems


def one_line(text: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    """A message that is safe to print as one line: its lines joined with "; ", any other
    control character escaped, at most ``limit`` characters."""
    joined = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    out = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) in ("Cc", "Cs") else c
                  for c in joined)
    return out if len(out) <= limit else out[:limit - 1] + "…"


def _short(value: object, limit: int = 40) -> str:
    """A value quoted in a message, shortened: a hostile file's value may be megabytes."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class ConfigError(Exception):
    """The config file is missing, is not TOML, or has a wrong value. The message names the
    file and the key, on one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def _printable(v: str) -> str:
    """Free text shown on screen, printed on receipts or used as a name: no control
    character (NUL, line breaks, escapes), no line or paragraph separator, no bidi override."""
    for c in v:
        if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or "\u202a" <= c <= "\u202e" \
                or "\u2066" <= c <= "\u2069":
            raise ValueError(f"a control character (U+{ord(c):04X}) is not allowed")
    return v


def _standard_baud(v: int) -> int:
    if v not in BAUD_RATES:
        raise ValueError(f"{_short(v)} is not a standard baud rate "
                         f"({', '.join(map(str, BAUD_RATES))})")
    return v


def _no_float(v: object) -> object:
    if isinstance(v, float | bool):
        raise ValueError("write amounts as strings, e.g. \"50.00\" (a float is not exact)")
    return v


Money = Annotated[Decimal, BeforeValidator(_no_float),
                  Field(ge=0, max_digits=12, allow_inf_nan=False, strict=False)]
Percent = Annotated[Decimal, BeforeValidator(_no_float),
                    Field(ge=0, le=100, max_digits=8, decimal_places=4, allow_inf_nan=False,
                          strict=False)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                 AfterValidator(_printable)]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)]
Text128 = Annotated[str, StringConstraints(max_length=128), AfterValidator(_printable)]
# a file or device name (PATH_MAX)
FileName = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_printable)]
Baud = Annotated[int, AfterValidator(_standard_baud)]


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
    address: Text200 = ""
    currency: Annotated[str, StringConstraints(max_length=16)] = "EUR"
    timezone: Annotated[str, StringConstraints(max_length=64)] = "Europe/Berlin"
    # the languages the driver can choose (the screens are written in SCREEN_LANGUAGES)
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=lambda: list(SCREEN_LANGUAGES), min_length=1, max_length=32)
    # shown on the out-of-service screen: who to call
    service_phone: Annotated[str, StringConstraints(pattern=r"^(|\+?[0-9][0-9 ()/-]{3,30})$")] = ""

    @field_validator("languages")
    @classmethod
    def _screen_languages(cls, v: list[str]) -> list[str]:
        unknown = [lang for lang in v if lang not in SCREEN_LANGUAGES]
        if unknown:
            raise ValueError(f"the screens are not written in {', '.join(unknown)} "
                             f"(they are in {', '.join(SCREEN_LANGUAGES)})")
        if len(set(v)) != len(v):
            raise ValueError("a language is listed twice")
        return v

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            known = ", ".join(sorted(MINOR_UNITS))
            raise ValueError(f"unknown currency {_short(v)}; known: {known}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {_short(v)} (use an IANA name like "
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
    settle_retry_s: int = Field(default=30, ge=1, le=3600)  # a capture/reversal not acknowledged
    settle_retry_max_s: int = Field(default=900, ge=1, le=86_400)  # ... doubling up to this

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

    file: FileName = ""

    energy_price_per_kwh: Money = Decimal("0.50")
    time_price_per_hour: Money = Decimal("0.00")
    session_fee: Money = Decimal("0.00")
    vat_percent: Percent = Decimal("19")


class ReaderConfig(_Section):
    """``ca_keys``: the terminal's CA public keys for offline data authentication (JSON, see
    :mod:`drivers.emv.capk`), relative to the config file's folder; checked at load time when
    ``kind = "pcsc"`` (the virtual cards of "sim" need none)."""

    kind: Literal["sim", "pcsc"] = "sim"
    name: Text128 = ""  # PC/SC reader name (substring); empty: the first reader
    ca_keys: FileName = "ca_keys.json"


class ChargerConfig(_Section):
    kind: Literal["sim", "serial"] = "sim"
    port: FileName = ""  # serial device, e.g. /dev/ttyUSB0
    baud: Baud = 115200  # one of BAUD_RATES
    sim_speed: int = Field(default=1, ge=1, le=3600)  # simulator: seconds of charge per second
    poll_interval_s: float = Field(default=1.0, ge=0.1, le=60)
    command_timeout_s: float = Field(default=0.5, ge=0.05, le=10)
    link_grace_s: float = Field(default=10.0, ge=1, le=600)  # link down this long: a fault
    reading_timeout_s: float = Field(default=10.0, ge=1, le=600)  # charging without a reading
    stop_timeout_s: int = Field(default=30, ge=2, le=600)  # a stop the charger never confirms
    # the controller's own supervision ($SY): no heartbeat this long → it drops to this current
    heartbeat_interval_s: int = Field(default=10, ge=1, le=3600)
    # 0: the lowest the controller allows (OpenEVSE raises anything below 6 A to 6 A: its
    # supervision lowers the current, it cannot switch off by itself)
    heartbeat_current_a: int = Field(default=0, ge=0, le=80)
    max_power_w: int = Field(default=22_000, ge=1000, le=400_000)  # meter plausibility
    meter: Literal["controller", "modbus"] = "controller"  # "modbus": a MID meter bills
    meter_port: FileName = ""
    meter_address: int = Field(default=1, ge=1, le=247)
    meter_baud: Baud = 9600


class HostConfig(_Section):
    kind: Literal["sim", "iso8583"] = "sim"
    # a host name or an IP address (IPv6 also in brackets, with a %zone)
    address: Annotated[str, StringConstraints(
        pattern=r"^[A-Za-z0-9._:%\[\]-]{0,253}$")] = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)  # sim with 0: run the simulator in-process
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    # iso8583: TLS with the host's certificate checked against ca_file and its name against
    # server_name (or address); the simulator (kind = "sim") is plaintext on 127.0.0.1
    tls: bool = True
    ca_file: FileName = ""  # the acquirer's CA certificate(s), PEM; relative to the config file
    server_name: Annotated[str, StringConstraints(
        pattern=r"^(|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")] = ""  # TLS name
    allow_plaintext_lab: bool = False  # tls = false only with this; the screen warns
    terminal_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{0,8}$")] = ""
    merchant_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{0,15}$")] = ""
    # the terminal's DUKPT initial key for online PIN, as injected at provisioning: a JSON file
    # {"scheme": "aes", "initial_key": hex, "key_id": hex[, "counter": n]}, relative to the
    # config file; the transaction counter lives in it. Empty with kind = "sim": test keys
    pin_key_file: FileName = ""


def _base_url(v: str) -> str:
    """An http(s) base URL: a host, maybe a port and a path; no user, query or fragment."""
    if not v:
        return v
    try:
        parts = urlsplit(v)
        port = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise ValueError(f"{_short(v)}: not a URL ({exc})") from None
    if not parts.hostname:
        raise ValueError(f"{_short(v)}: no host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{_short(v)}: no user name or password in the URL")
    if parts.query or parts.fragment or v.endswith(("?", "#")):
        raise ValueError(f"{_short(v)}: a base URL has no query (?) or fragment (#)")
    if port == 0:
        raise ValueError(f"{_short(v)}: port 0")
    return v.rstrip("/")


BaseUrl = Annotated[str, StringConstraints(pattern=r"^(|https?://\S+)$", max_length=2048),
                    AfterValidator(_printable), AfterValidator(_base_url)]


class BackofficeConfig(_Section):
    """Where the terminal uploads its records (``POST <url>/v1/batches``, HTTPS with the back
    office's certificate checked against ``ca_file`` only, and its name against the URL's host),
    and the base of the invoice link on the receipt. Outside demo, either ``url`` is https://
    with ``ca_file``, or ``offline = true`` says the records leave by USB (``kiosk
    export-batches``). A relative ``ca_file`` is relative to the config file's folder."""

    url: BaseUrl = ""  # empty in demo: no uploads
    ca_file: FileName = ""  # the back office's CA certificate(s), PEM: the only ones trusted
    invoice_base_url: BaseUrl = ""  # the receipt's QR link base as drivers reach it; "": url
    offline: bool = False  # no uploads: the site exports by USB (kiosk export-batches)
    upload_interval_s: int = Field(default=60, ge=5, le=86_400)  # look for records this often
    upload_retry_s: float = Field(default=10.0, ge=0.05, le=3600)  # a failed upload: again ...
    upload_retry_max_s: float = Field(default=900.0, ge=0.05, le=86_400)  # ... doubling to this
    timeout_s: float = Field(default=30.0, gt=0, le=300)  # connect, send, each read of the answer

    def uploads(self) -> bool:
        """Does the terminal upload (a URL, and not offline)?"""
        return bool(self.url) and not self.offline

    def invoice_base(self) -> str:
        """The base of the invoice link ("" when none is configured)."""
        return self.invoice_base_url or self.url


class JournalConfig(_Section):
    path: FileName = ""  # empty: $EVKIOSK_DATA_DIR or ~/.local/share/evkiosk


class UiConfig(_Section):
    fullscreen: bool = False
    sound: bool = True  # audio cues (a card read, a timeout near, paid, declined)
    # the screen's density, for touch targets of at least 9 mm; 0: what the screen reports
    dpi: int = Field(default=0, ge=0, le=1200)
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "en"
    plug_timeout_s: int = Field(default=180, ge=10, le=3600)
    receipt_timeout_s: int = Field(default=60, ge=5, le=3600)
    card_timeout_s: int = Field(default=60, ge=5, le=600)  # waiting for a card
    pin_timeout_s: int = Field(default=60, ge=5, le=600)  # waiting for the PIN
    message_timeout_s: int = Field(default=20, ge=3, le=600)  # a declined/error screen


class HealthConfig(_Section):
    """The terminal's own checks: out of service when one fails, back by itself."""

    host_echo_interval_s: int = Field(default=60, ge=5, le=3600)  # ISO 8583 0800 echo test
    host_down_after_s: int = Field(default=180, ge=5, le=86_400)  # echoes failing this long
    min_free_mb: int = Field(default=50, ge=1, le=100_000)  # the journal's disk


class MaintenanceConfig(_Section):
    """The technicians' mode (kiosk/maintenance): how long it stays open untouched, and the
    operator's Ed25519 public key (64 hex digits, raw) that must have signed a config or tariff
    update before it is taken; empty: no update is taken on site."""

    idle_timeout_s: int = Field(default=120, ge=15, le=3600)
    operator_key: Annotated[str, StringConstraints(pattern=r"^(|[0-9a-f]{64})$")] = ""
    update_folder: FileName = ""  # where a USB stick with updates is mounted; "": none
    # ask the back office for signed updates this often (when it uploads there and an
    # operator_key is set); 0: never (updates come by USB only)
    update_poll_s: int = Field(default=900, ge=0, le=86_400)

    @field_validator("update_poll_s")
    @classmethod
    def _poll(cls, value: int) -> int:
        if 0 < value < 30:
            raise ValueError("0 (never) or at least 30 seconds")
        return value


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    path: FileName = ""  # empty: standard error


DEVICE_SECTIONS = {"reader": "pcsc", "charger": "serial", "host": "iso8583"}  # the real kinds


class KioskConfig(_Section):
    schema_version: Literal[1]
    demo: bool = False  # set by parse_config from its argument (kiosk run --demo), never a key
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
    health: HealthConfig = HealthConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
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
        c = self.charger
        if c.reading_timeout_s < 2 * c.poll_interval_s:
            raise ValueError("charger.reading_timeout_s must be at least twice "
                             "charger.poll_interval_s")
        if c.heartbeat_interval_s < 3 * c.poll_interval_s:
            raise ValueError("charger.heartbeat_interval_s must be at least three times "
                             "charger.poll_interval_s (the poll pulses the heartbeat)")
        if 0 < c.heartbeat_current_a < 6:
            raise ValueError("charger.heartbeat_current_a is 0 (stop) or at least 6 A "
                             "(IEC 61851)")
        if self.payment.settle_retry_max_s < self.payment.settle_retry_s:
            raise ValueError("payment.settle_retry_max_s must be at least payment.settle_retry_s")
        if self.charger.meter == "modbus" and not self.charger.meter_port:
            raise ValueError("charger.meter_port is needed when charger.meter = 'modbus'")
        if self.reader.kind == "pcsc" and self.station.country_code not in iso3166.NUMERIC:
            raise ValueError(f"station.country_code {self.station.country_code!r}: the card "
                             f"kernel knows no ISO 3166 numeric code for it")
        if self.host.kind == "iso8583" and self.host.port == 0:
            raise ValueError("host.port is needed when host.kind = 'iso8583'")
        if self.host.kind == "iso8583" and not self.host.pin_key_file:
            raise ValueError("host.pin_key_file is needed when host.kind = 'iso8583'")
        if not self.demo:
            for section in DEVICE_SECTIONS:
                if getattr(self, section).kind == "sim":
                    raise ValueError(f"{section}.kind = 'sim' runs a simulator: only with "
                                     f"kiosk run --demo")
        if self.host.kind == "iso8583":
            if not self.host.tls and not self.host.allow_plaintext_lab:
                raise ValueError("host.tls = false sends card data and PIN blocks in clear: "
                                 "only for a lab host, with host.allow_plaintext_lab = true")
            if self.host.tls and not self.host.ca_file:
                raise ValueError("host.ca_file is needed when host.kind = 'iso8583' with tls: "
                                 "the acquirer's CA certificate (PEM) that the host's "
                                 "certificate and name are checked against")
        self._backoffice_checks()
        e = exponent(self.station.currency)
        for key, value in (("payment.hold_amount", self.payment.hold_amount),
                           ("payment.increment_amount", self.payment.increment_amount),
                           ("payment.max_total_hold", self.payment.max_total_hold)):
            if value != value.quantize(Decimal(1).scaleb(-e)):
                raise ValueError(f"{key} has more decimals than {self.station.currency} allows")
        return self

    def _backoffice_checks(self) -> None:
        b = self.backoffice
        if b.upload_retry_max_s < b.upload_retry_s:
            raise ValueError("backoffice.upload_retry_max_s must be at least "
                             "backoffice.upload_retry_s")
        if b.url.startswith("https://") and not b.ca_file and b.uploads():
            raise ValueError("backoffice.ca_file is needed with an https:// backoffice.url: the "
                             "back office's CA certificate (PEM), the only one its "
                             "certificate is checked against")
        if self.demo:
            return
        if not b.url and not b.offline:
            raise ValueError("backoffice.url: missing: outside demo give the back office's "
                             "https:// URL and backoffice.ca_file, or offline = true when the "
                             "records leave by USB (kiosk export-batches)")
        if not b.invoice_base():
            raise ValueError("backoffice.invoice_base_url: missing: with offline = true and no "
                             "url, the receipt's QR link needs the https:// address where "
                             "drivers open their invoice")
        for key, value in (("url", b.url), ("invoice_base_url", b.invoice_base_url)):
            if value.startswith("http://"):
                raise ValueError(f"backoffice.{key}: http:// sends records and invoice links "
                                 f"in clear: https:// outside demo (kiosk run --demo)")

    def tariff_path(self) -> Path | None:
        return Path(self.tariff.file) if self.tariff.file else None

    def ca_keys_path(self) -> Path | None:
        return Path(self.reader.ca_keys) if self.reader.ca_keys else None

    def host_uses_tls(self) -> bool:
        """The payment host link is TLS (never for the simulator, which is plaintext)."""
        return self.host.kind == "iso8583" and self.host.tls

    def plaintext_lab_host(self) -> bool:
        """A real host protocol in clear (host.allow_plaintext_lab): the screen warns."""
        return self.host.kind == "iso8583" and not self.host.tls

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


def _read(path: Path, limit: int, source: str, key: str) -> bytes:
    try:
        return read_regular_file(path, limit)
    except FileRefused as exc:
        raise ConfigError(f"{source}: {key}: {path}: {exc}") from None


def _check_tariffs(cfg: KioskConfig, source: str) -> None:
    from kiosk.billing.tariff import TariffError, load_tariffs

    path = cfg.tariff_path()
    if path is None:
        return
    _read(path, TARIFF_MAX_BYTES, source, "tariff.file")  # a regular file, not too large
    try:
        tariffs = load_tariffs(path)
    except TariffError as exc:  # the tariff's own problems, as kiosk.billing words them
        raise ConfigError(f"{source}: tariff.file: {exc}") from None
    for i, t in enumerate(tariffs):
        if t.currency != cfg.station.currency:
            raise ConfigError(f"{source}: tariff.file: tariff {i} ({_short(t.id)}) is in "
                              f"{t.currency}, the station sells in {cfg.station.currency}")


def _check_ca_keys(cfg: KioskConfig, source: str) -> None:
    from drivers.emv.capk import CaKeyError, CaKeyStore

    if cfg.reader.kind != "pcsc":
        return
    path = cfg.ca_keys_path()
    if path is None:
        raise ConfigError(f"{source}: reader.ca_keys: a CA key file is needed when "
                          f"reader.kind = 'pcsc'")
    _read(path, CA_FILE_MAX_BYTES, source, "reader.ca_keys")
    try:
        store = CaKeyStore.load(path)
    except CaKeyError as exc:  # one line, even if the file's text holds line breaks
        raise ConfigError(f"{source}: reader.ca_keys: {' '.join(str(exc).splitlines())}"
                          ) from None
    if not cfg.demo:
        from kiosk.security.keys import ca_test_key_reason

        if reason := ca_test_key_reason(store):
            raise ConfigError(f"{source}: reader.ca_keys: {path}: a TEST key: {reason}; a "
                              f"terminal needs the schemes' live CA keys (test keys only with "
                              f"kiosk run --demo)")


def _check_host_ca(cfg: KioskConfig, source: str) -> None:
    """The acquirer's CA certificate must be readable PEM: the link checks the host by it."""
    if cfg.host_uses_tls():
        _check_ca_pem(Path(cfg.host.ca_file), source, "host.ca_file")


def _check_backoffice_ca(cfg: KioskConfig, source: str) -> None:
    """The back office's CA certificate, when given, must be readable PEM: the uploads check
    the back office by it alone."""
    if cfg.backoffice.ca_file:
        _check_ca_pem(Path(cfg.backoffice.ca_file), source, "backoffice.ca_file")


def _check_ca_pem(path: Path, source: str, key: str) -> None:
    _read(path, CA_FILE_MAX_BYTES, source, key)
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        raise ConfigError(f"{source}: {key}: {path}: not a PEM CA certificate "
                          f"({exc.reason or exc})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: {key}: {path}: cannot read: "
                          f"{exc.strerror or exc}") from None


def _check_pin_key(cfg: KioskConfig, source: str) -> None:
    """The injected DUKPT key must be a readable regular file (its content, mode and owner are
    checked when the kiosk loads its keys: kiosk provision, kiosk run)."""
    if cfg.host.pin_key_file:
        _read(Path(cfg.host.pin_key_file), PIN_KEY_MAX_BYTES, source, "host.pin_key_file")


def _under_kernel_fs(path: Path) -> str | None:
    for top in KERNEL_FILE_SYSTEMS:
        if path == Path(top) or Path(top) in path.parents:
            return top
    return None


def _check_file_to_write(path: Path, source: str, key: str, what: str, *,
                         folder_writes: bool) -> None:
    """A file the kiosk creates and writes (the journal, the log): not under /proc, /sys or
    /dev, not a directory or a device, and in a folder that exists or can be created and
    that the kiosk can write (``folder_writes``: always, SQLite puts its -wal and -shm files
    next to the journal; else only to create the file)."""
    where = f"{source}: {key}: {path}"
    try:
        full = Path(os.path.abspath(path))
        real = Path(os.path.realpath(full))
        for p in (full, real):
            if top := _under_kernel_fs(p):
                raise ConfigError(f"{where}: under {top}, a kernel file system: {what} needs "
                                  f"a folder on a real disk")
        if os.path.exists(full):
            st = os.stat(full)
            if stat.S_ISDIR(st.st_mode):
                raise ConfigError(f"{where}: a directory: name {what} file in it")
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{where}: {file_kind(st.st_mode)}, not a regular file")
            if not os.access(full, os.R_OK | os.W_OK):
                raise ConfigError(f"{where}: not writable by this user")
        folder = real.parent
        while not os.path.lexists(folder):  # it will be created: its first existing parent
            folder = folder.parent
        if not os.path.isdir(folder):
            raise ConfigError(f"{where}: {folder} is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK) and (folder_writes
                                                         or not os.path.exists(real)):
            raise ConfigError(f"{where}: the folder {folder} is not writable by this user")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot use: {exc.strerror or exc}") from None
    except (ValueError, RuntimeError) as exc:  # a NUL, an unknown ~user
        raise ConfigError(f"{where}: cannot use: {exc}") from None


def _check_paths(cfg: KioskConfig, source: str) -> None:
    if cfg.journal.path:
        try:
            journal = cfg.journal_path()
        except (RuntimeError, ValueError):
            raise ConfigError(f"{source}: journal.path: {cfg.journal.path}: no such user's "
                              f"home folder") from None
        _check_file_to_write(journal, source, "journal.path", "the journal",
                             folder_writes=True)
    if cfg.logging.path:
        _check_file_to_write(Path(cfg.logging.path), source, "logging.path", "the log",
                             folder_writes=False)


def _check_devices_named(data: dict[str, object], source: str) -> None:
    """Outside demo, the file names every device: nothing falls back to a simulator."""
    for section, real in DEVICE_SECTIONS.items():
        part = data.get(section)
        if section == "host" and part is None:
            raise ConfigError(f"{source}: host: missing: outside demo there is no built-in "
                              f"payment host (it would approve everything): give [host] with "
                              f"kind = 'iso8583', its address, port, TLS CA and PIN key")
        if part is None:
            raise ConfigError(f"{source}: {section}: missing: without --demo the file names "
                              f"every device ([{section}] kind = '{real}'); the simulators run "
                              f"only with kiosk run --demo")
        if isinstance(part, dict) and "kind" not in part:
            raise ConfigError(f"{source}: {section}.kind: missing: without --demo the file "
                              f"names every device (kind = '{real}'); the simulators run only "
                              f"with kiosk run --demo")


def _relative_to(data: dict[str, object], source: str, section: str, key: str, base: Path,
                 default: str = "") -> None:
    """A file name in the config (or its default) taken relative to ``base``."""
    part = data.setdefault(section, {}) if default else data.get(section)
    if isinstance(part, dict) and isinstance(name := part.get(key, default), str) and name:
        try:
            part[key] = str(base / Path(name).expanduser())
        except (RuntimeError, ValueError):  # ~user unknown; a NUL (refused by the schema)
            if name.startswith("~") and "\0" not in name:
                raise ConfigError(f"{source}: {section}.{key}: {_short(name)}: no such user's "
                                  f"home folder") from None


def parse_config(text: str, source: str = "<config>", base: Path | None = None, *,
                 demo: bool = False) -> KioskConfig:
    """Check a TOML text against the schema (and the tariff, CA key and host CA files it
    names), for production or, with ``demo`` (``kiosk run --demo``), for the simulators.
    Relative file names are taken from ``base`` (the config file's folder; without one, the
    current folder). Raises :class:`ConfigError`."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of thousands of digits
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    if "demo" in data:
        raise ConfigError(f"{source}: demo: set by `kiosk run --demo`, not in the file")
    ui = data.get("ui")
    if isinstance(ui, dict) and "demo_mode" in ui:
        raise ConfigError(f"{source}: ui.demo_mode: no longer a key: the demo is the switch "
                          f"`kiosk run --demo` (remove the line)")
    if "schema_version" not in data:
        raise ConfigError(f"{source}: schema_version: missing (this kiosk reads version "
                          f"{SCHEMA_VERSION})")
    if not demo:
        _check_devices_named(data, source)
    here = base or Path.cwd()
    _relative_to(data, source, "tariff", "file", here)
    _relative_to(data, source, "reader", "ca_keys", here, ReaderConfig().ca_keys)
    _relative_to(data, source, "host", "ca_file", here)
    _relative_to(data, source, "host", "pin_key_file", here)
    _relative_to(data, source, "backoffice", "ca_file", here)
    data["demo"] = demo
    try:
        cfg = KioskConfig.model_validate(data)
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        # a cross-field check fails at the model itself; its message holds the key
        key = _where(tuple(p for p in err["loc"] if p != "__root__"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        elif err["type"] == "literal_error" and key == "schema_version":
            msg = f"this kiosk reads version {SCHEMA_VERSION}, the file says {_short(err['input'])}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        if not err["loc"]:  # a cross-field check: its message names the keys
            raise ConfigError(f"{source}: {msg}{more}") from None
        raise ConfigError(f"{source}: {key}: {msg}{more}") from None
    _check_paths(cfg, source)
    _check_tariffs(cfg, source)
    _check_ca_keys(cfg, source)
    _check_host_ca(cfg, source)
    _check_backoffice_ca(cfg, source)
    _check_pin_key(cfg, source)
    return cfg


def load_config(path: Path | str, *, demo: bool = False) -> KioskConfig:
    """Read and check a config file: a regular file of at most :data:`CONFIG_MAX_BYTES`, UTF-8
    TOML (see :func:`parse_config`). Raises :class:`ConfigError`."""
    path = Path(path)
    try:
        raw = read_regular_file(path, CONFIG_MAX_BYTES)
    except FileRefused as exc:
        if str(exc) == "no such file":
            raise ConfigError(f"{path}: no such config file") from None
        raise ConfigError(f"{path}: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        base = path.resolve().parent
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(text, str(path), base, demo=demo)
