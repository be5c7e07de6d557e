"""End-to-end window tests: drops, denoising, views, strength, saving, settings, devices.

They drive the real engine with the tiny hand-built ONNX models from tests/conftest.py.
Waiting is always on signals or conditions (never sleeps), with generous timeouts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from guihelpers import (
    LONG,
    drop_urls,
    noisy_array,
    noisy_float,
    pick_model,
    write_camera_photo,
    write_photo,
)
from PIL import Image
from PySide6.QtCore import QPointF

from denoiser.gui import window_settings
from denoiser.gui.qtcompat import emit

pytestmark = pytest.mark.usefixtures("installed_models")


def wait_result(qtbot, w) -> None:
    """Until the whole image is denoised with the current settings (or an error shows)."""
    qtbot.waitUntil(lambda: w.banner.level == "error" and w.banner.isVisible()
                    or w.doc is not None and w.doc.rendered is not None
                    and w.session.is_current(), timeout=LONG)
    assert not (w.banner.level == "error" and w.banner.isVisible()), w.banner.text()


def test_drop_file_shows_view_first_then_result(qtbot, window, photo):
    with qtbot.waitSignals([window.previewShown, window.resultShown], timeout=LONG,
                           order="strict"):
        drop_urls(window, [photo])
    assert window.doc.path == photo
    assert window.view.picture("original") is not None
    assert window.view.picture("result") is window.doc.rendered.picture
    assert window.timings["drop"] < window.timings["preview"] <= window.timings["result"]
    assert window.actions_.save.isEnabled()
    assert "photo.png" in window.windowTitle()
    assert str(photo) in window.settings.recent_files()


def test_a_slow_first_preview_is_not_computed_twice(qtbot, window, photo, monkeypatch):
    """Showing the original starts a (debounced) preview of the view; the render job's
    own first pass, still on its way on a busy machine, must not be duplicated."""
    import time

    from denoiser.gui import backend

    def slowly(real, seconds):
        def call(*args, **kwargs):
            time.sleep(seconds)
            return real(*args, **kwargs)
        return call

    # the first pass comes after the view debounce, the whole image well after that
    monkeypatch.setattr(backend, "estimate_sigma", slowly(backend.estimate_sigma, 0.6))
    monkeypatch.setattr(backend, "denoise", slowly(backend.denoise, 1.5))
    previews = []
    window.session.previewReady.connect(previews.append)
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        drop_urls(window, [photo])
    assert len(previews) == 1


def test_drop_folder_queues_batch_with_subfolders(qtbot, window, tmp_path):
    folder = tmp_path / "trip"
    for rel in ("a.png", "day1/b.png", "day1/deeper/c.png"):
        write_photo(folder / rel, 40, 48)
    (folder / "notes.txt").write_text("not an image")
    with qtbot.waitSignal(window.batch.queued, timeout=LONG):
        drop_urls(window, [folder])
    assert len(window.batch.rows) == 3
    assert window.batch_dock.isVisible()
    names = [window.batch.table.item(i, 0).text() for i in range(3)]
    assert names == ["a.png", str(Path("day1/b.png")), str(Path("day1/deeper/c.png"))]
    # the first image is opened for a look while the queue waits
    qtbot.waitUntil(lambda: window.doc is not None, timeout=LONG)


def test_drop_several_files_queues_them(qtbot, window, tmp_path):
    files = [write_photo(tmp_path / f"p{i}.png", 32, 32, seed=i) for i in range(3)]
    with qtbot.waitSignal(window.batch.queued, timeout=LONG):
        drop_urls(window, files)
    assert [r.source.path for r in window.batch.rows] == files


def test_unsupported_and_corrupt_files_get_a_message(qtbot, window, tmp_path, photo):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    drop_urls(window, [txt])
    assert "not a supported" in window.banner.text()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    drop_urls(window, [bad])
    qtbot.waitUntil(lambda: window.banner.level == "error" and "broken" in window.banner.text()
                    or "png" in window.banner.text().lower(), timeout=LONG)
    assert window.isVisible()
    # and the app still works afterwards
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        drop_urls(window, [photo])


def test_split_and_side_by_side_stay_in_sync(qtbot, window, photo):
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    window.set_view_mode("split")
    window.view.set_zoom(3.0)
    split = window.view.split_canvas
    split.set_zoom(3.0, QPointF(40, 40))
    window.set_view_mode("side")
    left, right = window.view.left_canvas, window.view.right_canvas
    assert left.zoom() == pytest.approx(split.zoom())
    assert right.center().x() == pytest.approx(split.center().x())
    right.zoom_by(1.5, QPointF(10, 10))
    assert left.zoom() == pytest.approx(right.zoom())
    assert left.center().y() == pytest.approx(right.center().y())
    assert split.zoom() == pytest.approx(right.zoom())
    assert right.pictures()[1] is window.doc.rendered.picture
    assert left.pictures()[1] is window.view.picture("original")


def test_strength_change_rerenders(qtbot, make_window, build, models_dir, photo):
    build.sigma_echo(models_dir / "echo.onnx", 3, meta={**build.color_meta, "name": "echo"})
    w = make_window(model="echo")
    qtbot.waitUntil(lambda: w.controls.model_picker.current() is not None
                    and w.controls.model_picker.current().name == "echo", timeout=LONG)
    w.controls.set_auto(False)
    w.controls.set_sigma(10.0)
    w.open_file(photo)
    wait_result(qtbot, w)
    assert w.doc.rendered.result.mean() == pytest.approx(10 / 255, abs=1e-3)
    # drag the slider through several values: only the last one is rendered
    for v in (200, 300, 400):
        w.controls.slider.setValue(v)
    assert w.controls.sigma() == 40.0 and not w.controls.is_auto()
    qtbot.waitUntil(lambda: w.doc.rendered.sigma == 40.0, timeout=LONG)
    assert w.doc.rendered.result.mean() == pytest.approx(40 / 255, abs=1e-3)
    assert w.session.is_current()


def test_auto_strength_shows_estimate(qtbot, window, photo):
    window.controls.set_auto(True)
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    est = window.doc.sigma_estimates["gaussian"]  # the test models' noise type
    assert est is not None and 5 < est < 60  # the photo has sigma-20 noise
    assert f"{est:.1f}" in window.controls.estimate_label.text()
    assert window.controls.sigma() == pytest.approx(est, abs=0.05)


def test_auto_follows_the_models_noise_type(qtbot, make_window, build, models_dir, tmp_path):
    """A camera model's Auto reads the noise its own way (the core's camera estimate):
    switching models re-estimates, once per noise type, and the shown value follows."""
    from denoiser.strength import auto_sigma

    build.mean(models_dir / "ae-photo.onnx", 3,
               meta={**build.color_meta, "name": "ae-photo", "noise_type": "camera"})
    w = make_window(model="ae-color")
    picker = w.controls.model_picker
    qtbot.waitUntil(lambda: picker.current() is not None
                    and picker.current().name == "ae-color", timeout=LONG)
    w.controls.set_auto(True)
    w.open_file(write_camera_photo(tmp_path / "camera.png"))
    wait_result(qtbot, w)
    want = {k: auto_sigma(w.doc.pixels, noise_type=k) for k in ("gaussian", "camera")}
    assert want["gaussian"] > 1.3 * want["camera"]  # correlated noise: they really differ

    def shows(sigma: float) -> bool:
        return (f"{sigma:.1f}" in w.controls.estimate_label.text()
                and w.controls.sigma() == pytest.approx(sigma, abs=0.05))

    assert w.doc.rendered.sigma == pytest.approx(want["gaussian"]) and shows(want["gaussian"])
    picker.select("ae-photo")
    wait_result(qtbot, w)
    assert w.doc.rendered.model.name == "ae-photo"
    assert w.doc.rendered.sigma == pytest.approx(want["camera"]) and shows(want["camera"])
    picker.select("ae-color")  # back: its estimate is known, and shown at once
    assert shows(want["gaussian"])
    wait_result(qtbot, w)
    assert w.doc.rendered.sigma == pytest.approx(want["gaussian"])
    assert w.doc.sigma_estimates == pytest.approx(want)


def test_tile_size_defaults_to_the_models_own(window):
    """Auto (0): the engine takes the model's ``tile`` metadata, else its default."""
    assert window.controls.tile_spin.value() == 0
    assert window.controls.tile_spin.text() == "Auto"
    assert window.controls.params().tile == 0


def test_residual_layer_and_hold(qtbot, window, photo):
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    window.actions_.layer_residual.trigger()
    assert window.view.split_canvas.pictures()[1] is window.doc.rendered.residual
    window.actions_.toggle.trigger()
    assert window.view.split_canvas.showing_before()
    window.actions_.toggle.trigger()
    assert not window.view.split_canvas.showing_before()


def test_cuda_missing_falls_back_to_cpu_with_notice(qtbot, make_window, monkeypatch, photo):
    import onnxruntime as ort

    from denoiser import engine

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    engine.clear_engine_cache()
    w = make_window(device="cuda")
    assert w.controls.device() == "cuda"
    cuda_item = w.controls.device_combo.model().item(w.controls.device_combo.findData("cuda"))
    assert not cuda_item.isEnabled()  # the machine has no CUDA, and the list says so
    with qtbot.waitSignal(w.resultShown, timeout=LONG):
        w.open_file(photo)
    assert w.doc.rendered.device == "cpu"
    assert "CPU" in w.banner.text() and "CUDA" in w.banner.text()
    assert "Running on CPU" in w.controls.device_status.text()
    engine.clear_engine_cache()


def test_settings_survive_restart(qtbot, make_window, gui_settings, tmp_path):
    from denoiser.gui.settings import AppSettings

    w1 = make_window()
    qtbot.waitUntil(lambda: w1.controls.model_picker.current() is not None, timeout=LONG)
    pick_model(w1.controls.model_picker, "ae-gray")
    w1.controls.set_auto(False)
    w1.controls.set_sigma(33.0)
    w1.controls.set_device("cpu")
    w1.controls.set_tile(256)
    w1.batch.out_dir.setText(str(tmp_path / "out"))
    w1.batch.pattern.setText("{stem}_clean")
    w1.set_view_mode("side")
    w1.resize(790, 590)
    w1.close()

    w2 = make_window(settings=AppSettings(tmp_path / "settings.ini"))
    qtbot.waitUntil(lambda: w2.controls.model_picker.current() is not None, timeout=LONG)
    assert w2.controls.model_picker.current().name == "ae-gray"
    assert not w2.controls.is_auto() and w2.controls.sigma() == 33.0
    assert w2.controls.device() == "cpu"
    assert w2.controls.tile_spin.value() == 256
    assert w2.batch.out_dir.text() == str(tmp_path / "out")
    assert w2.batch.pattern.text() == "{stem}_clean"
    assert w2.view.mode() == "side"
    assert (w2.width(), w2.height()) == (790, 590)


def test_save_never_replaces_original_without_asking(qtbot, window, photo, tmp_path):
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    before = photo.read_bytes()
    window.saver.ask = lambda *a: False
    assert window.saver.save_to(photo) is None
    assert photo.read_bytes() == before
    out = tmp_path / "out" / "clean.png"
    out.parent.mkdir()
    with qtbot.waitSignal(window.saved, timeout=LONG) as sig:
        window.saver.save_to(out)
    assert Path(sig.args[0]) == out and out.exists()
    assert Image.open(out).size == Image.open(photo).size
    window.saver.ask = lambda *a: True
    with qtbot.waitSignal(window.saved, timeout=LONG):
        window.saver.save_to(photo)
    assert photo.read_bytes() != before


def test_sixteen_bit_stays_sixteen_bit(qtbot, window, tmp_path):
    arr = (np.random.default_rng(0).random((40, 50, 3)) * 65535).astype(np.uint16)
    src = tmp_path / "deep.png"
    _write_png16(src, arr)
    window.open_file(src)
    wait_result(qtbot, window)
    assert window.doc.bit_depth == 16
    out = tmp_path / "deep_out.png"
    with qtbot.waitSignal(window.saved, timeout=LONG):
        window.saver.save_to(out)
    from denoiser.imageio import read_image

    assert read_image(out).bit_depth == 16


def _write_png16(path: Path, arr: np.ndarray) -> None:
    """16-bit RGB PNG without relying on the code under test (Pillow cannot write it)."""
    import struct
    import zlib

    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    path.write_bytes(png)


def test_paste_image_from_clipboard(qtbot, window):
    from PySide6.QtGui import QGuiApplication

    from denoiser.gui.qimage_convert import array_to_qimage

    QGuiApplication.clipboard().setImage(array_to_qimage(noisy_float()))
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.actions_.paste.trigger()
    assert window.doc.path is None and window.doc.name == "Pasted image"


def test_cancel_button_stops_render_and_settings_change_restarts(qtbot, window, photo,
                                                                  monkeypatch):
    import threading

    from denoiser.gui import backend

    release = threading.Event()
    real = backend.denoise

    def gated(engine, pixels, sigma, *, tile=512, progress=None, cancel=None):
        if pixels.shape[:2] == (96, 128):  # the full render (previews are smaller or regions)
            while not release.is_set():
                progress(0.3)  # raises Cancelled when the cancel button was pressed
                release.wait(0.01)
        return real(engine, pixels, sigma, tile=tile, progress=progress, cancel=cancel)

    monkeypatch.setattr(backend, "denoise", gated)
    with qtbot.waitSignal(window.previewShown, timeout=LONG):
        window.open_file(photo)
    qtbot.waitUntil(lambda: window.cancel_btn.isVisible(), timeout=LONG)
    window.cancel_btn.click()
    qtbot.waitUntil(lambda: not window.session.is_running(), timeout=LONG)
    assert not window.cancel_btn.isVisible() and window.doc.rendered is None
    assert "Cancelled" in window.status_text.text()
    release.set()
    window.controls.set_auto(False)
    window.controls.set_sigma(12.0)
    wait_result(qtbot, window)
    assert window.doc.rendered.sigma == 12.0


def test_zooming_in_before_the_result_previews_the_new_view(qtbot, window, tmp_path,
                                                            monkeypatch):
    import threading

    from denoiser.gui import backend

    big = write_photo(tmp_path / "big.png", 900, 1400)
    release = threading.Event()
    real = backend.denoise

    def gated(engine, pixels, sigma, *, tile=512, progress=None, cancel=None):
        if pixels.shape[:2] == (900, 1400):  # hold the whole-image pass back
            while not release.is_set():
                progress(0.1)
                release.wait(0.01)
        return real(engine, pixels, sigma, tile=tile, progress=progress, cancel=cancel)

    monkeypatch.setattr(backend, "denoise", gated)
    try:
        with qtbot.waitSignal(window.previewShown, timeout=LONG):
            window.open_file(big)
        first = window.pipeline.patches[-1]
        assert first.factor > 1  # fitted: the whole view at reduced resolution
        canvas = window.view.active_canvas()
        canvas.set_zoom(canvas.devicePixelRatioF(), QPointF(20, 20))  # 100 % near a corner
        box = canvas.visible_box()
        qtbot.waitUntil(lambda: any(p.factor == 1 for p in window.pipeline.patches), timeout=LONG)
        fine = next(p for p in window.pipeline.patches if p.factor == 1)
        assert fine.box[0] >= box[0] - 1 and fine.box[1] >= box[1] - 1
        assert len(window.view.picture("result").patches) >= 2  # coarse kept underneath
    finally:
        release.set()
    wait_result(qtbot, window)
    assert window.view.picture("result") is window.doc.rendered.picture


def test_keys_hold_space_and_zoom_shortcuts(qtbot, window, photo):
    from PySide6.QtCore import Qt

    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    canvas = window.view.active_canvas()
    qtbot.keyPress(window, Qt.Key.Key_Space)
    assert canvas.showing_before()
    qtbot.keyRelease(window, Qt.Key.Key_Space)
    assert not canvas.showing_before()
    window.actions_.zoom_100.trigger()
    assert canvas.zoom() == pytest.approx(1.0)
    window.actions_.zoom_200.trigger()
    assert canvas.zoom() == pytest.approx(2.0)
    window.actions_.zoom_in.trigger()
    assert canvas.zoom() == pytest.approx(2.5)
    window.actions_.zoom_fit.trigger()
    assert canvas.is_fit()
    assert window.actions_.open.shortcut().toString() == "Ctrl+O"
    assert window.actions_.save.shortcut().toString() == "Ctrl+S"


def test_save_keeps_exif_icc_and_notes_settings(qtbot, window, tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    src = tmp_path / "cam.jpg"
    Image.fromarray((noisy_float(48, 64) * 255).astype("uint8")).save(
        src, quality=95, exif=exif.tobytes(), icc_profile=icc)
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(src)
    out = tmp_path / "cam_denoised.jpg"
    window.note_action.setChecked(True)
    with qtbot.waitSignal(window.saved, timeout=LONG):
        window.saver.save_to(out)
    saved = Image.open(out)
    assert saved.getexif().get(0x010F) == "TestCam"
    assert saved.info.get("icc_profile") == icc
    png = tmp_path / "cam_denoised.png"
    with qtbot.waitSignal(window.saved, timeout=LONG):
        window.saver.save_to(png)
    text = Image.open(png).text
    assert text.get("Denoiser model") == "ae-color" and "Denoiser strength (sigma)" in text


def test_transparency_is_kept(qtbot, window, tmp_path):
    rgba = np.dstack([noisy_float(40, 40) * 255, np.full((40, 40), 128.0)]).astype("uint8")
    src = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(src)
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(src)
    out = tmp_path / "alpha_out.png"
    with qtbot.waitSignal(window.saved, timeout=LONG):
        window.saver.save_to(out)
    saved = np.asarray(Image.open(out))
    assert saved.shape[2] == 4 and abs(int(saved[..., 3].mean()) - 128) <= 1


def test_newest_drop_wins(qtbot, window, tmp_path):
    a = write_photo(tmp_path / "a.png", 300, 400, seed=1)
    b = write_photo(tmp_path / "b.png", 60, 80, seed=2)
    window.open_file(a)
    window.open_file(b)
    wait_result(qtbot, window)
    qtbot.waitUntil(lambda: not window.runner.is_busy(), timeout=LONG)
    assert window.doc.path == b and window.doc.rendered is not None
    assert window.view.picture("original") is window.doc.original
    assert "b.png" in window.windowTitle()


def test_loupe_previews_its_spot_at_full_resolution(qtbot, window, tmp_path, monkeypatch):
    import threading

    from denoiser.gui import backend

    big = write_photo(tmp_path / "big.png", 900, 1400)
    release = threading.Event()
    real = backend.denoise

    def gated(engine, pixels, sigma, *, tile=512, progress=None, cancel=None):
        if pixels.shape[:2] == (900, 1400):  # hold the whole-image pass back
            while not release.is_set():
                progress(0.1)
                release.wait(0.01)
        return real(engine, pixels, sigma, tile=tile, progress=progress, cancel=cancel)

    monkeypatch.setattr(backend, "denoise", gated)
    try:
        with qtbot.waitSignal(window.previewShown, timeout=LONG):
            window.open_file(big)
        window.actions_.loupe.setChecked(True)
        emit(window.view.split_canvas.hovered, 300.0, 200.0)
        qtbot.waitUntil(lambda: any(p.factor == 1 for p in window.pipeline.patches), timeout=LONG)
        spot = next(p for p in window.pipeline.patches if p.factor == 1)
        y0, x0, y1, x1 = spot.box
        assert x0 <= 300 <= x1 and y0 <= 200 <= y1
        assert window.view.loupe.after.pictures()[1] is window.view.picture("result")
    finally:
        release.set()


def test_recent_files_menu(qtbot, window, photo, tmp_path):
    other = write_photo(tmp_path / "other.png", 40, 40)
    for p in (photo, other):
        with qtbot.waitSignal(window.documentShown, timeout=LONG):
            window.open_file(p)
    names = [a.text() for a in window.actions_.recent_menu.actions() if a.text()]
    assert names[:2] == ["other.png", "photo.png"]
    recent = next(a for a in window.actions_.recent_menu.actions() if a.text() == "photo.png")
    with qtbot.waitSignal(window.documentShown, timeout=LONG):
        recent.trigger()
    assert window.doc.path == photo
    window.actions_.clear_recent.trigger()
    assert window.settings.recent_files() == []


def test_grey_image(qtbot, window, tmp_path):
    grey = tmp_path / "scan.png"
    Image.fromarray((noisy_float(50, 70)[:, :, 0] * 255).astype("uint8"), "L").save(grey)
    window.open_file(grey)
    wait_result(qtbot, window)
    assert window.doc.channels == 1 and window.doc.rendered.result.shape[2] == 1
    out = tmp_path / "scan_out.png"
    with qtbot.waitSignal(window.saved, timeout=LONG):
        window.saver.save_to(out)
    assert Image.open(out).mode == "L"


def test_each_image_gets_the_model_for_its_channels_until_the_user_picks(
        qtbot, window, photo, tmp_path):
    """As in the CLI: a grey scan goes to the grey model, a colour photo to the colour one;
    a model the user picked stays picked, and only a picked model is remembered."""
    grey = tmp_path / "in" / "grey.png"
    Image.fromarray(noisy_array(channels=1)[..., 0]).save(grey)
    for path, name in [(grey, "ae-gray"), (photo, "ae-color"), (grey, "ae-gray")]:
        window.open_file(path)
        qtbot.waitUntil(lambda p=path: window.doc is not None and window.doc.path == p,
                        timeout=LONG)
        wait_result(qtbot, window)
        assert window.doc.rendered.model.name == name
    window_settings.store(window)
    assert window.settings.get("model") == ""
    pick_model(window.controls.model_picker, "ae-color")
    wait_result(qtbot, window)
    window.open_file(photo)
    qtbot.waitUntil(lambda: window.doc.path == photo, timeout=LONG)
    window.open_file(grey)
    qtbot.waitUntil(lambda: window.doc.path == grey, timeout=LONG)
    wait_result(qtbot, window)
    assert window.doc.rendered.model.name == "ae-color"
    window_settings.store(window)
    assert window.settings.get("model") == "ae-color"
