"""The small parts the technician's pages share: their own sizes on top of the product's
stylesheet, a digit pad, wrapped text that breaks inside long paths, and a scrolling list.

Looks come from the driver pages' roles (``title``, ``lead``, ``muted``, ``warning``,
``status_paid``, ``card``, ``pin_dots``, ``pin_key``, ``primary``, ``secondary``, ``danger``
…); what the maintenance pages need besides (denser rows, smaller buttons, a monospaced list,
a checked choice) is :func:`maintenance_stylesheet`, set on the maintenance screen itself and
made again for every screen size. Button sizes are in that stylesheet, keyed by the dynamic
property ``mnt`` (``bar``, ``act``, ``nav``, ``key``, ``step``, ``choice``), never set with
``setFixedHeight``: a restyle of the window would put the product's minimum height back over
a fixed size.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QWidget,
)

from kiosk.ui.pages import make_button, make_label, set_text
from kiosk.ui.style import Metrics, Palette

ZWSP = "\u200b"  # a break opportunity that is not drawn
_BREAK_AFTER = re.compile(r"([/_.,:=&?@\\-])")
LONG_WORD = 18  # a word this long gets break opportunities


def breakable(text: str) -> str:
    """``text`` with invisible break opportunities inside its long words (a path, a key in hex,
    a file name), so a word-wrapped label wraps it instead of growing wider than the screen."""
    def one(word: str) -> str:
        if len(word) < LONG_WORD:
            return word
        word = _BREAK_AFTER.sub(r"\1" + ZWSP, word)
        # what is still long (hex, base64): a break every 16 characters
        return "".join(part if len(part) <= 16 else ZWSP.join(
            part[i:i + 16] for i in range(0, len(part), 16)) for part in
                       re.split(f"({ZWSP})", word))
    return "\n".join(" ".join(one(w) for w in line.split(" ")) for line in text.split("\n"))


def plain(text: str) -> str:
    """What a label shows, without the break opportunities :func:`breakable` put in."""
    return text.replace(ZWSP, "")


def show_text(label: QLabel, text: str) -> None:
    """A wrapped label's text with break opportunities; its accessible name without them."""
    set_text(label, breakable(text), text.replace("\n", " "))


def mnt_button(text: str, name: str, role: str, size: str,
               on_click: Callable[[], None] | None = None) -> QPushButton:
    """A button of the driver pages' ``role`` (its look) and one of the maintenance sizes."""
    btn = make_button(text, name, role, on_click)
    btn.setProperty("mnt", size)
    return btn


def say(label: QLabel, text: str, ok: bool | None) -> None:
    """A result line: ``ok`` True in the paid look, False in the warning look, None in a
    neutral box; hidden when empty. The words say it too ("Done", "Not done"), not the colour
    alone. (All three are boxes of the same padding: a role change repolishes the label, but
    Qt keeps the contents margins of its first look until the next restyle.)"""
    from kiosk.ui.pages import set_role

    set_role(label, {True: "status_paid", False: "warning", None: "mnt_note"}[ok])
    show_text(label, text)
    label.setVisible(bool(text))


def scroll_list(name: str, inner: QWidget) -> QScrollArea:
    """``inner`` in a vertical scroll area without a frame (the long lists only)."""
    area = QScrollArea()
    area.setObjectName(name)
    area.setProperty("mnt", "list")
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    inner.setProperty("mnt", "list_inner")
    return area


class FitScroll(QScrollArea):
    """A scroll area as high as what it holds while there is room for that, and scrolling
    only when the screen is too small (the status rows of a station with many connectors)."""

    def __init__(self, name: str, inner: QWidget) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setProperty("mnt", "list")
        inner.setProperty("mnt", "list_inner")
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        inner = self.widget()
        if inner is None:  # pragma: no cover - always one
            return super().sizeHint()
        width = self.viewport().width() if self.width() > 0 else inner.sizeHint().width()
        height = inner.heightForWidth(width) if inner.hasHeightForWidth() else -1
        if height < 0:
            height = inner.sizeHint().height()
        frame = 2 * self.frameWidth()
        return QSize(inner.sizeHint().width() + frame, height + frame)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # wrapped rows: another width, another height


class Pad(QWidget):
    """Ten digit keys, a delete key and OK (``<prefix>_<digit>``, ``<prefix>_back``,
    ``<prefix>_ok``) and the display (``<prefix>_display``: dots, or the digits with
    ``hidden=False``). The digits live here until :attr:`on_ok` takes them."""

    def __init__(self, prefix: str, *, hidden: bool, low: int, high: int,
                 on_ok: Callable[[str], None], touch: Callable[[], None]) -> None:
        super().__init__()
        self.setObjectName(f"{prefix}_pad")
        self.prefix = prefix
        self.hidden = hidden
        self.low, self.high = low, high
        self.on_ok = on_ok
        self.touch = touch
        self._digits = ""
        self._locked = False
        self.display = make_label("", "pin_dots", f"{prefix}_display",
                                  align=Qt.AlignmentFlag.AlignCenter)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.keys: dict[str, QPushButton] = {}
        for i, digit in enumerate("1234567890"):
            btn = mnt_button(digit, f"{prefix}_{digit}", "pin_key", "key", self._press_slot(digit))
            self.keys[digit] = btn
            row, col = (i // 3, i % 3) if digit != "0" else (3, 1)
            self.grid.addWidget(btn, row, col)
        self.back_button = mnt_button("Delete", f"{prefix}_back", "pin_key_text", "key",
                                      self._back)
        self.back_button.setAccessibleName("Delete the last digit")
        self.grid.addWidget(self.back_button, 3, 0)
        self.ok_button = mnt_button("OK", f"{prefix}_ok", "pin_ok", "key", self._ok)
        self.grid.addWidget(self.ok_button, 3, 2)
        self._redraw()

    def _press_slot(self, digit: str) -> Callable[[], None]:
        def slot() -> None:
            self.press(digit)
        return slot

    def apply_metrics(self, m: Metrics) -> None:
        self.grid.setSpacing(m.px(12))
        self.display.setMinimumHeight(m.target(80))

    @property
    def count(self) -> int:
        return len(self._digits)

    def press(self, digit: str) -> None:
        self.touch()
        if not self._locked and len(self._digits) < self.high:
            self._digits += digit
        self._redraw()

    def _back(self) -> None:
        self.touch()
        self._digits = self._digits[:-1]
        self._redraw()

    def clear(self) -> None:
        self._digits = ""
        self._redraw()

    def set_locked(self, locked: bool) -> None:
        """Every key off (a lockout's wait), or on again."""
        self._locked = locked
        for btn in (*self.keys.values(), self.back_button):
            btn.setEnabled(not locked)
        self._redraw()

    def _ok(self) -> None:
        self.touch()
        if self._locked or len(self._digits) < self.low:
            return
        digits, self._digits = self._digits, ""
        self._redraw()
        self.on_ok(digits)

    def _redraw(self) -> None:
        n = len(self._digits)
        shown = "\u25cf" * n if self.hidden else self._digits
        self.display.setText(shown)
        self.display.setAccessibleName(f"digits entered: {n}" if self.hidden
                                       else f"entered: {' '.join(self._digits) or 'none'}")
        self.ok_button.setEnabled(not self._locked and n >= self.low)


def maintenance_stylesheet(m: Metrics, c: Palette) -> str:
    """What the maintenance screen adds to the product's stylesheet for screen ``m``."""
    p, f = m.px, m.font
    return f"""
QWidget#maintenance_screen {{
    background: {c.paper};
}}
QLabel[role="mnt_name"] {{
    font-size: {f(20)}px;
    color: {c.muted};
}}
QLabel[role="mnt_value"] {{
    font-size: {f(20)}px;
    color: {c.ink};
}}
QLabel[role="mnt_ok"], QLabel[role="mnt_problem"], QLabel[role="mnt_info"] {{
    font-size: {f(18)}px;
    font-weight: bold;
}}
QLabel[role="mnt_ok"] {{
    color: {c.green};
}}
QLabel[role="mnt_problem"] {{
    color: {c.red};
}}
QLabel[role="mnt_info"] {{
    color: {c.muted};
}}
QLabel[role="mnt_caption"] {{
    font-size: {f(22)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="mnt_mono"] {{
    font-family: "DejaVu Sans Mono";
    font-size: {f(18)}px;
}}
QLabel[role="mnt_big"] {{
    font-size: {f(30)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel#mnt_title {{
    font-size: {f(34)}px;
}}
QLabel[role="warning"], QLabel[role="status_paid"], QLabel[role="mnt_note"] {{
    font-size: {f(22)}px;
    font-weight: bold;
    padding: {p(8)}px {p(16)}px;
    border-width: {p(3)}px;
    border-style: solid;
    border-radius: {p(12)}px;
}}
QLabel[role="mnt_note"] {{
    color: {c.ink};
    background: {c.panel};
    border-color: {c.line};
}}
QLabel[role="pin_dots"] {{
    font-size: {f(40)}px;
    letter-spacing: {p(8)}px;
}}
QPushButton[mnt="bar"], QPushButton[mnt="act"], QPushButton[mnt="nav"],
QPushButton[mnt="step"], QPushButton[mnt="choice"] {{
    font-size: {f(24)}px;
    padding: 0 {p(20)}px;
    min-height: {m.target(64)}px;
    max-height: {m.target(64)}px;
}}
QPushButton[mnt="nav"] {{
    font-size: {f(22)}px;
    padding: 0 {p(10)}px;
    min-height: {m.target(72)}px;
    max-height: {m.target(72)}px;
}}
QPushButton[mnt="step"] {{
    min-width: {m.target(64) - 2 * p(2)}px;
    max-width: {m.target(64) - 2 * p(2)}px;
    padding: 0;
    font-size: {f(32)}px;
}}
QPushButton[mnt="choice"] {{
    font-size: {f(20)}px;
    font-weight: normal;
    padding: 0 {p(12)}px;
}}
QPushButton[mnt="choice"]:checked {{
    background: {c.blue};
    color: {c.on_dark};
    font-weight: bold;
}}
QPushButton[mnt="key"] {{
    min-height: {m.target(84 if not m.portrait else 100)}px;
    max-height: {m.target(84 if not m.portrait else 100)}px;
    min-width: {p(130 if not m.portrait else 190)}px;
    max-width: {p(130 if not m.portrait else 190)}px;
    padding: 0;
}}
QPushButton[mnt="key"][role="pin_key"] {{
    font-size: {f(36)}px;
}}
QPushButton[mnt="key"][role="pin_key_text"], QPushButton[mnt="key"][role="pin_ok"] {{
    font-size: {f(24)}px;
}}
QScrollArea[mnt="list"], QScrollArea[mnt="list"] > QWidget, QWidget[mnt="list_inner"] {{
    background: transparent;
}}
QFrame[role="card"] QScrollArea[mnt="list"] QWidget[mnt="list_inner"] {{
    background: {c.panel};
}}
QScrollArea[mnt="list"] QScrollBar:vertical {{
    width: {max(p(20), 12)}px;
    margin: 0;
    border: none;
    border-radius: {p(10)}px;
    background: {c.panel};
}}
QScrollArea[mnt="list"] QScrollBar::handle:vertical {{
    min-height: {p(48)}px;
    border-radius: {p(10)}px;
    background: {c.blue};
}}
QScrollArea[mnt="list"] QScrollBar::add-line:vertical,
QScrollArea[mnt="list"] QScrollBar::sub-line:vertical {{
    height: 0;
}}
QScrollArea[mnt="list"] QScrollBar::add-page:vertical,
QScrollArea[mnt="list"] QScrollBar::sub-page:vertical {{
    background: none;
}}
"""
