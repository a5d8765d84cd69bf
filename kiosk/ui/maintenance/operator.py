"""What changes the terminal beyond a test: ``mnt_updates_page`` (signed config and tariff
updates from the USB stick and from the back office, and their rollback: the operator's admin
only; an update or a rollback done here restarts the kiosk when the mode closes),
``mnt_records_page`` (upload now, export the batches and the logs to the USB stick) and
``mnt_service_page`` (the operator's out-of-service switch). Each action is audited before
it runs (:meth:`Maintenance.act`), and its result or the reason it was refused is shown on the
page's message line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.maintenance import actions
from kiosk.maintenance.mode import MaintenanceError
from kiosk.maintenance.updates import LIVE_KINDS, Update, UpdateRefused, Updates, find_bundles
from kiosk.security.audit import AuditError
from kiosk.ui.maintenance.base import MntPage
from kiosk.ui.maintenance.status import zone
from kiosk.ui.maintenance.widgets import FitScroll, mnt_button, say, show_text
from kiosk.ui.pages import IconLabel, bind, make_label

if TYPE_CHECKING:
    from kiosk.ui.maintenance.screen import MaintenanceScreen

LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom
ADMIN_ONLY = "Only the operator's admin may change settings."
NO_STICK = "No USB stick with updates"


def usb_folder(screen: MaintenanceScreen) -> Path | None:
    """``maintenance.update_folder`` (relative: to the config file's folder), or None."""
    name = str(screen.ui.runtime.config.maintenance.update_folder)
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_absolute() and screen.config_path is not None:
        path = screen.config_path.parent / path
    return path


class UpdatesPage(MntPage):
    title = "Updates"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_updates_page")
        self.note = make_label("", "body", "mnt_update_note", wrap=True)
        self.box.addWidget(self.note)
        self.admin = QWidget()
        self.admin.setObjectName("mnt_update_admin")
        admin = QVBoxLayout(self.admin)
        admin.setContentsMargins(0, 0, 0, 0)
        self.admin_box = admin
        self.folder = make_label("", "mnt_name", "mnt_update_folder", wrap=True)
        admin.addWidget(self.folder)
        inner = QWidget()
        inner.setObjectName("mnt_update_bundles")
        self.list_box = QVBoxLayout(inner)
        self.list_box.setContentsMargins(0, 0, 0, 0)
        self.list_box.addStretch(1)
        # as high as its rows while there is room (the message and the buttons right below
        # them), scrolling only when there are more than the screen holds
        self.list = FitScroll("mnt_update_list", inner)
        self.list.verticalScrollBar().valueChanged.connect(screen.touch)
        admin.addWidget(self.list)
        self.message = make_label("", "mnt_note", "mnt_update_message", wrap=True)
        self.message.hide()
        admin.addWidget(self.message)
        # the back office's updates (kiosk.maintenance.remote): what the last poll brought
        self.remote = make_label("", "mnt_name", "mnt_update_remote", wrap=True)
        admin.addWidget(self.remote)
        buttons = QBoxLayout(LTR)
        self.buttons = buttons
        self.refresh_button = mnt_button("Look again", "mnt_update_refresh", "secondary", "act",
                                         self.look_again)
        self.remote_button = mnt_button("Ask the back office", "mnt_update_remote_check",
                                        "secondary", "act", self.ask_backoffice)
        self.rollback_config = mnt_button("Roll back the config", "mnt_update_rollback_config",
                                          "secondary", "act", bind(self.rollback, "config"))
        self.rollback_tariff = mnt_button("Roll back the tariff", "mnt_update_rollback_tariff",
                                          "secondary", "act", bind(self.rollback, "tariff"))
        for btn in (self.refresh_button, self.remote_button, self.rollback_config,
                    self.rollback_tariff):
            buttons.addWidget(btn)
        buttons.addStretch(1)
        admin.addLayout(buttons)
        admin.addStretch(1)
        self.box.addWidget(self.admin, 1)
        self.bundles: list[Path] = []
        self.rows: list[QWidget] = []

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.admin_box.setSpacing(m.px(12))
        self.list_box.setSpacing(m.px(8))
        self.list_box.setContentsMargins(0, 0, m.px(24), 0)
        self.buttons.setSpacing(m.px(12))
        # portrait: the three buttons one above the other, as wide as the page
        self.buttons.setDirection(TTB if m.portrait else LTR)

    def _updates(self) -> Updates | None:
        path = self.owner.config_path
        if path is None:
            return None
        return Updates(self.mnt.folder, path, self.rt.config)

    def shown(self) -> None:
        tech = self.mnt.technician
        if tech is None or tech.role != "admin":
            show_text(self.note, ADMIN_ONLY)
            self.admin.hide()
            return
        if self.owner.config_path is None:
            show_text(self.note, "Updates are not available: the kiosk was started without a "
                                 "config file (kiosk run --config FILE).")
            self.admin.hide()
            return
        show_text(self.note, "Signed config and tariff updates from the USB stick or the back "
                             "office. An update takes effect when the kiosk restarts: it "
                             "restarts by itself when maintenance closes.")
        self.admin.show()
        self.list_bundles()
        self.show_remote()

    def tick(self) -> None:
        if self.admin.isVisible():
            self.show_remote()

    def show_remote(self) -> None:
        remote = self.rt.remote_updates
        self.remote_button.setVisible(remote is not None)
        if remote is None:
            show_text(self.remote, "Back office: this terminal does not ask it for "
                                   "updates (see the [maintenance] settings).")
            return
        st = remote.status()
        if st.checking:
            line = "Back office: asking now…"
        elif st.last_check is None:
            line = "Back office: not asked yet."
        else:
            tz = zone(self.rt.config.station.timezone)
            when = st.last_check.astimezone(tz).strftime("%d %b %H:%M:%S")
            line = f"Back office, asked at {when}: {st.last_result}"
        if st.applied:
            line += f"\nApplied since the start: {', '.join(st.applied[-4:])}."
        if self.rt.restart_reason:
            line += "\nThe kiosk restarts when maintenance closes."
        show_text(self.remote, line)

    def ask_backoffice(self) -> None:
        remote = self.rt.remote_updates
        if remote is None:
            return

        def do() -> str:
            remote.check_now()
            return "Asking the back office for updates."
        self.owner.attempt(self.message, "ask the back office for updates", {}, do,
                           role="admin")
        self.show_remote()

    def look_again(self) -> None:
        self.owner.touch()
        say(self.message, "", None)
        self.list_bundles()

    def list_bundles(self) -> None:
        for row in self.rows:
            self.list_box.removeWidget(row)
            row.hide()  # deleted when the event loop runs: off screen and nameless now
            for w in (row, *row.findChildren(QWidget)):
                w.setObjectName("")
            row.deleteLater()
        self.rows = []
        folder = usb_folder(self.owner)
        problem = ""
        try:
            self.bundles = find_bundles(folder) if folder is not None else []
        except UpdateRefused as exc:
            self.bundles, problem = [], str(exc)
        if folder is None:
            show_text(self.folder, f"{NO_STICK}: no update folder is configured "
                                   f"(maintenance.update_folder).")
        elif problem:
            show_text(self.folder, problem)
        elif not self.bundles:
            show_text(self.folder, f"{NO_STICK} in {folder}.")
        else:
            show_text(self.folder, f"Updates found in {folder}:")
        m = self.m
        for n, path in enumerate(self.bundles, start=1):
            row = QWidget()
            row.setObjectName(f"mnt_update_row_{n}")
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.setSpacing(m.px(16))
            name = make_label("", "mnt_value", f"mnt_update_name_{n}", wrap=True)
            show_text(name, path.name)
            line.addWidget(name, 1)
            apply = mnt_button("Apply", f"mnt_update_apply_{n}", "primary", "act",
                               bind(self.apply, n))
            apply.setAccessibleName(f"Apply {path.name}")
            line.addWidget(apply, 0, Qt.AlignmentFlag.AlignVCenter)
            self.list_box.insertWidget(n - 1, row)
            row.show()
            self.rows.append(row)
        self.list.setVisible(bool(self.bundles))
        self.list.updateGeometry()  # another number of rows: another height

    def apply(self, n: int) -> None:
        path = self.bundles[n - 1]

        def do() -> str:
            updates = self._updates()
            if updates is None:
                raise MaintenanceError("updates are not available without a config file")
            try:
                got: Update = updates.apply_file(path, path.name)
            except UpdateRefused as exc:
                raise MaintenanceError(str(exc)) from None
            if got.kind in LIVE_KINDS:
                return (f"Done: {path.name}: the {got.kind} update, sequence {got.sequence}, "
                        f"is in place and used from the next driver on.")
            self.rt.request_restart(f"the {got.kind} update {got.sequence} from the USB "
                                    f"stick")
            return (f"Done: {path.name}: the {got.kind} update, sequence {got.sequence}, is "
                    f"in place. The kiosk restarts to take it when maintenance closes.")
        self.owner.attempt(self.message, "update", {"bundle": path.name[:200]}, do,
                            role="admin")

    def rollback(self, kind: str) -> None:
        def do() -> str:
            updates = self._updates()
            if updates is None:
                raise MaintenanceError("updates are not available without a config file")
            try:
                updates.rollback(kind)
            except UpdateRefused as exc:
                raise MaintenanceError(str(exc)) from None
            self.rt.request_restart(f"the {kind} rolled back")
            return (f"Done: the previous {kind} is back in place. The kiosk restarts to take "
                    f"it when maintenance closes.")
        self.owner.attempt(self.message, "update rollback", {"kind": kind}, do, role="admin")

    def closing(self) -> None:
        say(self.message, "", None)


class RecordsPage(MntPage):
    title = "Records and USB"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_records_page")
        self.folder = make_label("", "body", "mnt_records_folder", wrap=True)
        self.box.addWidget(self.folder)
        self.upload = make_label("", "mnt_name", "mnt_records_upload", wrap=True)
        self.box.addWidget(self.upload)
        grid = QGridLayout()
        self.grid = grid
        rows = (
            ("mnt_upload_now", "Upload now", self.upload_now,
             "Sends the records queued for the back office now."),
            ("mnt_export_batches", "Export batches", self.export_batches,
             "Writes the upload batches not yet acknowledged to the USB stick."),
            ("mnt_export_logs", "Export logs", self.export_logs,
             "Writes the kiosk's log to the USB stick (card numbers and PINs removed)."),
        )
        self.action_buttons: list[QPushButton] = []
        self.texts: list[QLabel] = []
        for i, (name, text, slot, help_text) in enumerate(rows):
            btn = mnt_button(text, name, "secondary", "act", slot)
            grid.addWidget(btn, i, 0)
            self.action_buttons.append(btn)
            label = make_label("", "mnt_name", f"{name}_help", wrap=True)
            show_text(label, help_text)
            grid.addWidget(label, i, 1)
            self.texts.append(label)
        grid.setColumnStretch(1, 1)
        self.box.addLayout(grid)
        self.message = make_label("", "mnt_note", "mnt_records_message", wrap=True)
        self.message.hide()
        self.box.addWidget(self.message)
        self.box.addStretch(1)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.grid.setHorizontalSpacing(m.px(20))
        self.grid.setVerticalSpacing(m.px(12))

    def shown(self) -> None:
        folder = usb_folder(self.owner)
        show_text(self.folder, f"USB stick: {folder}" if folder is not None else
                  "No USB folder is configured (maintenance.update_folder): the exports "
                  "have nowhere to go.")
        self.tick()

    def tick(self) -> None:
        st = self.rt.upload_status()
        if st is None:
            text = "This terminal does not upload (no back office, or offline): export by USB."
        else:
            text = (f"Back office: {st.pending} record(s) queued"
                    + (f"; last error: {st.last_error}" if st.last_error else ""))
        show_text(self.upload, text)

    def _folder(self) -> Path:
        folder = usb_folder(self.owner)
        if folder is None:
            raise MaintenanceError("no USB folder is configured (maintenance.update_folder)")
        return folder

    def upload_now(self) -> None:
        def do() -> str:
            if not actions.upload_now(self.rt):
                raise MaintenanceError("this terminal does not upload (no back office, or "
                                       "offline): export by USB instead")
            return "Done: the upload was started."
        self.owner.attempt(self.message, "upload now", {}, do)

    def export_batches(self) -> None:
        def do() -> str:
            folder = self._folder()
            n = actions.export_batches(self.rt, folder)
            return f"Done: {n} batch file(s) written to {folder}."
        self.owner.attempt(self.message, "export batches",
                            {"folder": str(usb_folder(self.owner) or "")[:200]}, do)

    def export_logs(self) -> None:
        def do() -> str:
            out = actions.export_logs(self.rt, self._folder())
            return f"Done: the log was written to {out}."
        self.owner.attempt(self.message, "export logs",
                            {"folder": str(usb_folder(self.owner) or "")[:200]}, do)

    def closing(self) -> None:
        say(self.message, "", None)


REASONS = ("Repair", "Damaged", "Waiting for parts", "Operator's decision")


class ServicePage(MntPage):
    title = "Out of service"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_service_page")
        head = QHBoxLayout()
        self.head = head
        self.icon = IconLabel("check", "green", 56, "mnt_service_icon")
        head.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        self.state = make_label("", "mnt_big", "mnt_service_state", wrap=True)
        head.addWidget(self.state, 1)
        self.box.addLayout(head)
        self.lead = make_label("", "mnt_name", "mnt_service_lead", wrap=True)
        show_text(self.lead, "Out of service, drivers see that the station cannot be used, "
                             "also after a restart, until it is switched back here. While "
                             "maintenance is open drivers cannot start in any case.")
        self.box.addWidget(self.lead)
        self.reason_caption = make_label("Reason", "mnt_caption", "mnt_service_reason_caption")
        self.box.addWidget(self.reason_caption)
        reasons = QGridLayout()
        self.reasons = reasons
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.reason_buttons: list[QPushButton] = []
        for i, text in enumerate(REASONS):
            btn = mnt_button(text, f"mnt_service_reason_{i}", "secondary", "choice",
                             screen.touch)
            btn.setCheckable(True)
            btn.setChecked(i == 0)
            self.group.addButton(btn, i)
            self.reason_buttons.append(btn)
        self.box.addLayout(reasons)
        switch = QBoxLayout(LTR)
        self.switch = switch
        self.off_button = mnt_button("Take out of service", "mnt_service_off", "danger", "act",
                                     bind(self.switch_to, True))
        self.on_button = mnt_button("Back in service", "mnt_service_on", "primary", "act",
                                    bind(self.switch_to, False))
        switch.addWidget(self.off_button)
        switch.addWidget(self.on_button)
        switch.addStretch(1)
        self.box.addLayout(switch)
        self.message = make_label("", "mnt_note", "mnt_service_message", wrap=True)
        self.message.hide()
        self.box.addWidget(self.message)
        self.box.addStretch(1)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.head.setSpacing(m.px(20))
        self.reasons.setSpacing(m.px(10))
        columns = 2 if m.portrait else 4
        for i, btn in enumerate(self.reason_buttons):
            self.reasons.removeWidget(btn)
            self.reasons.addWidget(btn, i // columns, i % columns)
        self.switch.setSpacing(m.px(16))
        self.icon.redraw(self.owner.ui)

    def shown(self) -> None:
        self.tick()

    def tick(self) -> None:
        switch = self.mnt.out_of_service()
        off = switch is not None
        if switch is None:
            text = "In service: drivers can charge when maintenance closes."
        else:
            note = f" ({switch.note})" if switch.note else ""
            text = f"Out of service: switched off by {switch.by}{note}."
        show_text(self.state, text)
        self.icon.set_icon("out-of-service" if off else "check", "red" if off else "green",
                           self.owner.ui)
        self.icon.setAccessibleName("Out of service" if off else "In service")
        self.off_button.setEnabled(not off)
        self.on_button.setEnabled(off)
        for btn in self.reason_buttons:
            btn.setEnabled(not off)
        self.reason_caption.setEnabled(not off)

    def switch_to(self, off: bool) -> None:
        self.owner.touch()
        note = REASONS[max(0, self.group.checkedId())] if off else ""
        try:
            self.mnt.set_out_of_service(off, note)
        except (MaintenanceError, AuditError, OSError) as exc:
            say(self.message, f"Not done: {exc}", False)
        else:
            say(self.message, "Done: the terminal is out of service." if off else
                "Done: the terminal is back in service (when maintenance closes).", True)
        self.tick()

    def closing(self) -> None:
        say(self.message, "", None)

