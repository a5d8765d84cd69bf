"""The driver's screens, one widget per page of the main window's stack.

Each page is a plain widget with an object name (tests find it and its buttons by name) and a
``show_session`` method the main window calls with the session it shows. Pages never change a
session themselves: buttons go through the runtime's facade (``Runtime.post`` is thread-safe and
the bridge processes the events on the GUI thread; ``Runtime.submit_pin`` hands a PIN over).

Every page draws for the window's :class:`~kiosk.ui.style.Metrics` (``apply_metrics``: margins,
spacings, fixed sizes, and side by side in landscape or stacked in portrait) and writes its
fixed texts in the chosen language (``retranslate``); the texts that follow the session are
written on every ``show_session``. Figures come from :class:`~kiosk.ui.i18n.Figures` of the
shown language.

The out-of-service page (:class:`OutOfServicePage`) is shown instead of the idle page while the
terminal's health (:class:`kiosk.health.Health`) says it cannot take a payment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
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

from kiosk.health import CHARGER as HEALTH_CHARGER
from kiosk.health import DISK as HEALTH_DISK
from kiosk.health import HOST as HEALTH_HOST
from kiosk.health import JOURNAL as HEALTH_JOURNAL
from kiosk.health import READER as HEALTH_READER
from kiosk.maintenance.mode import MAINTENANCE as HEALTH_MAINTENANCE
from kiosk.maintenance.mode import OPERATOR as HEALTH_OPERATOR
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State
from kiosk.ui import driver_texts
from kiosk.ui.assets import icon_pixmap
from kiosk.ui.i18n import Figures, format_duration, translate
from kiosk.ui.qr import QrMaker
from kiosk.ui.style import STANDARD, Metrics, Palette

if TYPE_CHECKING:
    from kiosk.runtime import Runtime

T = TypeVar("T")
PIN_MIN = 4
PIN_MAX = 12
LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom


@dataclass
class Screen:
    """What every page draws with: the runtime, the screen's sizes, the shown language."""

    runtime: Runtime
    metrics: Metrics = field(default_factory=Metrics)
    lang: str = "en"
    palette: Palette = STANDARD

    @property
    def fig(self) -> Figures:
        return Figures(self.lang)

    @property
    def currency(self) -> str:
        return self.runtime.currency

    def money(self, minor: int) -> str:
        return self.fig.money(minor, self.currency)


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
    if text:
        btn.setAccessibleName(text.replace("\n", " "))
    btn.setProperty("role", role)
    btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # touch screen: no focus frames
    btn.setCursor(Qt.CursorShape.PointingHandCursor)
    if on_click is not None:
        btn.clicked.connect(on_click)
    return btn


def bind(fn: Callable[[T], None], arg: T) -> Callable[[], None]:
    """``fn(arg)`` as a slot without arguments. Not functools.partial: PySide6 has been seen
    to miscount references on partial slots (a crash, "deallocating None")."""
    def slot() -> None:
        fn(arg)
    return slot


def set_text(widget: QLabel | QPushButton, text: str, accessible: str = "") -> None:
    """The text and the accessible name (what a screen reader says) together."""
    if widget.text() != text:
        widget.setText(text)
    name = accessible or text.replace("\n", " ")
    if widget.accessibleName() != name:
        widget.setAccessibleName(name)


def role_of(widget: QWidget) -> str:
    """A widget's ``role`` ("" without one). Never ``property()`` of a name the widget lacks:
    PySide6 returns None for it without counting the reference, and enough such calls end the
    process ("deallocating None")."""
    if not any(bytes(n.data()) == b"role" for n in widget.dynamicPropertyNames()):
        return ""
    return str(widget.property("role"))


def set_role(widget: QWidget, role: str) -> None:
    """Change a widget's ``role`` and let the stylesheet pick its new look."""
    if role_of(widget) == role:
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


class IconLabel(QLabel):
    """One of the kiosk's icons (kiosk/resources/ui/icons), drawn for the screen's size and palette;
    never the only sign of anything (a title or text says it too)."""

    def __init__(self, icon: str, color: str, design_px: int, name: str = "") -> None:
        super().__init__()
        if name:
            self.setObjectName(name)
        self.setProperty("role", "icon")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.icon = icon
        self.color = color  # a Palette field
        self.design_px = design_px
        self._drawn: tuple[str, str, int] | None = None

    def set_icon(self, icon: str, color: str, ui: Screen) -> None:
        self.icon, self.color = icon, color
        self.redraw(ui)

    def redraw(self, ui: Screen) -> None:
        size = ui.metrics.px(self.design_px)
        color = str(getattr(ui.palette, self.color))
        if self._drawn == (self.icon, color, size):
            return
        self._drawn = (self.icon, color, size)
        self.setPixmap(icon_pixmap(self.icon, color, size, self.devicePixelRatioF()))
        self.setFixedSize(size, size)


def titled(icon: IconLabel, title: QLabel) -> QHBoxLayout:
    """An icon beside a page's title."""
    row = QHBoxLayout()
    row.setSpacing(16)
    row.addWidget(icon, 0, Qt.AlignmentFlag.AlignVCenter)
    row.addWidget(title, 1)
    return row


def countdown(deadline: datetime | None, now: datetime) -> str:
    """``m:ss`` until ``deadline``, or ``""`` when there is none."""
    if deadline is None:
        return ""
    left = max(0, int((deadline - now).total_seconds()))
    return f"{left // 60}:{left % 60:02d}"


class Page(QWidget):
    """A full-screen page below the header."""

    def __init__(self, ui: Screen, name: str) -> None:
        super().__init__()
        self.ui = ui
        self.runtime = ui.runtime
        self.setObjectName(name)
        self.setProperty("role", "page")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.session: Session | None = None
        self.box = QVBoxLayout(self)

    @property
    def m(self) -> Metrics:
        return self.ui.metrics

    def money(self, minor: int) -> str:
        return self.ui.money(minor)

    @property
    def hold_minor(self) -> int:
        return self.runtime.machine.policy.hold_minor

    def post(self, make: Callable[[str], ev.Event]) -> None:
        """Post an event for the shown session (nothing when there is none)."""
        if self.session is not None:
            self.runtime.post(make(self.session.id))

    def show_session(self, session: Session | None) -> None:
        self.session = session

    def timeout_bar_shown(self, shown: bool) -> None:
        """The window's bar above the page says how long is left (and offers *More time*):
        a page that shows its own countdown leaves it to the bar meanwhile."""

    def spoken(self) -> str:
        """What the accessibility mode says of this page: its visible titles, figures and
        leading sentences, in order."""
        roles = {"title", "lead", "warning", "pin_notice", "notice", "amount", "big_total",
                 "price", "member", "reason", "phone", "status_pending", "status_paid"}
        return " ".join(lbl.text().replace("\n", " ") for lbl in self.findChildren(QLabel)
                        if lbl.isVisibleTo(self) and role_of(lbl) in roles
                        and lbl.text())

    def retranslate(self) -> None:
        """Write the fixed texts in ``ui.lang`` (the session's texts follow on show)."""

    def apply_metrics(self) -> None:
        """Margins and spacings for ``ui.metrics``; pages add their own sizes."""
        m = self.m
        self.box.setContentsMargins(m.px(64), m.px(36), m.px(64), m.px(36))
        self.box.setSpacing(m.px(22))
        for icon in self.findChildren(IconLabel):
            icon.redraw(self.ui)


# --- idle --------------------------------------------------------------------------------
MAX_PRICE_LINES = 4
QR_SIZE = 210


class IdlePage(Page):
    """Prices before start (AFIR) and how to start. With one connector, one Start button; with
    several, a button per connector: a free one starts a session there, one in use shows its
    session (``on_view``). Start is enabled only with a valid tariff and while the terminal is
    in service (the main window shows the out-of-service page instead of this one then; the
    buttons are off too, for a race)."""

    def __init__(self, ui: Screen, on_pay: Callable[[int | None], None],
                 on_view: Callable[[int], None] | None = None) -> None:
        super().__init__(ui, "idle_page")
        self._on_pay = on_pay
        self._on_view = on_view
        self.title_label = make_label("", "title", "idle_title", wrap=True)
        self.box.addWidget(self.title_label)
        prices = QVBoxLayout()
        self.prices_layout = prices
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
        self.steps_label = make_label("", "muted", "steps_label", wrap=True)
        self.box.addWidget(self.steps_label)
        self.box.addStretch(1)
        self.notice_label = make_label("", "notice", "idle_notice", wrap=True)
        self.notice_label.hide()
        self.box.addWidget(self.notice_label)
        connectors = self.runtime.config.connectors
        self.pay_button = make_button("", "pay_button", "primary", lambda: on_pay(None))
        self.connector_buttons: dict[int, QPushButton] = {}
        if len(connectors) > 1:
            self.pay_button.hide()
            row = QGridLayout()
            self.connector_grid = row
            for i, c in enumerate(connectors):
                btn = make_button("", f"connector_button_{c.id}", "connector",
                                  bind(self._connector, c.id))
                btn.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
                self.connector_buttons[c.id] = btn
                row.addWidget(btn, 0, i)
            self.box.addLayout(row)
        self.box.addWidget(self.pay_button)
        self.apply_metrics()
        self.retranslate()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        v = m.px(10 if m.compact else 20)
        self.prices_layout.setContentsMargins(m.px(40), v, m.px(40), v)
        self.prices_layout.setSpacing(m.px(4 if m.compact else 8))
        self.steps_label.setVisible(not m.compact)  # the steps are on the buttons' screens too
        if self.connector_buttons:
            self.connector_grid.setSpacing(m.px(8 if m.compact else 16))
            # (portrait, large text) → columns
            columns = {(True, True): 1, (True, False): 2, (False, True): 2,
                       (False, False): 4}[(m.portrait, m.text > 1)]
            for btn in self.connector_buttons.values():
                btn.setFixedHeight(m.target(84 if m.compact else 120))
            for i, btn in enumerate(self.connector_buttons.values()):
                self.connector_grid.removeWidget(btn)
                self.connector_grid.addWidget(btn, i // columns, i % columns)

    def retranslate(self) -> None:
        set_text(self.title_label, translate("IdlePage", "Charge your car, pay by card"))
        set_text(self.steps_label, translate(
            "IdlePage", "1  Tap Start   \u00b7   2  Tap or insert your card   \u00b7   "
            "3  Plug in your car   \u00b7   4  To stop, tap the same card"))
        set_text(self.pay_button, translate("IdlePage", "Start charging \u2014 pay by card"))
        self.refresh_prices()

    def _connector(self, connector: int) -> None:
        if self.runtime.runner.session_on(connector) is not None and self._on_view is not None:
            self._on_view(connector)
        else:
            self._on_pay(connector)

    def refresh_prices(self) -> None:
        """The prices of the tariff valid now (a scheduled change shows without a restart)."""
        shown = self.runtime.price_display(self.ui.lang)
        can_start = shown is not None and self.runtime.health.in_service
        self.pay_button.setEnabled(can_start)
        self._refresh_connectors(can_start)
        if shown is None:
            set_text(self.price_label, translate("IdlePage", "No price is set for this time."))
            for label in self.extra_labels:
                label.hide()
            set_text(self.vat_label, translate("IdlePage", "Charging is not available."))
            self.hold_label.setText("")
            return
        set_text(self.price_label, shown.headline)
        extras = [i for i in shown.items
                  if not (i.dimension == "ENERGY" and i.amount == shown.headline
                          and not i.condition)]
        for label, item in zip(self.extra_labels, [*extras, *[None] * MAX_PRICE_LINES],
                               strict=False):
            if item is None:
                label.hide()
                continue
            text = f"{item.label}: {item.amount}"
            set_text(label, f"{text}  ({item.condition})" if item.condition else text)
            label.show()
        set_text(self.vat_label, shown.vat_note)
        set_text(self.hold_label, shown.hold_note)

    def _refresh_connectors(self, can_start: bool) -> None:
        for c in self.runtime.config.connectors:
            btn = self.connector_buttons.get(c.id)
            if btn is None:
                continue
            live = self.runtime.runner.session_on(c.id)
            name = translate("IdlePage", "Connector {label}").format(label=c.label)
            if live is None:
                status = translate("IdlePage", "Free \u2014 tap to start")
                set_role(btn, "connector")
                btn.setEnabled(can_start)
            else:
                status = state_name(live.state)
                set_role(btn, "connector_busy")
                btn.setEnabled(True)  # its session is reachable in any case
            set_text(btn, f"{name}\n{status}")

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            self.refresh_prices()

    def set_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))


def state_name(state: State) -> str:
    """A connector's session in a word or two (the idle page's connector buttons)."""
    names = {
        State.READING_CARD: translate("IdlePage", "Paying"),
        State.PIN_ENTRY: translate("IdlePage", "Paying"),
        State.AUTHORIZING: translate("IdlePage", "Paying"),
        State.WAIT_PLUG: translate("IdlePage", "Waiting for the car"),
        State.CHARGING: translate("IdlePage", "Charging \u2014 tap to view"),
        State.STOPPING: translate("IdlePage", "Finishing"),
        State.RECEIPT: translate("IdlePage", "Receipt"),
    }
    return names.get(state, translate("IdlePage", "In use"))


# --- out of service -------------------------------------------------------------------------
MAX_REASONS = 5  # one per part of the terminal (kiosk.health.ORDER)


class OutOfServicePage(Page):
    """Instead of the idle page while the terminal is out of service: why (every reason the
    terminal's health gives, the most serious first), whom to call, and no Start button. The
    main window switches back to the idle page as soon as the health is fine again."""

    def __init__(self, ui: Screen) -> None:
        super().__init__(ui, "out_of_service_page")
        self.box.addStretch(1)
        head = QHBoxLayout()
        self.head = head
        self.icon_label = IconLabel("out-of-service", "red", 112, "out_of_service_icon")
        head.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignCenter)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        self.title_label = make_label("", "title", "out_of_service_title", wrap=True)
        titles.addWidget(self.title_label)
        self.text_label = make_label("", "lead", "out_of_service_text", wrap=True)
        titles.addWidget(self.text_label)
        head.addLayout(titles, 1)
        self.box.addLayout(head)

        reasons = QVBoxLayout()
        self.reasons_layout = reasons
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
        self._shown: tuple[list[str], str] = ([], "")
        self.apply_metrics()
        self.retranslate()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.head.setSpacing(m.px(24))
        self.reasons_layout.setContentsMargins(m.px(40), m.px(20), m.px(40), m.px(20))
        self.reasons_layout.setSpacing(m.px(10))

    def retranslate(self) -> None:
        set_text(self.title_label, translate("OutOfServicePage", "Out of service"))
        set_text(self.text_label, translate(
            "OutOfServicePage", "This charging point cannot take payments right now."))
        self.icon_label.setAccessibleName(translate("OutOfServicePage", "Out of service"))
        self.show_health(*self._shown)

    def show_health(self, parts: list[str], phone: str) -> None:
        """``parts``: what fails (``Health.problems()``' parts, the most serious first), each
        told in the driver's language; ``phone``: may be empty."""
        self._shown = (list(parts), phone)
        shown = [health_reason(p) for p in parts] or [
            translate("OutOfServicePage", "The terminal is being checked.")]
        if len(shown) > MAX_REASONS:  # more parts than we know of: the most serious ones
            shown = shown[:MAX_REASONS]
        for label, text in zip(self.reason_labels, [*shown, *[""] * MAX_REASONS],
                               strict=False):
            set_text(label, f"\u2022  {text}" if text else "", text)
            label.setVisible(bool(text))
        set_text(self.phone_label, translate("OutOfServicePage", "Questions? Call {phone}")
                 .format(phone=phone) if phone else "")
        self.phone_label.setVisible(bool(phone))
        station = self.runtime.config.station
        set_text(self.footer_label, translate(
            "OutOfServicePage",
            "This charging point is back in service by itself as soon as the problem is "
            "fixed.")
            + "\n" + translate("OutOfServicePage", "Station {id}").format(id=station.id))

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
    def __init__(self, ui: Screen, *, demo: bool) -> None:
        super().__init__(ui, "card_page")
        self.title_label = make_label("", "title", "card_title", wrap=True)
        self.title_icon = IconLabel("contactless", "heading", 64, "card_icon")
        self.box.addLayout(titled(self.title_icon, self.title_label))
        hold = QHBoxLayout()
        self.hold_row = hold
        self.hold_amount = make_label("", "amount", "card_hold_label")
        hold.addWidget(self.hold_amount)
        self.hold_text = make_label("", "lead", "card_hold_text", wrap=True)
        hold.addWidget(self.hold_text, 1)
        self.box.addLayout(hold)
        self.hint_label = make_label("", "muted", "card_hint_label", wrap=True)
        self.box.addWidget(self.hint_label)
        # offline PIN: the card in the reader checks the PIN just entered
        self.checking_label = make_label("", "lead", "card_checking_label", wrap=True)
        self.checking_label.hide()
        self.box.addWidget(self.checking_label)
        self.box.addStretch(1)
        self.demo_buttons: dict[str, QPushButton] = {}
        self.demo_box: QWidget | None = None
        self.demo_scroll: QScrollArea | None = None
        if demo:
            self._add_demo_cards()
        self.cancel_button = make_button("", "cancel_button", "secondary",
                                         lambda: self.post(ev.Cancelled))
        self.box.addWidget(self.cancel_button)
        self.apply_metrics()
        self.retranslate()

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
        demo_layout.setSpacing(8)
        self.demo_title = make_label("", "muted", "demo_cards_title")
        demo_layout.addWidget(self.demo_title)
        # however many test cards there are: a scrolling grid of fixed height keeps the page
        # within the screen (the grid's own height decides only up to DEMO_ROWS rows)
        cards = QWidget()
        cards.setObjectName("demo_cards")
        self.demo_grid = QGridLayout(cards)
        for name, card in TEST_CARDS.items():
            def present(_: bool = False, card: SimCard = card) -> None:
                terminal.present(card)

            btn = make_button(demo_label(card.label), f"demo_card_{name}", "demo", present)
            btn.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.demo_buttons[name] = btn
        scroll = QScrollArea()
        scroll.setObjectName("demo_cards_scroll")
        scroll.setWidget(cards)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.demo_scroll = scroll
        demo_layout.addWidget(scroll)
        self.box.addWidget(self.demo_box)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.hold_row.setSpacing(m.px(24))
        self.hold_row.setDirection(TTB if m.portrait else LTR)
        self.hint_label.setVisible(not m.compact and not self._checking())
        if self.demo_scroll is None:
            return
        columns = 2 if m.portrait else (3 if m.compact else DEMO_COLUMNS)
        self.demo_grid.setContentsMargins(0, 0, m.px(16), 0)  # clear of the scroll bar
        self.demo_grid.setSpacing(m.px(DEMO_SPACING))
        for i, btn in enumerate(self.demo_buttons.values()):
            self.demo_grid.removeWidget(btn)
            self.demo_grid.addWidget(btn, i // columns, i % columns)
        n = len(self.demo_buttons)
        rows = (1 if m.compact else DEMO_ROWS) if not m.portrait else 4
        rows = min(rows, max(1, -(-n // columns)))
        h = m.target(DEMO_BUTTON_H)
        more = n > rows * columns
        self.demo_scroll.setFixedHeight(rows * h + (rows - 1) * m.px(DEMO_SPACING)
                                        + (h // 2 if more else 0))  # half a row: there is more

    def retranslate(self) -> None:
        set_text(self.hold_text, translate(
            "CardPage", "This amount is reserved on your card.\nYou pay only for the energy "
            "you charge."))
        set_text(self.hint_label, translate(
            "CardPage", "Contactless cards, phones and watches: tap and hold until you hear "
            "the beep. Chip cards: insert the card and leave it in until asked to remove it."))
        set_text(self.checking_label, translate(
            "CardPage", "Your card is checking the PIN. Please leave it in the reader."))
        set_text(self.cancel_button, translate("CardPage", "Cancel"))
        if self.demo_box is not None:
            set_text(self.demo_title, translate("CardPage", "Demo: tap a test card"))
        self.show_session(self.session)

    def _checking(self) -> bool:
        return self.session is not None and self.session.pin_offline

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        # back from an offline PIN: the card in the reader checks it (and may ask again)
        checking = self._checking()
        set_text(self.title_label,
                 translate("CardPage", "Checking your PIN\u2026") if checking else
                 translate("CardPage", "Hold your card near the reader or insert it"))
        set_text(self.hold_amount, self.money(self.hold_minor))
        self.hint_label.setVisible(not checking and not self.m.compact)
        self.checking_label.setVisible(checking)
        if self.demo_box is not None:  # no card to tap while one is in the reader
            self.demo_box.setVisible(not checking)


# --- PIN ---------------------------------------------------------------------------------
class PinPage(Page):
    """The PIN pad. The PIN lives in this widget until OK, is shown only as dots, and goes
    straight to the payment adapter (``submit_pin``), never into a session or the journal."""

    def __init__(self, ui: Screen) -> None:
        super().__init__(ui, "pin_page")
        self._pin = ""
        # each key press, for the second sense (a tick; in the accessibility mode the count is
        # spoken, never the digit): set by the main window
        self.on_key: Callable[[int], None] | None = None
        row = QHBoxLayout()
        self.row = row
        self.box.addLayout(row, 1)

        left = QVBoxLayout()
        self.left = left
        self.title_label = make_label("", "title", "pin_title", wrap=True)
        left.addWidget(self.title_label)
        self.card_label = make_label("", "lead", "pin_card_label")
        left.addWidget(self.card_label)
        # offline PIN: what the card said (a wrong PIN, the tries left), large and unmissable
        self.notice_label = make_label("", "pin_notice", "pin_notice_label", wrap=True)
        self.notice_label.hide()
        left.addWidget(self.notice_label)
        self.dots_label = make_label("", "pin_dots", "pin_display",
                                     align=Qt.AlignmentFlag.AlignCenter)
        left.addWidget(self.dots_label)
        self.shield_label = make_label("", "muted", "pin_shield_label", wrap=True)
        left.addWidget(self.shield_label)
        left.addStretch(1)
        self.cancel_button = make_button("", "pin_cancel", "secondary",
                                         lambda: self.post(ev.Cancelled))
        left.addWidget(self.cancel_button)
        row.addLayout(left, 1)

        pad = QGridLayout()
        self.pad = pad
        self.keys: dict[str, QPushButton] = {}
        for i, digit in enumerate("123456789"):
            pad.addWidget(self._key(digit), i // 3, i % 3)
        self.clear_button = make_button("", "pin_clear", "pin_key_text", self.clear)
        pad.addWidget(self.clear_button, 3, 0)
        pad.addWidget(self._key("0"), 3, 1)
        self.ok_button = make_button("OK", "pin_ok", "pin_ok", self._ok)
        pad.addWidget(self.ok_button, 3, 2)
        row.addLayout(pad)
        self.apply_metrics()
        self.retranslate()
        self._redraw()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.row.setDirection(TTB if m.portrait else LTR)
        self.row.setSpacing(m.px(48))
        self.left.setSpacing(m.px(16))
        # Cancel at the bottom: under the text beside the pad, under the pad in portrait
        self.left.removeWidget(self.cancel_button)
        self.box.removeWidget(self.cancel_button)
        (self.box if m.portrait else self.left).addWidget(self.cancel_button)
        self.pad.setSpacing(m.px(14))
        self.dots_label.setMinimumHeight(m.target(96))
        self.shield_label.setVisible(not m.compact)
        # the pad: as large as the page allows, each key at least the touch minimum
        for key in (*self.keys.values(), self.clear_button, self.ok_button):
            key.setFixedSize(m.px(180) if m.portrait else m.px(140), m.target(96))

    def retranslate(self) -> None:
        set_text(self.title_label, translate("PinPage", "Enter your PIN"))
        set_text(self.shield_label, translate(
            "PinPage", "Shield the keypad with your hand. Press OK when done."))
        set_text(self.cancel_button, translate("PinPage", "Cancel"))
        set_text(self.clear_button, translate("PinPage", "Clear"))
        self.ok_button.setAccessibleName(translate("PinPage", "OK, send the PIN"))
        for digit, key in self.keys.items():
            key.setAccessibleName(digit)
        self.show_session(self.session)

    def _key(self, digit: str) -> QPushButton:
        btn = make_button(digit, f"pin_key_{digit}", "pin_key", lambda: self._press(digit))
        self.keys[digit] = btn
        return btn

    def _press(self, digit: str) -> None:
        if len(self._pin) < PIN_MAX:
            self._pin += digit
        self._redraw()
        if self.on_key is not None:
            self.on_key(len(self._pin))

    def clear(self) -> None:
        self._pin = ""
        self._redraw()

    def _redraw(self) -> None:
        n = len(self._pin)
        self.dots_label.setText("\u25cf" * n if n else "")
        self.dots_label.setAccessibleName(
            translate("PinPage", "PIN digits entered: {n}").format(n=n))
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
        set_text(self.card_label, translate("PinPage", "Card {pan}").format(pan=pan)
                 if pan else "")
        self.card_label.setVisible(bool(pan))  # an offline PIN comes before the card's number
        notice = pin_notice(session) if session is not None and session.pin_offline else ""
        set_text(self.notice_label, notice)
        self.notice_label.setVisible(bool(notice))


def pin_notice(session: Session) -> str:
    """What the card said about the last PIN (a wrong PIN and the tries left)."""
    return driver_texts.text(session.say, tries_left=session.pin_tries_left)


# --- authorizing ---------------------------------------------------------------------------
class AuthorizingPage(Page):
    def __init__(self, ui: Screen) -> None:
        super().__init__(ui, "authorizing_page")
        self.box.addStretch(1)
        self.title_label = make_label("", "title", "authorizing_title", wrap=True,
                                      align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.title_label)
        self.text_label = make_label("", "lead", "authorizing_text", wrap=True,
                                     align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.text_label)
        self.member_label = make_label("", "member", "authorizing_member_label", wrap=True,
                                       align=Qt.AlignmentFlag.AlignCenter)
        self.member_label.hide()
        self.box.addWidget(self.member_label)
        self.member_prices = make_label("", "body", "authorizing_member_prices", wrap=True,
                                        align=Qt.AlignmentFlag.AlignCenter)
        self.member_prices.hide()
        self.box.addWidget(self.member_prices)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.box.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignCenter)
        self.box.addStretch(2)
        self.apply_metrics()
        self.retranslate()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        self.bar.setFixedWidth(self.m.px(480))

    def retranslate(self) -> None:
        set_text(self.title_label, translate("AuthorizingPage", "Contacting your bank\u2026"))
        set_text(self.text_label, translate(
            "AuthorizingPage", "Reserving {amount} on your card. This usually takes a few "
            "seconds. If you inserted your card, please leave it in.").format(
                amount=self.money(self.hold_minor)))
        self.bar.setAccessibleName(translate("AuthorizingPage", "Waiting for your bank"))
        self.show_session(self.session)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        show_member(self.ui, session, self.member_label, self.member_prices)


# --- plug in -------------------------------------------------------------------------------
class PlugPage(Page):
    def __init__(self, ui: Screen, *, demo: bool) -> None:
        super().__init__(ui, "plug_page")
        self.title_label = make_label("", "title", "plug_title", wrap=True)
        self.box.addLayout(titled(IconLabel("plug", "heading", 64, "plug_icon"),
                                  self.title_label))
        self.notice_label = make_label("", "warning", "plug_notice", wrap=True)
        self.notice_label.hide()
        self.box.addWidget(self.notice_label)
        self.connector_label = make_label("", "lead", "plug_connector_label", wrap=True)
        self.box.addWidget(self.connector_label)
        self.member_label = make_label("", "member", "plug_member_label", wrap=True)
        self.member_label.hide()
        self.box.addWidget(self.member_label)
        self.member_prices = make_label("", "body", "plug_member_prices", wrap=True)
        self.member_prices.hide()
        self.box.addWidget(self.member_prices)
        self.take_card_label = make_label("", "lead", "take_card_label", wrap=True)
        self.box.addWidget(self.take_card_label)
        self.help_label = make_label("", "body", "plug_help_label", wrap=True)
        self.box.addWidget(self.help_label)
        self.countdown_label = make_label("", "muted", "plug_countdown_label")
        self.box.addWidget(self.countdown_label)
        self.box.addStretch(1)
        self.plug_button: QPushButton | None = None
        self._plug_car: Callable[[int], None] | None = None
        if demo:
            from drivers.sim.charger import SimCharger

            if isinstance(self.runtime.charger, SimCharger):
                self._plug_car = self.runtime.charger.plug
                self.plug_button = make_button("", "demo_plug_button", "demo", self._plug)
                self.box.addWidget(self.plug_button)
        self.cancel_button = make_button("", "plug_cancel_button", "secondary",
                                         lambda: self.post(ev.Cancelled))
        self.box.addWidget(self.cancel_button)
        self.apply_metrics()
        self.retranslate()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        self.help_label.setVisible(not self.m.compact)

    def retranslate(self) -> None:
        set_text(self.title_label, translate("PlugPage", "Approved. Plug in your car."))
        set_text(self.take_card_label, translate(
            "PlugPage", "If your card is in the reader, take it now."))
        set_text(self.help_label, translate(
            "PlugPage", "Charging starts by itself as soon as the car is connected. If no car "
            "is connected in time, the reservation on your card is released."))
        if self.plug_button is not None:
            set_text(self.plug_button, translate("PlugPage", "Demo: plug the car in"))
        set_text(self.cancel_button, translate("PlugPage", "Cancel"))
        self.show_session(self.session)

    def _plug(self) -> None:
        if self.session is not None and self._plug_car is not None:
            self._plug_car(self.session.connector)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        label = connector_label(self.runtime, session.connector)
        set_text(self.connector_label, translate(
            "PlugPage", "{amount} is reserved on your card. Use connector {label}.").format(
                amount=self.money(session.held_minor), label=label))
        left = countdown(session.deadline, self.runtime.clock())
        set_text(self.countdown_label, translate("PlugPage", "Time left to plug in: {left}")
                 .format(left=left) if left else "")
        notice = session_notice(session)
        set_text(self.notice_label, notice)
        self.notice_label.setVisible(bool(notice))
        show_member(self.ui, session, self.member_label, self.member_prices)
        # a member's prices take the place of the help on a small screen
        self.help_label.setVisible(not self.m.compact and not session.plan_id)


def health_reason(part: str) -> str:
    """Why the terminal is out of service, for a driver: one line per failing part."""
    words = {
        HEALTH_JOURNAL: translate("OutOfServicePage",
                                  "The terminal cannot store payments right now."),
        HEALTH_DISK: translate("OutOfServicePage", "The terminal's storage is nearly full."),
        HEALTH_CHARGER: translate("OutOfServicePage", "The charger does not answer."),
        HEALTH_READER: translate("OutOfServicePage",
                                 "The card reader is not available right now."),
        HEALTH_HOST: translate("OutOfServicePage", "The payment service cannot be reached."),
        HEALTH_MAINTENANCE: translate("OutOfServicePage",
                                      "This charging station is being serviced."),
        HEALTH_OPERATOR: translate("OutOfServicePage",
                                   "This charging station has been taken out of service."),
    }
    return words.get(part, translate("OutOfServicePage", "A part of the terminal is being "
                                     "checked."))


def connector_label(runtime: Runtime, connector: int) -> str:
    for c in runtime.config.connectors:
        if c.id == connector:
            return str(c.label)
    return str(connector)


def session_notice(session: Session) -> str:
    """A passing condition of the session in the driver's words ("" when there is none)."""
    return driver_texts.text(session.notice)


# --- member plans (issue #18) --------------------------------------------------------------
def member_title(ui: Screen, session: Session | None) -> str:
    """``Night plan: 15 % off`` for a session with a member plan, else ""."""
    if session is None or not session.plan_id:
        return ""
    try:
        percent = ui.fig.percent(Decimal(session.plan_percent))
    except ArithmeticError:
        return ""
    return translate("Member", "{plan}: {percent} off").format(plan=session.plan_name,
                                                               percent=percent)


def member_prices(ui: Screen, session: Session | None) -> str:
    """The unit prices the member pays (the tariff with the plan taken off), one line."""
    if session is None or not session.plan_id:
        return ""
    shown = ui.runtime.member_display(session, ui.lang)
    if shown is None:
        return ""
    parts = [shown.headline, *(f"{i.label}: {i.amount}" for i in shown.items
                               if not (i.dimension == "ENERGY" and i.amount == shown.headline
                                       and not i.condition) and not i.condition)]
    return translate("Member", "Your price: {prices}").format(prices="  \u00b7  ".join(parts))


def show_member(ui: Screen, session: Session | None, title: QLabel,
                prices: QLabel | None = None) -> None:
    text = member_title(ui, session)
    set_text(title, text)
    title.setVisible(bool(text))
    if prices is not None:
        line = member_prices(ui, session) if text else ""
        set_text(prices, line)
        prices.setVisible(bool(line))


# --- charging ------------------------------------------------------------------------------
CARD_NOTICE_MS = 6000  # how long "not the same card" stays beside the title


class ChargingPage(Page):
    """Live values while charging; STOPPING shows *Finishing* instead of Stop. A passing
    condition of the session (``Session.notice``: the charger does not answer) is shown beside
    the title in the warning style while it lasts; so is, for a few seconds, a card presented
    that did not start this charge (:meth:`show_card_notice`)."""

    def __init__(self, ui: Screen, *, demo: bool = False) -> None:
        super().__init__(ui, "charging_page")
        top = QHBoxLayout()
        self.top = top
        self.title_label = make_label("", "title", "charging_title")
        title_row = QHBoxLayout()
        title_row.setSpacing(16)
        title_row.addWidget(IconLabel("charging", "green", 56, "charging_icon"), 0,
                            Qt.AlignmentFlag.AlignVCenter)
        title_row.addWidget(self.title_label, 0, Qt.AlignmentFlag.AlignVCenter)
        title_row.addStretch(0)
        top.addLayout(title_row)
        self.notice_label = make_label("", "warning", "charging_notice", wrap=True)
        self.notice_label.setSizePolicy(QSizePolicy.Policy.Expanding,
                                        QSizePolicy.Policy.Preferred)
        self.notice_label.hide()
        top.addWidget(self.notice_label, 1)
        self.box.addLayout(top)

        grid = QGridLayout()
        self.grid = grid
        self.metric_boxes: list[QVBoxLayout] = []
        self.metric_names: list[QLabel] = []
        self.metric_cards: list[QFrame] = []
        self.cost_label = self._metric(grid, 0, 0, "cost_label")
        self.energy_label = self._metric(grid, 0, 1, "energy_label")
        self.time_label = self._metric(grid, 1, 0, "time_label")
        self.power_label = self._metric(grid, 1, 1, "power_label")
        self.box.addLayout(grid)
        below = QHBoxLayout()  # what is reserved, and how to stop
        self.below = below
        self.hold_label = make_label("", "muted", "charging_hold_label", wrap=True)
        holds = QVBoxLayout()
        self.member_label = make_label("", "member", "charging_member_label", wrap=True)
        self.member_label.hide()
        holds.addWidget(self.member_label)
        holds.addWidget(self.hold_label)
        below.addLayout(holds, 1)
        self.stop_hint = make_label("", "muted", "charging_stop_hint", wrap=True)
        below.addWidget(self.stop_hint, 1)
        self.box.addLayout(below)
        self.box.addStretch(1)
        self._card_notice = False
        self._card_notice_timer = QTimer(self)
        self._card_notice_timer.setSingleShot(True)
        self._card_notice_timer.setInterval(CARD_NOTICE_MS)
        self._card_notice_timer.timeout.connect(lambda: self.show_card_notice(False))

        self.demo_row: QHBoxLayout | None = self._add_demo_taps() if demo else None
        self.bottom = QStackedWidget()
        self.bottom.setObjectName("charging_bottom")
        self.stop_button = make_button("", "stop_button", "danger",
                                       lambda: self.post(ev.StopRequested))
        self.bottom.addWidget(self.stop_button)
        self.finishing_label = make_label("", "lead", "finishing_label", wrap=True,
                                          align=Qt.AlignmentFlag.AlignCenter)
        self.bottom.addWidget(self.finishing_label)
        if self.demo_row is not None:
            self.demo_row.addWidget(self.bottom, 2)
            self.box.addLayout(self.demo_row)
        else:
            self.box.addWidget(self.bottom)
        self.apply_metrics()
        self.retranslate()

    def _add_demo_taps(self) -> QHBoxLayout | None:
        """Demo: tap the card that started this charge (it stops), or another one (told)."""
        from drivers.sim.card_terminal import SimCardTerminal
        from drivers.sim.cards import TEST_CARDS

        terminal = self.runtime.card_terminal
        if not isinstance(terminal, SimCardTerminal):
            return None
        cards = list(TEST_CARDS.values())

        def tap(same: bool) -> None:
            shown = self.session.masked_pan if self.session is not None else ""
            for card in cards:
                mine = bool(shown) and card.pan[:6] == shown[:6] and card.pan[-4:] == shown[-4:]
                if mine == same:
                    terminal.present(card)
                    return

        row = QHBoxLayout()
        self.same_card_button = make_button("", "demo_same_card_button", "demo_tap",
                                            bind(tap, True))
        self.other_card_button = make_button("", "demo_other_card_button", "demo_tap",
                                             bind(tap, False))
        column = QVBoxLayout()  # beside Stop: no height taken from the figures
        column.addWidget(self.same_card_button)
        column.addWidget(self.other_card_button)
        row.addLayout(column, 1)
        self.demo_column = column
        return row

    def _metric(self, grid: QGridLayout, row: int, col: int, object_name: str) -> QLabel:
        box = QVBoxLayout()
        self.metric_boxes.append(box)
        name = make_label("", "metric_name", f"{object_name}_name")
        self.metric_names.append(name)
        box.addWidget(name)
        value = make_label("", "metric_value", object_name)
        box.addWidget(value)
        card = make_card(box)
        self.metric_cards.append(card)
        grid.addWidget(card, row, col)
        return value

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.top.setSpacing(m.px(24))
        self.top.setDirection(TTB if m.portrait else LTR)  # portrait: the notice below
        self.grid.setSpacing(m.px(20))
        for i, card in enumerate(self.metric_cards):  # portrait: one above the other
            self.grid.removeWidget(card)
            self.grid.addWidget(card, *((i, 0) if m.portrait else divmod(i, 2)))
        tight = m.compact
        for box in self.metric_boxes:
            box.setContentsMargins(m.px(32), m.px(6 if tight else 14), m.px(32),
                                   m.px(6 if tight else 14))
            box.setSpacing(0 if tight else m.px(4))
        self.below.setSpacing(m.px(24))
        self.below.setDirection(TTB if m.portrait else LTR)
        self.stop_hint.setAlignment(Qt.AlignmentFlag.AlignLeft if m.portrait
                                    else Qt.AlignmentFlag.AlignRight)
        self.bottom.setFixedHeight(m.target(130))
        if self.demo_row is not None:  # two demo taps as high as Stop; above it in portrait
            self.demo_row.setDirection(TTB if m.portrait else LTR)
            self.demo_row.setSpacing(m.px(16))
            self.demo_column.setSpacing(m.px(8))
            tap_h = max(m.touch, (m.target(130) - m.px(8)) // 2)
            for btn in (self.same_card_button, self.other_card_button):
                btn.setFixedHeight(tap_h)

    def retranslate(self) -> None:
        for label, text in zip(self.metric_names, (
                translate("ChargingPage", "Cost so far"), translate("ChargingPage", "Energy"),
                translate("ChargingPage", "Charging time"), translate("ChargingPage", "Power")),
                strict=True):
            set_text(label, text)
        set_text(self.stop_hint, translate(
            "ChargingPage", "To stop, tap the same card again or press Stop charging"))
        set_text(self.stop_button, translate("ChargingPage", "Stop charging"))
        if self.demo_row is not None:
            set_text(self.same_card_button, translate("ChargingPage", "Demo: tap the same card"))
            set_text(self.other_card_button, translate("ChargingPage", "Demo: another card"))
        set_text(self.finishing_label, translate(
            "ChargingPage", "Stopping the charger and completing your payment. Please wait."))
        self.show_session(self.session)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        fig = self.ui.fig
        finishing = session.state is State.STOPPING
        self.cost_label.setText(self.money(session.cost_minor))
        self.energy_label.setText(fig.kwh(session.energy_wh))
        self.time_label.setText(format_duration(session.duration_s))
        # while the charger does not answer there is no live power to show
        notice = session_notice(session)
        self.power_label.setText("\u2014" if notice else fig.kw(session.power_w))
        for name, value in zip(self.metric_names, (self.cost_label, self.energy_label,
                                                   self.time_label, self.power_label),
                               strict=True):
            value.setAccessibleName(f"{name.text()}: {value.text()}")
        held = session.held_minor
        if held:
            left = self.money(max(0, held - session.cost_minor))
            set_text(self.hold_label, translate(
                "ChargingPage", "Reserved on your card: {held} ({left} left)").format(
                    held=self.money(held), left=left))
        show_member(self.ui, session, self.member_label)
        set_text(self.title_label, translate("ChargingPage", "Finishing\u2026") if finishing
                 else translate("ChargingPage", "Charging"))
        card_notice = not_the_same_card() if self._card_notice and not finishing else ""
        shown = notice or card_notice  # worded now: a language switched meanwhile is used
        set_text(self.notice_label, shown)
        self.notice_label.setVisible(bool(shown))
        self.stop_hint.setVisible(not finishing and not self.m.compact)  # idle page says it
        self.bottom.setCurrentWidget(self.finishing_label if finishing else self.stop_button)
        self.stop_button.setEnabled(session.state is State.CHARGING)

    def show_card_notice(self, on: bool) -> None:
        """Show :func:`not_the_same_card` beside the title for :data:`CARD_NOTICE_MS`;
        False: gone at once."""
        self._card_notice = on
        if on:
            self._card_notice_timer.start()
        self.show_session(self.session)


def not_the_same_card() -> str:
    return translate("ChargingPage", "This is not the card that started this charge.")


# --- receipt -------------------------------------------------------------------------------
SECONDARY_ROWS = ("auth_code", "station")  # left to the invoice on a small screen


class ReceiptPage(Page):
    def __init__(self, ui: Screen) -> None:
        super().__init__(ui, "receipt_page")
        self._qr_for = ""  # the link whose code is drawn or being drawn
        self._qr_shown: tuple[str, int] = ("", 0)  # ... and the one the label shows, its size
        self._qr = QrMaker(self)
        self._qr.ready.connect(self._qr_ready)
        self._invoice_cache: tuple[str, dict[str, object] | None] = ("", None)
        self._bar = False  # the window's timeout bar is above the page
        self.title_label = make_label("", "title", "receipt_title", wrap=True)
        self.box.addLayout(titled(IconLabel("check", "green", 56, "receipt_icon"),
                                  self.title_label))
        # why charging stopped when the driver did not stop it (a fault, the hold used up)
        self.reason_label = make_label("", "warning", "receipt_reason_label", wrap=True)
        self.reason_label.hide()
        self.box.addWidget(self.reason_label)
        row = QHBoxLayout()
        self.row = row
        self.box.addLayout(row)

        total_box = QVBoxLayout()
        self.total_box = total_box
        self.total_caption = make_label("", "lead", "receipt_total_caption")
        total_box.addWidget(self.total_caption)
        self.total_label = make_label("", "big_total", "receipt_total_label")
        total_box.addWidget(self.total_label)
        self.vat_label = make_label("", "muted", "receipt_vat_label", wrap=True)
        total_box.addWidget(self.vat_label)
        total_box.addStretch(1)
        self.qr_caption = make_label("", "muted", "receipt_qr_caption", wrap=True)
        total_box.addWidget(self.qr_caption)
        top = QHBoxLayout()
        self.top = top
        top.addLayout(total_box, 1)
        self.qr_label = QLabel()
        self.qr_label.setObjectName("receipt_qr")
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        top.addWidget(self.qr_label, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(top, 1)

        details = QGridLayout()
        self.details = details
        self.rows: dict[str, QLabel] = {}
        self.row_names: dict[str, QLabel] = {}
        for i, key in enumerate(("invoice", "discount", "energy", "duration", "card",
                                 "auth_code", "station")):
            name = make_label("", "row_name", f"receipt_{key}_name", wrap=True)
            details.addWidget(name, i, 0)
            self.row_names[key] = name
            value = make_label("", "row_value", f"receipt_{key}_label")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            details.addWidget(value, i, 1)
            self.rows[key] = value
        details.setColumnStretch(1, 1)
        self.rows["discount"].hide()  # a member's (shown by _show_member)
        self.row_names["discount"].hide()
        row.addWidget(make_card(details, "receipt_details"), 1)

        # the capture runs in the background after this page: pending until the host confirms
        self.payment_label = make_label("", "status_pending", "payment_status_label", wrap=True)
        self.payment_label.setProperty("pending", False)  # set before anyone reads it
        self.payment_label.hide()
        self.box.addWidget(self.payment_label)
        self.box.addStretch(1)
        self.timeout_label = make_label("", "muted", "receipt_timeout_label",
                                        align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.timeout_label)
        self.done_button = make_button("", "done_button", "primary",
                                       lambda: self.post(ev.Dismissed))
        self.box.addWidget(self.done_button)
        self.apply_metrics()
        self.retranslate()

    @property
    def qr_size(self) -> int:
        return self.m.px(QR_SIZE)

    def timeout_bar_shown(self, shown: bool) -> None:
        """The bar takes a fifth of the height: the page gives up its own countdown (the bar
        says it), the QR code's caption and the rows the invoice repeats, and packs its rows
        as on a small panel, until the bar goes."""
        if shown == self._bar:
            return
        self._bar = shown
        self.timeout_label.setVisible(not shown)
        self.apply_metrics()
        self.show_session(self.session)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.box.setSpacing(m.px(14))
        self.row.setSpacing(m.px(40))
        self.row.setDirection(TTB if m.portrait else LTR)
        self.total_box.setSpacing(m.px(6))
        self.top.setSpacing(m.px(24))
        self.details.setColumnStretch(0, 0)
        tight = m.compact or self._bar
        v = m.px(8 if tight else 16)
        self.details.setContentsMargins(m.px(20), v, m.px(20), v)
        self.details.setHorizontalSpacing(m.px(20))
        self.details.setVerticalSpacing(m.px(2 if tight else 8))
        for key in SECONDARY_ROWS:  # on the invoice the QR code opens
            self.rows[key].setVisible(not tight)
            self.row_names[key].setVisible(not tight)
        self.qr_label.setFixedSize(self.qr_size, self.qr_size)
        self._qr_for = ""  # drawn again at the new size

    def retranslate(self) -> None:
        set_text(self.title_label, translate("ReceiptPage", "Thank you! You can unplug your car."))
        set_text(self.qr_caption, translate("ReceiptPage", "Scan for your invoice"))
        for key, text in (("invoice", translate("ReceiptPage", "Invoice")),
                          ("energy", translate("ReceiptPage", "Energy")),
                          ("duration", translate("ReceiptPage", "Charging time")),
                          ("card", translate("ReceiptPage", "Card")),
                          ("auth_code", translate("ReceiptPage", "Authorization")),
                          ("station", translate("ReceiptPage", "Station"))):
            set_text(self.row_names[key], text)
        set_text(self.done_button, translate("ReceiptPage", "Done"))
        self.qr_label.setAccessibleName(translate("ReceiptPage", "QR code of your invoice"))
        self.show_session(self.session)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        fig = self.ui.fig
        amount = self.money(session.final_minor)
        set_text(self.total_label, amount)
        reason = driver_texts.text(session.say)
        set_text(self.reason_label, reason)
        self.reason_label.setVisible(bool(reason))
        self._show_payment(session, amount)
        self._show_member(session)  # before the rows' accessible names
        cost = self.runtime.tariffs.cost(session)
        rates = sorted({ln.vat for ln in cost.lines if ln.vat is not None})
        vat = ", ".join(fig.percent(r) for r in rates)
        set_text(self.vat_label, translate("ReceiptPage", "incl. {vat} VAT").format(vat=vat)
                 if vat else translate("ReceiptPage", "VAT included"))
        self.rows["energy"].setText(fig.kwh(session.energy_wh))
        self.rows["duration"].setText(format_duration(session.duration_s))
        self.rows["card"].setText(session.masked_pan or "\u2014")
        self.rows["auth_code"].setText(session.auth_code or "\u2014")
        self.rows["station"].setText(str(self.runtime.config.station.id))
        for key, value in self.rows.items():
            value.setAccessibleName(f"{self.row_names[key].text()}: {value.text()}")
        invoice = self._invoice(session.id)
        self.rows["invoice"].setText(str(invoice["number"]) if invoice else "\u2014")
        self.qr_label.setVisible(invoice is not None)
        self.qr_caption.setVisible(invoice is not None and not self._bar)
        if invoice is not None and self._qr_for != invoice["url"]:
            self._qr_for = str(invoice["url"])
            if self._qr_shown[0] != self._qr_for:  # not another session's code meanwhile
                self.qr_label.clear()
                self._qr_shown = ("", 0)
            self._qr.draw(self._qr_for, self.qr_size)
        left = countdown(session.deadline, self.runtime.clock())
        set_text(self.timeout_label, translate(
            "ReceiptPage", "This screen closes by itself in {left}").format(left=left)
            if left else "")

    def _show_member(self, session: Session) -> None:
        """A member's discount, named after the plan, in the charging time's place (that is
        on the invoice, with the full price): ``Night plan  −€0.82``, the invoice's figure
        (:meth:`kiosk.billing.live.TariffBook.plan_price`)."""
        discount = ""
        if session.plan_id and session.final_minor > 0:
            price = self.runtime.tariffs.plan_price(session)
            if price.discount_minor:
                discount = "\u2212" + self.money(price.discount_minor)
        self.rows["discount"].setText(discount)
        set_text(self.row_names["discount"], session.plan_name if discount else "")
        # the charging time is on the invoice: it gives way to the discount, and to the bar
        for key, shown in (("discount", bool(discount)),
                           ("duration", not discount and not self._bar)):
            self.rows[key].setVisible(shown)
            self.row_names[key].setVisible(shown)

    def _qr_ready(self, text: str, size: int, image: QImage) -> None:
        if text == self._qr_for and size == self.qr_size:
            self.qr_label.setPixmap(QPixmap.fromImage(image))
            self._qr_shown = (text, size)

    def qr_drawn(self) -> bool:
        """The receipt's QR code is on screen (or it has none): for screenshots and tests."""
        return not self.qr_label.isVisible() or (
            bool(self._qr_for) and self._qr_shown == (self._qr_for, self.qr_size))

    def close_qr(self) -> None:
        self._qr.close()

    def _show_payment(self, session: Session, amount: str) -> None:
        pending = self.runtime.settlement_pending(session.id)
        if pending:
            text = translate("ReceiptPage", "Payment pending: your card will be charged "
                             "{amount} once your bank confirms.").format(amount=amount)
        else:
            text = translate("ReceiptPage", "Paid: your card has been charged {amount}.") \
                .format(amount=amount)
        set_text(self.total_caption, translate("ReceiptPage", "Total") if pending
                 else translate("ReceiptPage", "Total paid"))
        set_text(self.payment_label, text)
        set_role(self.payment_label, "status_pending" if pending else "status_paid")
        self.payment_label.setProperty("pending", pending)  # for tests: not by the words
        self.payment_label.show()

    def _invoice(self, session_id: str) -> dict[str, object] | None:
        if self._invoice_cache[0] != session_id or self._invoice_cache[1] is None:
            self._invoice_cache = (session_id, self.runtime.journal.invoice(session_id))
        return self._invoice_cache[1]


# --- declined, error --------------------------------------------------------------------
class MessagePage(Page):
    def __init__(self, ui: Screen) -> None:
        super().__init__(ui, "message_page")
        self.box.addStretch(1)
        self.icon_label = IconLabel("warning", "attention", 112, "message_icon")
        self.box.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignCenter)
        self.title_label = make_label("", "title", "message_title", wrap=True,
                                      align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.title_label)
        self.message_label = make_label("", "lead", "message_label", wrap=True,
                                        align=Qt.AlignmentFlag.AlignCenter)
        self.box.addWidget(self.message_label)
        self.wait_bar = QProgressBar()
        self.wait_bar.setRange(0, 0)
        self.wait_bar.setTextVisible(False)
        self.box.addWidget(self.wait_bar, 0, Qt.AlignmentFlag.AlignCenter)
        self.box.addStretch(2)
        self.ok_button = make_button("OK", "message_ok_button", "primary",
                                     lambda: self.post(ev.Dismissed))
        self.box.addWidget(self.ok_button)
        self.apply_metrics()
        self.retranslate()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        self.wait_bar.setFixedWidth(self.m.px(480))

    def retranslate(self) -> None:
        set_text(self.ok_button, translate("MessagePage", "OK"))
        self.show_session(self.session)

    def show_session(self, session: Session | None) -> None:
        super().show_session(session)
        if session is None:
            return
        title, text = message_words(session)
        set_text(self.title_label, title)
        set_text(self.message_label, text)
        can_dismiss = session.state in (State.DECLINED, State.ERROR)
        icon, color = "warning", "attention"  # the shape says it as well as the colour
        if session.state is State.DECLINED:
            icon, color = "error", "red"
        elif session.outcome is Outcome.REVERSED:
            icon, color = "info", "blue"
        self.icon_label.set_icon(icon, color, self.ui)
        self.icon_label.setAccessibleName(title)
        self.icon_label.setVisible(can_dismiss)
        self.ok_button.setVisible(can_dismiss)
        self.wait_bar.setVisible(not can_dismiss)


def message_words(session: Session) -> tuple[str, str]:
    """The title and the text of a declined or failed session, in the driver's words (the
    technical detail, ``Session.message``, is for the log and the technician)."""
    title = driver_texts.title(session.say)
    if not title:  # nothing more precise to say: the state's own words
        if session.state is State.DECLINED:
            title = translate("MessagePage", "Payment declined")
        elif session.outcome is Outcome.REVERSED:
            title = translate("MessagePage", "Charging cancelled")
        else:
            title = translate("MessagePage", "Charging not possible")
    return title, driver_texts.text(session.say)
