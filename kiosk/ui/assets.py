"""The kiosk's visual identity: the bundled typeface and the icon set.

Everything lives under ``kiosk/resources/ui/`` (:data:`RESOURCES_UI`, found through
:data:`kiosk.config.RESOURCES`):

- ``fonts/``: Inter (SIL Open Font License 1.1, ``fonts/OFL.txt``) in four static weights,
  Regular 400, Medium 500, SemiBold 600 and Bold 700. :func:`load_fonts` registers them with
  Qt once and returns the family name for the stylesheet. A missing or unreadable file is an
  :class:`AssetError` that names it: the kiosk does not start on a fallback font whose
  metrics and glyphs (``€``, ``ß``, ``œ``, typographic quotes) nobody checked.
- ``icons/``: one hand-drawn set on a 24 x 24 grid, 2 px round strokes, drawn in the
  placeholder colour :data:`PLACEHOLDER` (``#000000``). :func:`icon_pixmap` replaces the
  placeholder in the SVG text by the colour asked for and renders it with
  :class:`~PySide6.QtSvg.QSvgRenderer` (which does not honour ``currentColor``); :func:`icon`
  gives a :class:`~PySide6.QtGui.QIcon` for buttons, drawn sharp at the sizes the screens
  use. The icons carry no text and mean the same in any colour: the colour is
  emphasis, never the message.

Every name is one of :data:`ICON_NAMES`; an unknown name or a colour that is not ``#rrggbb``
is an :class:`AssetError`, so a typo fails when the screen is built, not as an empty button.
Use this module from the GUI thread, after the ``QGuiApplication`` exists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from kiosk.config import RESOURCES
from kiosk.files import FileRefused, read_regular_file

__all__ = [
    "FONT_FAMILY",
    "FONT_FILES",
    "ICON_NAMES",
    "PLACEHOLDER",
    "RESOURCES_UI",
    "AssetError",
    "icon",
    "icon_path",
    "icon_pixmap",
    "load_fonts",
]

RESOURCES_UI = RESOURCES / "ui"
FONTS_DIR = RESOURCES_UI / "fonts"
ICONS_DIR = RESOURCES_UI / "icons"

FONT_FAMILY = "Inter"
# the weights the screens use: body text, labels, headings, amounts
FONT_FILES = ("Inter-Regular.otf", "Inter-Medium.otf", "Inter-SemiBold.otf", "Inter-Bold.otf")
FONT_MAX_BYTES = 4 * 1024 * 1024

PLACEHOLDER = "#000000"  # the one colour every icon is drawn in; replaced when rendered
ICON_MAX_BYTES = 64 * 1024
ICON_MAX_SIZE = 1024  # logical pixels
ICON_MAX_DPR = 8.0
# the sizes a QIcon from icon() is drawn at, by default: the 32..160 px the screens use
ICON_SIZES = (24, 32, 48, 64, 80, 96, 128, 160)

ICON_NAMES = (
    # paying
    "contactless", "card-insert", "card", "pin", "bank", "receipt", "qr", "phone",
    # charging
    "plug", "charging", "car", "stop", "clock",
    "connector-type2", "connector-ccs", "connector-chademo",
    # outcomes and the terminal's state
    "check", "warning", "error", "info", "cloud-off", "out-of-service",
    # the driver's controls
    "globe", "accessibility", "arrow-left", "plus", "minus",
)

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class AssetError(Exception):
    """A font or icon the screens need cannot be used: the file is missing, unreadable or not
    what it should be, or a screen asked for an unknown icon or a malformed colour. The message
    names the file or the value."""


# -- fonts ----------------------------------------------------------------------------------

_loaded_fonts: dict[Path, int] = {}  # each registered file and its Qt font id


def load_fonts(folder: Path = FONTS_DIR) -> str:
    """Registers the bundled weights of Inter with Qt (once per file; calling again is free)
    and returns the family name to put in the stylesheet (``"Inter"``).

    Raises :class:`AssetError` naming the file when one is missing, unreadable, not a font Qt
    can load or not Inter, and when no ``QGuiApplication`` exists yet."""
    if QGuiApplication.instance() is None:
        raise AssetError("load_fonts() needs a QGuiApplication: create it first")
    for name in FONT_FILES:
        path = folder / name
        if path in _loaded_fonts:
            continue
        try:
            data = read_regular_file(path, FONT_MAX_BYTES)
        except FileRefused as exc:
            raise AssetError(f"{path}: {exc}") from None
        font_id = QFontDatabase.addApplicationFontFromData(QByteArray(data))
        if font_id < 0:
            raise AssetError(f"{path}: not a font Qt can load")
        families = QFontDatabase.applicationFontFamilies(font_id)
        if FONT_FAMILY not in families:
            QFontDatabase.removeApplicationFont(font_id)
            raise AssetError(f"{path}: holds {', '.join(families) or 'no family'}, "
                             f"not {FONT_FAMILY}")
        _loaded_fonts[path] = font_id
    return FONT_FAMILY


# -- icons ----------------------------------------------------------------------------------

def _check_name(name: str) -> str:
    if name not in ICON_NAMES:
        raise AssetError(f"no icon named {name!r} (the icons are {', '.join(ICON_NAMES)})")
    return name


def _check_color(color: str) -> str:
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise AssetError(f"icon colour {color!r} is not #rrggbb")
    return color.lower()


def icon_path(name: str) -> Path:
    """The SVG file of the icon ``name`` (one of :data:`ICON_NAMES`)."""
    return ICONS_DIR / f"{_check_name(name)}.svg"


@cache
def _svg_source(name: str) -> str:
    path = icon_path(name)
    try:
        text = read_regular_file(path, ICON_MAX_BYTES).decode("utf-8")
    except FileRefused as exc:
        raise AssetError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise AssetError(f"{path}: not UTF-8 text") from None
    if PLACEHOLDER not in text.lower():
        raise AssetError(f"{path}: not drawn in the placeholder colour {PLACEHOLDER}")
    return text


def _svg_renderer(name: str, color: str) -> QSvgRenderer:
    text = re.sub(re.escape(PLACEHOLDER), color, _svg_source(name), flags=re.IGNORECASE)
    renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
    if not renderer.isValid():
        raise AssetError(f"{icon_path(name)}: not an SVG Qt can render")
    return renderer


@lru_cache(maxsize=512)
def _render(name: str, color: str, size: int, dpr: float) -> QPixmap:
    pixels = max(1, round(size * dpr))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        _svg_renderer(name, color).render(painter, QRectF(0, 0, pixels, pixels))
    finally:
        painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


def icon_pixmap(name: str, color: str, size: int, device_pixel_ratio: float = 1.0) -> QPixmap:
    """The icon ``name`` drawn in ``color`` (``#rrggbb``) on a transparent square of ``size``
    logical pixels (``size * device_pixel_ratio`` device pixels, the ratio set on the pixmap).

    Pixmaps are cached by (name, colour, size, ratio): ask again as often as a screen repaints.
    Raises :class:`AssetError` for an unknown name, a malformed colour, a size outside
    1..1024 or a ratio outside (0, 8], and for an icon file that is missing or broken."""
    _check_name(name)
    color = _check_color(color)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= ICON_MAX_SIZE:
        raise AssetError(f"icon size {size!r} is not a whole number of pixels in "
                         f"1..{ICON_MAX_SIZE}")
    try:
        dpr = float(device_pixel_ratio)
    except (TypeError, ValueError):
        dpr = math.nan
    if not math.isfinite(dpr) or not 0 < dpr <= ICON_MAX_DPR:
        raise AssetError(f"device pixel ratio {device_pixel_ratio!r} is not in (0, "
                         f"{ICON_MAX_DPR:g}]")
    return _render(name, color, size, dpr)


def icon(name: str, color: str, sizes: Iterable[int] = ICON_SIZES) -> QIcon:
    """The icon ``name`` in ``color`` (``#rrggbb``) for a button (``setIcon``; pick the size
    with ``setIconSize``). It holds the icon drawn sharp at each of ``sizes`` (logical pixels;
    Qt scales the nearest larger one down for a size in between, and greys it out for a
    disabled button); pass the size the button shows for exactly that. Raises
    :class:`AssetError` like :func:`icon_pixmap`, at once.

    (A Python ``QIconEngine`` that renders any size on demand is not used: PySide does not
    hand the engine ``clone()`` returns over to Qt, so a copied icon would crash the kiosk.)"""
    _check_name(name)
    color = _check_color(color)
    result = QIcon()
    for size in dict.fromkeys(sizes):
        result.addPixmap(icon_pixmap(name, color, size))
    if result.isNull():
        raise AssetError(f"icon {name!r}: no sizes to draw it at")
    return result
