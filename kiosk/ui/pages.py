"""The driver's screens, one widget per page of the main window's stack.

Each page is a plain widget with an object name (tests find it and its buttons by name) and a
``show_session`` method the main window calls with the session it shows. Pages never change a
session themselves: buttons go through the runtime's facade (``Runtime.post`` is thread-safe and
the bridge processes the events on the GUI thread; ``Runtime.submit_pin`` hands a PIN over).

The out-of-service page (:class:`OutOfServicePage`) is shown instead of the idle page while the
terminal's health (:class:`kiosk.health.Health`) says it cannot take a payment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.billing.money import format_money
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State
from kiosk.ui.qr import qr_pixmap
from kiosk.ui.style import (
    format_duration,
    format_kw,
    format_kwh,
    format_percent,
)

if TYPE_CHECKING:
    from kiosk.runtime import Runtime

MARGIN_H = 64
MARGIN_V = 40
SPACING = 24
PIN_MIN = 4
PIN_MAX = 12


# --- small builders ----------------------------------------------------------------------
def make_label(text: str = "", role: str = "body", name: str = "", *, wrap: bool = False,
               align: Qt.AlignmentFlag | None = None) -> QLabel:
    lbl = QLabel(text)
    lbl.setProperty("role", role)
    if name:
        lbl.setObjectName(name)
    lbl.setWordWrap(wrap)
    lbl.setTextFormat(Qt.TextFormat.PlainText)  # session texts are shown, never interpreted
    if align is not None:
        lbl.setAlignment(align)
    return lbl


def make_button(text: str, name: str, role: str = "secondary",
                on_click: Callable[[], None] | None = None) -> QPushButton:
    btn = QPushButton(text)
    btn.setObjectName(name)
    btn.setProperty("role", role)
    btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # touch screen: no focus frames
    btn.setCursor(Qt.CursorShape.PointingHandCursor)
    if on_click is not None:
        btn.clicked.connect(on_click)
    return btn


def set_role(widget: QWidget, role: str) -> None:
    """Change a widget's ``role`` and let the stylesheet pick its new look."""
    if widget.property("role") == role:
        return
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def make_card(layout: QLayout, name: str = "") -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "card")
    if name:
        frame.setObjectName(name)
    frame.setLayout(layout)
    return frame


def countdown(deadline: datetime | None, now: datetime) -> str:
    """``m:ss`` until ``deadline``, or ``""`` when there is none."""
    if deadline is None:
        return ""
    left = max(0, int((deadline - now).total_seconds()))
    return f"{left // 60}:{left % 60:02d}"


class Page(QWidget):
    """A full-screen page below the header."""

    def __init__(self, runtime: Runtime, name: str) -> None:
        super().__init__()
        self.runtime = runtime
        self.setObjectName(name)
        self.setProperty("role", "page")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.session: Session | None = None
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(MARGIN_H, MARGIN_V, MARGIN_H, MARGIN_V)
        self.box.setSpacing(SPACING)

    @property
    def currency(self) -> str:
        return self.runtime.currency

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency)

    @property
    def hold_minor(self) -> int:
        return self.runtime.machine.policy.hold_minor

    def post(self, make: Callable[[str], ev.Event]) -> None:
        """Post an event for the shown session (nothing when there is none)."""
        if self.session is not None:
            self.runtime.post(make(self.session.id))

    def show_session(self, session: Session | None) -> None:
        self.session = session


# --- idle --------------------------------------------------------------------------------
MAX_PRICE_LINES = 4
QR_SIZE = 210


class IdlePage(Page):
    """Prices before start (AFIR) and the one button that starts a session. Start is enabled
    only with a valid tariff and while the terminal is in service (the main window shows the
    out-of-service page instead of this one then; the button is off too, for a race)."""

    def __init__(self, runtime: Runtime, on_pay: Callable[[], None]) -> None:
        super().__init__(runtime, "idle_page")
        self.box.addWidget(make_label("Charge your car, pay by card", "title", "idle_title"))
        prices = QVBoxLayout()
        prices.setContentsMargins(40, 24, 40, 24)
        prices.setSpacing(8)
        self.price_label = make_label("", "price", "energy_price_label")
        prices.addWidget(self.price_label)
        self.extra_labels = [make_label("", "price_extra", f"price_extra_{i}", wrap=True)
                             for i in range(MAX_PRICE_LINES)]
        for label in self.extra_labels:
            prices.addWidget(label)
        self.vat_label = make_label("", "muted", "vat_label", wrap=True)
        prices.addWidget(self.vat_label)
        self.box.addWidget(make_card(prices, "price_card"))

        self.hold_label = make_label("", "body", "hold_label", wrap=True)
        self.box.addWidget(self.hold_label)
        self.steps_label = make_label(
            "1  Press Start   \u00b7   2  Tap or insert your card   \u00b7   3  Plug in your car"
            "   \u00b7   4  Press Stop when done", "muted", "steps_label", wrap=True)
        self.box.addWidget(self.steps_label)
        self.box.addStretch(1)
        self.notice_label = make_label("", "notice", "idle_notice", wrap=True)
        self.notice_label.hide()
        self.box.addWidget(self.notice_label)
        self.pay_button = make_button("Start charging \u2014 pay by card", "pay_button",
                                      "primary", on_pay)
        self.box.addWidget(self.pay_button)
        self.refresh_prices()

    def refresh_prices(self) -> None:
        """The prices of the tariff valid now (a scheduled change shows without a restart)."""
        shown = self.runtime.price_display()
        self.pay_button.setEnabled(shown is not None and self.runtime.health.in_service)
        if shown is None:
            self.price_label.setText("No price is set for this time.")
            for label in self.extra_labels:
                label.hide()
            self.vat_label.setText("Charging is not available.")
            self.hold_label.setText("")
            return
        self.price_label.setText(shown.headline)
        extras = [i for i in shown.items
                  if not (i.dimension == "ENERGY" and i.amount == shown.headline
                          and not i.condition)]
        for label, item in zip(self.extra_labels, [*extras, *[None] * MAX_PRICE_LINES],
                               strict=False):
            if item is None:
                label.hide()
                continue
            text = f"{item.label}: {item.amount}"
            label.setText(f"{text}  ({item.condition})" if item.condition else text)
            label.show()
        self.vat_label.setText(shown.vat_note)
        self.hold_label.setText(shown.hold_note)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            self.refresh_prices()

    def set_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))


# --- out of service -------------------------------------------------------------------------
MSG_OUT_OF_SERVICE = "This charging point cannot take payments right now."
MSG_NO_REASON = "The terminal is being checked."  # refused at Start, health already fine
MSG_BACK_BY_ITSELF = "It is back in service by itself as soon as the problem is solved."
MAX_REASONS = 5  # one per part of the terminal (kiosk.health.ORDER)


class OutOfServicePage(Page):
    """Instead of the idle page while the terminal is out of service: why (every reason the
    terminal's health gives, the most serious first), whom to call, and no Start button. The
    main window switches back to the idle page as soon as the health is fine again."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "out_of_service_page")
        self.box.setSpacing(20)
        self.box.addStretch(1)
        head = QHBoxLayout()
        head.setSpacing(SPACING)
        head.addWidget(make_label("!", "icon_out_of_service", "out_of_service_icon",
                                  align=Qt.AlignmentFlag.AlignCenter))
        titles = QVBoxLayout()
        titles.setSpacing(4)
        titles.addWidget(make_label("Out of service", "title", "out_of_service_title"))
        titles.addWidget(make_label(MSG_OUT_OF_SERVICE, "lead", "out_of_service_text",
                                    wrap=True))
        head.addLayout(titles, 1)
        self.box.addLayout(head)

        reasons = QVBoxLayout()
        reasons.setContentsMargins(40, 24, 40, 24)
        reasons.setSpacing(10)
        self.reason_labels = [make_label("", "reason", f"out_of_service_reason_{i}", wrap=True)
                              for i in range(MAX_REASONS)]
        for label in self.reason_labels:
            label.hide()
            reasons.addWidget(label)
        self.box.addWidget(make_card(reasons, "out_of_service_reasons"))

        self.phone_label = make_label("", "phone", "out_of_service_phone", wrap=True)
        self.box.addWidget(self.phone_label)
        self.footer_label = make_label("", "muted", "out_of_service_footer", wrap=True)
        self.box.addWidget(self.footer_label)
        self.box.addStretch(2)
        self.show_health([], "")

    def show_health(self, reasons: list[str], phone: str) -> None:
        """``reasons``: texts safe to show (``Health.reasons()``); ``phone``: may be empty."""
        shown = list(reasons) or [MSG_NO_REASON]
        if len(shown) > MAX_REASONS:  # more parts than we know of: the most serious ones
            shown = shown[:MAX_REASONS]
        for label, text in zip(self.reason_labels, [*shown, *[""] * MAX_REASONS],
                               strict=False):
            label.setText(f"\u2022  {text}" if text else "")
            label.setVisible(bool(text))
        self.phone_label.setText(f"Questions? Call {phone}" if phone else "")
        self.phone_label.setVisible(bool(phone))
        station = self.runtime.config.station
        self.footer_label.setText(f"{MSG_BACK_BY_ITSELF}\nStation {station.id}")

    def reasons(self) -> list[str]:
        """The reasons on screen, without their bullets (for tests)."""
        return [lbl.text().removeprefix("\u2022  ") for lbl in self.reason_labels
                if not lbl.isHidden()]


# --- card --------------------------------------------------------------------------------
DEMO_COLUMNS = 4
DEMO_ROWS = 2
DEMO_BUTTON_H = 72  # as in the stylesheet (role "demo")
DEMO_SPACING = 10


def demo_label(label: str) -> str:
    """A long demo card label on two lines (at its first comma or the middle space)."""
    if len(label) <= 24:
        return label
    head, sep, tail = label.partition(", ")
    if sep:
        return f"{head},\n{tail}"
    cut = label.rfind(" ", 0, len(label) // 2 + 4)
    return label if cut < 0 else f"{label[:cut]}\n{label[cut + 1:]}"


class CardPage(Page):
    TITLE = "Hold your card near the reader or insert it"
    CHECKING_PIN = "Checking your PIN\u2026"

    def __init__(self, runtime: Runtime, *, demo: bool) -> None:
        super().__init__(runtime, "card_page")
        self.title_label = make_label(self.TITLE, "title", "card_title", wrap=True)
        self.box.addWidget(self.title_label)
        hold = QHBoxLayout()
        hold.setSpacing(SPACING)
        hold.addWidget(make_label(self.money(self.hold_minor), "amount", "card_hold_label"))
        hold.addWidget(make_label(
            "will be reserved on your card.\nYou pay only for the energy you charge.", "lead",
            "card_hold_text"), 1)
        self.box.addLayout(hold)
        self.hint_label = make_label(
            "Contactless cards, phones and watches: tap and hold until you hear the beep. "
            "Chip cards: insert the card and leave it in until asked to remove it.", "muted",
            "card_hint_label", wrap=True)
        self.box.addWidget(self.hint_label)
        # offline PIN: the card in the reader checks the PIN just entered
        self.checking_label = make_label(
            "Your card is checking the PIN. Please leave it in the reader.", "lead",
            "card_checking_label", wrap=True)
        self.checking_label.hide()
        self.box.addWidget(self.checking_label)
        self.box.addStretch(1)
        self.demo_buttons: dict[str, QPushButton] = {}
        self.demo_box: QWidget | None = None
        if demo:
            self._add_demo_cards()
        self.cancel_button = make_button("Cancel", "cancel_button", "secondary",
                                         lambda: self.post(ev.Cancelled))
        self.box.addWidget(self.cancel_button)

    def _add_demo_cards(self) -> None:
        from drivers.sim.card_terminal import SimCardTerminal
        from drivers.sim.cards import TEST_CARDS, SimCard

        terminal = self.runtime.card_terminal
        if not isinstance(terminal, SimCardTerminal):
            return
        self.demo_box = QWidget()
        self.demo_box.setObjectName("demo_box")
        demo_layout = QVBoxLayout(self.demo_box)
        demo_layout.setContentsMargins(0, 0, 0, 0)
        demo_layout.setSpacing(12)
        demo_layout.addWidget(make_label("Demo: tap a test card", "muted", "demo_cards_title"))
        # however many test cards there are: a scrolling grid of fixed height keeps the page
        # within the screen (the grid's own height decides only up to DEMO_ROWS rows)
        cards = QWidget()
        cards.setObjectName("demo_cards")
        grid = QGridLayout(cards)
        grid.setContentsMargins(0, 0, 16, 0)  # clear of the scroll bar
        grid.setSpacing(DEMO_SPACING)
        for i, (name, card) in enumerate(TEST_CARDS.items()):
            def present(_: bool = False, card: SimCard = card) -> None:
                terminal.present(card)

            btn = make_button(demo_label(card.label), f"demo_card_{name}", "demo", present)
            btn.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.demo_buttons[name] = btn
            grid.addWidget(btn, i // DEMO_COLUMNS, i % DEMO_COLUMNS)
        rows = min(DEMO_ROWS, max(1, -(-len(TEST_CARDS) // DEMO_COLUMNS)))
        scroll = QScrollArea()
        scroll.setObjectName("demo_cards_scroll")
        scroll.setWidget(cards)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedHeight(rows * DEMO_BUTTON_H + (rows - 1) * DEMO_SPACING
                              + (DEMO_BUTTON_H // 2 if len(TEST_CARDS) > rows * DEMO_COLUMNS
                                 else 0))  # half a row peeks out: there is more
        demo_layout.addWidget(scroll)
        self.box.addWidget(self.demo_box)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        # back from an offline PIN: the card in the reader checks it (and may ask again)
        checking = session is not None and session.pin_offline
        self.title_label.setText(self.CHECKING_PIN if checking else self.TITLE)
        self.hint_label.setVisible(not checking)
        self.checking_label.setVisible(checking)
        if self.demo_box is not None:  # no card to tap while one is in the reader
            self.demo_box.setVisible(not checking)


# --- PIN ---------------------------------------------------------------------------------
class PinPage(Page):
    """The PIN pad. The PIN lives in this widget until OK, is shown only as dots, and goes
    straight to the payment adapter (``submit_pin``), never into a session or the journal."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "pin_page")
        self._pin = ""
        row = QHBoxLayout()
        row.setSpacing(64)
        self.box.addLayout(row, 1)

        left = QVBoxLayout()
        left.setSpacing(SPACING)
        left.addWidget(make_label("Enter your PIN", "title", "pin_title"))
        self.card_label = make_label("", "lead", "pin_card_label")
        left.addWidget(self.card_label)
        # offline PIN: what the card said (a wrong PIN, the tries left), large and unmissable
        self.notice_label = make_label("", "pin_notice", "pin_notice_label", wrap=True)
        self.notice_label.hide()
        left.addWidget(self.notice_label)
        self.dots_label = make_label("", "pin_dots", "pin_display",
                                     align=Qt.AlignmentFlag.AlignCenter)
        self.dots_label.setMinimumHeight(104)
        left.addWidget(self.dots_label)
        left.addWidget(make_label(
            "Shield the keypad with your hand. Press OK when done.", "muted", wrap=True))
        left.addStretch(1)
        self.cancel_button = make_button("Cancel", "pin_cancel", "secondary",
                                         lambda: self.post(ev.Cancelled))
        left.addWidget(self.cancel_button)
        row.addLayout(left, 1)

        pad = QGridLayout()
        pad.setSpacing(16)
        self.keys: dict[str, QPushButton] = {}
        for i, digit in enumerate("123456789"):
            pad.addWidget(self._key(digit), i // 3, i % 3)
        self.clear_button = make_button("Clear", "pin_clear", "pin_key", self.clear)
        self.clear_button.setStyleSheet("font-size: 26px;")
        pad.addWidget(self.clear_button, 3, 0)
        pad.addWidget(self._key("0"), 3, 1)
        self.ok_button = make_button("OK", "pin_ok", "primary", self._ok)
        self.ok_button.setStyleSheet("font-size: 32px;")
        pad.addWidget(self.ok_button, 3, 2)
        row.addLayout(pad)
        self._redraw()

    def _key(self, digit: str) -> QPushButton:
        btn = make_button(digit, f"pin_key_{digit}", "pin_key", lambda: self._press(digit))
        self.keys[digit] = btn
        return btn

    def _press(self, digit: str) -> None:
        if len(self._pin) < PIN_MAX:
            self._pin += digit
        self._redraw()

    def clear(self) -> None:
        self._pin = ""
        self._redraw()

    def _redraw(self) -> None:
        n = len(self._pin)
        self.dots_label.setText("\u25cf" * n if n else "")
        self.ok_button.setEnabled(n >= PIN_MIN)

    def _ok(self) -> None:
        if self.session is None or len(self._pin) < PIN_MIN:
            return
        pin, self._pin = self._pin, ""
        self._redraw()
        self.runtime.submit_pin(self.session.id, pin)

    def show_session(self, session: Session | None) -> None:
        if session is None or self.session is None or session.id != self.session.id:
            self.clear()
        super().show_session(session)
        pan = session.masked_pan if session else ""
        self.card_label.setText(f"Card {pan}" if pan else "")
        self.card_label.setVisible(bool(pan))  # an offline PIN comes before the card's number
        notice = session.message if session is not None and session.pin_offline else ""
        self.notice_label.setText(notice)
        self.notice_label.setVisible(bool(notice))


# --- authorizing ---------------------------------------------------------------------------
class AuthorizingPage(Page):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "authorizing_page")
        self.box.addStretch(1)
        self.box.addWidget(make_label("Contacting your bank\u2026", "title", "authorizing_title",
                                      align=Qt.AlignmentFlag.AlignCenter))
        self.box.addWidget(make_label(
            f"Reserving {self.money(self.hold_minor)} on your card. This usually takes a few "
            "seconds. Please do not remove your card.", "lead", "authorizing_text", wrap=True,
            align=Qt.AlignmentFlag.AlignCenter))
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setFixedWidth(480)
        self.box.addWidget(bar, 0, Qt.AlignmentFlag.AlignCenter)
        self.box.addStretch(2)


# --- plug in -------------------------------------------------------------------------------
class PlugPage(Page):
    def __init__(self, runtime: Runtime, *, demo: bool) -> None:
        super().__init__(runtime, "plug_page")
        self.box.addWidget(make_label("Approved. Plug in your car.", "title", "plug_title"))
        self.notice_label = make_label("", "warning", "plug_notice", wrap=True)
        self.notice_label.hide()
        self.box.addWidget(self.notice_label)
        self.connector_label = make_label("", "lead", "plug_connector_label", wrap=True)
        self.box.addWidget(self.connector_label)
        self.box.addWidget(make_label("If your card is in the reader, take it now.", "lead",
                                      "take_card_label", wrap=True))
        self.box.addWidget(make_label(
            "Charging starts by itself as soon as the car is connected. If no car is connected "
            "in time, the reservation on your card is released.", "body", wrap=True))
        self.countdown_label = make_label("", "muted", "plug_countdown_label")
        self.box.addWidget(self.countdown_label)
        self.box.addStretch(1)
        self.plug_button: QPushButton | None = None
        self._plug_car: Callable[[int], None] | None = None
        if demo:
            from drivers.sim.charger import SimCharger

            if isinstance(runtime.charger, SimCharger):
                self._plug_car = runtime.charger.plug
                self.plug_button = make_button("Demo: plug the car in", "demo_plug_button",
                                               "demo", self._plug)
                self.box.addWidget(self.plug_button)
        self.cancel_button = make_button("Cancel", "plug_cancel_button", "secondary",
                                         lambda: self.post(ev.Cancelled))
        self.box.addWidget(self.cancel_button)

    def _plug(self) -> None:
        if self.session is not None and self._plug_car is not None:
            self._plug_car(self.session.connector)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        label = connector_label(self.runtime, session.connector)
        self.connector_label.setText(
            f"{self.money(session.held_minor)} is reserved on your card. Use connector {label}.")
        left = countdown(session.deadline, self.runtime.clock())
        self.countdown_label.setText(f"Time left to plug in: {left}" if left else "")
        self.notice_label.setText(session.notice)
        self.notice_label.setVisible(bool(session.notice))


def connector_label(runtime: Runtime, connector: int) -> str:
    for c in runtime.config.connectors:
        if c.id == connector:
            return str(c.label)
    return str(connector)


# --- charging ------------------------------------------------------------------------------
MSG_STOP_HINT = "Tap the same card or press Stop to end charging"
MSG_NOT_THE_SAME_CARD = "This is not the card that started this charge."
CARD_NOTICE_MS = 6000  # how long "not the same card" stays beside the title


class ChargingPage(Page):
    """Live values while charging; STOPPING shows *Finishing* instead of Stop. A passing
    condition of the session (``Session.notice``: the charger does not answer) is shown beside
    the title in the warning style while it lasts; so is, for a few seconds, a card presented
    that did not start this charge (:meth:`show_card_notice`)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "charging_page")
        top = QHBoxLayout()
        top.setSpacing(SPACING)
        self.title_label = make_label("Charging", "title", "charging_title")
        top.addWidget(self.title_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.notice_label = make_label("", "warning", "charging_notice", wrap=True)
        self.notice_label.setSizePolicy(QSizePolicy.Policy.Expanding,
                                        QSizePolicy.Policy.Preferred)
        self.notice_label.hide()
        top.addWidget(self.notice_label, 1)
        self.box.addLayout(top)

        grid = QGridLayout()
        grid.setSpacing(SPACING)
        self.cost_label = self._metric(grid, 0, 0, "Cost so far", "cost_label")
        self.energy_label = self._metric(grid, 0, 1, "Energy", "energy_label")
        self.time_label = self._metric(grid, 1, 0, "Charging time", "time_label")
        self.power_label = self._metric(grid, 1, 1, "Power", "power_label")
        self.box.addLayout(grid)
        below = QHBoxLayout()  # one line: what is reserved, and how to stop
        below.setSpacing(SPACING)
        self.hold_label = make_label("", "muted", "charging_hold_label", wrap=True)
        below.addWidget(self.hold_label, 1)
        self.stop_hint = make_label(MSG_STOP_HINT, "muted", "charging_stop_hint", wrap=True,
                                    align=Qt.AlignmentFlag.AlignRight)
        below.addWidget(self.stop_hint, 1)
        self.box.addLayout(below)
        self.box.addStretch(1)
        self._card_notice = ""
        self._card_notice_timer = QTimer(self)
        self._card_notice_timer.setSingleShot(True)
        self._card_notice_timer.setInterval(CARD_NOTICE_MS)
        self._card_notice_timer.timeout.connect(lambda: self.show_card_notice(""))

        self.bottom = QStackedWidget()
        self.bottom.setObjectName("charging_bottom")
        self.stop_button = make_button("Stop charging", "stop_button", "danger",
                                       lambda: self.post(ev.StopRequested))
        self.bottom.addWidget(self.stop_button)
        self.finishing_label = make_label("", "lead", "finishing_label", wrap=True,
                                          align=Qt.AlignmentFlag.AlignCenter)
        self.bottom.addWidget(self.finishing_label)
        self.bottom.setFixedHeight(140)
        self.box.addWidget(self.bottom)

    def _metric(self, grid: QGridLayout, row: int, col: int, name: str,
                object_name: str) -> QLabel:
        box = QVBoxLayout()
        box.setContentsMargins(32, 18, 32, 18)
        box.setSpacing(4)
        box.addWidget(make_label(name, "metric_name"))
        value = make_label("", "metric_value", object_name)
        box.addWidget(value)
        grid.addWidget(make_card(box), row, col)
        return value

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        finishing = session.state is State.STOPPING
        amount = session.cost_minor
        self.cost_label.setText(self.money(amount))
        self.energy_label.setText(format_kwh(session.energy_wh))
        self.time_label.setText(format_duration(session.duration_s))
        # while the charger does not answer there is no live power to show
        self.power_label.setText("\u2014" if session.notice else format_kw(session.power_w))
        held = session.held_minor
        if held:
            left = self.money(max(0, held - session.cost_minor))
            self.hold_label.setText(f"Reserved on your card: {self.money(held)} ({left} left)")
        self.title_label.setText("Finishing\u2026" if finishing else "Charging")
        notice = session.notice or (self._card_notice if not finishing else "")
        self.notice_label.setText(notice)
        self.notice_label.setVisible(bool(notice))
        self.stop_hint.setVisible(not finishing)
        if finishing:
            self.finishing_label.setText(
                "Stopping the charger and completing your payment. Please wait.")
            self.bottom.setCurrentWidget(self.finishing_label)
        else:
            self.bottom.setCurrentWidget(self.stop_button)
        self.stop_button.setEnabled(session.state is State.CHARGING)

    def show_card_notice(self, text: str) -> None:
        """Beside the title for :data:`CARD_NOTICE_MS` (a card that is not this charge's);
        "": gone at once."""
        self._card_notice = text
        if text:
            self._card_notice_timer.start()
        self.show_session(self.session)


# --- receipt -------------------------------------------------------------------------------
class ReceiptPage(Page):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "receipt_page")
        self.box.setSpacing(16)  # room for the payment's status line
        self._qr_for = ""
        self._invoice_cache: tuple[str, dict[str, object] | None] = ("", None)
        self.box.addWidget(make_label("Thank you! You can unplug your car.", "title",
                                      "receipt_title"))
        row = QHBoxLayout()
        row.setSpacing(48)
        self.box.addLayout(row)

        left = QVBoxLayout()
        left.setSpacing(8)
        total_box = QVBoxLayout()
        total_box.setSpacing(8)
        self.total_caption = make_label("Total paid", "lead", "receipt_total_caption")
        total_box.addWidget(self.total_caption)
        self.total_label = make_label("", "big_total", "receipt_total_label")
        total_box.addWidget(self.total_label)
        self.vat_label = make_label("", "muted", "receipt_vat_label")
        total_box.addWidget(self.vat_label)
        total_box.addStretch(1)
        self.qr_caption = make_label("Scan for your invoice", "muted", "receipt_qr_caption",
                                     wrap=True)
        total_box.addWidget(self.qr_caption)
        top = QHBoxLayout()
        top.setSpacing(24)
        top.addLayout(total_box, 1)
        self.qr_label = QLabel()
        self.qr_label.setObjectName("receipt_qr")
        self.qr_label.setFixedSize(QR_SIZE, QR_SIZE)
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        top.addWidget(self.qr_label, 0, Qt.AlignmentFlag.AlignTop)
        left.addLayout(top)
        left.addStretch(1)
        row.addLayout(left, 1)

        details = QGridLayout()
        details.setContentsMargins(32, 20, 32, 20)
        details.setHorizontalSpacing(32)
        details.setVerticalSpacing(10)
        self.rows: dict[str, QLabel] = {}
        for i, (key, name) in enumerate([
            ("invoice", "Invoice"), ("energy", "Energy"), ("duration", "Charging time"),
            ("card", "Card"), ("auth_code", "Authorization"), ("station", "Station"),
        ]):
            details.addWidget(make_label(name, "row_name"), i, 0)
            value = make_label("", "row_value", f"receipt_{key}_label")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            details.addWidget(value, i, 1)
            self.rows[key] = value
        details.setColumnStretch(1, 1)
        row.addWidget(make_card(details, "receipt_details"), 1)

        # the capture runs in the background after this page: pending until the host confirms
        self.payment_label = make_label("", "status_pending", "payment_status_label", wrap=True)
        self.payment_label.hide()
        self.box.addWidget(self.payment_label)
        self.box.addStretch(1)
        self.timeout_label = make_label("", "muted", "receipt_timeout_label",
                                        align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.timeout_label)
        self.done_button = make_button("Done", "done_button", "primary",
                                       lambda: self.post(ev.Dismissed))
        self.box.addWidget(self.done_button)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        amount = self.money(session.final_minor)
        self.total_label.setText(amount)
        self._show_payment(session, amount)
        cost = self.runtime.tariffs.cost(session)
        rates = sorted({ln.vat for ln in cost.lines if ln.vat is not None})
        vat = ", ".join(f"{format_percent(r)} %" for r in rates)
        self.vat_label.setText(f"incl. {vat} VAT" if vat else "VAT included")
        self.rows["energy"].setText(format_kwh(session.energy_wh))
        self.rows["duration"].setText(format_duration(session.duration_s))
        self.rows["card"].setText(session.masked_pan or "\u2014")
        self.rows["auth_code"].setText(session.auth_code or "\u2014")
        self.rows["station"].setText(str(self.runtime.config.station.id))
        invoice = self._invoice(session.id)
        self.rows["invoice"].setText(str(invoice["number"]) if invoice else "\u2014")
        self.qr_label.setVisible(invoice is not None)
        self.qr_caption.setVisible(invoice is not None)
        if invoice is not None and self._qr_for != invoice["url"]:
            self.qr_label.setPixmap(qr_pixmap(str(invoice["url"]), QR_SIZE))
            self._qr_for = str(invoice["url"])
        left = countdown(session.deadline, self.runtime.clock())
        self.timeout_label.setText(f"This screen closes by itself in {left}" if left else "")

    def _show_payment(self, session: Session, amount: str) -> None:
        pending = self.runtime.settlement_pending(session.id)
        if pending:
            text = (f"Payment pending: your card will be charged {amount} once your bank "
                    "confirms.")
        else:
            text = f"Paid: your card has been charged {amount}."
        self.total_caption.setText("Total" if pending else "Total paid")
        self.payment_label.setText(text)
        set_role(self.payment_label, "status_pending" if pending else "status_paid")
        self.payment_label.show()

    def _invoice(self, session_id: str) -> dict[str, object] | None:
        if self._invoice_cache[0] != session_id or self._invoice_cache[1] is None:
            self._invoice_cache = (session_id, self.runtime.journal.invoice(session_id))
        return self._invoice_cache[1]


# --- declined, error --------------------------------------------------------------------
class MessagePage(Page):
    TITLES = {
        State.DECLINED: "Payment declined",
        State.ERROR: "Charging not possible",
    }

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "message_page")
        self.box.addStretch(1)
        self.icon_label = make_label("!", "icon_error", "message_icon",
                                     align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignCenter)
        self.title_label = make_label("", "title", "message_title",
                                      align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.title_label)
        self.message_label = make_label("", "lead", "message_label", wrap=True,
                                        align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.message_label)
        self.wait_bar = QProgressBar()
        self.wait_bar.setRange(0, 0)
        self.wait_bar.setTextVisible(False)
        self.wait_bar.setFixedWidth(480)
        self.box.addWidget(self.wait_bar, 0, Qt.AlignmentFlag.AlignCenter)
        self.box.addStretch(2)
        self.ok_button = make_button("OK", "message_ok_button", "primary",
                                     lambda: self.post(ev.Dismissed))
        self.box.addWidget(self.ok_button)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        title = self.TITLES.get(session.state, "")
        if session.state is State.ERROR and session.outcome is Outcome.REVERSED:
            title = "Charging cancelled"  # voided by the driver, a timeout or no energy
        self.title_label.setText(title)
        text = session.message
        self.message_label.setText(text)
        can_dismiss = session.state in (State.DECLINED, State.ERROR)
        role, icon = "icon_error", "!"
        if session.state is State.DECLINED:
            role = "icon_declined"
        elif session.outcome is Outcome.REVERSED:
            role, icon = "icon_info", "i"
        self.icon_label.setText(icon)
        set_role(self.icon_label, role)
        self.icon_label.setVisible(can_dismiss)
        self.ok_button.setVisible(can_dismiss)
        self.wait_bar.setVisible(not can_dismiss)
