"""Screenshots of every driver page: ``python -m kiosk.ui.screenshots OUTDIR``.

Builds the kiosk on its simulators (a throw-away journal, a payment host simulator on loopback),
plays the demo flows through the real buttons (a paid session whose capture the host first
refuses, a PIN card, a declined card, a cancelled one), takes the terminal out of service (the
card reader gone and the host unreachable) and saves ``OUTDIR/<page>.png`` at 1280x800; last,
the idle page of a kiosk on a lab host link in clear (the header's warning). Run it headless
with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import HostSimulator
from kiosk.config import RESOURCES, parse_config
from kiosk.health import HOST, MSG_HOST
from kiosk.runtime import Runtime, build_runtime
from kiosk.security.provisioning import DEMO_PIN_KEY
from kiosk.session import events as ev
from kiosk.session.machine import State
from kiosk.ui.bridge import Bridge
from kiosk.ui.main_window import MainWindow

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


OFFLINE_PIN_CARD = "visa_contact_sda_pin"


class ScreenshotError(Exception):
    """The demo flow did not reach the expected page."""


class Shooter:
    def __init__(self, window: MainWindow, outdir: Path) -> None:
        self.window = window
        self.outdir = outdir
        self.saved: list[Path] = []

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

    def click(self, name: str) -> None:
        btn = self.window.findChild(QPushButton, name)
        if btn is None or not btn.isVisible() or not btn.isEnabled():
            raise ScreenshotError(f"no visible, enabled button {name!r} "
                                  f"on {self.window.current_page()}")
        btn.click()
        self.pump(0.05)

    def pin(self, digits: str) -> None:
        for digit in digits:
            self.click(f"pin_key_{digit}")
        self.click("pin_ok")

    def label(self, name: str) -> QLabel:
        lbl = self.window.findChild(QLabel, name)
        if lbl is None:
            raise ScreenshotError(f"no label {name!r} on {self.window.current_page()}")
        return lbl

    def save(self, name: str, *, settle: bool = True) -> None:
        """Grab the window; ``settle=False`` for a staged look the next refresh would undo."""
        if settle:
            self.pump(0.05)
        path = self.outdir / f"{name}.png"
        if not self.window.grab().save(str(path)):
            raise ScreenshotError(f"could not write {path}")
        self.saved.append(path)


def shoot(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    host = HostSimulator()
    host.start()
    saved: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
            saved += _driver_pages(outdir, Path(tmp), host)
            saved += _lab_page(outdir, Path(tmp), host)
    finally:
        host.stop()
    return saved


def _driver_pages(outdir: Path, tmp: Path, host: HostSimulator) -> list[Path]:
    runtime = build_runtime(parse_config(CONFIG + HOST_CONFIG.format(port=host.port), demo=True),
                            journal_path=tmp / "journal.sqlite")
    runtime.health.phone = SERVICE_PHONE
    runtime.settlement.retry_s = RETRY_S
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=True, bridge=bridge)
    try:
        window.resize(1280, 800)
        window.show()
        s = Shooter(window, outdir)
        _play(s, runtime, window, host)
        return s.saved
    finally:
        window.shutdown()
        bridge.close()
        window.close()
        runtime.close()


def _lab_page(outdir: Path, tmp: Path, host: HostSimulator) -> list[Path]:
    """The idle page of a kiosk whose host link is ISO 8583 in clear (the lab switch)."""
    pin_key = tmp / DEMO_PIN_KEY  # the demo's TEST key, made by the first kiosk
    config = CONFIG + LAB_HOST_CONFIG.format(port=host.port, pin_key=pin_key)
    runtime = build_runtime(parse_config(config, demo=True),
                            journal_path=tmp / "lab" / "journal.sqlite")
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=True, bridge=bridge)
    try:
        window.resize(1280, 800)
        window.show()
        s = Shooter(window, outdir)
        s.page("idle_page")
        s.save("idle_page_lab_mode")
        return s.saved
    finally:
        window.shutdown()
        bridge.close()
        window.close()
        runtime.close()


def _link_lost(s: Shooter, runtime: Runtime, notice_name: str, shot: str) -> None:
    """The charge controller stops answering for a while: the driver is told at once."""
    runtime.post(ev.ChargerLinkLost(1, runtime.clock()))
    notice = s.label(notice_name)
    s.wait(f"the notice {notice_name}", notice.isVisible)
    s.save(shot)
    runtime.post(ev.ChargerLinkBack(1, runtime.clock()))
    s.wait(f"the notice {notice_name} gone", lambda: not notice.isVisible())


def _play(s: Shooter, runtime: Runtime, window: MainWindow, host: HostSimulator) -> None:
    # a paid session: contactless card, plug in, charge, stop, receipt
    s.page("idle_page")
    s.save("idle_page")
    s.click("pay_button")
    s.page("card_page")
    s.save("card_page")
    s.click("demo_card_visa_contactless")
    s.page("plug_page")
    s.save("plug_page")
    _link_lost(s, runtime, "plug_notice", "plug_page_link_lost")
    s.click("demo_plug_button")
    s.page("charging_page")
    s.wait("a few readings", lambda: (a := runtime.active()) is not None
           and a.duration_s >= 3 and a.cost_minor > 0)
    s.save("charging_page")
    _link_lost(s, runtime, "charging_notice", "charging_page_link_lost")
    live = runtime.active()
    if live is not None:  # the STOPPING look, shown for a moment in real life
        window.show_session(replace(live, state=State.STOPPING))
        s.save("finishing_page", settle=False)
        window.refresh()
    # the host refuses the capture at first: the receipt says the payment is pending
    host.inject("refuse", "refuse")
    s.click("stop_button")
    s.page("receipt_page")
    status = s.label("payment_status_label")
    s.wait("payment pending", lambda: status.text().startswith("Payment pending"))
    s.save("receipt_page_payment_pending")
    s.wait("the capture", lambda: status.text().startswith("Paid"), timeout=20)
    s.save("receipt_page")
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
    s.save("pin_page")
    for digit in "34":
        s.click(f"pin_key_{digit}")
    s.click("pin_ok")
    s.page("plug_page")
    live = runtime.active()
    if live is not None:  # the AUTHORIZING look, usually only a blink
        window.show_session(replace(live, state=State.AUTHORIZING))
        s.save("authorizing_page", settle=False)
        # the card checks an offline PIN (a blink with the simulated card)
        window.show_session(replace(live, state=State.READING_CARD, pin_offline=True))
        s.save("card_page_checking_pin", settle=False)
        window.refresh()
    s.click("plug_cancel_button")
    s.wait("the reversal", lambda: (a := runtime.active()) is not None
           and a.state is State.ERROR)
    s.save("message_page_cancelled")
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
        for shot, tries in (("pin_page_offline_wrong", 2),
                            ("pin_page_offline_last", 1)):
            s.pin(wrong)

            def asked_again(t: int = tries) -> bool:
                a = runtime.active()
                return (a is not None and a.state is State.PIN_ENTRY
                        and a.message.startswith("Wrong PIN")
                        and ("Last try" in a.message if t == 1 else f"{t} tries" in a.message))

            s.wait(f"{tries} tries left", asked_again)
            s.save(shot)
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
    s.save("message_page_declined")
    s.click("message_ok_button")
    s.page("idle_page")

    # a card that cannot be read
    s.click("pay_button")
    s.page("card_page")
    s.click("demo_card_garbage_card")
    s.page("message_page")
    s.save("message_page_error")
    s.click("message_ok_button")
    s.page("idle_page")

    # out of service: the card reader gone (the health watch sees it) and the host
    # unreachable; back by itself when both are fine
    terminal = runtime.card_terminal
    if isinstance(terminal, SimCardTerminal):
        terminal.close()
        s.page("out_of_service_page")
        s.save("out_of_service_reader")
    runtime.health.report(HOST, False, MSG_HOST, "screenshots: echo failing")
    s.wait("the host's reason", lambda: MSG_HOST in window.out_of_service_page.reasons())
    s.save("out_of_service_page")
    if isinstance(terminal, SimCardTerminal):
        terminal.reopen()
    runtime.health.report(HOST, True)
    s.page("idle_page")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("outdir", type=Path)
    args = p.parse_args(argv)
    try:
        saved = shoot(args.outdir)
    except ScreenshotError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
