"""What the technician reads: ``mnt_config_page`` (the tariff valid now, as the driver's idle
page shows it, and the running config line by line, ``section.key = value``) and
``mnt_provisioning_page`` (the terminal's id, its key's fingerprint and the registration QR
code the back office scans)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QLabel, QVBoxLayout, QWidget

from kiosk.maintenance import actions
from kiosk.maintenance.mode import MaintenanceError
from kiosk.ui.maintenance.base import MntPage
from kiosk.ui.maintenance.widgets import plain, say, scroll_list, show_text
from kiosk.ui.pages import make_card, make_label, set_text
from kiosk.ui.qr import qr_image

if TYPE_CHECKING:
    from kiosk.ui.maintenance.screen import MaintenanceScreen

LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom
QR_LANDSCAPE = 520
QR_PORTRAIT = 520


def shown_value(value: Any) -> str:
    """A config value as the TOML file would write it (strings quoted, so an empty one is
    seen), a list on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, Enum):
        return shown_value(value.value)
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(shown_value(v) for v in value) + "]"
    return str(value)


def config_lines(doc: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every key of the config, ``section.key = value``; a list of tables as
    ``connectors[0].id = 1`` (nothing is left out)."""
    lines: list[str] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            lines += config_lines(value, f"{name}.") or [f"{name} = {{}}"]
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                lines += config_lines(item, f"{name}[{i}].")
        else:
            lines.append(f"{name} = {shown_value(value)}")
    return lines


class ConfigPage(MntPage):
    title = "Tariff and config"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_config_page")
        row = QBoxLayout(LTR)
        self.row = row
        self.box.addLayout(row, 1)
        tariff = QVBoxLayout()
        self.tariff_box = tariff
        tariff.addWidget(make_label("Tariff valid now", "mnt_caption", "mnt_tariff_caption"))
        self.tariff_id = make_label("", "mnt_name", "mnt_tariff_id", wrap=True)
        tariff.addWidget(self.tariff_id)
        self.headline = make_label("", "mnt_big", "mnt_tariff_headline", wrap=True)
        tariff.addWidget(self.headline)
        self.items = make_label("", "mnt_value", "mnt_tariff_items", wrap=True)
        tariff.addWidget(self.items)
        self.vat = make_label("", "mnt_name", "mnt_tariff_vat", wrap=True)
        tariff.addWidget(self.vat)
        self.tariff_card = make_card(tariff, "mnt_tariff")
        row.addWidget(self.tariff_card, 2, Qt.AlignmentFlag.AlignTop)  # as high as its text

        right = QVBoxLayout()
        self.right = right
        self.config_caption = make_label("", "mnt_caption", "mnt_config_caption", wrap=True)
        right.addWidget(self.config_caption)
        inner = QWidget()
        inner.setObjectName("mnt_config_inner")
        inner_box = QVBoxLayout(inner)
        self.inner_box = inner_box
        self.lines = make_label("", "mnt_mono", "mnt_config_lines", wrap=True)
        self.lines.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        inner_box.addWidget(self.lines)
        inner_box.addStretch(1)
        self.view = scroll_list("mnt_config_view", inner)
        self.view.verticalScrollBar().valueChanged.connect(screen.touch)
        right.addWidget(self.view, 1)
        row.addLayout(right, 3)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.row.setDirection(TTB if m.portrait else LTR)
        self.row.setSpacing(m.px(24))
        self.row.setStretch(0, 0 if m.portrait else 2)
        self.row.setStretch(1, 1 if m.portrait else 3)
        v = m.px(8 if m.compact else 16)
        self.tariff_box.setContentsMargins(m.px(20), v, m.px(20), v)
        self.tariff_box.setSpacing(m.px(6))
        self.right.setSpacing(m.px(8))
        self.inner_box.setContentsMargins(0, 0, m.px(24), 0)

    def shown(self) -> None:
        rt = self.rt
        pricer = rt.tariffs.at(rt.clock())
        shown = rt.price_display("en")
        if pricer is None or shown is None:
            set_text(self.tariff_id, "")
            show_text(self.headline, "No tariff is valid now: drivers cannot start.")
            for label in (self.items, self.vat):
                set_text(label, "")
                label.hide()
        else:
            show_text(self.tariff_id, f"Tariff {pricer.tariff.id} ({pricer.tariff.currency})")
            show_text(self.headline, shown.headline)
            lines = [f"{i.label}: {i.amount}" + (f" ({i.condition})" if i.condition else "")
                     for i in shown.items]
            show_text(self.items, "\n".join(lines))
            self.items.setVisible(bool(lines))
            show_text(self.vat, "\n".join(t for t in (shown.vat_note, shown.hold_note) if t))
            self.vat.show()
        path = self.owner.config_path
        show_text(self.config_caption, f"Config {path}" if path is not None else
                  "Config (built in: the kiosk was started without a config file)")
        show_text(self.lines, "\n".join(config_lines(rt.config.model_dump())))

    def config_texts(self) -> list[str]:
        """The config's lines as shown (for tests)."""
        return plain(self.lines.text()).split("\n")


class ProvisioningPage(MntPage):
    title = "Provisioning"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_provisioning_page")
        row = QBoxLayout(LTR)
        self.row = row
        self.box.addLayout(row, 1)
        left = QVBoxLayout()
        self.left = left
        self.lead = make_label("", "body", "mnt_provisioning_lead", wrap=True)
        show_text(self.lead, "To register this terminal, scan the code with the back "
                             "office's registration app, or read the fingerprint to the "
                             "operator.")
        left.addWidget(self.lead)
        grid = QGridLayout()
        self.grid = grid
        self.values: dict[str, QLabel] = {}
        for i, (key, name) in enumerate((("terminal", "Terminal id"),
                                         ("fingerprint", "Key fingerprint"),
                                         ("key", "Public key"))):
            grid.addWidget(make_label(name, "mnt_name", f"mnt_provisioning_{key}_name"), i, 0,
                           Qt.AlignmentFlag.AlignTop)
            value = make_label("", "mnt_mono" if key == "key" else "mnt_big",
                               f"mnt_provisioning_{key}", wrap=True)
            grid.addWidget(value, i, 1)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        left.addLayout(grid)
        self.message = make_label("", "mnt_note", "mnt_provisioning_message", wrap=True)
        self.message.hide()
        left.addWidget(self.message)
        left.addStretch(1)
        row.addLayout(left, 1)
        self.qr = QLabel()
        self.qr.setObjectName("mnt_provisioning_qr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setAccessibleName("QR code of the terminal's registration")
        row.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        self.box.addStretch(0)  # portrait: the room left over goes below the code
        self.registration = ""
        self._drawn: tuple[str, int] = ("", 0)

    @property
    def qr_size(self) -> int:
        return self.m.px(QR_PORTRAIT if self.m.portrait else QR_LANDSCAPE)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.row.setDirection(TTB if m.portrait else LTR)
        self.row.setSpacing(m.px(32))
        self.box.setStretch(0, 0 if m.portrait else 1)
        self.box.setStretch(1, 1 if m.portrait else 0)
        self.left.setSpacing(m.px(14))
        self.grid.setHorizontalSpacing(m.px(20))
        self.grid.setVerticalSpacing(m.px(10))
        self.qr.setFixedSize(self.qr_size, self.qr_size)
        self._draw()

    def shown(self) -> None:
        try:
            p = actions.provisioning(self.rt)
        except MaintenanceError as exc:
            say(self.message, f"The terminal's keys cannot be read: {exc}", False)
            self.registration = ""
            for label in self.values.values():
                set_text(label, "")
            self.qr.clear()
            self._drawn = ("", 0)
            return
        say(self.message, "", None)
        show_text(self.values["terminal"], p.terminal_id)
        show_text(self.values["fingerprint"], p.fingerprint)
        show_text(self.values["key"], " ".join(p.public_key_hex[i:i + 16]
                                               for i in range(0, len(p.public_key_hex), 16)))
        self.registration = p.registration()
        self._draw()

    def _draw(self) -> None:
        if not self.registration or self._drawn == (self.registration, self.qr_size):
            return
        self.qr.setPixmap(QPixmap.fromImage(qr_image(self.registration, self.qr_size)))
        self._drawn = (self.registration, self.qr_size)
