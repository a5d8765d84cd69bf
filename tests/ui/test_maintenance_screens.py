"""The technician's maintenance screens (kiosk.ui.maintenance) on a real runtime on its
simulators, driven by object names only: the two-factor login (a wrong PIN, the lockout's
countdown), the status rows, the card test (masked, never the full number), the charger test
(and its refusal while a driver's session runs), the config view, the signed updates (admin
only), the USB exports, the out-of-service switch, the provisioning QR code (read back with
zbar), the idle timeout, the audit log's entries; and every page at every screen size without
a text cut off or a button below the touch size (PNGs in /tmp/mnt-shots/)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QLayout,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from drivers.charger.api import PilotState
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from kiosk.maintenance.actions import provisioning
from kiosk.maintenance.mode import Maintenance
from kiosk.maintenance.updates import make_update
from kiosk.runtime import Runtime
from kiosk.security.audit import AuditLog
from kiosk.security.keys import load_signing_key
from kiosk.security.technicians import Access, Technician, TechnicianStore, code_at
from kiosk.session import events as ev
from kiosk.ui.assets import load_fonts
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.maintenance import MaintenanceScreen
from kiosk.ui.maintenance.widgets import plain, say
from kiosk.ui.pages import Screen
from kiosk.ui.style import Metrics, stylesheet
from tests.ui.rig import CONFIG, WAIT_MS, Kiosk, build_kiosk

SIZES = ((800, 480), (1024, 600), (1280, 800), (1920, 1080), (1080, 1920))
SHOTS = Path("/tmp/mnt-shots")
HEADER = 80  # the main window's header above the screen (design px)
TECH_PIN, ADMIN_PIN = "246810", "975310"
VISA = TEST_CARDS["visa_contactless"]


class Host(QWidget):
    """The main window as the screen will sit in it: a header, then the page stack."""

    def __init__(self, ui: Screen, screen: MaintenanceScreen) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.ui = ui
        self.screen_widget = screen
        root = QVBoxLayout(self)
        root.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # as the main window
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        self.header = QFrame()
        self.header.setObjectName("header")
        root.addWidget(self.header)
        stack = QStackedWidget()
        stack.setObjectName("pages")
        stack.addWidget(screen)
        root.addWidget(stack, 1)
        self.family = load_fonts()

    def size_to(self, w: int, h: int, dpi: float | None = None) -> None:
        if dpi is None:  # as the main window takes it
            screen = QApplication.primaryScreen()
            dpi = min(max(screen.physicalDotsPerInch() if screen else 96.0, 72.0), 400.0)
        m = Metrics(w, h, dpi=dpi, family=self.family)
        self.ui.metrics = m
        self.setStyleSheet(stylesheet(m, self.ui.palette))
        self.header.setFixedHeight(m.target(HEADER))
        self.screen_widget.apply_metrics()
        self.resize(w, h)
        settle()


def settle() -> None:
    for _ in range(3):
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


@dataclass
class Rig:
    qtbot: QtBot
    k: Kiosk
    folder: Path
    maintenance: Maintenance
    screen: MaintenanceScreen
    host: Host
    tech: Technician
    admin: Technician
    usb: Path
    config_path: Path
    operator: Ed25519PrivateKey
    now: list[float]

    @property
    def runtime(self) -> Runtime:
        return self.k.runtime

    def button(self, name: str) -> QPushButton:
        btn = self.host.findChild(QPushButton, name)
        assert btn is not None, f"no button {name!r}"
        return btn

    def label(self, name: str) -> QLabel:
        lbl = self.host.findChild(QLabel, name)
        assert lbl is not None, f"no label {name!r}"
        return lbl

    def widget(self, name: str) -> QWidget:
        w = self.host.findChild(QWidget, name)
        assert w is not None, f"no widget {name!r}"
        return w

    def text(self, name: str) -> str:
        return plain(self.label(name).text())

    def click(self, name: str) -> None:
        btn = self.button(name)
        self.qtbot.waitUntil(lambda: btn.isVisible() and btn.isEnabled(), timeout=WAIT_MS)
        self.qtbot.mouseClick(btn, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]

    def page(self) -> str:
        return self.screen.current_page()

    def wait_text(self, name: str, part: str, timeout: int = WAIT_MS) -> None:
        try:
            self.qtbot.waitUntil(lambda: part in self.text(name), timeout=timeout)
        except AssertionError:
            raise AssertionError(f"{name}: {self.text(name)!r} never had {part!r}") from None

    def open(self) -> None:
        self.maintenance.enter()
        self.screen.open_login()
        assert self.page() == "mnt_login_page"

    def type_pin(self, pad: str, digits: str) -> None:
        for d in digits:
            self.click(f"{pad}_{d}")
        self.click(f"{pad}_ok")

    def login(self, tech: Technician, pin: str, *, code: str | None = None,
              ahead_s: float = 0) -> None:
        self.click(f"mnt_tech_{tech.name}")
        self.type_pin("mnt_pin", pin)
        self.type_pin("mnt_code", code or code_at(tech.totp_secret, time.time() + ahead_s))

    def log_in(self, tech: Technician | None = None, *, ahead_s: float = 0) -> None:
        tech = tech or self.tech
        self.open()
        self.login(tech, TECH_PIN if tech is self.tech else ADMIN_PIN, ahead_s=ahead_s)
        assert self.page() == "mnt_status_page", self.text("mnt_login_message")

    def go(self, page: str) -> None:
        if self.page() != "mnt_status_page":
            self.click("mnt_nav_status")
        self.click(f"mnt_nav_{page}")
        assert self.page() == f"mnt_{page}_page"

    def actions(self) -> list[str]:
        """The audit log's actions but the runtime's own (health changes, the start)."""
        return [e.action for e in self.maintenance.audit.entries()
                if e.action not in ("health", "started")]

    def end_driver_session(self, session_id: str) -> None:
        terminal = self.runtime.card_terminal
        assert isinstance(terminal, SimCardTerminal)
        self.qtbot.waitUntil(lambda: terminal.waiting, timeout=WAIT_MS)  # else a cancel is lost
        self.runtime.post(ev.Cancelled(session_id))
        self.qtbot.waitUntil(lambda: not self.runtime.runner.sessions, timeout=WAIT_MS)


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def kiosk_config(tmp_path: Path, operator: Ed25519PrivateKey) -> str:
    return CONFIG + f"""
[maintenance]
operator_key = "{public_hex(operator)}"
update_folder = "{tmp_path / 'usb'}"
[logging]
path = "{tmp_path / 'kiosk.log'}"
"""


FOUR_CONNECTORS = "".join(f"""
[[connectors]]
id = {i}
label = "{label}"
max_current_a = {16 if i % 2 else 32}
""" for i, label in enumerate("ABCD", start=1))


@pytest.fixture
def rig(request: pytest.FixtureRequest, qtbot: QtBot, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> Iterator[Rig]:
    """One connector; ``@pytest.mark.parametrize("rig", [4], indirect=True)``: four."""
    operator = Ed25519PrivateKey.generate()
    connectors = getattr(request, "param", 1)
    text = kiosk_config(tmp_path, operator) + (FOUR_CONNECTORS if connectors == 4 else "")
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text(text)
    usb = tmp_path / "usb"
    usb.mkdir()
    for k in build_kiosk(qtbot, tmp_path, caplog, config=text):
        yield from with_screen(qtbot, k, usb, config_path, operator)


def with_screen(qtbot: QtBot, k: Kiosk, usb: Path, config_path: Path,
                operator: Ed25519PrivateKey) -> Iterator[Rig]:
    """Technicians enrolled, a Maintenance on a clock the test moves, the screen shown."""
    runtime = k.runtime
    folder = runtime.journal.path.parent
    key = load_signing_key(folder / "terminal-signing.key")
    store = TechnicianStore(folder)
    tech = store.add("alice", "technician", TECH_PIN)
    admin = store.add("bob", "admin", ADMIN_PIN)
    now = [1000.0]
    audit = AuditLog(folder, key)
    maintenance = Maintenance(folder, Access(folder), audit, runtime.health,
                              lambda: len(runtime.runner.sessions), idle_timeout_s=120,
                              clock=lambda: now[0])
    ui = Screen(runtime)
    screen = MaintenanceScreen(ui, maintenance, config_path=config_path)
    host = Host(ui, screen)
    qtbot.addWidget(host)
    host.size_to(1280, 800)
    host.show()
    qtbot.waitExposed(host)
    try:
        yield Rig(qtbot, k, folder, maintenance, screen, host, tech, admin, usb, config_path,
                  operator, now)
    finally:
        screen.shutdown()
        audit.close()


# --- login ---------------------------------------------------------------------------------
def test_login_with_the_name_the_pin_and_the_code(rig: Rig) -> None:
    rig.open()
    assert rig.button("mnt_tech_alice").isVisible() and rig.button("mnt_tech_bob").isVisible()
    rig.click("mnt_tech_alice")
    for d in TECH_PIN[:3]:
        rig.click(f"mnt_pin_{d}")
    assert rig.text("mnt_pin_display") == "\u25cf" * 3  # dots, never the digits
    rig.click("mnt_pin_back")
    assert rig.text("mnt_pin_display") == "\u25cf" * 2
    assert not rig.button("mnt_pin_ok").isEnabled()  # fewer than 6 digits
    for d in TECH_PIN[2:]:
        rig.click(f"mnt_pin_{d}")
    rig.click("mnt_pin_ok")
    code = code_at(rig.tech.totp_secret, time.time())
    rig.type_pin("mnt_code", code)
    assert rig.page() == "mnt_status_page"
    assert rig.maintenance.technician is not None
    assert rig.maintenance.technician.name == "alice"
    assert "alice" in rig.text("mnt_who")
    assert rig.button("mnt_logout").isVisible()
    rig.click("mnt_logout")
    assert rig.maintenance.state == "closed"
    assert rig.screen.close_reason == "logout"
    assert rig.actions()[-2:] == ["login", "logout"]


def test_a_wrong_pin_is_not_accepted_and_the_third_locks_out(rig: Rig) -> None:
    rig.open()
    code = code_at(rig.tech.totp_secret, time.time())
    rig.login(rig.tech, "135792", code=code)
    assert rig.page() == "mnt_login_page"
    assert rig.text("mnt_login_message") == "Not accepted."
    assert rig.label("mnt_login_message").isVisible()
    assert rig.button("mnt_pin_1").isVisible()  # back at the PIN, the name kept
    assert rig.text("mnt_pin_display") == ""
    rig.type_pin("mnt_pin", "135792")
    rig.type_pin("mnt_code", code)
    assert rig.text("mnt_login_message") == "Not accepted."
    rig.type_pin("mnt_pin", "135792")
    rig.type_pin("mnt_code", code)
    rig.wait_text("mnt_login_message", "Too many wrong attempts. Try again in ")
    first = rig.text("mnt_login_message")
    assert first.endswith(" s.") and int(first.split(" in ")[1].split()[0]) <= 30
    for name in ("mnt_pin_1", "mnt_pin_0", "mnt_pin_back", "mnt_pin_ok"):
        assert not rig.button(name).isEnabled(), name
    rig.click("mnt_pin_restart")
    assert not rig.button("mnt_tech_alice").isEnabled()
    # the countdown runs
    rig.qtbot.waitUntil(lambda: rig.text("mnt_login_message") != first, timeout=5000)
    assert "Try again in" in rig.text("mnt_login_message")
    assert rig.maintenance.technician is None
    assert rig.actions().count("login refused") == 2
    assert rig.actions()[-1] == "login locked out"
    rig.click("mnt_cancel")
    assert rig.maintenance.state == "closed" and rig.screen.close_reason == "cancel"
    # the lockout outlasts the screen: a new login shows it at once
    rig.open()
    assert "Try again in" in rig.text("mnt_login_message")
    assert not rig.button("mnt_tech_bob").isEnabled()
    rig.click("mnt_cancel")


def test_no_technician_enrolled_says_how_to_enrol(rig: Rig) -> None:
    store = TechnicianStore(rig.folder)
    store.remove("alice")
    store.remove("bob")
    rig.open()
    hint = rig.label("mnt_login_none")
    assert hint.isVisible()
    assert "kiosk technician add NAME --config FILE" in plain(hint.text())
    rig.click("mnt_cancel")


# --- status --------------------------------------------------------------------------------
def test_status_rows_marked_by_word_and_refreshed(rig: Rig) -> None:
    rig.log_in()
    for key in ("service", "reader", "charger_1", "host", "settlements", "backoffice", "disk",
                "journal", "version", "uptime", "faults"):
        assert rig.label(f"mnt_status_{key}").isVisible(), key
        assert rig.text(f"mnt_status_{key}_mark") in {"OK", "Problem", "Info"}
    # maintenance is open: the terminal is out of service, said in words
    assert rig.text("mnt_status_service_mark") == "Problem"
    assert "out of service" in rig.text("mnt_status_service")
    assert rig.text("mnt_status_charger_1").startswith("state A")
    uptime = rig.text("mnt_status_uptime")
    rig.qtbot.waitUntil(lambda: rig.text("mnt_status_uptime") != uptime, timeout=5000)
    charger = rig.runtime.charger
    assert isinstance(charger, SimCharger)
    charger.plug(1)
    rig.wait_text("mnt_status_charger_1", "state B")
    audit = rig.screen.status_page.audit_texts()
    assert any("technician:alice  login" in line for line in audit[:3])
    assert rig.widget("mnt_audit_list").isVisible()
    assert "Closes in 2:00" in rig.text("mnt_idle_label")


# --- card test -----------------------------------------------------------------------------
def all_texts(rig: Rig) -> list[str]:
    return [w.text() for w in rig.host.findChildren(QLabel)] + [
        w.accessibleName() for w in rig.host.findChildren(QWidget)]


def test_card_test_shows_the_masked_number_never_the_pan(rig: Rig) -> None:
    rig.log_in()
    rig.go("card")
    assert not rig.button("mnt_card_cancel").isEnabled()
    rig.click("mnt_card_start")
    rig.wait_text("mnt_card_result", "Present a card")
    terminal = rig.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    rig.qtbot.waitUntil(lambda: terminal._identifying, timeout=WAIT_MS)
    terminal.present(VISA)
    rig.wait_text("mnt_card_result", "476173******0119")
    result = rig.text("mnt_card_result")
    assert "visa" in result and "contactless" in result
    assert not any(VISA.pan in t for t in all_texts(rig))
    assert rig.button("mnt_card_start").isEnabled()
    # cancelled while waiting
    rig.click("mnt_card_start")
    rig.wait_text("mnt_card_result", "Present a card")
    rig.qtbot.waitUntil(lambda: terminal._identifying, timeout=WAIT_MS)
    rig.click("mnt_card_cancel")
    rig.wait_text("mnt_card_result", "cancelled")
    assert rig.actions().count("card test") == 2


def test_card_test_is_refused_while_a_driver_session_runs(rig: Rig) -> None:
    rig.log_in()
    rig.go("card")
    session = rig.runtime.runner.start_session(1)
    try:
        rig.click("mnt_card_start")
        rig.wait_text("mnt_card_result", "A driver's session is running")
    finally:
        rig.end_driver_session(session.id)


def test_the_card_test_thread_ends_with_the_mode(rig: Rig) -> None:
    rig.log_in()
    rig.go("card")
    rig.click("mnt_card_start")
    rig.wait_text("mnt_card_result", "Present a card")
    rig.click("mnt_logout")
    assert rig.screen.card_page._thread is None
    assert not rig.screen.card_page.running


# --- charger test --------------------------------------------------------------------------
def test_charger_test_enables_disables_and_sets_the_current(rig: Rig) -> None:
    charger = rig.runtime.charger
    assert isinstance(charger, SimCharger)
    charger.plug(1)
    rig.log_in()
    rig.go("charger")
    rig.wait_text("mnt_charger_status_1", "State B")
    rig.click("mnt_charger_enable_1")
    rig.qtbot.waitUntil(lambda: charger.status(1).state is PilotState.C, timeout=WAIT_MS)
    rig.wait_text("mnt_charger_status_1", "State C")
    assert "enabled" in rig.text("mnt_charger_message")
    rig.click("mnt_charger_disable_1")
    rig.qtbot.waitUntil(lambda: charger.status(1).state is PilotState.B, timeout=WAIT_MS)
    assert rig.text("mnt_current_1") == "16 A"
    rig.click("mnt_current_up_1")
    rig.click("mnt_current_up_1")
    assert rig.text("mnt_current_1") == "18 A"
    rig.click("mnt_current_set_1")
    assert "offers 18 A" in rig.text("mnt_charger_message")
    for _ in range(20):
        if rig.button("mnt_current_down_1").isEnabled():
            rig.click("mnt_current_down_1")
    assert rig.text("mnt_current_1") == "6 A"
    # left enabled: switched off when the mode closes
    rig.click("mnt_charger_enable_1")
    rig.qtbot.waitUntil(lambda: charger.status(1).state is PilotState.C, timeout=WAIT_MS)
    rig.click("mnt_logout")
    rig.qtbot.waitUntil(lambda: charger.status(1).state is PilotState.B, timeout=WAIT_MS)
    acts = rig.actions()
    assert acts.count("charger enable") == 2
    assert "charger disable" in acts and "charger current" in acts
    current = [e for e in rig.maintenance.audit.entries() if e.action == "charger current"]
    assert current[0].details == {"connector": 1, "amps": 18}


def test_charger_test_is_refused_while_a_driver_session_runs(rig: Rig) -> None:
    charger = rig.runtime.charger
    assert isinstance(charger, SimCharger)
    charger.plug(1)
    rig.log_in()
    rig.go("charger")
    session = rig.runtime.runner.start_session(1)
    try:
        rig.click("mnt_charger_enable_1")
        assert "A driver's session is running" in rig.text("mnt_charger_message")
        assert rig.text("mnt_charger_message").startswith("Not done")
        rig.click("mnt_current_set_1")
        assert "A driver's session is running" in rig.text("mnt_charger_message")
        assert charger.status(1).state is PilotState.B
    finally:
        rig.end_driver_session(session.id)
    assert "charger enable refused" in rig.actions()


# --- config --------------------------------------------------------------------------------
def test_config_view_lists_the_tariff_and_every_key(rig: Rig) -> None:
    rig.log_in()
    rig.go("config")
    lines = rig.screen.pages["config"].config_texts()  # type: ignore[attr-defined]
    assert 'station.id = "DEMO-0001"' in lines
    assert any(line.startswith("host.pin_key_file = ") for line in lines)
    assert any(line.startswith("connectors[0].max_current_a = ") for line in lines)
    assert any(line.startswith("maintenance.operator_key = ") for line in lines)
    assert rig.widget("mnt_config_view").isVisible()
    assert "/ kWh" in rig.text("mnt_tariff_headline") or "kWh" in rig.text(
        "mnt_tariff_headline")
    assert str(rig.config_path) in rig.text("mnt_config_caption")


# --- updates -------------------------------------------------------------------------------
def bundle(rig: Rig, name: str, sequence: int, content: bytes,
           key: Ed25519PrivateKey | None = None) -> Path:
    now = datetime.now(UTC)
    data = make_update(key or rig.operator, "config", "DEMO-0001", sequence, content,
                       issued_at=now - timedelta(minutes=1), expires_at=now + timedelta(days=1))
    path = rig.usb / name
    path.write_bytes(data)
    return path


def test_updates_are_refused_for_a_technician(rig: Rig) -> None:
    bundle(rig, "a.evkupdate", 1, rig.config_path.read_bytes())
    rig.log_in()
    rig.go("updates")
    page = rig.widget("mnt_updates_page")
    assert rig.text("mnt_update_note") == "Only the operator's admin may change settings."
    assert [b.objectName() for b in page.findChildren(QPushButton) if b.isVisible()] == []


def test_updates_list_apply_and_roll_back_for_the_admin(rig: Rig) -> None:
    old = rig.config_path.read_text()
    new = old.replace("timeout_s = 5", "timeout_s = 7")
    assert new != old
    bundle(rig, "1-good.evkupdate", 1, new.encode())
    bundle(rig, "2-forged.evkupdate", 2, new.encode(), Ed25519PrivateKey.generate())
    (rig.usb / "notes.txt").write_text("not an update")
    rig.log_in(rig.admin)
    rig.go("updates")
    assert rig.text("mnt_update_name_1") == "1-good.evkupdate"
    assert rig.text("mnt_update_name_2") == "2-forged.evkupdate"
    assert rig.host.findChild(QPushButton, "mnt_update_apply_3") is None
    rig.click("mnt_update_apply_2")
    assert "wrongly signed" in rig.text("mnt_update_message")
    assert rig.config_path.read_text() == old
    rig.click("mnt_update_apply_1")
    message = rig.text("mnt_update_message")
    assert message.startswith("Done") and "kiosk restarts to take it" in message
    assert rig.k.runtime.restart_reason == "the config update 1 from the USB stick"
    assert rig.config_path.read_text() == new
    rig.click("mnt_update_apply_1")  # once only
    assert "replayed or older" in rig.text("mnt_update_message")
    rig.click("mnt_update_rollback_config")
    assert rig.text("mnt_update_message").startswith("Done")
    assert rig.config_path.read_text() == old
    rig.click("mnt_update_rollback_tariff")
    assert "no tariff file is configured" in rig.text("mnt_update_message")
    acts = rig.actions()
    assert acts.count("update") == 3 and acts.count("update refused") == 2
    assert acts.count("update rollback") == 2
    (rig.usb / "1-good.evkupdate").unlink()
    (rig.usb / "2-forged.evkupdate").unlink()
    rig.click("mnt_update_refresh")
    assert "No USB stick with updates" in rig.text("mnt_update_folder")


def test_updates_are_unavailable_without_a_config_file(rig: Rig) -> None:
    rig.screen.config_path = None
    rig.log_in(rig.admin)
    rig.go("updates")
    assert "not available" in rig.text("mnt_update_note")
    assert not rig.button("mnt_update_rollback_config").isVisible()


# --- records -------------------------------------------------------------------------------
def test_records_export_to_the_usb_folder(rig: Rig, tmp_path: Path) -> None:
    k = rig.k
    k.wait_page("idle_page")  # a driver's session that ends: records to export
    k.click("pay_button")
    k.wait_page("card_page")
    k.click("demo_card_declined_funds")
    k.wait_page("message_page")
    k.click("message_ok_button")
    k.wait_page("idle_page")
    (tmp_path / "kiosk.log").write_text("12:00 card 4761739001010119 read\nall fine\n")
    rig.log_in()
    rig.go("records")
    assert str(rig.usb) in rig.text("mnt_records_folder")
    rig.click("mnt_export_batches")
    assert rig.text("mnt_records_message").startswith("Done"), rig.text("mnt_records_message")
    batches = sorted(rig.usb.glob("*.batch"))
    assert batches and f"{len(batches)} batch file(s)" in rig.text("mnt_records_message")
    rig.click("mnt_export_logs")
    assert rig.text("mnt_records_message").startswith("Done")
    logs = list(rig.usb.glob("*.log"))
    assert len(logs) == 1
    exported = logs[0].read_text()
    assert "all fine" in exported and VISA.pan not in exported
    rig.click("mnt_upload_now")
    assert "does not upload" in rig.text("mnt_records_message")
    acts = rig.actions()
    assert {"export batches", "export logs", "upload now", "upload now refused"} <= set(acts)


# --- service -------------------------------------------------------------------------------
def test_the_out_of_service_switch_outlasts_the_mode(rig: Rig) -> None:
    health = rig.runtime.health
    rig.log_in()
    rig.go("service")
    assert rig.text("mnt_service_state").startswith("In service")
    assert not rig.button("mnt_service_on").isEnabled()
    rig.click("mnt_service_reason_1")
    rig.click("mnt_service_off")
    assert rig.text("mnt_service_state") == "Out of service: switched off by alice (Damaged)."
    assert health.problem("operator") is not None
    rig.click("mnt_logout")
    assert not health.in_service  # the switch stays when the mode closes
    assert health.problem("operator") is not None
    rig.log_in(ahead_s=30)  # the next time step's code: the last one is used up
    rig.go("service")
    rig.click("mnt_service_on")
    assert rig.text("mnt_service_state").startswith("In service")
    rig.click("mnt_logout")
    assert health.in_service
    assert {"out of service", "back in service"} <= set(rig.actions())


# --- provisioning --------------------------------------------------------------------------
def decode_qr(label: QLabel, tmp_path: Path) -> str:
    pixmap = label.pixmap()
    assert pixmap is not None and not pixmap.isNull()
    image = pixmap.toImage()
    canvas = QImage(image.width() + 32, image.height() + 32, QImage.Format.Format_RGB32)
    canvas.fill(QColor("white"))
    painter = QPainter(canvas)
    painter.drawImage(16, 16, image)
    painter.end()
    png = tmp_path / "qr.png"
    assert canvas.save(str(png))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_provisioning_shows_the_id_the_fingerprint_and_a_qr_code(rig: Rig,
                                                                tmp_path: Path) -> None:
    rig.log_in()
    rig.go("provisioning")
    p = provisioning(rig.runtime)
    assert rig.text("mnt_provisioning_terminal") == "DEMO-0001"
    assert rig.text("mnt_provisioning_fingerprint") == p.fingerprint
    text = decode_qr(rig.label("mnt_provisioning_qr"), tmp_path)
    assert text == p.registration()
    assert json.loads(text)["terminal_id"] == "DEMO-0001"


# --- idle ----------------------------------------------------------------------------------
def test_the_mode_closes_when_left_untouched(rig: Rig) -> None:
    rig.log_in()
    rig.go("charger")
    rig.now[0] += 60
    rig.click("mnt_current_up_1")  # a touch: the wait starts again
    rig.now[0] += 100
    rig.screen.tick()  # what the 1 s timer does
    assert rig.maintenance.state == "open"
    assert "Closes in 0:20" in rig.text("mnt_idle_label")
    with rig.qtbot.waitSignal(rig.screen.closed, timeout=5000):
        rig.now[0] += 21
    assert rig.screen.close_reason == "idle"
    assert rig.maintenance.state == "closed"
    assert rig.page() == "mnt_login_page"
    last = [e for e in rig.maintenance.audit.entries() if e.action == "logout"][-1]
    assert last.details == {"why": "idle"}


def test_the_login_closes_when_left_untouched(rig: Rig) -> None:
    rig.open()
    with rig.qtbot.waitSignal(rig.screen.closed, timeout=5000):
        rig.now[0] += 61
    assert rig.screen.close_reason == "idle"


# --- every page at every size --------------------------------------------------------------
def stage_pages(rig: Rig) -> dict[str, Callable[[], None]]:
    """Each page with something to show, ready to draw again at any size."""
    screen = rig.screen
    store = TechnicianStore(rig.folder)
    for name in ("carol", "dave.mueller", "erik_the-long-named"):
        store.add(name, "technician", "192837")
    bundle(rig, "DEMO-0001-config-000001.evkupdate", 1, rig.config_path.read_bytes())
    bundle(rig, "DEMO-0001-tariff-000002-with-a-long-name.evkupdate", 2,
           rig.config_path.read_bytes())
    stages: dict[str, Callable[[], None]] = {}

    def login_step(step: str, message: str = "") -> Callable[[], None]:
        def stage() -> None:
            page = screen.login_page
            screen.stack.setCurrentWidget(page)
            screen._show_bar()
            page.steps.setCurrentWidget(rig.widget(step))
            say(page.message, message, False if message else None)
        return stage

    rig.open()
    stages["login_names"] = login_step("mnt_login_names")
    stages["login_pin"] = login_step("mnt_login_pin", "Not accepted.")
    stages["login_code"] = login_step(
        "mnt_login_code", "Too many wrong attempts. Try again in 3599 s.")
    rig.login(rig.admin, ADMIN_PIN)
    assert rig.page() == "mnt_status_page"

    def page(key: str) -> Callable[[], None]:
        def stage() -> None:
            screen.stack.setCurrentWidget(screen.pages[key])
            screen._show_bar()
            screen.pages[key].shown()
        return stage

    for key in screen.pages:
        stages[key] = page(key)
    # with their results on screen
    rig.go("card")
    rig.click("mnt_card_start")
    rig.wait_text("mnt_card_result", "Present a card")
    terminal = rig.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    rig.qtbot.waitUntil(lambda: terminal._identifying, timeout=WAIT_MS)
    terminal.present(VISA)
    rig.wait_text("mnt_card_result", "******")
    rig.go("charger")
    rig.click("mnt_current_set_1")
    rig.go("updates")
    rig.click("mnt_update_apply_2")
    rig.go("records")
    (rig.usb.parent / "kiosk.log").write_text("a line of the log\n")
    rig.click("mnt_export_logs")
    return stages


@pytest.mark.parametrize("rig", [1, 4], indirect=True, ids=["one-connector", "four"])
def test_every_page_fits_every_screen_size(rig: Rig) -> None:
    stages = stage_pages(rig)
    four = len(rig.runtime.config.connectors) == 4
    save = os.environ.get("MNT_SHOTS", "1") != "0"
    problems: list[str] = []
    for w, h in SIZES:
        for dpi in (None, 133.0) if (w, h) == (800, 480) else (None,):
            rig.host.size_to(w, h, dpi)
            assert (rig.host.width(), rig.host.height()) == (w, h)
            for name, stage in stages.items():
                stage()
                settle()
                touch = rig.host.ui.metrics.touch
                where = (f"{w}x{h}{'' if dpi is None else f'@{dpi:.0f}dpi'}"
                         f"{'/four' if four else ''}/{name}")
                problems += [f"{where}: {p}" for p in layout_problems(rig.host, touch)]
                if save and dpi is None and (w, h) in ((800, 480), (1080, 1920)):
                    path = SHOTS / f"{w}x{h}" / f"{'four-' if four else ''}{name}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    assert rig.host.grab().save(str(path))
    assert problems == [], "\n".join(problems[:80])
