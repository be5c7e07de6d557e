"""Fixtures for the GUI tests: offscreen Qt, private settings, tiny models, noisy photos.

The models come from the shared tests/conftest.py builders (hand-made ONNX graphs), so
these tests never need a trained model. Photos are written with Pillow directly so the
GUI tests do not depend on the code they feed.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from guihelpers import LONG, write_photo  # noqa: E402


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
        if w.settings.geometry() is None:
            w.resize(900, 640)
        w.show()
        qtbot.waitUntil(lambda: not w.runner.is_busy(), timeout=LONG)
        made.append(w)
        return w

    yield make
    for w in made:
        w.session.cancel()
        w.batch.cancel_all()
        w.runner.shutdown(120_000)


@pytest.fixture
def window(make_window, installed_models):
    w = make_window()
    return w


@pytest.fixture(autouse=True)
def _singleton_reserve():
    """PySide 6.12 on Python 3.11 loses references to None/True/False on many calls
    (see denoiser.gui.qtcompat); keep a reserve before and after every test."""
    from denoiser.gui import qtcompat

    if qtcompat.needs_reserve():
        qtcompat.top_up()
    yield
    if qtcompat.needs_reserve():
        qtcompat.top_up()
