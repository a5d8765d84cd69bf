"""Builds the running kiosk from its config: devices, journal, machine, runner, adapters.

No Qt here: the same runtime runs under the window (``kiosk/app.py``), in headless scripts and
in tests. Devices are chosen by name from the config (``sim`` now; the real drivers plug in
behind the same interfaces as their issues land).
"""

from __future__ import annotations

import json
import logging
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from drivers.acquirer.api import PaymentHost
from drivers.acquirer.iso_link import IsoHostLink
from drivers.acquirer.pin import CounterStore, PinEncryptor
from drivers.charger.api import Charger
from drivers.emv.api import CardTerminal
from kiosk.billing.cdr import dumps as cdr_dumps
from kiosk.billing.cdr import session_cdr
from kiosk.billing.display import PriceDisplay, price_display
from kiosk.billing.live import TariffBook
from kiosk.billing.tariff import Tariff, load_tariffs, simple_tariff
from kiosk.config import KioskConfig
from kiosk.records.invoice import Seller, build_invoice
from kiosk.records.record import session_record
from kiosk.security.keys import load_or_create_key
from kiosk.session.adapters import DeviceAdapters
from kiosk.session.journal import Journal
from kiosk.session.machine import Policy, Session, SessionMachine
from kiosk.session.runner import Runner

if TYPE_CHECKING:
    from drivers.charger.openevse import OpenEvseCharger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class UnsupportedDevice(Exception):
    """The config names a device whose driver is not in this build."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def tariffs_from(config: KioskConfig) -> list[Tariff]:
    path = config.tariff_path()
    if path is not None:
        return load_tariffs(path)  # checked when the config was loaded
    t = config.tariff
    return [simple_tariff(config.station.currency, energy_per_kwh=t.energy_price_per_kwh,
                          time_per_hour=t.time_price_per_hour, session_fee=t.session_fee,
                          vat=t.vat_percent)]


def open_serial_charger(config: KioskConfig, clock: Clock) -> OpenEvseCharger:
    """The OpenEVSE controller on ``charger.port`` (RAPI), metered by the controller or by a
    Modbus MID meter."""
    from drivers.charger.meter import Meter, ModbusMeter
    from drivers.charger.openevse import OpenEvseCharger

    c = config.charger
    meter: Meter | None = None
    if c.meter == "modbus":
        meter = ModbusMeter(c.meter_port, address=c.meter_address, baud=c.meter_baud)
    return OpenEvseCharger(c.port, c.baud, poll_interval_s=c.poll_interval_s,
                           command_timeout_s=c.command_timeout_s, link_grace_s=c.link_grace_s,
                           max_power_w=c.max_power_w, meter=meter, clock=clock)


def terminal_id(config: KioskConfig) -> str:
    return config.host.terminal_id or "".join(c for c in config.station.id if c.isalnum())[:8]


def merchant_id(config: KioskConfig) -> str:
    return config.host.merchant_id or "".join(c for c in config.station.id
                                               if c.isalnum())[:15]


def tls_context(config: KioskConfig) -> ssl.SSLContext | None:
    if not config.host.tls:
        return None
    return ssl.create_default_context(cafile=config.host.ca_file or None)


def pin_encryptor_from(config: KioskConfig, counter_file: Path) -> PinEncryptor | None:
    """The terminal's DUKPT key for online PIN: the injected key file, or with the simulated
    host the public test key. None: cards that ask for online PIN are declined."""
    store = CounterStore(counter_file)
    if config.host.pin_key_file:
        try:
            data = json.loads(Path(config.host.pin_key_file).read_text())
            return PinEncryptor(data["scheme"], bytes.fromhex(data["initial_key"]),
                                bytes.fromhex(data["key_id"]), store)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnsupportedDevice(f"host.pin_key_file {config.host.pin_key_file}: "
                                    f"{type(exc).__name__}: {exc}") from None
    if config.host.kind == "sim":
        from drivers.sim.keys import TEST_IK_ID, sim_terminal_initial_key

        return PinEncryptor("aes", sim_terminal_initial_key(), TEST_IK_ID, store)
    return None


def policy_from(config: KioskConfig, book: TariffBook) -> Policy:
    p = config.payment
    return Policy(
        hold_minor=config.to_minor(p.hold_amount),
        pricer=book.price,
        tracker=book.track,
        bills_parking=book.bills_parking,
        increment_minor=config.to_minor(p.increment_amount),
        max_total_hold_minor=config.to_minor(p.max_total_hold),
        threshold_percent=p.hold_threshold_percent,
        allow_increments=p.allow_increments,
        host_timeout_s=math.ceil(config.host.timeout_s) + 5,
        plug_timeout_s=config.ui.plug_timeout_s,
        receipt_timeout_s=config.ui.receipt_timeout_s,
    )


@dataclass
class Runtime:
    config: KioskConfig
    journal: Journal
    machine: SessionMachine
    runner: Runner
    adapters: DeviceAdapters
    card_terminal: CardTerminal
    charger: Charger
    host: PaymentHost
    tariffs: TariffBook
    clock: Clock
    closers: list[Callable[[], None]] = field(default_factory=list)
    displays: dict[tuple[int, str], PriceDisplay] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.config.station.currency

    def price_display(self, lang: str = "") -> PriceDisplay | None:
        """The prices of the tariff valid now, for the idle screen; None: no valid tariff."""
        pricer = self.tariffs.at(self.clock())
        if pricer is None:
            return None
        key = (id(pricer), lang or self.config.ui.language)
        shown = self.displays.get(key)
        if shown is None:  # once per tariff and language: the idle screen asks twice a second
            shown = self.displays[key] = price_display(
                pricer.tariff, lang=key[1],
                hold_minor=self.config.to_minor(self.config.payment.hold_amount))
        return shown

    def recover(self) -> int:
        return len(self.runner.recover(self.adapters.probe))

    def close(self) -> None:
        self.adapters.close()
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                log.exception("error while closing")
        self.journal.close()


def build_runtime(
    config: KioskConfig,
    *,
    clock: Clock = utc_now,
    journal_path: Path | None = None,
    card_terminal: CardTerminal | None = None,
    charger: Charger | None = None,
    host: PaymentHost | None = None,
) -> Runtime:
    closers: list[Callable[[], None]] = []
    path = journal_path or config.journal_path()
    if card_terminal is None:
        if config.reader.kind == "pcsc":
            card_terminal = open_pcsc_terminal(config)
        else:
            from drivers.sim.card_terminal import SimCardTerminal
            card_terminal = SimCardTerminal(read_delay_s=0.3 if config.ui.demo_mode else 0.0)
    if charger is None:
        if config.charger.kind == "serial":
            charger = open_serial_charger(config, clock)
            closers.append(charger.close)
        else:
            from drivers.sim.charger import SimCharger
            sim = SimCharger(connectors=tuple(c.id for c in config.connectors), auto=True,
                             speed=config.charger.sim_speed)
            closers.append(sim.close)
            charger = sim
    if host is None:
        port = config.host.port
        if config.host.kind == "sim" and port == 0:
            from drivers.sim.host import HostSimulator
            server = HostSimulator()
            server.start()
            closers.append(server.stop)
            port = server.port
        link = IsoHostLink(config.host.address, port, terminal_id=terminal_id(config),
                           merchant_id=merchant_id(config), currency=config.station.currency,
                           timeout_s=config.host.timeout_s, tls=tls_context(config),
                           clock=clock)
        closers.append(link.close)
        host = link

    journal = Journal(path)
    book = TariffBook(tariffs_from(config), ZoneInfo(config.station.timezone))
    machine = SessionMachine(policy_from(config, book))
    station_id, currency = config.station.id, config.station.currency
    invoice_key = load_or_create_key(path.parent / "invoice-token.key")
    seller = Seller(config.station.operator, config.station.address, station_id,
                    config.station.name)
    labels = {c.id: c.label for c in config.connectors}
    base_url = config.backoffice.url or "https://backoffice.invalid"

    def invoice_for(s: Session) -> Callable[[int], dict[str, Any]]:
        pricer = book.for_start(s.marks[0].at if s.marks else s.created_at)
        cost = pricer.cost(s)
        return lambda seq: build_invoice(
            s, cost, seq, seller=seller, connector_label=labels.get(s.connector, ""),
            zone=book.zone, key=invoice_key, base_url=base_url, tariff_id=pricer.tariff.id)

    def cdr_for(s: Session) -> list[tuple[str, dict[str, Any]]]:
        pricer = book.for_start(s.marks[0].at if s.marks else s.created_at)
        periods = pricer.periods(s)
        start = s.charge_started_at or s.created_at
        cdr = session_cdr(
            session_id=s.id, country_code=config.station.country_code,
            party_id=config.station.party_id, station_id=station_id,
            station_name=config.station.name, address=config.station.address,
            connector=s.connector, start=start, end=s.last_reading_at or start,
            periods=periods, cost=pricer.cost(s), tariff=pricer.tariff, token=s.token,
            masked_pan=s.masked_pan, auth_code=s.auth_code, meter_start_wh=s.meter_start_wh,
            meter_stop_wh=s.meter_now_wh, invoice_number="")
        return [("cdr", json.loads(cdr_dumps(cdr)))]

    runner = Runner(machine, journal, clock=clock,
                    record_builder=lambda s: session_record(s, station_id=station_id,
                                                            currency=currency),
                    invoice_for=invoice_for, captured_records=cdr_for)
    adapters = DeviceAdapters(
        post=runner.post, card_terminal=card_terminal, host=host, charger=charger,
        currency=currency, token_key=load_or_create_key(path.parent / "card-token.key"),
        clock=clock, pin_encryptor=pin_encryptor_from(config, path.parent / "dukpt.counter"),
    )
    runner.executor = adapters
    return Runtime(config, journal, machine, runner, adapters, card_terminal, charger, host,
                   book, clock, closers)


def open_pcsc_terminal(config: KioskConfig) -> CardTerminal:
    """The PC/SC reader with the kernel set up for this station: its country, its CA keys."""
    from drivers import iso3166
    from drivers.emv.capk import CaKeyStore
    from drivers.emv.transaction import TerminalConfig
    from drivers.pcsc.terminal import PcscCardTerminal

    path = config.ca_keys_path()
    assert path is not None  # the config check insists on a CA key file for a PC/SC reader
    country = iso3166.NUMERIC[config.station.country_code]
    return PcscCardTerminal(config.reader.name, TerminalConfig(country_numeric=country),
                            CaKeyStore.load(path))
