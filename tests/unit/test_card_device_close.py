"""Closing the card device ends its worker whatever its read is doing: still queued, about to
wait for a card (where a single cancel is lost), or waiting. CI once saw a read left waiting
for the whole card timeout after the kiosk had shut down."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import pytest

from drivers.emv.api import CardOutcome, PinEntry
from drivers.sim.card_terminal import SimCardTerminal
from kiosk.devices.card import CardDevice
from kiosk.session import effects as fx
from kiosk.session import events as ev

LONG_S = 600.0  # the card timeout: far beyond what any of these may take
END_S = 10.0  # the worker ends within this (close() itself gives a read 5 s)


class HeldTerminal(SimCardTerminal):
    """A simulated terminal whose read is held before it waits for a card, where the
    terminal forgets a cancel (it clears the flag as it starts)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.go = threading.Event()

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        self.entered.set()
        self.go.wait(END_S)
        return super().read_card(amount_minor, currency, timeout_s, pin_entry)


def device_on(terminal: SimCardTerminal) -> tuple[CardDevice, queue.Queue[ev.Event]]:
    posted: queue.Queue[ev.Event] = queue.Queue()
    return CardDevice(terminal, post=posted.put, currency="EUR", token_key=bytes(32),
                      card_timeout_s=LONG_S), posted


def until(predicate: Callable[[], bool]) -> bool:
    end = time.monotonic() + END_S
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def worker_thread(device: CardDevice) -> threading.Thread:
    return device.worker._thread


def test_a_read_still_queued_never_starts_after_close() -> None:
    terminal = SimCardTerminal()
    device, posted = device_on(terminal)
    busy, release = threading.Event(), threading.Event()
    device.worker.submit(lambda: (busy.set(), release.wait(END_S)))
    assert busy.wait(END_S)
    device.read(fx.ReadCard("s1", 500))  # queued behind the busy job
    closer = threading.Thread(target=device.close)
    closer.start()
    release.set()
    closer.join(END_S)
    worker_thread(device).join(END_S)
    assert not closer.is_alive() and not worker_thread(device).is_alive()
    assert terminal.reads == 0
    assert posted.empty()  # a closing kiosk tells no session anything


def test_a_read_about_to_wait_is_still_ended_by_close() -> None:
    terminal = HeldTerminal()
    device, _ = device_on(terminal)
    device.read(fx.ReadCard("s1", 500))
    assert terminal.entered.wait(END_S)
    closer = threading.Thread(target=device.close)
    closer.start()  # its first cancel comes while no wait runs: the terminal drops it
    terminal.go.set()
    closer.join(END_S)
    worker_thread(device).join(END_S)
    assert not closer.is_alive() and not worker_thread(device).is_alive()


@pytest.mark.parametrize("cancel_first", [False, True])
def test_a_waiting_read_is_ended_by_close(cancel_first: bool) -> None:
    terminal = SimCardTerminal()
    device, _ = device_on(terminal)
    device.read(fx.ReadCard("s1", 500))
    assert until(lambda: terminal.waiting)  # the simulator notifies nobody when it waits
    if cancel_first:
        device.cancel_read("s1")
    device.close()
    worker_thread(device).join(END_S)
    assert not worker_thread(device).is_alive()


def test_no_watch_starts_after_close() -> None:
    terminal = SimCardTerminal()
    device, _ = device_on(terminal)
    device.close()
    device.watch_for({"s1": "token"})
    assert not device._watch_job


def test_a_call_to_a_stopped_worker_answers_at_once() -> None:
    from kiosk.devices.worker import Worker

    w = Worker("kiosk-test")
    assert w.call(lambda: 7, 5) == 7
    w.stop()
    started = time.monotonic()
    assert w.call(lambda: 7, 30) is None
    assert time.monotonic() - started < 1


def test_a_call_queued_behind_the_stop_is_woken_by_it() -> None:
    from kiosk.devices.worker import Worker

    w = Worker("kiosk-test")
    gate = threading.Event()
    w.submit(lambda: gate.wait(10))
    answers: list[object] = []
    caller = threading.Thread(target=lambda: answers.append(w.call(lambda: 1, 30)))
    caller.start()
    assert until(lambda: bool(w._waiting))
    stopper = threading.Thread(target=w.stop, kwargs={"timeout": 0.2})
    stopper.start()
    stopper.join(5)
    caller.join(5)
    gate.set()
    assert not caller.is_alive() and answers in ([None], [1])
