"""The receipt's QR code (a fixed mask, drawn by Qt) reads back with zbar at every size the
screens draw it (the receipt's QR_SIZE scaled from 800x480 to 1080x1920)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from kiosk.ui.qr import qr_image
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
