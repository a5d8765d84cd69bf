"""The receipt's QR code (a fixed mask, drawn by Qt) reads back with zbar at every size the
screens draw it (the receipt's QR_SIZE scaled from 800x480 to 1080x1920)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage, QPainter
from pytestqt.qtbot import QtBot

from kiosk.ui import qr
from kiosk.ui.qr import QrMaker, qr_image
from kiosk.ui.style import Metrics

SIZES = sorted({Metrics(w, h).px(210) for w, h in
                ((800, 480), (1024, 600), (1280, 800), (1920, 1080), (1080, 1920))})
LINKS = [
    "https://invoices.example.com/i/DEMO-0001/DEMO-0001-00000001?t=" + "A" * 43,
    "https://rechnung.ladepark-musterstadt.de/i/LP-MUSTERSTADT-HBF-07/"
    "LP-MUSTERSTADT-HBF-07-00012345?t=" + "b" * 43 + "&lang=de",
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("link", LINKS)
def test_the_code_reads_back_at_every_screen_size(qapp: object, tmp_path: Path, size: int,
                                                 link: str) -> None:
    image = qr_image(link, size)
    assert image.width() <= size
    canvas = QImage(image.width() + 32, image.height() + 32, QImage.Format.Format_RGB32)
    canvas.fill(QColor("white"))  # the receipt's white page around the code
    painter = QPainter(canvas)
    painter.drawImage(16, 16, image)
    painter.end()
    png = tmp_path / "qr.png"
    assert canvas.save(str(png))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == link


def test_the_maker_draws_off_the_gui_thread_and_delivers_on_it(qtbot: QtBot) -> None:
    maker = QrMaker()
    got: list[tuple[str, int, QImage, bool]] = []
    gui = threading.current_thread()
    maker.ready.connect(lambda text, size, image: got.append(
        (text, size, image, threading.current_thread() is gui)))
    drawn_on: list[str] = []
    real = qr.qr_image

    def spy(text: str, size: int) -> QImage:
        drawn_on.append(threading.current_thread().name)
        return real(text, size)

    qr.qr_image = spy  # type: ignore[assignment]
    try:
        maker.draw(LINKS[0], 240)
        qtbot.waitUntil(lambda: len(got) == 1, timeout=10_000)
    finally:
        qr.qr_image = real  # type: ignore[assignment]
        maker.close()
    text, size, image, on_gui = got[0]
    assert (text, size, on_gui) == (LINKS[0], 240, True)
    assert drawn_on == ["kiosk-qr"]
    assert image.width() <= 240 and not image.isNull()
    assert not maker._thread.is_alive()


def test_only_the_newest_request_is_drawn_and_nothing_after_close(qtbot: QtBot) -> None:
    maker = QrMaker()
    got: list[str] = []
    maker.ready.connect(lambda text, size, image: got.append(text))
    entered, hold = threading.Event(), threading.Event()
    real = qr.qr_image

    def held(text: str, size: int) -> QImage:
        if text == "hold":
            entered.set()
            hold.wait(10)
        return real(text, size)

    qr.qr_image = held  # type: ignore[assignment]
    try:
        maker.draw("hold", 100)  # the thread blocks on it: the next requests queue up
        assert entered.wait(10)
        for i in range(5):
            maker.draw(f"{LINKS[0]}{i}", 200)
        hold.set()
        qtbot.waitUntil(lambda: f"{LINKS[0]}4" in got, timeout=10_000)
    finally:
        qr.qr_image = real  # type: ignore[assignment]
        maker.close()
    assert got == ["hold", f"{LINKS[0]}4"]  # 0..3 were overtaken while queued: never drawn
    maker.draw(LINKS[1], 200)
    assert maker._jobs.empty() and not maker._thread.is_alive()
