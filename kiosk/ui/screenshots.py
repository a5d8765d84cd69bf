"""Screenshots of every driver screen in every size and language, and of the technicians'
maintenance screens: ``python -m kiosk.ui.screenshots OUTDIR [--size WxH ...] [--lang xx ...]
[--check] [--only-maintenance | --no-maintenance]``.

Builds the kiosk on its simulators (a throw-away journal, a payment host simulator on loopback),
plays the demo flows once through the real buttons (a paid session whose capture the host first
refuses, a PIN card, an offline PIN wrong twice, a declined card, an unreadable one, a cancel),
keeping each screen as a *stage* (the session snapshot it showed, or the terminal's health);
then draws every stage at every screen size (800x480, 1024x600, 1280x800, 1920x1080 and
1080x1920 portrait) in every language the station offers and saves
``OUTDIR/<W>x<H>/<lang>/<screen>.png``. Then the idle page of a station with four connectors,
and of a kiosk on a lab host link in clear (the header's warning).

Last, the maintenance screens (:mod:`kiosk.ui.maintenance`, English only) of a four-connector
station with five technicians enrolled and a USB folder holding two bundles signed by a
throw-away operator key: the login's steps (the names, the PIN, "Not accepted.", the code),
then, logged in as the operator's admin, every page, those with a result on it (a card read, a
current set, the other terminal's bundle refused, an export), at every size, saved as
``OUTDIR/maintenance/<W>x<H>/<page>.png``. The mode, its login and its audit log run on fixed
clocks and the runtime's clock starts at :data:`MNT_START`, so the countdown, the entries'
times, the header's time and the tariff are the same on every run (the temporary folder's name,
the uptime and the terminal's keys are not).

``--check`` also lists every label whose text is cut off or elided, every control outside the
window and every touch target below 9 mm (:mod:`kiosk.ui.layout_check`) and exits 1 when there
is any. Run it headless with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import HostSimulator
from kiosk.config import RESOURCES, parse_config
from kiosk.health import HOST, MSG_HOST
from kiosk.maintenance.mode import Maintenance
from kiosk.maintenance.updates import make_update
from kiosk.runtime import Clock, Runtime, build_runtime
from kiosk.security.audit import AuditLog
from kiosk.security.keys import load_signing_key
from kiosk.security.provisioning import DEMO_PIN_KEY, SIGNING_KEY
from kiosk.security.technicians import Access, TechnicianStore, code_at
from kiosk.session import events as ev
from kiosk.session.machine import Session, State
from kiosk.ui.bridge import Bridge
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow
from kiosk.ui.maintenance.widgets import say

CONFIG = f"""
schema_version = 1
[tariff]
file = "{RESOURCES / 'tariffs' / 'demo.json'}"
[charger]
sim_speed = 120
"""
HOST_CONFIG = """
[host]
port = {port}
"""
# a real host protocol in clear, allowed only for a lab (the header warns)
LAB_HOST_CONFIG = """
[host]
kind = "iso8583"
port = {port}
tls = false
allow_plaintext_lab = true
pin_key_file = "{pin_key}"
"""
SERVICE_PHONE = "+49 30 1234 5678"  # as an operator would configure it
RETRY_S = 0.5  # the refused capture is sent again soon (30 s on a terminal)
SIZES = ((800, 480), (1024, 600), (1280, 800), (1920, 1080), (1080, 1920))
OFFLINE_PIN_CARD = "visa_contact_sda_pin"
PLAY_SIZE = (1280, 800)


class ScreenshotError(Exception):
    """The demo flow did not reach the expected page."""


Stage = Callable[[], None]  # puts the window into one screen


class Shooter:
    """Plays the flows on a window and keeps each screen as a stage to draw again later."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.stages: dict[str, Stage] = {}

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end:
                raise ScreenshotError(f"timed out waiting for {what} "
                                      f"(on {self.window.current_page()})")
            self.pump(0.02)

    def page(self, name: str, timeout: float = 15.0) -> None:
        self.wait(name, lambda: self.window.current_page() == name, timeout)

    def click(self, name: str, pump_s: float = 0.05) -> None:
        btn = self.window.findChild(QPushButton, name)
        if btn is None or not btn.isVisible() or not btn.isEnabled():
            raise ScreenshotError(f"no visible, enabled button {name!r} "
                                  f"on {self.window.current_page()}")
        btn.click()
        if pump_s > 0:
            self.pump(pump_s)

    def pin(self, digits: str) -> None:
        self.pin_pad("pin_key", digits, "pin_ok")

    def pin_pad(self, prefix: str, digits: str, ok: str = "") -> None:
        for digit in digits:
            self.click(f"{prefix}_{digit}")
        self.click(ok or f"{prefix}_ok")

    def label(self, name: str) -> QLabel:
        lbl = self.window.findChild(QLabel, name)
        if lbl is None:
            raise ScreenshotError(f"no label {name!r} on {self.window.current_page()}")
        return lbl

    def keep(self, name: str, session: Session | None = None, *,
             before: Stage | None = None, extra: Stage | None = None) -> None:
        """Keep the screen shown now (``session``: the snapshot it shows, default the live
        one; ``before``: the state it needs, ``extra``: what else makes it, e.g. a notice)."""
        shown = session if session is not None else self.window.runtime.active()
        window = self.window
        # the screen as it was when kept: as far from its timeout when drawn later (a run
        # takes a minute; on the real clock a late size would show the timeout's warning)
        left = (shown.deadline - window.runtime.clock()
                if shown is not None and shown.deadline is not None else None)

        def stage() -> None:
            if before is not None:
                before()
            if shown is not None and left is not None:
                window.show_session(replace(shown, deadline=window.runtime.clock() + left))
            else:
                window.show_session(shown)
            if extra is not None:
                extra()

        self.stages[name] = stage


def _pending(runtime: Runtime, pending: bool) -> Stage:
    """The receipt's payment line as it was: pending in the queue, or paid."""
    def stage() -> None:
        runtime.settlement_pending = lambda session_id: pending  # type: ignore[method-assign]
    return stage


def shoot(outdir: Path | None, *, sizes: tuple[tuple[int, int], ...] = SIZES,
          langs: tuple[str, ...] = (), check: bool = False, accessible: bool = True,
          driver: bool = True, maintenance: bool = True) -> tuple[list[Path], list[str]]:
    """Every screen at every size and language (``driver``: the driver's screens,
    ``maintenance``: the technicians' screens, in English only); returns the files saved
    (none when ``outdir`` is None) and, with ``check``, the layout problems found."""
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    host = HostSimulator()
    host.start()
    try:
        with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
            gallery = Gallery(outdir, sizes, langs, check, accessible)
            if driver:
                _driver_pages(gallery, Path(tmp), host)
                _connectors_page(gallery, Path(tmp), host)
                _lab_page(gallery, Path(tmp), host)
            if maintenance:
                _maintenance_pages(gallery, Path(tmp), host)
            return gallery.saved, gallery.problems
    finally:
        host.stop()


class Gallery:
    """Draws stages at every size and language, saves and checks them."""

    def __init__(self, outdir: Path | None, sizes: tuple[tuple[int, int], ...],
                 langs: tuple[str, ...], check: bool, accessible: bool = True) -> None:
        self.outdir = outdir
        self.sizes = sizes
        self.langs = langs
        self.check = check
        self.accessible = accessible  # each screen again in the accessibility mode
        self.saved: list[Path] = []
        self.problems: list[str] = []

    def draw(self, window: MainWindow, stages: dict[str, Stage]) -> None:
        offered = window.translations.offered
        langs = [lang for lang in (self.langs or offered) if lang in offered]
        window.reset_language = False  # the staged screens come in any order
        modes = (False, True) if self.accessible else (False,)
        for w, h in self.sizes:
            window.resize(w, h)
            _settle()
            if (window.width(), window.height()) != (w, h):
                self.problems.append(f"{w}x{h}: the window became "
                                     f"{window.width()}x{window.height()}")
            for accessible in modes:
                window.set_accessible(accessible)
                self._draw_languages(window, stages, langs, f"{w}x{h}",
                                     "-a11y" if accessible else "")
            window.set_accessible(False)

    def draw_maintenance(self, window: MainWindow, stages: dict[str, Stage]) -> None:
        """The maintenance screen's stages at every size: English only, one look."""
        for w, h in self.sizes:
            window.resize(w, h)
            _settle()
            size = f"{w}x{h}"
            for name, stage in stages.items():
                stage()
                _settle()
                if self.check:
                    touch = window.ui.metrics.touch
                    self.problems += [f"maintenance/{size}/{name}: {p}"
                                      for p in layout_problems(window, touch)]
                if self.outdir is not None:
                    path = self.outdir / "maintenance" / size / f"{name}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if not window.grab().save(str(path)):
                        raise ScreenshotError(f"could not write {path}")
                    self.saved.append(path)

    def _draw_languages(self, window: MainWindow, stages: dict[str, Stage], langs: list[str],
                        size: str, mode: str) -> None:
        for lang in langs:
            window.set_language(lang)
            for name, stage in stages.items():
                stage()
                _settle()
                _drawn(window)
                where = f"{size}/{lang}{mode}/{name}"
                if self.check:
                    touch = window.ui.metrics.touch
                    self.problems += [f"{where}: {p}"
                                      for p in layout_problems(window, touch)]
                if self.outdir is not None:
                    path = self.outdir / size / f"{lang}{mode}" / f"{name}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if not window.grab().save(str(path)):
                        raise ScreenshotError(f"could not write {path}")
                    self.saved.append(path)


def _settle() -> None:
    """Let the layouts and style changes of the last step take effect."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


def _drawn(window: MainWindow, timeout_s: float = 10.0) -> None:
    """Wait for what is drawn on another thread (the receipt's QR code)."""
    end = time.monotonic() + timeout_s
    while not window.receipt_page.qr_drawn():
        if time.monotonic() > end:
            raise ScreenshotError("the receipt's QR code was not drawn in time")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


@contextmanager
def _kiosk(config: str, journal: Path, *, clock: Clock | None = None,
           config_path: Path | None = None) -> Iterator[tuple[Runtime, MainWindow, Shooter]]:
    """A demo kiosk's window on ``config`` (``clock``: the runtime's, default the real one;
    ``config_path``: the file it was read from, for the maintenance's updates), shown at the
    size the flows are played at; closed (window, bridge, runtime) at the end."""
    parsed = parse_config(config, demo=True)
    runtime = (build_runtime(parsed, journal_path=journal) if clock is None
               else build_runtime(parsed, journal_path=journal, clock=clock))
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=True, bridge=bridge, config_path=config_path)
    try:
        window.resize(*PLAY_SIZE)
        window.show()
        yield runtime, window, Shooter(window)
    finally:
        window.shutdown()
        bridge.close()
        window.close()
        runtime.close()


def _freeze(window: MainWindow) -> None:
    """Every flow is over: from now on the gallery alone moves the window."""
    bridge = window.bridge
    window.shutdown()
    if bridge is not None:
        bridge.close()


def _driver_pages(gallery: Gallery, tmp: Path, host: HostSimulator) -> None:
    with _kiosk(CONFIG + HOST_CONFIG.format(port=host.port), tmp / "journal.sqlite") as (
            runtime, window, s):
        runtime.health.phone = SERVICE_PHONE
        runtime.settlement.retry_s = RETRY_S
        _play(s, runtime, window, host)
        _freeze(window)
        gallery.draw(window, s.stages)


FOUR_CONNECTORS = "".join(f"""
[[connectors]]
id = {i}
label = "{label}"
""" for i, label in enumerate("ABCD", start=1))


def _connectors_page(gallery: Gallery, tmp: Path, host: HostSimulator) -> None:
    """A station with four connectors, one of them charging: the idle page's buttons."""
    config = CONFIG + HOST_CONFIG.format(port=host.port) + FOUR_CONNECTORS
    with _kiosk(config, tmp / "connectors" / "journal.sqlite") as (runtime, window, s):
        s.page("idle_page")
        s.click("connector_button_2")
        s.page("card_page")
        s.click("demo_card_visa_contactless")
        s.page("plug_page")
        s.click("demo_plug_button")
        s.page("charging_page")
        s.click("home_button")
        s.page("idle_page")
        s.wait("connector B charging", lambda: (b := runtime.runner.session_on(2)) is not None
               and b.state is State.CHARGING)
        _freeze(window)
        gallery.draw(window, {"idle_page_connectors": lambda: window.show_session(None)})


def _lab_page(gallery: Gallery, tmp: Path, host: HostSimulator) -> None:
    """The idle page of a kiosk whose host link is ISO 8583 in clear (the lab switch)."""
    pin_key = tmp / DEMO_PIN_KEY  # the demo's TEST key, made by the first kiosk
    config = CONFIG + LAB_HOST_CONFIG.format(port=host.port, pin_key=pin_key)
    with _kiosk(config, tmp / "lab" / "journal.sqlite") as (_runtime, window, s):
        s.page("idle_page")
        _freeze(window)
        gallery.draw(window, {"idle_page_lab_mode": lambda: window.show_session(None)})


# --- the technicians' maintenance screens ----------------------------------------------------
MNT_START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # 10:30 at the demo station (Berlin)
AUDIT_STEP_S = 7.0  # the maintenance audit log's clock: this much later at each entry
TECHNICIANS = (("alice", "technician"), ("bob", "admin"), ("carol", "technician"),
               ("dave.mueller", "technician"), ("erik_the-long-named", "technician"))
TECH_PIN = "246810"  # every technician's PIN on the throw-away terminal
ADMIN = "bob"  # logs in: the updates page is the admin's
MNT_CONFIG = """
[maintenance]
operator_key = "{key}"
update_folder = "{usb}"
"""
MNT_CARD = "visa_contactless"


def _started_at(start: datetime) -> Clock:
    """A clock that starts at ``start`` and runs at the real pace: the header's time and the
    tariff valid now are the same on every run."""
    t0 = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - t0)


class _Steps:
    """A clock that says ``start``, then ``step_s`` later at each call (the audit entries'
    times, the same on every run)."""

    def __init__(self, start: datetime, step_s: float) -> None:
        self.start = start
        self.step_s = step_s
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return self.start + timedelta(seconds=self.step_s * self.calls)


def _bundles(usb: Path, key: Ed25519PrivateKey, station: str, config: bytes) -> None:
    """Two signed bundles on the USB folder: a config for this terminal, and a tariff for
    another one (refused when applied: a stick carried from another kiosk)."""
    now = datetime.now(UTC)  # the bundles' validity is checked on the real clock
    valid = {"issued_at": now - timedelta(minutes=1), "expires_at": now + timedelta(days=1)}
    tariff = (RESOURCES / "tariffs" / "demo.json").read_bytes()
    other = "DEMO-0002" if station != "DEMO-0002" else "DEMO-0003"
    (usb / f"{station}-config-000001.evkupdate").write_bytes(
        make_update(key, "config", station, 1, config, **valid))
    (usb / f"{other}-tariff-000002.evkupdate").write_bytes(
        make_update(key, "tariff", other, 2, tariff, **valid))


def _maintenance_pages(gallery: Gallery, tmp: Path, host: HostSimulator) -> None:
    """Every maintenance page on a four-connector station, its technicians enrolled and a
    USB folder with two update bundles signed by the operator's (throw-away) key."""
    folder = tmp / "maintenance"
    folder.mkdir(mode=0o700)  # the data folder: the kiosk's own
    usb = folder / "usb"
    usb.mkdir()
    operator = Ed25519PrivateKey.generate()
    public = operator.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    config = (CONFIG + HOST_CONFIG.format(port=host.port)
              + MNT_CONFIG.format(key=public, usb=usb) + FOUR_CONNECTORS)
    config_path = folder / "kiosk.toml"
    config_path.write_text(config)
    store = TechnicianStore(folder)
    secret = {name: store.add(name, role, TECH_PIN).totp_secret
              for name, role in TECHNICIANS}[ADMIN]
    with _kiosk(config, folder / "journal.sqlite", clock=_started_at(MNT_START),
                config_path=config_path) as (runtime, window, s):
        s.page("idle_page")
        _bundles(usb, operator, runtime.config.station.id, config_path.read_bytes())
        # the mode on fixed clocks (the runtime's own mode and audit log keep the real ones):
        # the idle countdown, the code, the audit entries' times are the same on every run
        audit = AuditLog(folder / "maintenance-audit", load_signing_key(folder / SIGNING_KEY),
                         clock=_Steps(MNT_START, AUDIT_STEP_S))
        wall = MNT_START.timestamp()
        try:
            runtime.maintenance = Maintenance(
                folder, Access(folder, clock=lambda: wall), audit, runtime.health,
                lambda: len(runtime.runner.sessions),
                idle_timeout_s=runtime.config.maintenance.idle_timeout_s,
                clock=lambda: 0.0, wall=lambda: wall)
            _maintain(gallery, s, runtime, code_at(secret, wall))
        finally:
            window.shutdown()  # the mode closes (audited) before its log does
            audit.close()


def _maintain(gallery: Gallery, s: Shooter, runtime: Runtime, code: str) -> None:
    """The login's steps drawn, then the admin logs in (with ``code``) and each page gets a
    result to show before every page is drawn."""
    window = s.window
    if not window.open_maintenance() or window.maintenance_screen is None:
        raise ScreenshotError("the maintenance login did not open")
    screen = window.maintenance_screen
    login = screen.login_page

    def step(pin: str = "", typed: str = "", message: str = "", *,
             named: bool = True) -> Stage:
        """The login from its start: a name tapped, then the PIN's and the code's digits."""
        def stage() -> None:
            login.start()
            if not named:
                return
            s.click(f"mnt_tech_{TECHNICIANS[0][0]}", 0)
            for digit in pin:
                s.click(f"mnt_pin_{digit}", 0)
            if typed:
                s.click("mnt_pin_ok", 0)
                for digit in typed:
                    s.click(f"mnt_code_{digit}", 0)
            if message:  # what a wrong PIN or code brings back (a real one counts to a lockout)
                say(login.message, message, False)
        return stage

    gallery.draw_maintenance(window, {
        "login_names": step(named=False),
        "login_pin": step(TECH_PIN[:3]),
        "login_pin_not_accepted": step(message="Not accepted."),
        "login_code": step(TECH_PIN, "12"),
    })

    window.resize(*PLAY_SIZE)
    _settle()
    login.start()
    s.click(f"mnt_tech_{ADMIN}")
    s.pin_pad("mnt_pin", TECH_PIN)
    s.pin_pad("mnt_code", code)
    s.wait("the status page", lambda: screen.current_page() == "mnt_status_page")
    # a result on the pages that have one
    screen.show_page("card")
    s.click("mnt_card_start")
    terminal = runtime.card_terminal
    if isinstance(terminal, SimCardTerminal):
        terminal.present(TEST_CARDS[MNT_CARD])
    s.wait("the card test's result", lambda: not screen.card_page.running)
    screen.show_page("charger")
    s.click("mnt_current_up_1")
    s.click("mnt_current_up_1")
    s.click("mnt_current_set_1")
    screen.show_page("updates")
    s.click("mnt_update_apply_2")  # another terminal's: refused
    screen.show_page("records")
    s.click("mnt_export_batches")
    screen.show_page("service")
    s.click("mnt_service_reason_1")
    gallery.draw_maintenance(window, {key: partial(screen.show_page, key)
                                      for key in screen.pages})


def _link_lost(s: Shooter, runtime: Runtime, notice_name: str, shot: str) -> None:
    """The charge controller stops answering for a while: the driver is told at once."""
    runtime.post(ev.ChargerLinkLost(1, runtime.clock()))
    notice = s.label(notice_name)
    s.wait(f"the notice {notice_name}", notice.isVisible)
    s.keep(shot)
    runtime.post(ev.ChargerLinkBack(1, runtime.clock()))
    s.wait(f"the notice {notice_name} gone", lambda: not notice.isVisible())


def _play(s: Shooter, runtime: Runtime, window: MainWindow, host: HostSimulator) -> None:
    s.page("idle_page")
    s.keep("idle_page", extra=lambda: window.show_session(None))
    # a paid session: contactless card, plug in, charge, stop, receipt
    s.click("pay_button")
    s.page("card_page")
    s.keep("card_page")
    card = runtime.active()
    s.stages["card_page_more_time"] = partial(_near_deadline, window, card)
    s.click("demo_card_visa_contactless")
    s.page("plug_page")
    s.keep("plug_page")
    plugging = runtime.active()
    if plugging is not None:  # a member card's look (issue #18): the plan's prices
        s.keep("plug_page_member", _member(runtime, plugging))
        s.keep("authorizing_page_member",
               replace(_member(runtime, plugging), state=State.AUTHORIZING))
    s.stages["plug_page_more_time"] = partial(_near_deadline, window, runtime.active())
    _link_lost(s, runtime, "plug_notice", "plug_page_link_lost")
    s.click("demo_plug_button")
    s.page("charging_page")
    s.wait("a few readings", lambda: (a := runtime.active()) is not None
           and a.duration_s >= 3 and a.cost_minor > 0)
    s.keep("charging_page", before=lambda: window.charging_page.show_card_notice(False))
    s.keep("charging_page_not_the_same_card",
           extra=lambda: window.charging_page.show_card_notice(True))
    _link_lost(s, runtime, "charging_notice", "charging_page_link_lost")
    live = runtime.active()
    if live is not None:  # the STOPPING look, shown for a moment in real life
        s.keep("finishing_page", replace(live, state=State.STOPPING))
        s.keep("charging_page_member", _member(runtime, live),
               before=lambda: window.charging_page.show_card_notice(False))
    # the host refuses the capture at first: the receipt says the payment is pending
    host.inject("refuse", "refuse")
    s.click("stop_button")
    s.page("receipt_page")
    status = s.label("payment_status_label")
    s.wait("payment pending", lambda: status.property("pending") is True)
    s.keep("receipt_page_payment_pending", before=_pending(runtime, True))
    s.wait("the capture", lambda: status.property("pending") is False, timeout=20)
    s.keep("receipt_page", before=_pending(runtime, False))
    receipt = runtime.active()

    def receipt_more_time() -> None:  # the longest receipt with the timeout's bar above it
        _pending(runtime, True)()
        _near_deadline(window, receipt)

    s.stages["receipt_page_more_time"] = receipt_more_time
    paid = runtime.active()
    if paid is not None:
        s.keep("receipt_page_member", _member(runtime, paid), before=_pending(runtime, False))
    s.click("done_button")
    s.page("idle_page")
    charger = runtime.charger
    charger.unplug(1)  # type: ignore[attr-defined]
    s.pump(0.3)  # let the unplug reach the runner before the next session starts

    # a PIN card: PIN pad, then a cancel while waiting for the car
    s.click("pay_button")
    s.page("card_page")
    s.click("demo_card_mastercard_pin")
    s.page("pin_page")
    for digit in "12":
        s.click(f"pin_key_{digit}")
    pad = window.pin_page

    def two_digits() -> None:
        pad.clear()
        for digit in "12":
            pad.keys[digit].click()

    s.keep("pin_page", extra=two_digits)
    for digit in "34":
        s.click(f"pin_key_{digit}")
    s.click("pin_ok")
    s.page("plug_page")
    live = runtime.active()
    if live is not None:  # the AUTHORIZING look, usually only a blink
        s.keep("authorizing_page", replace(live, state=State.AUTHORIZING))
        # the card checks an offline PIN (a blink with the simulated card)
        s.keep("card_page_checking_pin", replace(live, state=State.READING_CARD,
                                                 pin_offline=True))
    s.click("plug_cancel_button")
    s.wait("the reversal", lambda: (a := runtime.active()) is not None
           and a.state is State.ERROR)
    s.keep("message_page_cancelled")
    s.click("message_ok_button")
    s.page("idle_page")

    # a chip card that checks its PIN itself (offline PIN): wrong twice, then right
    offline = TEST_CARDS.get(OFFLINE_PIN_CARD)
    if offline is not None:
        s.click("pay_button")
        s.page("card_page")
        s.click(f"demo_card_{OFFLINE_PIN_CARD}")
        s.page("pin_page")
        wrong = "".join(str((int(d) + 1) % 10) for d in offline.offline_pin)
        notice = s.label("pin_notice_label")
        for shot in ("pin_page_offline_wrong", "pin_page_offline_last"):
            before = runtime.active()
            s.pin(wrong)

            def asked_again(before: Session | None = before) -> bool:
                a = runtime.active()
                return (a is not None and a.state is State.PIN_ENTRY and a != before
                        and notice.isVisible())

            s.wait(f"asked again ({shot})", asked_again)
            s.keep(shot)
        s.pin(offline.offline_pin)
        s.page("plug_page")
        s.click("plug_cancel_button")
        s.wait("the reversal", lambda: (a := runtime.active()) is not None
               and a.state is State.ERROR)
        s.click("message_ok_button")
        s.page("idle_page")

    # a declined card
    s.click("pay_button")
    s.page("card_page")
    s.click("demo_card_declined_funds")
    s.page("message_page")
    s.keep("message_page_declined")
    s.click("message_ok_button")
    s.page("idle_page")

    # a card that cannot be read
    s.click("pay_button")
    s.page("card_page")
    s.click("demo_card_garbage_card")
    s.page("message_page")
    s.keep("message_page_error")
    s.click("message_ok_button")
    s.page("idle_page")

    # out of service: the card reader gone (the health watch sees it) and the host
    # unreachable; back by itself when both are fine
    terminal = runtime.card_terminal
    oos = window.out_of_service_page
    if isinstance(terminal, SimCardTerminal):
        terminal.close()
        s.page("out_of_service_page")
        reasons = [p.part for p in runtime.health.problems()]
        s.keep("out_of_service_reader", extra=partial(_out_of_service, window, reasons))
    runtime.health.report(HOST, False, MSG_HOST, "screenshots: echo failing")
    s.wait("the host's reason", lambda: MSG_HOST in oos.reasons())
    every = [p.part for p in runtime.health.problems()]
    s.keep("out_of_service_page", extra=lambda: _out_of_service(window, every))
    if isinstance(terminal, SimCardTerminal):
        terminal.reopen()
    runtime.health.report(HOST, True)
    s.page("idle_page")


def _member(runtime: Runtime, session: Session) -> Session:
    """``session`` as a member card's (the demo plan): its plan, and the amounts it then
    pays (the live cost and the total, :meth:`kiosk.billing.live.TariffBook.plan_price`)."""
    member = replace(session, plan_id="night", plan_name="Night plan", plan_percent="15")
    if not member.marks:
        return member
    paid = runtime.tariffs.plan_price(member).paid_minor
    return replace(member, cost_minor=paid,
                   final_minor=paid if member.final_minor else 0)


def _near_deadline(window: MainWindow, session: Session | None) -> None:
    """``session`` a few seconds before its timeout: the warning and *More time* show."""
    if session is not None:
        soon = window.runtime.clock() + timedelta(seconds=8)
        window.show_session(replace(session, deadline=soon))


def _out_of_service(window: MainWindow, parts: list[str]) -> None:
    window.out_of_service_page.show_health(parts, SERVICE_PHONE)
    window.stack.setCurrentWidget(window.out_of_service_page)


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise argparse.ArgumentTypeError(f"not a size WxH: {text!r}")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("outdir", type=Path)
    p.add_argument("--size", type=_size, action="append", default=[],
                   help="only this size (WxH; repeatable)")
    p.add_argument("--lang", action="append", default=[],
                   help="only this language (repeatable)")
    p.add_argument("--check", action="store_true",
                   help="list clipped text, controls off screen, small touch targets")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--only-maintenance", action="store_true",
                       help="only the technicians' maintenance screens")
    which.add_argument("--no-maintenance", action="store_true",
                       help="only the driver's screens")
    args = p.parse_args(argv)
    try:
        saved, problems = shoot(args.outdir, sizes=tuple(args.size) or SIZES,
                                langs=tuple(args.lang), check=args.check,
                                driver=not args.only_maintenance,
                                maintenance=not args.no_maintenance)
    except ScreenshotError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    print(f"{len(saved)} screenshots in {args.outdir}")
    for problem in problems:
        print(f"layout: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # PySide6 can crash while the interpreter tears its objects down
