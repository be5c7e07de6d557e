"""Helpers shared by the GUI tests (a plain module: importing from conftest is ambiguous)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

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


def camera_noise_array(h: int = 96, w: int = 128, sigma: float = 12.0,
                       seed: int = 0) -> np.ndarray:
    """A smooth picture with correlated noise of per-pixel std ``sigma``, uint8.

    The noise is white noise blurred by the 3 x 3 binomial kernel (like demosaicing's), so
    the camera-noise estimate reads about ``sigma`` and the white-noise one a fraction.
    """
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    clean = np.stack([0.3 + 0.4 * x / w, 0.35 + 0.3 * y / h, np.full_like(x, 0.5)], axis=-1)
    white = np.random.default_rng(seed).standard_normal((h + 2, w + 2, 3))
    rows = white[:-2] + 2 * white[1:-1] + white[2:]
    noise = (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) / 6.0 * sigma / 255
    return (np.clip(clean + noise, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_camera_photo(path: Path, h: int = 96, w: int = 128, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(camera_noise_array(h, w, seed=seed)).save(path)
    return path


def noisy_float(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    return noisy_array(h, w, seed).astype(np.float32) / 255.0


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


def pick_model(picker, name: str) -> None:
    """Choose a model as a user does: Qt emits ``activated`` only for user choices."""
    assert picker.select(name)
    picker.combo.activated.emit(picker.combo.currentIndex())


def queue(qtbot, panel, paths) -> list:
    """Add ``paths`` to a batch panel and wait until its worker has queued them."""
    with qtbot.waitSignal(panel.queued, timeout=LONG) as sig:
        panel.add_paths(paths)
    return sig.args
