"""Which devices the config names, opened: a card terminal, a charger and a payment host.

The simulators run only in demo mode (``kiosk run --demo``): outside it a ``sim`` kind is
refused here too, whatever the config check let through, so nothing ever falls back to a
simulator. Each opener returns the device and what closes it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from drivers.acquirer.api import PaymentHost
from drivers.acquirer.iso_link import IsoHostLink
from drivers.charger.api import Charger
from drivers.emv.api import CardTerminal
from kiosk.config import KioskConfig

if TYPE_CHECKING:
    from drivers.charger.openevse import OpenEvseCharger

Clock = Callable[[], datetime]


class UnsupportedDevice(Exception):
    """The config names a device that cannot be used (missing driver, simulator outside demo,
    a device that does not open)."""


@dataclass
class Devices:
    card_terminal: CardTerminal
    charger: Charger
    host: PaymentHost
    closers: list[Callable[[], None]] = field(default_factory=list)


def _demo(config: KioskConfig) -> bool:
    return config.demo


def _no_sim(config: KioskConfig, key: str) -> None:
    if not _demo(config):
        raise UnsupportedDevice(f"{key} = 'sim' runs a simulator: only with kiosk run --demo")


def open_devices(config: KioskConfig, clock: Clock, *, card_terminal: CardTerminal | None = None,
                 charger: Charger | None = None, host: PaymentHost | None = None) -> Devices:
    """The devices of ``config``; a device passed in (tests) is used as it is."""
    closers: list[Callable[[], None]] = []
    if card_terminal is None:
        card_terminal = open_card_terminal(config)
    if charger is None:
        if config.charger.kind == "serial":
            serial = open_serial_charger(config, clock)
            closers.append(serial.close)
            charger = serial
        else:
            _no_sim(config, "charger.kind")
            from drivers.sim.charger import SimCharger
            sim = SimCharger(connectors=tuple(c.id for c in config.connectors), auto=True,
                             speed=config.charger.sim_speed)
            closers.append(sim.close)
            charger = sim
    if host is None:
        link, more = open_host(config, clock)
        closers += more
        host = link
    return Devices(card_terminal, charger, host, closers)


def open_card_terminal(config: KioskConfig) -> CardTerminal:
    if config.reader.kind == "pcsc":
        return open_pcsc_terminal(config)
    _no_sim(config, "reader.kind")
    from drivers.sim.card_terminal import SimCardTerminal
    return SimCardTerminal(read_delay_s=0.3 if _demo(config) else 0.0)


def open_pcsc_terminal(config: KioskConfig) -> CardTerminal:
    """The PC/SC reader with the kernel set up for this station: its country, its CA keys."""
    from drivers import iso3166
    from drivers.emv.capk import CaKeyStore
    from drivers.emv.transaction import TerminalConfig
    from drivers.pcsc.terminal import PcscCardTerminal

    path = config.ca_keys_path()
    if path is None:
        raise UnsupportedDevice("reader.ca_keys: a CA key file is needed for a PC/SC reader")
    country = iso3166.NUMERIC[config.station.country_code]
    return PcscCardTerminal(config.reader.name, TerminalConfig(country_numeric=country),
                            CaKeyStore.load(path))


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
                           reading_timeout_s=c.reading_timeout_s, max_power_w=c.max_power_w,
                           heartbeat_interval_s=c.heartbeat_interval_s,
                           heartbeat_current_a=c.heartbeat_current_a, meter=meter, clock=clock)


def terminal_id(config: KioskConfig) -> str:
    return config.host.terminal_id or "".join(c for c in config.station.id if c.isalnum())[:8]


def merchant_id(config: KioskConfig) -> str:
    return config.host.merchant_id or "".join(c for c in config.station.id
                                               if c.isalnum())[:15]


def tls_context(config: KioskConfig) -> ssl.SSLContext | None:
    """Certificate and host-name checks against the configured CA; None only with the lab's
    plaintext switch (the config check refuses ``tls = false`` without it)."""
    if not config.host.tls:
        if not config.host.allow_plaintext_lab:
            raise UnsupportedDevice("host.tls = false needs host.allow_plaintext_lab = true")
        return None
    ctx = ssl.create_default_context(cafile=config.host.ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def open_host(config: KioskConfig, clock: Clock) -> tuple[IsoHostLink,
                                                          list[Callable[[], None]]]:
    closers: list[Callable[[], None]] = []
    port = config.host.port
    if config.host.kind == "sim":
        _no_sim(config, "host.kind")
        if port == 0:
            from drivers.sim.host import HostSimulator
            server = HostSimulator()
            server.start()
            closers.append(server.stop)
            port = server.port
    # the simulator (demo only) speaks plaintext on loopback; a real host only TLS, unless the
    # lab switch says otherwise (the screen then shows a warning)
    tls = None if config.host.kind == "sim" else tls_context(config)
    link = IsoHostLink(config.host.address, port, terminal_id=terminal_id(config),
                       merchant_id=merchant_id(config), currency=config.station.currency,
                       timeout_s=config.host.timeout_s, tls=tls, clock=clock,
                       server_name=config.host.server_name)
    closers.append(link.close)
    return link, closers
