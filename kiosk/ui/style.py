"""The kiosk's look: one stylesheet made for a screen size and a palette, and the sizes
every screen shares.

A touch kiosk read at arm's length in daylight: dark text on white, a dark-blue header, large
amounts, big buttons. The design is drawn for 1280x800 landscape (800x1280 portrait) and scaled
to the screen (:class:`Metrics`): fonts and spacings follow the smaller of the two ratios, and
no touch target is smaller than ``touch_mm`` (9 mm, EN 301 549) at the screen's density. The
high-contrast palette (:data:`HIGH_CONTRAST`) is white and yellow on black; the large-text mode
multiplies every font size (``Metrics.text``). Widgets pick their look with the dynamic property
``role`` (``setProperty``), so the whole look lives in :func:`stylesheet`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DESIGN_LANDSCAPE = (1280, 800)
DESIGN_PORTRAIT = (800, 1280)
TOUCH_MM = 9.0  # the smallest touch target (EN 301 549, self-service terminals)
MIN_FONT_PX = 14  # below this a kiosk screen is not readable at arm's length
LARGE_TEXT = 1.3  # the large-text mode's factor for reading text ...
LARGE_TEXT_UPTO = 32  # ... up to this design size (titles and figures stay as they are)


@dataclass(frozen=True)
class Metrics:
    """One screen's sizes: ``px(n)`` scales a design length, ``font(n)`` a font size."""

    width: int = DESIGN_LANDSCAPE[0]
    height: int = DESIGN_LANDSCAPE[1]
    dpi: float = 96.0
    text: float = 1.0  # 1.0, or LARGE_TEXT in the large-text mode
    family: str = "DejaVu Sans"

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def compact(self) -> bool:
        """A small landscape panel (7" 800x480, 1024x600), or large text: the lines of help
        that repeat what the page shows give way."""
        return self.text > 1 or (not self.portrait and self.height < 700)

    @property
    def scale(self) -> float:
        w, h = DESIGN_PORTRAIT if self.portrait else DESIGN_LANDSCAPE
        return min(self.width / w, self.height / h)

    def px(self, n: float) -> int:
        return max(1, round(n * self.scale)) if n > 0 else 0

    def font(self, n: float) -> int:
        """A font size; the large-text mode raises the reading sizes (to ``LARGE_TEXT`` times,
        at most to ``LARGE_TEXT_UPTO`` in the design), titles and figures are large already."""
        if self.text > 1:
            n = max(n, min(n * self.text, LARGE_TEXT_UPTO))
        return max(MIN_FONT_PX, round(n * self.scale))

    @property
    def touch(self) -> int:
        """The smallest touch target in pixels (9 mm at ``dpi``)."""
        return round(TOUCH_MM / 25.4 * self.dpi)

    def target(self, n: float) -> int:
        """A button's height: the design's, never below the touch minimum."""
        return max(self.touch, self.px(n))

    def header_font(self, n: float) -> int:
        """The header's fonts: scaled down with the screen, never up (room for the station's
        name beside the language buttons on a portrait screen)."""
        return max(MIN_FONT_PX, round(n * min(1.0, self.scale)))

    def with_text(self, factor: float) -> Metrics:
        return replace(self, text=factor)


@dataclass(frozen=True)
class Palette:
    navy: str = "#0b2545"  # titles, figures, the header
    blue: str = "#13315c"
    ink: str = "#111827"
    muted: str = "#4b5563"
    paper: str = "#ffffff"
    panel: str = "#eef2f7"
    line: str = "#c7d0dc"
    key_down: str = "#d6dde8"
    green: str = "#0a7d33"
    green_down: str = "#075c25"
    green_pale: str = "#dcfce7"
    red: str = "#b91c1c"
    red_down: str = "#8b1414"
    amber: str = "#fef3c7"
    amber_ink: str = "#7c2d12"
    amber_edge: str = "#d97706"
    attention: str = "#b45309"
    demo_ink: str = "#78350f"
    disabled_ink: str = "#9ca3af"
    disabled_edge: str = "#d1d5db"
    disabled_bg: str = "#f3f4f6"
    on_dark: str = "#ffffff"  # text on green, red and blue
    heading: str = "#0b2545"  # titles and figures
    on_header: str = "#ffffff"
    card_edge: str = "transparent"


STANDARD = Palette()
# white and yellow on black, every edge drawn (contrast above 15:1 for text)
HIGH_CONTRAST = Palette(
    navy="#000000", blue="#ffff00", ink="#ffffff", muted="#ffffff", paper="#000000",
    panel="#000000", line="#ffffff", key_down="#333333", green="#ffff00", green_down="#cccc00",
    green_pale="#000000", red="#ffffff", red_down="#cccccc", amber="#000000",
    amber_ink="#ffff00", amber_edge="#ffff00", attention="#ffff00", demo_ink="#ffff00",
    disabled_ink="#808080", disabled_edge="#808080", disabled_bg="#000000", on_dark="#000000",
    heading="#ffff00", on_header="#ffffff", card_edge="#ffffff")


def stylesheet(m: Metrics, c: Palette = STANDARD) -> str:
    """The whole look for one screen size (``m``) and palette (``c``)."""
    p, f = m.px, m.font
    return f"""
QWidget {{
    font-family: "{m.family}";
    font-size: {f(24)}px;
    color: {c.ink};
}}
QWidget#main_window, QStackedWidget#pages, QStackedWidget#pages > QWidget {{
    background: {c.paper};
}}
QFrame#header {{
    background: {c.navy};
}}
QFrame#header {{
    border-bottom: {p(2)}px solid {c.card_edge};
}}
QFrame#header QLabel {{
    color: {c.on_header};
    background: transparent;
}}
QLabel#station_label {{
    font-size: {m.header_font(30)}px;
    font-weight: bold;
}}
QLabel#clock_label {{
    font-size: {m.header_font(30)}px;
}}
QFrame#header QLabel#demo_badge {{
    font-size: {m.header_font(18)}px;
    font-weight: bold;
    color: {c.heading};
    background: {c.amber};
    border-radius: {p(6)}px;
    padding: {p(4)}px {p(12)}px;
}}
QLabel#lab_warning {{
    font-size: {f(20)}px;
    font-weight: bold;
    color: {c.on_dark};
    background: {c.red};
    padding: {p(6)}px {p(40)}px;
}}
QLabel[role="title"] {{
    font-size: {f(40)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="lead"] {{
    font-size: {f(28)}px;
}}
QLabel[role="body"] {{
    font-size: {f(24)}px;
}}
QLabel[role="muted"] {{
    font-size: {f(22)}px;
    color: {c.muted};
}}
QLabel[role="price"] {{
    font-size: {f(72)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="price_extra"] {{
    font-size: {f(30)}px;
    color: {c.ink};
}}
QLabel[role="amount"] {{
    font-size: {f(64)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="big_total"] {{
    font-size: {f(80)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="metric_value"] {{
    font-size: {f(56)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="metric_name"] {{
    font-size: {f(22)}px;
    color: {c.muted};
}}
QLabel[role="member"] {{
    font-size: {f(26)}px;
    font-weight: bold;
    color: {c.green_down};
}}
QLabel[role="notice"] {{
    font-size: {f(24)}px;
    color: {c.red};
    font-weight: bold;
}}
QLabel[role="warning"] {{
    font-size: {f(26)}px;
    font-weight: bold;
    color: {c.amber_ink};
    background: {c.amber};
    border: {p(3)}px solid {c.amber_edge};
    border-radius: {p(12)}px;
    padding: {p(12)}px {p(20)}px;
}}
QLabel[role="status_pending"], QLabel[role="status_paid"] {{
    font-size: {f(24)}px;
    font-weight: bold;
    border-radius: {p(12)}px;
    padding: {p(10)}px {p(20)}px;
}}
QLabel[role="status_pending"] {{
    color: {c.amber_ink};
    background: {c.amber};
    border: {p(3)}px solid {c.amber_edge};
}}
QLabel[role="status_paid"] {{
    color: {c.green_down};
    background: {c.green_pale};
    border: {p(3)}px solid {c.green};
}}
QLabel[role="reason"] {{
    font-size: {f(30)}px;
    font-weight: bold;
    color: {c.ink};
}}
QLabel[role="phone"] {{
    font-size: {f(32)}px;
    font-weight: bold;
    color: {c.heading};
}}
QLabel[role="pin_dots"] {{
    font-size: {f(56)}px;
    letter-spacing: {p(12)}px;
    color: {c.heading};
    background: {c.panel};
    border: {p(2)}px solid {c.line};
    border-radius: {p(12)}px;
    padding: {p(8)}px {p(24)}px;
}}
QLabel[role="pin_notice"] {{
    font-size: {f(32)}px;
    font-weight: bold;
    color: {c.amber_ink};
    background: {c.amber};
    border: {p(3)}px solid {c.amber_edge};
    border-radius: {p(12)}px;
    padding: {p(14)}px {p(22)}px;
}}
QLabel[role="row_name"] {{
    font-size: {f(24)}px;
    color: {c.muted};
}}
QLabel[role="row_value"] {{
    font-size: {f(24)}px;
    font-weight: bold;
}}
QLabel#receipt_session_label {{
    font-family: "DejaVu Sans Mono";
    font-size: {f(20)}px;
    font-weight: normal;
}}
QFrame[role="card"] QLabel[role="step_number"] {{
    font-size: {f(30)}px;
    font-weight: bold;
    color: {c.on_dark};
    background: {c.blue};
    border-radius: {p(27)}px;
    min-width: {p(56)}px;
    max-width: {p(56)}px;
    min-height: {p(56)}px;
    max-height: {p(56)}px;
}}
QLabel[role="step_text"] {{
    font-size: {f(22)}px;
}}
QFrame[role="timeout_bar"] {{
    background: {c.amber};
    border-top: {p(3)}px solid {c.amber_edge};
    border-bottom: {p(3)}px solid {c.amber_edge};
}}
QLabel[role="timeout"] {{
    font-size: {f(26)}px;
    font-weight: bold;
    color: {c.amber_ink};
    background: transparent;
}}
QLabel[role="icon"] {{
    background: transparent;
}}
QLabel#finishing_label {{
    background: {c.panel};
    border-radius: {p(14)}px;
    font-size: {f(28)}px;
}}
QFrame[role="card"] {{
    background: {c.panel};
    border: {p(2)}px solid {c.card_edge};
    border-radius: {p(16)}px;
}}
QFrame[role="card"] QLabel {{
    background: transparent;
}}
QPushButton {{
    font-size: {f(28)}px;
    font-weight: bold;
    min-height: {m.target(80)}px;
    padding: 0 {p(32)}px;
    border-radius: {p(14)}px;
    border: {p(2)}px solid {c.blue};
    background: {c.paper};
    color: {c.blue};
}}
QPushButton:pressed {{
    background: {c.panel};
}}
QPushButton:disabled {{
    color: {c.disabled_ink};
    border-color: {c.disabled_edge};
    background: {c.disabled_bg};
}}
QPushButton[role="primary"] {{
    background: {c.green};
    border-color: {c.green};
    color: {c.on_dark};
    font-size: {f(34)}px;
    min-height: {m.target(110)}px;
}}
QPushButton[role="primary"]:pressed {{
    background: {c.green_down};
}}
QPushButton[role="primary"]:disabled {{
    background: {c.disabled_ink};
    border-color: {c.disabled_ink};
}}
QPushButton[role="danger"] {{
    background: {c.red};
    border-color: {c.red};
    color: {c.on_dark};
    font-size: {f(40)}px;
    min-height: {m.target(120)}px;
}}
QPushButton[role="danger"]:pressed {{
    background: {c.red_down};
}}
QPushButton[role="secondary"] {{
    background: {c.paper};
    color: {c.blue};
}}
QScrollArea#demo_cards_scroll, QScrollArea#demo_cards_scroll > QWidget,
QWidget#demo_cards {{
    background: {c.paper};
}}
QScrollArea#demo_cards_scroll QScrollBar:vertical {{
    width: {p(20)}px;
    margin: 0;
    border: none;
    border-radius: {p(10)}px;
    background: {c.panel};
}}
QScrollArea#demo_cards_scroll QScrollBar::handle:vertical {{
    min-height: {p(48)}px;
    border-radius: {p(10)}px;
    background: {c.attention};
}}
QScrollArea#demo_cards_scroll QScrollBar::add-line:vertical,
QScrollArea#demo_cards_scroll QScrollBar::sub-line:vertical {{
    height: 0;
}}
QScrollArea#demo_cards_scroll QScrollBar::add-page:vertical,
QScrollArea#demo_cards_scroll QScrollBar::sub-page:vertical {{
    background: none;
}}
QPushButton[role="demo"] {{
    min-height: {m.target(72)}px;
    max-height: {m.target(72)}px;
}}
QPushButton[role="demo"], QPushButton[role="demo_tap"] {{
    font-size: {f(18)}px;
    font-weight: normal;
    padding: 0 {p(8)}px;
    border: {p(2)}px dashed {c.attention};
    background: {c.amber};
    color: {c.demo_ink};
}}
QPushButton[role="pin_key"] {{
    font-size: {f(40)}px;
    padding: 0;
    background: {c.panel};
    border: {p(2)}px solid {c.line};
    color: {c.ink};
}}
QPushButton[role="pin_key_text"] {{
    font-size: {f(26)}px;
    padding: 0;
    background: {c.panel};
    border: {p(2)}px solid {c.line};
    color: {c.ink};
}}
QPushButton[role="pin_ok"] {{
    font-size: {f(32)}px;
    padding: 0;
    background: {c.green};
    border-color: {c.green};
    color: {c.on_dark};
}}
QPushButton[role="pin_ok"]:disabled {{
    background: {c.disabled_ink};
    border-color: {c.disabled_ink};
}}
QPushButton[role="connector"], QPushButton[role="connector_busy"] {{
    font-size: {f(24)}px;
    padding: 0 {p(12)}px;
}}
QPushButton[role="connector"] {{
    background: {c.green};
    border-color: {c.green};
    color: {c.on_dark};
}}
QPushButton[role="connector"]:disabled {{
    background: {c.disabled_ink};
    border-color: {c.disabled_ink};
}}
QPushButton[role="connector_busy"] {{
    background: {c.paper};
    border: {p(3)}px dashed {c.blue};
    color: {c.blue};
}}
QPushButton[role="lang"] {{
    font-size: {m.header_font(20)}px;
    min-height: {m.touch}px;
    min-width: {m.touch}px;
    padding: 0 {p(10)}px;
    border-radius: {p(10)}px;
    border: {p(2)}px solid {c.on_header};
    background: transparent;
    color: {c.on_header};
}}
QPushButton[role="lang"]:checked {{
    background: {c.on_header};
    color: {c.navy};
    text-decoration: underline;
}}
QPushButton[role="pin_key"]:pressed {{
    background: {c.key_down};
}}
QProgressBar {{
    border: none;
    background: {c.panel};
    border-radius: {p(6)}px;
    max-height: {p(12)}px;
}}
QProgressBar::chunk {{
    background: {c.blue};
    border-radius: {p(6)}px;
}}
"""
