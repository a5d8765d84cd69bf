"""The kiosk's one stylesheet and the formatting helpers every screen shares.

A touch kiosk at 1280x800 landscape, read at arm's length in daylight: dark text on white,
a dark-blue header, body text of at least 22 px, amounts of at least 48 px, buttons at least
80 px high. Widgets pick their look with the dynamic property ``role`` (``setProperty``), so
the whole look lives in :data:`STYLESHEET`.
"""

from __future__ import annotations

from decimal import Decimal

from kiosk.billing.money import format_money

FONT_FAMILY = "DejaVu Sans"

NAVY = "#0b2545"
BLUE = "#13315c"
INK = "#111827"
MUTED = "#4b5563"
PAPER = "#ffffff"
PANEL = "#eef2f7"
GREEN = "#0a7d33"
GREEN_DOWN = "#075c25"
RED = "#b91c1c"
RED_DOWN = "#8b1414"
AMBER = "#fef3c7"
AMBER_INK = "#7c2d12"
AMBER_EDGE = "#d97706"
GREEN_PALE = "#dcfce7"

STYLESHEET = f"""
QWidget {{
    font-family: "{FONT_FAMILY}";
    font-size: 24px;
    color: {INK};
}}
QWidget#main_window, QStackedWidget#pages, QStackedWidget#pages > QWidget {{
    background: {PAPER};
}}
QFrame#header {{
    background: {NAVY};
}}
QFrame#header QLabel {{
    color: white;
    background: transparent;
}}
QLabel#station_label {{
    font-size: 30px;
    font-weight: bold;
}}
QLabel#clock_label {{
    font-size: 30px;
}}
QFrame#header QLabel#demo_badge {{
    font-size: 18px;
    font-weight: bold;
    color: {NAVY};
    background: {AMBER};
    border-radius: 6px;
    padding: 4px 12px;
}}
QFrame#header QLabel#lab_warning {{
    font-size: 20px;
    font-weight: bold;
    color: white;
    background: {RED};
    border: 2px solid white;
    border-radius: 8px;
    padding: 6px 16px;
}}
QLabel[role="title"] {{
    font-size: 40px;
    font-weight: bold;
    color: {NAVY};
}}
QLabel[role="lead"] {{
    font-size: 28px;
}}
QLabel[role="body"] {{
    font-size: 24px;
}}
QLabel[role="muted"] {{
    font-size: 22px;
    color: {MUTED};
}}
QLabel[role="price"] {{
    font-size: 72px;
    font-weight: bold;
    color: {NAVY};
}}
QLabel[role="price_extra"] {{
    font-size: 30px;
    color: {INK};
}}
QLabel[role="amount"] {{
    font-size: 64px;
    font-weight: bold;
    color: {NAVY};
}}
QLabel[role="big_total"] {{
    font-size: 80px;
    font-weight: bold;
    color: {NAVY};
}}
QLabel[role="metric_value"] {{
    font-size: 56px;
    font-weight: bold;
    color: {NAVY};
}}
QLabel[role="metric_name"] {{
    font-size: 22px;
    color: {MUTED};
}}
QLabel[role="notice"] {{
    font-size: 24px;
    color: {RED};
    font-weight: bold;
}}
QLabel[role="warning"] {{
    font-size: 26px;
    font-weight: bold;
    color: {AMBER_INK};
    background: {AMBER};
    border: 3px solid {AMBER_EDGE};
    border-radius: 12px;
    padding: 12px 20px;
}}
QLabel[role="status_pending"], QLabel[role="status_paid"] {{
    font-size: 24px;
    font-weight: bold;
    border-radius: 12px;
    padding: 10px 20px;
}}
QLabel[role="status_pending"] {{
    color: {AMBER_INK};
    background: {AMBER};
    border: 3px solid {AMBER_EDGE};
}}
QLabel[role="status_paid"] {{
    color: {GREEN_DOWN};
    background: {GREEN_PALE};
    border: 3px solid {GREEN};
}}
QLabel[role="reason"] {{
    font-size: 30px;
    font-weight: bold;
    color: {INK};
}}
QLabel[role="phone"] {{
    font-size: 32px;
    font-weight: bold;
    color: {NAVY};
}}
QLabel[role="pin_dots"] {{
    font-size: 56px;
    letter-spacing: 12px;
    color: {NAVY};
    background: {PANEL};
    border: 2px solid #c7d0dc;
    border-radius: 12px;
    padding: 8px 24px;
}}
QLabel[role="pin_notice"] {{
    font-size: 32px;
    font-weight: bold;
    color: #7c2d12;
    background: {AMBER};
    border: 3px solid #d97706;
    border-radius: 12px;
    padding: 14px 22px;
}}
QLabel[role="row_name"] {{
    font-size: 24px;
    color: {MUTED};
}}
QLabel[role="row_value"] {{
    font-size: 24px;
    font-weight: bold;
}}
QLabel#receipt_session_label {{
    font-family: "DejaVu Sans Mono";
    font-size: 20px;
    font-weight: normal;
}}
QFrame[role="card"] QLabel[role="step_number"] {{
    font-size: 30px;
    font-weight: bold;
    color: white;
    background: {BLUE};
    border-radius: 28px;
    min-width: 56px;
    max-width: 56px;
    min-height: 56px;
    max-height: 56px;
}}
QLabel[role="step_text"] {{
    font-size: 22px;
}}
QLabel[role="icon_error"], QLabel[role="icon_declined"], QLabel[role="icon_info"],
QLabel[role="icon_out_of_service"] {{
    font-size: 64px;
    font-weight: bold;
    color: white;
    border-radius: 56px;
    min-width: 112px;
    max-width: 112px;
    min-height: 112px;
    max-height: 112px;
}}
QLabel[role="icon_error"] {{
    background: #b45309;
}}
QLabel[role="icon_declined"], QLabel[role="icon_out_of_service"] {{
    background: {RED};
}}
QLabel[role="icon_info"] {{
    background: {BLUE};
    font-family: "DejaVu Serif";
}}
QLabel#finishing_label {{
    background: {PANEL};
    border-radius: 14px;
    font-size: 28px;
}}
QFrame[role="card"] {{
    background: {PANEL};
    border-radius: 16px;
}}
QFrame[role="card"] QLabel {{
    background: transparent;
}}
QPushButton {{
    font-size: 28px;
    font-weight: bold;
    min-height: 88px;
    padding: 0 32px;
    border-radius: 14px;
    border: 2px solid {BLUE};
    background: {PAPER};
    color: {BLUE};
}}
QPushButton:pressed {{
    background: {PANEL};
}}
QPushButton:disabled {{
    color: #9ca3af;
    border-color: #d1d5db;
    background: #f3f4f6;
}}
QPushButton[role="primary"] {{
    background: {GREEN};
    border-color: {GREEN};
    color: white;
    font-size: 34px;
    min-height: 120px;
}}
QPushButton[role="primary"]:pressed {{
    background: {GREEN_DOWN};
}}
QPushButton[role="primary"]:disabled {{
    background: #9ca3af;
    border-color: #9ca3af;
}}
QPushButton[role="danger"] {{
    background: {RED};
    border-color: {RED};
    color: white;
    font-size: 40px;
    min-height: 130px;
}}
QPushButton[role="danger"]:pressed {{
    background: {RED_DOWN};
}}
QPushButton[role="secondary"] {{
    background: {PAPER};
    color: {BLUE};
}}
QScrollArea#demo_cards_scroll, QScrollArea#demo_cards_scroll > QWidget,
QWidget#demo_cards {{
    background: {PAPER};
}}
QScrollArea#demo_cards_scroll QScrollBar:vertical {{
    width: 20px;
    margin: 0;
    border: none;
    border-radius: 10px;
    background: {PANEL};
}}
QScrollArea#demo_cards_scroll QScrollBar::handle:vertical {{
    min-height: 48px;
    border-radius: 10px;
    background: #b45309;
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
    font-size: 18px;
    font-weight: normal;
    min-height: 72px;
    max-height: 72px;
    padding: 0 8px;
    border: 2px dashed #b45309;
    background: {AMBER};
    color: #78350f;
}}
QPushButton[role="pin_key"], QPushButton#pin_ok {{
    min-width: 140px;
    max-width: 140px;
    min-height: 100px;
    max-height: 100px;
    padding: 0;
}}
QPushButton[role="pin_key"] {{
    font-size: 40px;
    padding: 0;
    background: {PANEL};
    border: 2px solid #c7d0dc;
    color: {INK};
}}
QPushButton[role="pin_key"]:pressed {{
    background: #d6dde8;
}}
QProgressBar {{
    border: none;
    background: {PANEL};
    border-radius: 6px;
    max-height: 12px;
}}
QProgressBar::chunk {{
    background: {BLUE};
    border-radius: 6px;
}}
"""


def currency_sign(currency: str) -> str:
    """The sign :func:`format_money` writes after an amount (``"€"`` for EUR)."""
    return format_money(0, currency).split(" ", 1)[1]


def format_percent(value: Decimal) -> str:
    """``Decimal("19.00")`` → ``"19"``, ``Decimal("7.5")`` → ``"7.5"``."""
    text = f"{value.normalize():f}"
    return text


def format_kwh(energy_wh: int) -> str:
    return f"{Decimal(energy_wh) / 1000:.2f} kWh"


def format_kw(power_w: int) -> str:
    return f"{Decimal(power_w) / 1000:.1f} kW"


def format_duration(seconds: int) -> str:
    """Seconds → ``h:mm:ss``."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
