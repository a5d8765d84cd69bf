"""The kiosk's font and icons (:mod:`kiosk.ui.assets`): every icon is a clean, tintable SVG on
the house grid, the loader refuses what it cannot show, and Inter has every glyph German,
French and Dutch screens need.

To look at the set (navy on white and white on navy at 32, 64 and 128 px, plus the font in its
weights)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.ui.test_assets /tmp/assets_preview.png
"""

from __future__ import annotations

import math
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontInfo,
    QIcon,
    QImage,
    QPainter,
    QRawFont,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from kiosk.ui import assets
from kiosk.ui.assets import (
    FONT_FAMILY,
    FONT_FILES,
    ICON_NAMES,
    PLACEHOLDER,
    RESOURCES_UI,
    AssetError,
    icon,
    icon_path,
    icon_pixmap,
    load_fonts,
)

TINT = "#c8102e"  # a red far from the placeholder black
NAVY = "#0b2545"
ICONS_DIR = RESOURCES_UI / "icons"
FONTS_DIR = RESOURCES_UI / "fonts"
SVG_NS = "{http://www.w3.org/2000/svg}"
# what German, French and Dutch text and the screens' own marks need
GLYPHS = "äöüÄÖÜßéèêàâçëïîôûùœŒÉÈÀÇ€“”‘’„…●·—–«»"
SAMPLE = "Zahlung läuft … 12,50 € · « Reçu » “Größe” ‘prijs’ — Œuvre ë ï ● 0123456789"


def opaque_pixels(image: QImage, color: str) -> int:
    want = QColor(color)
    return sum(1 for y in range(image.height()) for x in range(image.width())
               if (c := image.pixelColor(x, y)).alpha() == 255 and c.rgb() == want.rgb())


# -- the icon files -------------------------------------------------------------------------

def test_the_list_names_every_icon_file_and_no_other() -> None:
    assert len(set(ICON_NAMES)) == len(ICON_NAMES)
    assert {p.stem for p in ICONS_DIR.glob("*.svg")} == set(ICON_NAMES)
    assert set(ICONS_DIR.iterdir()) == set(ICONS_DIR.glob("*.svg"))  # nothing else there


@pytest.mark.parametrize("name", ICON_NAMES)
def test_each_icon_is_a_valid_svg_on_the_house_grid(name: str) -> None:
    path = icon_path(name)
    assert path == ICONS_DIR / f"{name}.svg" and path.is_file()
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid()
    assert renderer.viewBoxF() == QRectF(0, 0, 24, 24)
    root = ElementTree.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("stroke-width") == "2"
    assert root.get("stroke-linecap") == root.get("stroke-linejoin") == "round"


@pytest.mark.parametrize("name", ICON_NAMES)
def test_each_icon_is_shapes_in_the_placeholder_colour_only(name: str) -> None:
    """No text (it would not be translated), no picture, no CSS, one colour to tint."""
    text = icon_path(name).read_text(encoding="utf-8")
    shapes = {"path", "circle", "ellipse", "rect", "line", "polyline", "polygon", "g"}
    for element in ElementTree.fromstring(text).iter():
        tag = element.tag.removeprefix(SVG_NS)
        assert tag == "svg" or tag in shapes, f"{name}: <{tag}>"
        assert "style" not in element.attrib and "class" not in element.attrib
        for attribute in ("fill", "stroke"):
            assert element.get(attribute, "none") in ("none", PLACEHOLDER), (name, attribute)
        assert element.get("stroke-width", "2") == "2", name
    assert set(re.findall(r"#[0-9a-fA-F]+", text)) == {PLACEHOLDER}
    assert "currentColor" not in text and "rgb(" not in text


@pytest.mark.parametrize("name", ICON_NAMES)
def test_each_icon_renders_in_the_colour_asked_for(qapp: QApplication, name: str) -> None:
    pixmap = icon_pixmap(name, TINT, 48)
    assert pixmap.size() == QSize(48, 48) and pixmap.devicePixelRatio() == 1.0
    image = pixmap.toImage()
    assert opaque_pixels(image, TINT) >= 40, "hardly any of the icon is drawn"
    assert opaque_pixels(image, PLACEHOLDER) == 0
    for y in range(48):
        for x in range(48):
            c = image.pixelColor(x, y)
            assert c.alpha() == 0 or c.red() >= 0x80, f"{name}: {c.name()} at ({x}, {y})"
    # nothing touches the edge: the 24 grid keeps a margin of at least 1 unit (2 px here)
    for i in range(48):
        for x, y in ((i, 0), (i, 47), (0, i), (47, i)):
            assert image.pixelColor(x, y).alpha() == 0, f"{name} touches the edge at {x, y}"


def test_an_icon_renders_for_the_screens_pixel_ratio(qapp: QApplication) -> None:
    pixmap = icon_pixmap("contactless", NAVY, 64, 2.0)
    assert pixmap.size() == QSize(128, 128) and pixmap.devicePixelRatio() == 2.0
    assert pixmap.deviceIndependentSize().toSize() == QSize(64, 64)


def test_pixmaps_are_cached_by_name_colour_size_and_ratio(qapp: QApplication) -> None:
    first = icon_pixmap("plug", NAVY, 32)
    assert icon_pixmap("plug", NAVY, 32).cacheKey() == first.cacheKey()
    assert icon_pixmap("plug", NAVY.upper(), 32).cacheKey() == first.cacheKey()
    for other in (icon_pixmap("car", NAVY, 32), icon_pixmap("plug", TINT, 32),
                  icon_pixmap("plug", NAVY, 33), icon_pixmap("plug", NAVY, 32, 1.5)):
        assert other.cacheKey() != first.cacheKey()


def test_an_unknown_icon_is_an_error_that_names_it(qapp: QApplication) -> None:
    with pytest.raises(AssetError, match="'chargeing'"):
        icon_pixmap("chargeing", NAVY, 32)
    with pytest.raises(AssetError, match=re.escape("'../kiosk'")):
        icon("../kiosk", NAVY)
    with pytest.raises(AssetError):
        icon_path("")


@pytest.mark.parametrize("color", ["red", "#fff", "#12345g", "000000", "#0000000", "",
                                   "#000000 ", " #000000", "#00000\n", "rgb(0,0,0)", None])
def test_a_colour_that_is_not_rrggbb_is_an_error(qapp: QApplication, color: object) -> None:
    with pytest.raises(AssetError, match="not #rrggbb"):
        icon_pixmap("check", color, 32)  # type: ignore[arg-type]
    with pytest.raises(AssetError, match="not #rrggbb"):
        icon("check", color)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, -1, 1025, 1.5, True, "48"])
def test_a_size_that_is_not_a_pixel_count_is_an_error(qapp: QApplication, size: object) -> None:
    with pytest.raises(AssetError, match="icon size"):
        icon_pixmap("check", NAVY, size)  # type: ignore[arg-type]


@pytest.mark.parametrize("dpr", [0, -1.0, math.nan, math.inf, 9.0, "x", None])
def test_a_pixel_ratio_out_of_range_is_an_error(qapp: QApplication, dpr: object) -> None:
    with pytest.raises(AssetError, match="pixel ratio"):
        icon_pixmap("check", NAVY, 32, dpr)  # type: ignore[arg-type]


def test_a_broken_icon_file_is_an_error_that_names_it(qapp: QApplication, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "ICONS_DIR", tmp_path)
    assets._svg_source.cache_clear()
    assets._render.cache_clear()
    try:
        with pytest.raises(AssetError, match=r"check\.svg: no such file"):
            icon_pixmap("check", NAVY, 20)
        (tmp_path / "check.svg").write_text('<svg stroke="#ff0000"/>', encoding="utf-8")
        assets._svg_source.cache_clear()
        with pytest.raises(AssetError, match="placeholder colour"):
            icon("check", NAVY)
        (tmp_path / "check.svg").write_text('<svg stroke="#000000"><path', encoding="utf-8")
        assets._svg_source.cache_clear()
        with pytest.raises(AssetError, match=r"check\.svg: not an SVG"):
            icon("check", NAVY)
    finally:
        assets._svg_source.cache_clear()
        assets._render.cache_clear()


def test_a_button_icon_is_drawn_at_the_sizes_buttons_show(qapp: QApplication) -> None:
    button_icon = icon("stop", TINT)
    assert isinstance(button_icon, QIcon) and not button_icon.isNull()
    assert button_icon.availableSizes() == [QSize(s, s) for s in assets.ICON_SIZES]
    for side in (32, 80, 160, 72):  # 72: the 80 one, scaled down
        image = button_icon.pixmap(QSize(side, side)).toImage()
        assert image.size() == QSize(side, side)
        assert opaque_pixels(image, TINT) > side
    sharp = button_icon.pixmap(QSize(40, 40), 2.0)
    assert sharp.size() == QSize(80, 80) and sharp.devicePixelRatio() == 2.0
    disabled = button_icon.pixmap(QSize(48, 48), QIcon.Mode.Disabled).toImage()
    assert opaque_pixels(disabled, TINT) == 0  # greyed out: the same shape, no emphasis
    assert any(disabled.pixelColor(x, y).alpha() for y in range(48) for x in range(48))
    copy = QIcon(button_icon)  # a changed copy leaves the original alone
    copy.addPixmap(icon_pixmap("plus", TINT, 16))
    assert button_icon.availableSizes() == [QSize(s, s) for s in assets.ICON_SIZES]
    assert icon("plus", NAVY, sizes=[90]).availableSizes() == [QSize(90, 90)]
    with pytest.raises(AssetError, match="no sizes"):
        icon("plus", NAVY, sizes=[])
    with pytest.raises(AssetError, match="icon size"):
        icon("plus", NAVY, sizes=[0])


# -- the font -------------------------------------------------------------------------------

def test_the_bundled_font_is_inter_in_four_weights(qapp: QApplication) -> None:
    assert load_fonts() == FONT_FAMILY == "Inter"
    before = dict(assets._loaded_fonts)
    assert load_fonts() == "Inter"  # idempotent: nothing registered twice
    assert assets._loaded_fonts == before
    assert sorted(p.name for p in before if p.parent == FONTS_DIR) == sorted(FONT_FILES)
    assert {"Regular", "Medium", "Semi Bold", "Bold"} <= set(QFontDatabase.styles("Inter"))
    for weight, style in ((QFont.Weight.Normal, "Regular"), (QFont.Weight.Medium, "Medium"),
                          (QFont.Weight.DemiBold, "Semi Bold"), (QFont.Weight.Bold, "Bold")):
        font = QFont("Inter", 24)
        font.setWeight(weight)
        info = QFontInfo(font)
        assert (info.family(), info.styleName()) == ("Inter", style)
    assert (FONTS_DIR / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE")
    assert sum((FONTS_DIR / name).stat().st_size for name in FONT_FILES) < 2 * 1024 * 1024


@pytest.mark.parametrize("name", FONT_FILES)
def test_every_weight_has_the_glyphs_the_languages_need(qapp: QApplication, name: str) -> None:
    raw = QRawFont(str(FONTS_DIR / name), 24)
    assert raw.isValid() and raw.familyName() == "Inter"
    missing = [c for c in GLYPHS if not raw.supportsCharacter(ord(c))]
    assert not missing, f"{name} lacks {' '.join(missing)}"


def test_the_family_qt_resolves_has_the_glyphs(qapp: QApplication) -> None:
    """Not a fallback font: the font Qt picks for "Inter" is Inter and covers the text."""
    load_fonts()
    raw = QRawFont.fromFont(QFont("Inter", 24))
    assert raw.familyName() == "Inter"
    assert all(raw.supportsCharacter(ord(c)) for c in GLYPHS + SAMPLE if c != " ")


@pytest.fixture
def forget_fonts_in(tmp_path: Path) -> Iterator[Path]:
    """A folder for fonts a test loads; what load_fonts() registered from it is removed."""
    yield tmp_path
    for path, font_id in list(assets._loaded_fonts.items()):
        if path.parent == tmp_path:
            QFontDatabase.removeApplicationFont(font_id)
            del assets._loaded_fonts[path]


def test_a_missing_font_file_is_an_error_that_names_it(qapp: QApplication,
                                                       forget_fonts_in: Path) -> None:
    folder = forget_fonts_in
    with pytest.raises(AssetError, match=r"Inter-Regular\.otf: no such file"):
        load_fonts(folder)
    for name in FONT_FILES:
        shutil.copy(FONTS_DIR / name, folder / name)
    (folder / "Inter-Bold.otf").write_bytes(b"\x00\x01\x00\x00 not really a font")
    with pytest.raises(AssetError, match=r"Inter-Bold\.otf: not a font Qt can load"):
        load_fonts(folder)
    (folder / "Inter-Bold.otf").unlink()
    (folder / "Inter-Bold.otf").mkdir()
    with pytest.raises(AssetError, match=r"Inter-Bold\.otf: cannot read: a directory"):
        load_fonts(folder)


def test_a_font_that_is_not_inter_is_an_error(qapp: QApplication, tmp_path: Path) -> None:
    other = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not other.is_file():
        pytest.skip("no DejaVu Sans to pose as Inter")
    shutil.copy(other, tmp_path / "Inter-Regular.otf")
    with pytest.raises(AssetError, match=r"Inter-Regular\.otf: holds DejaVu Sans, not Inter"):
        load_fonts(tmp_path)


# -- the preview ----------------------------------------------------------------------------

def render_preview(path: Path) -> QImage:
    """Every icon navy on white and white on navy at 32, 64 and 128 px, each with its name,
    and a sample line in each weight of the font; saved as PNG at ``path``."""
    family = load_fonts()
    width, pad, label_h = 1880, 16, 22
    backgrounds = (("#ffffff", NAVY, "#4b5563"), (NAVY, "#ffffff", "#c7d2e0"))
    sizes = (32, 64, 128)
    weights = ((QFont.Weight.Normal, "Regular"), (QFont.Weight.Medium, "Medium"),
               (QFont.Weight.DemiBold, "SemiBold"), (QFont.Weight.Bold, "Bold"))

    def grid(size: int) -> tuple[int, int, int]:
        """(cell width, cell height, cells per row) at an icon size"""
        cell_w = max(size + 2 * pad, 132)  # room for the longest name under a small icon
        return cell_w, size + 2 * pad + label_h, max(1, (width - pad) // cell_w)

    def section_height(size: int) -> int:
        _, cell_h, per_row = grid(size)
        return 40 + -(-len(ICON_NAMES) // per_row) * cell_h

    height = (sum(section_height(s) for s in sizes) * len(backgrounds)
              + pad + len(weights) * 56 + pad)
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    heading, label = QFont(family, 16, QFont.Weight.DemiBold), QFont(family, 10)
    y = 0
    for paper, ink, muted in backgrounds:
        for size in sizes:
            painter.fillRect(0, y, width, section_height(size), QColor(paper))
            painter.setPen(QColor(muted))
            painter.setFont(heading)
            painter.drawText(pad, y + 28, f"{size} px, {ink} on {paper}")
            painter.setFont(label)
            cell_w, cell_h, per_row = grid(size)
            for i, name in enumerate(ICON_NAMES):
                x0 = pad + (i % per_row) * cell_w
                y0 = y + 40 + (i // per_row) * cell_h
                painter.drawPixmap(x0 + (cell_w - size) // 2, y0 + pad,
                                   icon_pixmap(name, ink, size))
                painter.drawText(QRectF(x0, y0 + size + 2 * pad - 8, cell_w, label_h),
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                                 name)
            y += section_height(size)
    y += pad
    painter.setPen(QColor("#111827"))
    for weight, name in weights:
        font = QFont(family)
        font.setPixelSize(32)
        font.setWeight(weight)
        painter.setFont(font)
        painter.drawText(pad, y + 40, f"{name}: {SAMPLE}")
        y += 56
    painter.end()
    if not image.save(str(path)):
        raise OSError(f"{path}: cannot write the preview")
    return image


def test_the_preview_renders(qapp: QApplication, tmp_path: Path) -> None:
    image = render_preview(tmp_path / "preview.png")
    assert (tmp_path / "preview.png").stat().st_size > 10_000
    assert not image.isNull()


if __name__ == "__main__":
    app = QApplication(sys.argv[:1])
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/assets_preview.png")
    render_preview(out)
    print(out)
