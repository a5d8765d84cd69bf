"""The driver's window under load: the GUI thread's longest stall during whole sessions, and
the latency from a meter reading to the cost on the charging screen (figures, not pass/fail).

Targets (DESIGN.md, performance budgets): no GUI-thread stall over 50 ms; a meter reading on
screen within 100 ms.

The kiosk is the UI tests' (:func:`tests.ui.rig.build_kiosk`): a real runtime on its simulators
(card terminal, charger, the payment host simulator over loopback TCP), a Bridge and the
MainWindow in demo mode on the offscreen platform, driven through object names only.

- **Stall**: a heartbeat QTimer (2 ms, precise) on the GUI thread records every tick while
  whole sessions are played through the buttons (Start, a demo card, for the PIN card the PIN
  pad, the demo plug, a few seconds of charging, Stop, the receipt, Done); the figure is the
  longest gap between two ticks, and its p99. Floor: the same heartbeat in the same process for
  the same wall time with the window idle (no session; its own timers still run). The three
  longest gaps are listed with the page shown before and after, the session, and what ran in
  them: wrappers on instance attributes time the runner's steps (``Runner.dispatch``, on the
  ``kiosk-runner`` thread: they stall the GUI thread only through the GIL they hold), Start
  (``Runtime.start_session``, on the GUI thread) and the window's page updates
  (``MainWindow.show_session``), and ``gc.callbacks`` Python's collections; "none of the
  wrapped calls" points elsewhere (Qt's own work, another thread holding the GIL, the
  machine).
- **Reading → cost on screen**: while charging, a thread of the test makes the simulated
  charger report a reading every 50 ms (``SimCharger.advance``: the reading reaches the
  runtime as the charger's own once-a-second readings do, on the thread that produced it).
  Each ``Reading`` is stamped when the charger's worker hands it to the runner: the
  ``ChargerDevice.post`` hook is wrapped on the instance (the device keeps its own reference
  to ``Runner.post``, so wrapping the runner's would not see it). The end is the first paint
  event of ``cost_label`` (offscreen paints do happen: verified) at which the charging page
  shows a session whose meter has reached that reading: the path in between is the runner's
  thread (``process_pending``: machine, journal commit, listeners), the bridge's signal
  queued to the GUI thread, the window's refresh, ``setText`` and the paint. Floor: the same
  number of stamps at the same rate through a bare queued Qt signal from a worker thread to
  a slot that sets the text of a label drawn as ``cost_label`` (its role, under the window's
  style sheet, in a window of the same size), ended by that label's paint event in the same
  way: ``setText`` schedules the paint, as on the charging page, no forced ``repaint()`` (Qt
  then paints on its next update request, up to 5 ms later on the offscreen platform: in
  both figures alike).

Under ``--benchmark-disable`` (``make test``) each test runs once, briefly (one session, a
few readings), as a smoke test of the benchmark itself.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from kiosk.billing.money import format_money
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State
from tests.bench.stats import percentile
from tests.ui.rig import WAIT_MS, Kiosk, build_kiosk

TARGET_STALL_MS = 50
TARGET_LATENCY_MS = 100
HEARTBEAT_MS = 2
SESSIONS = ("visa_contactless", "mastercard_pin", "visa_contactless")  # the PIN pad in between
CHARGE_S = 3.0  # of wall time on the charging page (the simulator: a minute of charge a second)
READINGS = 200
READING_EVERY_S = 0.05
READING_ADVANCE_S = 10  # simulated seconds per reading: 30 Wh at 11 kW, the cost moves each time


@pytest.fixture
def k(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog)


def ms(seconds: float) -> float:
    return seconds * 1e3


# --- (1) the longest GUI-thread stall ----------------------------------------------------

@dataclass(frozen=True)
class Gap:
    start: float  # perf_counter at the tick before the gap
    end: float  # ... and at the tick that ended it
    at_s: float  # since the heartbeat started
    before: str  # the page shown at the tick before the gap
    after: str  # ... and at the tick that ended it
    phase: str  # what the test was doing (which session)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def where(self, activities: Activities) -> str:
        pages = self.before if self.before == self.after else f"{self.before} → {self.after}"
        inside = activities.during(self.start, self.end)
        return (f"{ms(self.seconds):.1f} ms on {pages} ({self.phase}, at {self.at_s:.1f} s; "
                f"{inside or 'none of the wrapped calls'})")


class Activities:
    """What the kiosk was doing, from wrappers the test puts on instance attributes:
    the runner's steps (``Runner.dispatch``, one per event: machine, journal commit,
    listeners, effects; on the runner's thread), Start (``Runtime.start_session``: the first
    step) and the window's page updates (``MainWindow.show_session``); and Python's garbage
    collections (on any thread: they hold the GIL)."""

    def __init__(self, k: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self._gc_start = 0.0
        gc.callbacks.append(self._gc)
        self._wrap(monkeypatch, k.runtime.runner, "dispatch",
                   lambda e, *_a, **_k: f"{type(e).__name__} step")
        self._wrap(monkeypatch, k.runtime, "start_session", lambda *_a, **_k: "Start step")
        self._wrap(monkeypatch, k.window, "show_session",
                   lambda s, *_a, **_k: f"show {s.state.value if s is not None else 'idle'}")

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, obj: object, name: str,
              label: Callable[..., str]) -> None:
        original = getattr(obj, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spans.append((t, time.perf_counter(), label(*args, **kwargs)))

        monkeypatch.setattr(obj, name, wrapper)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.spans.append((self._gc_start, time.perf_counter(),
                               f"gc of generation {info['generation']}"))

    def close(self) -> None:
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def during(self, start: float, end: float, at_least_s: float = 0.001) -> str:
        """The wrapped calls that overlap [start, end] by ``at_least_s``, longest first."""
        inside = sorted(((min(e, end) - max(s, start), what) for s, e, what in list(self.spans)
                         if min(e, end) - max(s, start) >= at_least_s), reverse=True)
        return ", ".join(f"{what} {ms(d):.1f} ms" for d, what in inside[:3])

    def durations(self, what: str, since: float, until: float) -> list[float]:
        return [e - s for s, e, w in list(self.spans) if w == what and since <= s <= until]


@pytest.fixture
def activities(k: Kiosk, monkeypatch: pytest.MonkeyPatch) -> Iterator[Activities]:
    a = Activities(k, monkeypatch)
    yield a
    a.close()


class Heartbeat(QObject):
    """A precise timer on the GUI thread; each tick notes its time, the page and the phase."""

    def __init__(self, pages: QStackedWidget) -> None:
        super().__init__()
        self.pages = pages
        self.phase = ""
        self._ticks: list[tuple[float, str, str]] = []
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._beat)

    @Slot()
    def _beat(self) -> None:
        page = self.pages.currentWidget()
        self._ticks.append((time.perf_counter(), page.objectName() if page else "", self.phase))

    def start(self) -> None:
        self._ticks.clear()
        self._t0 = time.perf_counter()
        self._timer.start()

    def stop(self) -> tuple[list[Gap], float]:
        """The gaps between consecutive ticks, and the wall time since :meth:`start`."""
        self._timer.stop()
        wall = time.perf_counter() - self._t0
        t = self._ticks
        gaps = [Gap(a[0], b[0], a[0] - self._t0, a[1], b[1], b[2] or a[2])
                for a, b in pairwise(t)]
        assert len(gaps) > wall * 1000 / HEARTBEAT_MS / 10, f"{len(gaps)} ticks in {wall:.1f} s"
        return gaps, wall


def summary(gaps: list[Gap]) -> tuple[float, float]:
    seconds = [g.seconds for g in gaps]
    return max(seconds), percentile(seconds, 99)


def play(k: Kiosk, card: str, charge_s: float) -> Session:
    """One whole paid session through the buttons; returns it as the receipt showed it."""
    k.wait_page("idle_page")
    k.click("pay_button")
    k.wait_page("card_page")
    k.click(f"demo_card_{card}")
    k.qtbot.waitUntil(lambda: k.page() in ("pin_page", "plug_page"), timeout=WAIT_MS)
    if k.page() == "pin_page":  # an online PIN card
        for digit in TEST_CARDS[card].pin:
            k.click(f"pin_key_{digit}")
        k.click("pin_ok")
    k.wait_page("plug_page")
    k.click("demo_plug_button")
    k.wait_page("charging_page")
    k.qtbot.waitUntil(lambda: k.session().energy_wh > 0, timeout=WAIT_MS)
    k.qtbot.wait(int(charge_s * 1000))
    k.click("stop_button")
    k.wait_page("receipt_page")
    s = k.session()
    assert s.state is State.RECEIPT and s.outcome is Outcome.CAPTURED and s.final_minor > 0, s
    k.click("done_button")
    k.wait_page("idle_page")
    assert k.runtime.active() is None
    charger = k.runtime.charger
    assert isinstance(charger, SimCharger)
    charger.unplug(s.connector)  # the car leaves before the next driver
    return s


def test_bench_ui_gui_stall(benchmark: Any, k: Kiosk, activities: Activities) -> None:
    sessions = SESSIONS if benchmark.enabled else SESSIONS[:1]
    charge_s = CHARGE_S if benchmark.enabled else 0.5
    pages = k.window.findChild(QStackedWidget, "pages")
    assert pages is not None
    figures: dict[str, Any] = {}

    def run() -> None:
        hb = Heartbeat(pages)
        k.qtbot.wait(200)  # the window settled on its idle page
        played: list[Session] = []
        gc.collect()  # both windows start from the same state (a full collection of the test
        hb.start()    # process's heap: 0.1-0.3 s here, listed when it falls in a window)
        for i, card in enumerate(sessions, 1):
            hb.phase = f"{card} #{i}"
            played.append(play(k, card, charge_s))
        busy, wall = hb.stop()
        # the floor: idle (settlements done first: the captures run in the background)
        k.qtbot.waitUntil(lambda: not any(k.runtime.settlement.pending(s.id) for s in played),
                          timeout=WAIT_MS)
        hb.phase = "idle"
        gc.collect()
        hb.start()
        k.qtbot.wait(int(1000 * (wall if benchmark.enabled else min(wall, 1.0))))
        idle, idle_wall = hb.stop()
        assert k.page() == "idle_page"
        figures.update(busy=busy, wall=wall, idle=idle, idle_wall=idle_wall, n=len(played))

    benchmark.pedantic(run, rounds=1, iterations=1)
    busy, idle = figures["busy"], figures["idle"]
    b_max, b_p99 = summary(busy)
    i_max, i_p99 = summary(idle)
    worst = sorted(busy, key=lambda g: g.seconds, reverse=True)[:3]
    benchmark.extra_info.update(stall_max_ms=round(ms(b_max), 2), stall_p99_ms=round(ms(b_p99), 2),
                                idle_max_ms=round(ms(i_max), 2), idle_p99_ms=round(ms(i_p99), 2))
    print(f"\nGUI stall during a session: max {ms(b_max):.1f} ms, p99 {ms(b_p99):.1f} ms; "
          f"idle floor: max {ms(i_max):.1f} ms, p99 {ms(i_p99):.1f} ms "
          f"(max ×{b_max / i_max:.1f} the floor's; target ≤ {TARGET_STALL_MS} ms; "
          f"{figures['n']} session(s) in {figures['wall']:.1f} s, idle "
          f"{figures['idle_wall']:.1f} s, heartbeat {HEARTBEAT_MS} ms)")
    print("  longest gaps:" + "".join(f"\n    {g.where(activities)}" for g in worst))
    print(f"  the idle floor's longest: {max(idle, key=lambda g: g.seconds).where(activities)}")


# --- (2) a meter reading to the cost on screen --------------------------------------------

class PaintProbe(QObject):
    """Stamps (any thread) of values on their way to ``label``; each is done at the first
    paint event of the label at which ``shown()`` (what the label shows) has reached it."""

    def __init__(self, label: QLabel, shown: Callable[[], int]) -> None:
        super().__init__()
        self.shown = shown
        self.active = False
        self.latencies: list[float] = []
        self.paints = 0
        self._pending: list[tuple[int, float]] = []
        self._lock = threading.Lock()
        label.installEventFilter(self)

    def stamp(self, value: int) -> None:
        if self.active:
            t = time.perf_counter()
            with self._lock:
                self._pending.append((value, t))

    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            t = time.perf_counter()
            self.paints += 1
            shown = self.shown()
            with self._lock:
                done = [s for v, s in self._pending if v <= shown]
                self._pending = [(v, s) for v, s in self._pending if v > shown]
            self.latencies += [t - s for s in done]
        return False


def every(interval_s: float, n: int, action: Callable[[int], None]) -> threading.Thread:
    """A thread doing ``action(i)`` ``n`` times, one every ``interval_s``."""
    def loop() -> None:
        next_at = time.perf_counter()
        for i in range(n):
            next_at += interval_s
            time.sleep(max(0.0, next_at - time.perf_counter()))
            action(i)

    th = threading.Thread(target=loop, name="bench-readings", daemon=True)
    th.start()
    return th


class _Sender(QObject):
    value = Signal(int)


class _Receiver(QObject):
    def __init__(self, label: QLabel, currency: str) -> None:
        super().__init__()
        self.label = label
        self.currency = currency
        self.shown = -1

    @Slot(int)
    def show_value(self, value: int) -> None:
        self.shown = value
        self.label.setText(format_money(1000 + 18 * value, self.currency))


def lookalike(original: QLabel) -> QLabel:
    """A label that the window's style sheet draws as ``original`` (its role and other
    dynamic properties, its text format, wrap and alignment)."""
    copy = QLabel()
    copy.setObjectName(f"floor_{original.objectName()}")
    for name in original.dynamicPropertyNames():
        key = bytes(name.data()).decode()
        copy.setProperty(key, original.property(key))
    copy.setTextFormat(original.textFormat())
    copy.setWordWrap(original.wordWrap())
    copy.setAlignment(original.alignment())
    return copy


def floor_latencies(qtbot: QtBot, n: int, like: QLabel, kiosk_window: QWidget,
                    currency: str) -> list[float]:
    """A bare queued signal from a worker thread to ``setText`` on a label drawn as ``like``
    (in a window of the kiosk window's size and style sheet), ended by the label's paint."""
    window = QWidget()
    window.setObjectName("floor_window")
    window.setStyleSheet(kiosk_window.styleSheet())
    qtbot.addWidget(window)
    box = QVBoxLayout(window)
    label = lookalike(like)
    label.setText(format_money(0, currency))
    box.addWidget(label)
    window.resize(kiosk_window.size())
    window.show()
    qtbot.waitExposed(window)
    receiver = _Receiver(label, currency)
    sender = _Sender()
    sender.value.connect(receiver.show_value, Qt.ConnectionType.QueuedConnection)
    probe = PaintProbe(label, lambda: receiver.shown)
    probe.active = True

    def emit(i: int) -> None:
        probe.stamp(i)
        sender.value.emit(i)

    th = every(READING_EVERY_S, n, emit)
    qtbot.waitUntil(lambda: not th.is_alive() and probe.outstanding() == 0, timeout=WAIT_MS * 2)
    th.join()
    window.close()
    assert len(probe.latencies) == n, (len(probe.latencies), n)
    return probe.latencies


def test_bench_ui_reading_to_screen(benchmark: Any, k: Kiosk, activities: Activities,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    n = READINGS if benchmark.enabled else 10
    charger = k.runtime.charger
    assert isinstance(charger, SimCharger)
    cost = k.label("cost_label")
    page = k.window.findChild(QWidget, "charging_page")
    assert page is not None

    def shown_meter() -> int:  # the session the charging page shows, hence its cost label
        s: Session | None = getattr(page, "session", None)
        return s.meter_now_wh if s is not None else -1

    probe = PaintProbe(cost, shown_meter)
    device = k.runtime.adapters.charger
    original_post = device.post

    def post(event: ev.Event) -> None:  # on the thread that produced the reading
        if isinstance(event, ev.Reading):
            probe.stamp(event.meter_wh)
        original_post(event)

    monkeypatch.setattr(device, "post", post)
    figures: dict[str, Any] = {}

    def run() -> None:
        # the floor first, the kiosk idle meanwhile
        floor = floor_latencies(k.qtbot, n, cost, k.window, k.currency)
        k.charge()
        probe.active = True
        paints_before, since = probe.paints, time.perf_counter()
        th = every(READING_EVERY_S, n, lambda _i: charger.advance(READING_ADVANCE_S))
        k.qtbot.waitUntil(lambda: not th.is_alive(), timeout=int(n * READING_EVERY_S * 4e3))
        th.join()
        probe.active = False  # the charger's own readings (once a second) stop counting here
        until = time.perf_counter()
        k.qtbot.waitUntil(lambda: probe.outstanding() == 0, timeout=WAIT_MS)
        k.click("stop_button")
        k.wait_page("receipt_page")
        s = k.session()
        assert s.state is State.RECEIPT and s.outcome is Outcome.CAPTURED, s
        k.click("done_button")
        k.wait_page("idle_page")
        figures.update(kiosk=list(probe.latencies), floor=floor,
                       paints=probe.paints - paints_before,
                       steps=activities.durations("Reading step", since, until),
                       shows=activities.durations("show CHARGING", since, until))

    benchmark.pedantic(run, rounds=1, iterations=1)
    kiosk, floor = figures["kiosk"], figures["floor"]
    assert len(kiosk) >= n, (len(kiosk), n)  # ours, and the charger's own meanwhile
    k50, k95, kmax = percentile(kiosk, 50), percentile(kiosk, 95), max(kiosk)
    f50, f95, fmax = percentile(floor, 50), percentile(floor, 95), max(floor)
    benchmark.extra_info.update(median_ms=round(ms(k50), 2), p95_ms=round(ms(k95), 2),
                                max_ms=round(ms(kmax), 2), floor_median_ms=round(ms(f50), 2),
                                floor_p95_ms=round(ms(f95), 2), floor_max_ms=round(ms(fmax), 2))
    print(f"\nmeter reading to the cost on screen: median {ms(k50):.1f} ms, p95 {ms(k95):.1f} ms, "
          f"max {ms(kmax):.1f} ms over {len(kiosk)} readings ({figures['paints']} paints of "
          f"cost_label; target ≤ {TARGET_LATENCY_MS} ms); floor, a bare queued signal to "
          f"QLabel.setText and its paint: median {ms(f50):.2f} ms, p95 {ms(f95):.2f} ms, "
          f"max {ms(fmax):.2f} ms (median ×{k50 / f50:.0f}, p95 ×{k95 / f95:.0f} the floor's; "
          f"one reading every {ms(READING_EVERY_S):.0f} ms)")
    steps, shows = figures["steps"], figures["shows"]
    print(f"  per reading: the runner's Reading step (its own thread: machine, journal commit, "
          f"listeners) median {ms(percentile(steps, 50)):.1f} ms, p95 "
          f"{ms(percentile(steps, 95)):.1f} ms; the charging page's update (GUI thread) median "
          f"{ms(percentile(shows, 50)):.2f} ms, p95 {ms(percentile(shows, 95)):.2f} ms")
