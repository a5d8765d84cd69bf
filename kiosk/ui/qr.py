"""QR codes drawn by Qt from the matrix of the ``qrcode`` library (no image library needed);
:class:`QrMaker` draws them on a thread of its own, so the receipt appears without waiting for
its code (about 6 to 11 ms of Python in a session, measured in the driver's window)."""

from __future__ import annotations

import logging
import queue
import threading

import qrcode
from PySide6.QtCore import QObject, QRect, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter

log = logging.getLogger(__name__)

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


class QrMaker(QObject):
    """Draws QR codes on the ``kiosk-qr`` thread (a QImage may be painted on any thread; a
    QPixmap only on the GUI thread, so the receiver makes that). :attr:`ready` carries
    ``(text, size, image)`` to the GUI thread (queued: this object lives there). Only the
    newest request is drawn: one still queued behind it is skipped."""

    ready = Signal(str, int, QImage)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: queue.SimpleQueue[tuple[str, int] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._newest: tuple[str, int] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kiosk-qr", daemon=True)
        self._thread.start()

    def draw(self, text: str, size: int) -> None:
        with self._lock:
            if self._closed:
                return
            self._newest = (text, size)
        self._jobs.put((text, size))

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._overtaken(job):
                continue
            try:
                image = qr_image(*job)
            except Exception:  # a text too long for a QR code: the receipt shows none
                log.exception("QR code not drawn")
                continue
            with self._lock:
                if self._closed:  # the page is gone, or going
                    return
                self.ready.emit(job[0], job[1], image)

    def _overtaken(self, job: tuple[str, int]) -> bool:
        with self._lock:
            return job != self._newest or self._closed

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout_s)
