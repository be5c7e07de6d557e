"""Widget-level tests with synthetic numpy images (no model, no file I/O)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage

from denoiser.gui.compare_view import CompareView
from denoiser.gui.image_canvas import ImageCanvas
from denoiser.gui.picture import Patch, Picture
from denoiser.gui.qimage_convert import (
    amplify_residual,
    array_to_qimage,
    qimage_to_array,
    uncertainty_map,
)


def checker(h: int = 40, w: int = 60) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    g = ((yy + xx) % 2).astype(np.float32)
    return np.stack([g, 1 - g, np.full_like(g, 0.5)], axis=-1)


def test_qimage_roundtrip_rgb_and_grey():
    arr = np.random.default_rng(0).random((7, 9, 3), dtype=np.float32)
    img = array_to_qimage(arr)
    assert (img.width(), img.height()) == (9, 7)
    back = qimage_to_array(img)
    assert np.abs(back - arr).max() <= 0.5 / 255 + 1e-6
    grey = array_to_qimage(arr[:, :, :1])
    assert grey.format() == QImage.Format.Format_Grayscale8
    assert qimage_to_array(grey).shape == (7, 9, 1)


def test_alpha_gives_rgba():
    arr = np.zeros((4, 4, 3), np.float32)
    img = array_to_qimage(arr, alpha=np.full((4, 4), 0.5, np.float32))
    assert img.hasAlphaChannel()
    assert img.pixelColor(0, 0).alpha() == 128


def test_residual_is_mid_grey_where_nothing_removed():
    a = np.full((3, 3, 3), 0.4, np.float32)
    assert np.allclose(amplify_residual(a, a), 0.5)
    assert uncertainty_map(np.zeros((3, 3, 3), np.float32)).max() == 0


def grab_pixel(widget, x: float, y: float) -> QColor:
    """Colour at logical widget position (x, y); grab() images are in device pixels."""
    dpr = widget.devicePixelRatioF()
    return widget.grab().toImage().pixelColor(round(x * dpr), round(y * dpr))


def test_canvas_100_percent_is_pixel_exact(qtbot):
    arr = checker()
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 150)
    canvas.show()
    canvas.set_pictures(None, Picture(array_to_qimage(arr)))
    canvas.set_view(1.0, 30, 20, fit=False)
    shot = canvas.grab().toImage()
    dpr = canvas.devicePixelRatioF()
    origin = canvas.image_to_widget(QPointF(0, 0))
    ox, oy = round(origin.x() * dpr), round(origin.y() * dpr)
    for iy, ix in [(0, 0), (5, 7), (19, 33), (39, 59)]:
        c = shot.pixelColor(ox + ix, oy + iy)
        expect = arr[iy, ix]
        assert (c.red(), c.green()) == (round(expect[0] * 255), round(expect[1] * 255))


def test_canvas_zoom_above_100_is_nearest_neighbour(qtbot):
    arr = checker(8, 8)
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 200)
    canvas.show()
    canvas.set_pictures(None, Picture(array_to_qimage(arr)))
    canvas.set_view(4.0, 4, 4, fit=False)
    shot = canvas.grab().toImage()  # device pixels
    dpr = canvas.devicePixelRatioF()
    o = canvas.image_to_widget(QPointF(0, 0))
    ox, oy = round(o.x() * dpr), round(o.y() * dpr)
    reds = {shot.pixelColor(ox + dx, oy + dy).red() for dx in range(4) for dy in range(4)}
    assert reds == {0}  # one image pixel, four by four device pixels, no blending
    reds = {shot.pixelColor(ox + 4 + dx, oy + dy).red() for dx in range(4) for dy in range(4)}
    assert reds == {255}


def test_reduced_picture_is_laid_out_in_full_image_coordinates(qtbot):
    """A draft's picture: a 60 x 40 base standing for a 600 x 400 image."""
    arr = np.zeros((40, 60, 3), np.float32)
    arr[:, 30:, 0] = 1.0  # right half red
    pic = Picture(array_to_qimage(arr, fast_paint=True), size=(600, 400))
    assert (pic.width, pic.height) == (600, 400) and pic.reduced
    assert pic.with_patches([]).width == 600
    img, scale = pic.level_for(0.5)
    assert img.width() == 60 and scale == pytest.approx(0.1)
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 200)
    canvas.show()
    canvas.set_pictures(None, pic)
    assert canvas.image_size() == (600, 400) and canvas.visible_box() == (0, 0, 400, 600)
    left = canvas.image_to_widget(QPointF(150, 200))
    right = canvas.image_to_widget(QPointF(450, 200))
    assert grab_pixel(canvas, left.x(), left.y()).red() == 0
    assert grab_pixel(canvas, right.x(), right.y()).red() == 255


def test_wheel_zoom_keeps_point_under_cursor(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 200)
    canvas.show()
    canvas.set_pictures(None, Picture(array_to_qimage(checker(100, 150))))
    anchor = QPointF(70, 50)
    before = canvas.widget_to_image(anchor)
    canvas.zoom_by(2.0, anchor)
    after = canvas.widget_to_image(anchor)
    assert abs(before.x() - after.x()) < 1 and abs(before.y() - after.y()) < 1
    assert not canvas.is_fit()


def test_fit_and_visible_box(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 200)
    canvas.show()
    canvas.set_pictures(None, Picture(array_to_qimage(checker(400, 600))))
    assert canvas.is_fit()
    assert canvas.zoom() == pytest.approx(0.5 * canvas.devicePixelRatioF(), rel=1e-3)
    assert canvas.visible_box() == (0, 0, 400, 600)
    canvas.set_zoom(1.0 * canvas.devicePixelRatioF())
    y0, x0, y1, x1 = canvas.visible_box()
    assert (y1 - y0, x1 - x0) == (200, 300)


def test_divider_drag_moves_split(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 100)
    canvas.show()
    canvas.set_split(0.5)
    canvas.set_pictures(Picture(array_to_qimage(checker())), Picture(array_to_qimage(checker())))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 50))
    qtbot.mouseMove(canvas, QPoint(150, 50))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(150, 50))
    assert canvas.split() == pytest.approx(0.75, abs=0.02)


def test_split_shows_before_left_and_after_right(qtbot):
    black = np.zeros((50, 50, 3), np.float32)
    white = np.ones((50, 50, 3), np.float32)
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(100, 100)
    canvas.show()
    canvas.set_split(0.5)
    canvas.set_labels("", "")
    canvas.set_pictures(Picture(array_to_qimage(black)), Picture(array_to_qimage(white)))
    canvas.set_view(1.0 * canvas.devicePixelRatioF(), 25, 25, fit=False)
    assert grab_pixel(canvas, 40, 50).red() == 0
    assert grab_pixel(canvas, 70, 50).red() == 255
    canvas.set_show_before(True)
    assert grab_pixel(canvas, 70, 50).red() == 0


def test_patch_drawn_over_base(qtbot):
    base = array_to_qimage(np.zeros((40, 40, 3), np.float32))
    patch = Patch(array_to_qimage(np.ones((5, 5, 3), np.float32)),
                  rect=QRectF(10, 10, 20, 20))
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(40, 40)
    canvas.show()
    canvas.set_pictures(None, Picture(base, [patch]))
    canvas.set_view(canvas.devicePixelRatioF(), 20, 20, fit=False)
    inside = canvas.image_to_widget(QPointF(20, 20))
    outside = canvas.image_to_widget(QPointF(5, 5))
    assert grab_pixel(canvas, inside.x(), inside.y()).red() == 255
    assert grab_pixel(canvas, outside.x(), outside.y()).red() == 0


def test_mipmap_levels_are_used_when_zoomed_out():
    pic = Picture(array_to_qimage(checker(512, 512)))
    img, scale = pic.level_for(0.1)
    assert scale < 1 and img.width() == round(512 * scale)
    assert pic.level_for(1.0)[1] == 1.0


def test_compare_views_stay_in_sync(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(800, 400)
    view.show()
    pic = Picture(array_to_qimage(checker(300, 400)))
    view.set_picture("original", pic)
    view.set_picture("result", pic)
    view.set_mode("side")
    view.left_canvas.set_zoom(2.0, QPointF(50, 60))
    left, r = view.left_canvas, view.right_canvas
    assert r.zoom() == pytest.approx(left.zoom())
    assert r.center().x() == pytest.approx(left.center().x())
    assert r.center().y() == pytest.approx(left.center().y())
    # pan on the right one: the left one and the split canvas follow
    qtbot.mousePress(r, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(r, QPoint(60, 80))
    qtbot.mouseRelease(r, Qt.MouseButton.LeftButton, pos=QPoint(60, 80))
    assert left.center().x() == pytest.approx(r.center().x())
    assert view.split_canvas.center().y() == pytest.approx(r.center().y())
    view.set_mode("split")
    assert view.split_canvas.zoom() == pytest.approx(r.zoom())


def test_hold_flicks_every_canvas_to_original(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    pic = Picture(array_to_qimage(checker()))
    view.set_picture("original", pic)
    view.set_hold(True)
    assert all(c.showing_before() for c in view.canvases())
    view.set_hold(False)
    assert not any(c.showing_before() for c in view.canvases())


def test_preview_plan_fits_budget():
    from denoiser.gui import preview

    # a fitted 24 MP photo: the whole view, averaged down to the budget
    box, f = preview.plan((0, 0, 4000, 6000), 0.17, 250_000)
    assert box[2] - box[0] <= 4000 and f >= 6
    assert ((box[2] - box[0]) // f) * ((box[3] - box[1]) // f) <= 250_000
    # at 100 %: full resolution, a centred crop within the budget
    box, f = preview.plan((100, 200, 900, 1400), 1.0, 250_000)
    assert f == 1 and (box[2] - box[0]) * (box[3] - box[1]) <= 250_000
    assert abs((box[0] + box[2]) / 2 - 500) <= 1 and abs((box[1] + box[3]) / 2 - 800) <= 1
    # small enough already: unchanged
    assert preview.plan((0, 0, 100, 100), 1.0, 250_000) == ((0, 0, 100, 100), 1)
    arr = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    assert preview.block_mean(arr, (0, 0, 4, 4), 2)[0, 0, 0] == np.mean([0, 1, 4, 5])


def test_binding_reference_leaks_are_compensated(qtbot):
    """Thousands of void calls (what a minute of mouse movement does) must not drain None."""
    import sys

    from PySide6.QtWidgets import QLabel

    from denoiser.gui import qtcompat

    qtcompat.install()
    label = QLabel()
    qtbot.addWidget(label)
    for _ in range(20_000):
        label.setText("x")  # leaks one reference to None per call on PySide 6.12 / Py 3.11
    assert sys.getrefcount(None) > 1000


def test_residual_uint8_matches_float_version():
    from denoiser.gui.qimage_convert import residual_uint8, to_uint8

    rng = np.random.default_rng(3)
    a = rng.random((300, 20, 3), dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape).astype(np.float32), 0, 1)
    assert np.abs(residual_uint8(a, b, 2.0).astype(int)
                  - to_uint8(amplify_residual(a, b, 2.0)).astype(int)).max() <= 1


def test_pixel_exact_on_high_dpi_screens():
    """The same canvas tests on a 2x and a 1.5x screen (a fresh process per scale)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if os.environ.get("DENOISER_GUI_HIDPI_CHILD"):
        pytest.skip("already inside the high-DPI run")
    here = Path(__file__)
    for scale in ("2", "1.5"):
        env = {**os.environ, "QT_SCALE_FACTOR": scale, "QT_QPA_PLATFORM": "offscreen",
               "DENOISER_GUI_HIDPI_CHILD": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(here),
             "-k", "pixel_exact or nearest_neighbour or split_shows or patch_drawn"],
            env=env, capture_output=True, text=True, timeout=300, cwd=here.parents[2])
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert "4 passed" in proc.stdout, proc.stdout[-500:]
