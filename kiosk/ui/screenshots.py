"""Screenshots of every driver page: ``python -m kiosk.ui.screenshots OUTDIR``.

Builds the kiosk on its simulators (a throw-away journal), plays the demo flows through the
real buttons (a paid session, a PIN card, a declined card, a cancelled one) and saves
``OUTDIR/<page>.png`` at 1280x800. Run it headless with ``QT_QPA_PLATFORM=offscreen``.
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
from PySide6.QtWidgets import QApplication, QPushButton

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from kiosk.config import RESOURCES, parse_config
from kiosk.runtime import build_runtime
from kiosk.session.machine import State
from kiosk.ui.bridge import Bridge
from kiosk.ui.main_window import MainWindow

CONFIG = f"""
schema_version = 1
[tariff]
file = "{RESOURCES / 'tariffs' / 'demo.json'}"
[charger]
sim_speed = 120
[ui]
demo_mode = true
"""


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
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
        runtime = build_runtime(parse_config(CONFIG), journal_path=Path(tmp) / "journal.sqlite")
        bridge = Bridge(runtime)
        window = MainWindow(runtime, demo=True, bridge=bridge)
        try:
            window.resize(1280, 800)
            window.show()
            s = Shooter(window, outdir)
            runner = runtime.runner

            # a paid session: contactless card, plug in, charge, stop, receipt
            s.page("idle_page")
            s.save("idle_page")
            terminal = runtime.card_terminal
            if isinstance(terminal, SimCardTerminal):  # the reader gone: the idle page says so
                terminal.close()
                window.refresh()
                s.save("idle_page_no_reader")
                terminal.reopen()
                window.refresh()
            s.click("pay_button")
            s.page("card_page")
            s.save("card_page")
            s.click("demo_card_visa_contactless")
            s.page("plug_page")
            s.save("plug_page")
            s.click("demo_plug_button")
            s.page("charging_page")
            s.wait("a few readings", lambda: (a := runner.active()) is not None
                   and a.duration_s >= 3 and a.cost_minor > 0)
            s.save("charging_page")
            live = runner.active()
            if live is not None:  # the STOPPING look, shown for a moment in real life
                window.show_session(replace(live, state=State.STOPPING))
                s.save("finishing_page", settle=False)
                window.refresh()
            s.click("stop_button")
            s.page("receipt_page")
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
            live = runner.active()
            if live is not None:  # the AUTHORIZING look, usually only a blink
                window.show_session(replace(live, state=State.AUTHORIZING))
                s.save("authorizing_page", settle=False)
                # the card checks an offline PIN (a blink with the simulated card)
                window.show_session(replace(live, state=State.READING_CARD, pin_offline=True))
                s.save("card_page_checking_pin", settle=False)
                window.refresh()
            s.click("plug_cancel_button")
            s.wait("the reversal", lambda: (a := runner.active()) is not None
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
                    s.wait(f"{tries} tries left", lambda t=tries: (
                        a := runner.active()) is not None and a.state is State.PIN_ENTRY
                        and a.message.startswith("Wrong PIN") and (
                            "Last try" in a.message if t == 1 else f"{t} tries" in a.message))
                    s.save(shot)
                s.pin(offline.offline_pin)
                s.page("plug_page")
                s.click("plug_cancel_button")
                s.wait("the reversal", lambda: (a := runner.active()) is not None
                       and a.state is State.ERROR)
                s.click("message_ok_button")
                s.page("idle_page")

            # a declined card
            s.click("pay_button")
            s.page("card_page")
            s.click("demo_card_declined_funds")
            s.page("message_page")
            s.save("message_page_declined")
            live = runner.active()
            if live is not None:  # the REVERSING look
                window.show_session(replace(live, state=State.REVERSING,
                                            message="Cancelled. Your card has not been "
                                                    "charged."))
                s.save("message_page_reversing", settle=False)
                window.refresh()
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
            return s.saved
        finally:
            window.shutdown()
            bridge.close()
            window.close()
            runtime.close()


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
