"""``mnt_status_page``: the home after the login. One row per part of the terminal
(:func:`kiosk.maintenance.status.gather`), each marked by an icon and a word (OK, Problem,
Info: never by colour alone), refreshed every second; the newest audit entries; the way to
every other page (``mnt_nav_<page>``)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.maintenance.status import Row, gather
from kiosk.security.audit import AuditError, Entry
from kiosk.ui.maintenance.base import MntPage
from kiosk.ui.maintenance.widgets import FitScroll, mnt_button, scroll_list, show_text
from kiosk.ui.pages import IconLabel, bind, make_card, make_label, set_role, set_text

if TYPE_CHECKING:
    from kiosk.ui.maintenance.screen import MaintenanceScreen

LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom
AUDIT_SHOWN = 30
NAV = (("card", "Card reader test"), ("charger", "Charger test"),
       ("config", "Tariff and config"), ("updates", "Updates"), ("records", "Records, USB"),
       ("service", "Out of service"), ("provisioning", "Provisioning"))
MARKS = {True: ("check", "green", "OK", "mnt_ok"), False: ("warning", "red", "Problem",
                                                          "mnt_problem"),
         None: ("info", "muted", "Info", "mnt_info")}


def zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def entry_text(e: Entry, tz: tzinfo | None) -> str:
    """One audit entry on one line (it wraps): when, who, what, the details as key=value."""
    try:
        at = datetime.fromisoformat(e.at).astimezone(tz).strftime("%d %b %H:%M:%S")
    except ValueError:
        at = e.at
    details = ", ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
    return f"{e.seq}  {at}  {e.actor}  {e.action}" + (f"  ({details})" if details else "")


class _Row:
    def __init__(self, grid: QGridLayout, i: int, key: str) -> None:
        self.icon = IconLabel("info", "muted", 26, f"mnt_status_{key}_icon")
        self.word = make_label("", "mnt_info", f"mnt_status_{key}_mark")
        self.name = make_label("", "mnt_name", f"mnt_status_{key}_name")
        self.value = make_label("", "mnt_value", f"mnt_status_{key}", wrap=True)
        grid.addWidget(self.icon, i, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.word, i, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.name, i, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.value, i, 3)
        self.widgets: tuple[QWidget, ...] = (self.icon, self.word, self.name, self.value)

    def show(self, row: Row, screen: MaintenanceScreen) -> None:
        icon, color, word, role = MARKS[row.ok]
        self.icon.set_icon(icon, color, screen.ui)
        self.icon.setAccessibleName(word)
        set_text(self.word, word)
        set_role(self.word, role)
        set_text(self.name, row.name)
        show_text(self.value, row.value)
        self.value.setAccessibleName(f"{row.name}: {word}: {row.value}")
        for w in self.widgets:
            w.show()


class StatusPage(MntPage):
    title = "Maintenance"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_status_page")
        self.tz = zone(str(self.rt.config.station.timezone))
        row = QBoxLayout(LTR)
        self.row = row
        self.box.addLayout(row, 1)
        rows_widget = QWidget()
        rows_widget.setObjectName("mnt_status_grid")
        grid = QGridLayout(rows_widget)
        self.grid = grid
        grid.setColumnStretch(3, 1)
        self.rows: dict[str, _Row] = {}
        self.rows_scroll = FitScroll("mnt_status_scroll", rows_widget)
        self.rows_scroll.verticalScrollBar().valueChanged.connect(screen.touch)
        card_box = QVBoxLayout()
        card_box.setContentsMargins(0, 0, 0, 0)
        card_box.addWidget(self.rows_scroll)
        self.status_card = make_card(card_box, "mnt_status_rows")
        left = QVBoxLayout()
        self.left = left
        left.addWidget(self.status_card)
        left.addStretch(1)
        row.addLayout(left, 3)

        right = QVBoxLayout()
        self.right = right
        nav = QGridLayout()
        self.nav = nav
        self.nav_buttons: list[QPushButton] = []
        for key, text in NAV:
            self.nav_buttons.append(mnt_button(text, f"mnt_nav_{key}", "secondary", "nav",
                                               bind(screen.show_page, key)))
        right.addLayout(nav)
        self.audit_caption = make_label("Audit log, newest first", "mnt_caption",
                                        "mnt_audit_caption")
        right.addWidget(self.audit_caption)
        inner = QWidget()
        inner.setObjectName("mnt_audit_entries")
        self.audit_box = QVBoxLayout(inner)
        self.audit_labels = [make_label("", "mnt_value", f"mnt_audit_{i}", wrap=True)
                             for i in range(AUDIT_SHOWN)]
        for label in self.audit_labels:
            label.hide()
            self.audit_box.addWidget(label)
        self.audit_box.addStretch(1)
        self.audit_list = scroll_list("mnt_audit_list", inner)
        self.audit_list.verticalScrollBar().valueChanged.connect(screen.touch)
        right.addWidget(self.audit_list, 1)
        row.addLayout(right, 2)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.row.setDirection(TTB if m.portrait else LTR)
        self.row.setSpacing(m.px(24))
        self.row.setStretch(0, 0 if m.portrait else 3)
        self.row.setStretch(1, 1 if m.portrait else 2)
        self.left.setSpacing(0)
        v = m.px(6 if m.compact else 12)
        self.grid.setContentsMargins(m.px(16), v, m.px(16), v)
        self.grid.setHorizontalSpacing(m.px(12))
        self.grid.setVerticalSpacing(m.px(2 if m.compact else 6))
        self.right.setSpacing(m.px(10))
        self.nav.setSpacing(m.px(10))
        columns = 3 if m.portrait else 2
        for i, btn in enumerate(self.nav_buttons):
            self.nav.removeWidget(btn)
            self.nav.addWidget(btn, i // columns, i % columns)
        self.audit_box.setContentsMargins(0, 0, m.px(24), 0)
        self.audit_box.setSpacing(m.px(6))
        for r in self.rows.values():
            r.icon.redraw(self.owner.ui)

    def shown(self) -> None:
        self.refresh()

    def tick(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        try:
            recent = self.mnt.audit.recent(AUDIT_SHOWN)
            audit_problem = ""
        except AuditError as exc:
            recent, audit_problem = [], f"The audit log cannot be read: {exc}"
        rows = gather(self.rt, recent)
        if audit_problem:
            rows.append(Row("audit", "Audit log", audit_problem, False))
        seen = set()
        for row in rows:
            shown = self.rows.get(row.key)
            if shown is None:
                shown = self.rows[row.key] = _Row(self.grid, len(self.rows), row.key)
                shown.icon.redraw(self.owner.ui)
            shown.show(row, self.owner)
            seen.add(row.key)
        for key, r in self.rows.items():
            if key not in seen:
                for w in r.widgets:
                    w.hide()
        texts = [entry_text(e, self.tz) for e in reversed(recent)]
        if audit_problem:
            texts = [audit_problem]
        for label, text in zip(self.audit_labels, [*texts, *[""] * AUDIT_SHOWN],
                               strict=False):
            if text:
                show_text(label, text)
            label.setVisible(bool(text))

    def audit_texts(self) -> list[str]:
        """The audit entries on screen, newest first (for tests)."""
        return [label.accessibleName() for label in self.audit_labels if not label.isHidden()]

    def value(self, key: str) -> QLabel:
        return self.rows[key].value
