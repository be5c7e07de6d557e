"""Entry point, self-check, About box, VAE uncertainty and two-model comparison."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from guihelpers import LONG


def test_self_check_passes_with_a_model(installed_models, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "DENOISER_GUI_SETTINGS": str(tmp_path / "s.ini")}
    proc = subprocess.run([sys.executable, "-m", "denoiser.gui.app", "--self-check"],
                          env=env, capture_output=True, text=True, timeout=LONG / 1000)
    assert proc.returncode == 0, proc.stderr
    assert "self-check passed: ae-color" in proc.stdout


def test_self_check_fails_clearly_without_a_model(models_dir, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "denoiser.gui.app", "--self-check",
                           "--model", str(tmp_path / "missing.onnx")],
                          env=env, capture_output=True, text=True, timeout=LONG / 1000)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("self-check failed:") and "missing.onnx" in last


def test_command_line_paths_open(qtbot, installed_models, photo, tmp_path, monkeypatch):
    from denoiser.gui import app as app_mod

    opened = {}

    def fake_exec(self):  # stop before the event loop; the window is already set up
        opened["window"] = next(w for w in qtbot_widgets() if w.objectName() == "main_window")
        return 0

    from PySide6.QtWidgets import QApplication

    def qtbot_widgets():
        return QApplication.topLevelWidgets()

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app_mod.main([str(photo), "--settings", str(tmp_path / "s.ini")]) == 0
    w = opened["window"]
    try:
        qtbot.waitUntil(lambda: w.doc is not None and w.doc.path == photo, timeout=LONG)
    finally:
        w.runner.shutdown(LONG)
        w.close()


def test_about_box_lists_model_provenance(qtbot, window):
    from PySide6.QtWidgets import QPlainTextEdit, QTabWidget

    from denoiser.gui.about_dialog import AboutDialog

    dlg = AboutDialog(window.models, window.settings.file_name, window)
    qtbot.addWidget(dlg)
    tabs = dlg.findChild(QTabWidget, "model_tabs")
    assert tabs.count() == 2
    text = dlg.findChildren(QPlainTextEdit)[0].toPlainText()
    assert "Version: 1.0.0" in text and "CBSD68" in text and "31.00 dB" in text
    assert "Recipe:" in text


def test_model_picker_shows_metadata(window):
    details = window.controls.model_picker.details.text()
    assert "ae-color" in details and "AE" in details and "colour" in details
    assert "σ 0–75" in details and "31.00 dB" in details


@pytest.fixture
def vae_installed(build, models_dir):
    return build.vae(models_dir / "vae-color.onnx")


def test_vae_uncertainty_view_and_blend(qtbot, make_window, installed_models, vae_installed,
                                        photo, monkeypatch):
    w = make_window(model="vae-color")
    qtbot.waitUntil(lambda: w.controls.model_picker.current() is not None, timeout=LONG)
    assert w.controls.vae_box.isVisibleTo(w.controls)
    w.controls.samples_spin.setValue(3)
    with qtbot.waitSignal(w.resultShown, timeout=LONG):
        w.open_file(photo)
    qtbot.waitUntil(lambda: w.session.is_current(), timeout=LONG)
    r = w.doc.rendered
    assert r.std is not None and r.uncertainty is not None
    assert w.actions_.layer_uncertainty.isEnabled()
    w.actions_.layer_uncertainty.trigger()
    assert w.view.split_canvas.pictures()[1] is r.uncertainty
    plain = r.result.copy()
    from denoiser.gui import backend

    calls = []
    real_sample = backend.sample
    monkeypatch.setattr(backend, "sample", lambda *a, **k: calls.append(1) or real_sample(*a, **k))
    w.controls.blend_slider.setValue(100)
    qtbot.waitUntil(lambda: w.session.is_current() and w.doc.rendered is not r, timeout=LONG)
    assert calls == []  # only the blend changed: no new sampling
    blended = w.doc.rendered.result
    orig = w.doc.pixels
    # leaning toward the original: closer to it than the plain result was
    assert abs(blended - orig).mean() < abs(plain - orig).mean()


def test_two_models_side_by_side(qtbot, window, photo):
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    window.controls.compare_picker.select("ae-gray")
    window.actions_.mode_models.trigger()
    assert window.controls.comparing()
    qtbot.waitUntil(lambda: window.doc.compare is not None, timeout=LONG)
    assert window.doc.compare.model.name == "ae-gray"
    left, right = window.view.left_canvas.pictures()[1], window.view.right_canvas.pictures()[1]
    assert left is window.doc.rendered.picture
    assert right is window.doc.compare.picture


def test_loupe_shows_one_to_one(qtbot, window, photo):
    with qtbot.waitSignal(window.resultShown, timeout=LONG):
        window.open_file(photo)
    window.actions_.loupe.setChecked(True)
    assert window.view.loupe.isVisible()
    window.view.split_canvas.hovered.emit(30.0, 40.0)
    assert window.view.loupe.after.zoom() == 1.0
    assert window.view.loupe.after.center().x() == 30.0
    assert window.view.loupe.after.pictures()[1] is window.doc.rendered.picture
