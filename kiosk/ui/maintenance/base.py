"""What every page of the maintenance screen has: the screen it belongs to, its title, and the
hooks the screen calls (shown, every second while shown, the mode closing, a new size)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk.ui.style import Metrics

if TYPE_CHECKING:
    from kiosk.maintenance.mode import Maintenance
    from kiosk.runtime import Runtime
    from kiosk.ui.maintenance.screen import MaintenanceScreen


class MntPage(QWidget):
    title = ""

    def __init__(self, screen: MaintenanceScreen, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.owner = screen
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)

    @property
    def m(self) -> Metrics:
        return self.owner.ui.metrics

    @property
    def rt(self) -> Runtime:
        return self.owner.ui.runtime

    @property
    def mnt(self) -> Maintenance:
        return self.owner.maintenance

    def apply_metrics(self) -> None:
        self.box.setSpacing(self.m.px(14))

    def shown(self) -> None:
        """The page came on screen."""

    def tick(self) -> None:
        """Every second while the page is on screen."""

    def closing(self) -> None:
        """The mode closes (logout, idle, cancel): stop what runs, forget what was shown."""
