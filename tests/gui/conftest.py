"""Fixtures for the GUI tests: offscreen Qt, private settings, tiny models, noisy photos.

The models come from the shared tests/conftest.py builders (hand-made ONNX graphs), so
these tests never need a trained model. Photos are written with Pillow directly so the
GUI tests do not depend on the code they feed.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

LONG = 120_000  # ms: generous, the suite must pass on a loaded 2-core machine


def noisy_array(h: int = 96, w: int = 128, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A smooth picture with sigma-20 noise, uint8."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    clean = np.stack([0.2 + 0.6 * x / w, 0.3 + 0.5 * y / h,
                      0.5 + 0.3 * np.sin(x / 9.0)], axis=-1)[:, :, :channels]
    rng = np.random.default_rng(seed)
    noisy = clean + rng.normal(0, 20 / 255, clean.shape)
    return (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_photo(path: Path, h: int = 96, w: int = 128, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = noisy_array(h, w, seed)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return write_photo(tmp_path / "in" / "photo.png")


@pytest.fixture
def gui_settings(tmp_path: Path):
    from denoiser.gui.settings import AppSettings

    return AppSettings(tmp_path / "settings.ini")


@pytest.fixture
def make_window(qtbot, gui_settings):
    """Factory: a shown main window whose models have been discovered."""
    from denoiser.gui.main_window import MainWindow

    made = []

    def make(settings=None, **kwargs):
        w = MainWindow(settings or gui_settings, **kwargs)
        qtbot.addWidget(w)
        w.resize(900, 640)
        w.show()
        qtbot.waitUntil(lambda: w.models or w.controls.model_picker.current() is not None
                        or not w.runner.is_busy(), timeout=LONG)
        made.append(w)
        return w

    yield make
    for w in made:
        w.session.cancel()
        w.batch.cancel_all()
        w.runner.shutdown(LONG)


@pytest.fixture
def window(make_window, installed_models):
    w = make_window()
    return w


def drop_urls(widget, paths) -> None:
    """Simulate a drag-and-drop of local files onto ``widget``."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, md,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
