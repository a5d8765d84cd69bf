"""QR codes drawn by Qt from the matrix of the ``qrcode`` library (no image library needed)."""

from __future__ import annotations

import qrcode
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

MASK = 2  # one of the standard's eight (ISO/IEC 18004: column % 3 == 0)


def qr_image(text: str, size: int) -> QImage:
    """A black-on-white QR code (error correction M), ``size`` px square or a little less so
    that every module is a whole number of pixels. The quiet zone is 2 modules: the code is
    always drawn on the white page, which extends it.

    The mask is fixed (``MASK``) instead of the library's search for the best of eight: that
    search costs about 6 ms of the GUI thread when the receipt appears (measured: 7 ms → 1.3 ms
    for an invoice link), and any mask is a valid code (the tests read it back with zbar)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2,
                       mask_pattern=MASK)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    module = max(1, size // n)
    side = module * n
    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("black"))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.drawRect(QRect(x * module, y * module, module, module))
    painter.end()
    return image


def qr_pixmap(text: str, size: int) -> QPixmap:
    return QPixmap.fromImage(qr_image(text, size))
