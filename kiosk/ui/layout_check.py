"""What a driver would see as broken on a screen: text cut off or elided, a control outside the
window, a touch target smaller than 9 mm. :func:`layout_problems` lists them for the window as
it is drawn now (the screenshots and the layout tests call it for every screen, size and
language)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QPushButton, QWidget

SLACK = 1  # px: rounding in Qt's own size hints


def _in_scroll_area(w: QWidget, top: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None and p is not top:
        if isinstance(p, QAbstractScrollArea):
            return True
        p = p.parentWidget()
    return False


def _name(w: QWidget) -> str:
    return w.objectName() or f"{type(w).__name__} in {_owner(w)}"


def _owner(w: QWidget) -> str:
    p = w.parentWidget()
    while p is not None and not p.objectName():
        p = p.parentWidget()
    return p.objectName() if p is not None else "?"


def _label_problem(lbl: QLabel) -> str:
    text = QLabel.text(lbl)  # what is drawn (an eliding label's text() is its full text)
    if lbl.text() != text:
        return f"elided ({lbl.text()!r} shown as {text!r})"
    if not text:
        return ""
    rect = lbl.contentsRect()
    if lbl.wordWrap():
        need = lbl.heightForWidth(lbl.width())
        if need > lbl.height() + SLACK:
            return f"wrapped text needs {need} px height, has {lbl.height()}: {text!r}"
        return ""
    fm = lbl.fontMetrics()
    lines = text.split("\n")
    widest = max(fm.horizontalAdvance(line) for line in lines)
    indent = 2 * max(0, lbl.margin())
    if widest > rect.width() - indent + SLACK:
        return f"text needs {widest} px width, has {rect.width()}: {text!r}"
    if fm.height() * len(lines) > rect.height() + SLACK:
        return f"text needs {fm.height() * len(lines)} px height, has {rect.height()}: {text!r}"
    return ""


def _button_problem(btn: QPushButton, touch_px: int) -> str:
    hint = btn.sizeHint()
    fm = btn.fontMetrics()
    lines = btn.text().split("\n") if btn.text() else []
    widest = max((fm.horizontalAdvance(line) for line in lines), default=0)
    if lines and widest > btn.width() - 4:
        return f"text needs {widest} px width, has {btn.width()}: {btn.text()!r}"
    if lines and fm.height() * len(lines) > btn.height():
        return f"text needs {fm.height() * len(lines)} px height, has {btn.height()}"
    if hint.height() > btn.height() + SLACK and btn.maximumHeight() >= hint.height():
        return f"squeezed to {btn.height()} px height (wants {hint.height()})"
    if min(btn.width(), btn.height()) < touch_px:
        return f"touch target {btn.width()}x{btn.height()} px below {touch_px} px (9 mm)"
    return ""


def layout_problems(window: QWidget, touch_px: int) -> list[str]:
    """Every visible label and button of ``window`` whose text does not fit, every visible
    widget outside the window, every button smaller than ``touch_px``."""
    found: list[str] = []
    screen = window.rect()
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0:
            continue
        rect = QRect(w.mapTo(window, QPoint(0, 0)), w.size())
        scrolled = _in_scroll_area(w, window)
        if not scrolled and not screen.contains(rect):
            found.append(f"{_name(w)}: outside the window ({rect.x()},{rect.y()} "
                         f"{rect.width()}x{rect.height()} in {screen.width()}x{screen.height()})")
            continue
        problem = ""
        if isinstance(w, QLabel):
            problem = _label_problem(w)
        elif isinstance(w, QPushButton):
            problem = _button_problem(w, touch_px)
        if problem:
            found.append(f"{_name(w)}: {problem}")
    return found
