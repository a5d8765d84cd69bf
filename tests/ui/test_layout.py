"""Every driver screen at every screen size in every language fits: no label cut off or
elided, no control outside the window, no touch target below 9 mm (kiosk.ui.layout_check), and
the window stays the size of the screen. The screens are the ones the screenshots draw: the
demo flows played once through the real buttons, then each screen drawn again at 800x480,
1024x600, 1280x800, 1920x1080 and 1080x1920 portrait in en, de, fr and nl, each in the
standard look and in the accessibility mode (high contrast, large text)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kiosk.ui.layout_check import layout_problems
from kiosk.ui.screenshots import SIZES, shoot


def test_every_screen_fits_every_size_and_language(qtbot: QtBot) -> None:
    saved, problems = shoot(None, check=True)
    assert saved == []
    assert problems == [], "\n".join(problems[:40])


def test_the_check_sees_cut_text_and_controls_off_screen(qtbot: QtBot) -> None:
    """The checker is not blind: a label too narrow for its text, a wrapped label too low, a
    button outside the window and one smaller than the touch minimum are all reported."""
    top = QWidget()
    qtbot.addWidget(top)
    top.resize(400, 300)
    cut = QLabel("a text far too long for forty pixels", top)
    cut.setObjectName("cut")
    cut.setGeometry(0, 0, 40, 30)
    low = QLabel("a wrapped text that needs three or four lines at this width", top)
    low.setObjectName("low")
    low.setWordWrap(True)
    low.setGeometry(0, 40, 120, 20)
    off = QPushButton("Off", top)
    off.setObjectName("off")
    off.setGeometry(380, 280, 100, 60)
    tiny = QPushButton("x", top)
    tiny.setObjectName("tiny")
    tiny.setGeometry(200, 100, 20, 20)
    fine = QLabel("ok", top)
    fine.setObjectName("fine")
    fine.setGeometry(200, 200, 100, 40)
    top.show()
    qtbot.waitExposed(top)
    found = {p.split(":")[0] for p in layout_problems(top, touch_px=34)}
    assert found == {"cut", "low", "off", "tiny"}


def test_the_sizes_cover_the_common_panels() -> None:
    assert (800, 480) in SIZES and (1080, 1920) in SIZES and len(SIZES) == 5
