"""Loupe: original and result at 1:1 around the mouse, even while the view is fitted.

Noise is only judged at 100 %, but a fitted 24 MP photo shows one screen pixel per
36 image pixels. The loupe is two small non-interactive canvases locked at 100 %.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QWidget

from denoiser.gui.image_canvas import ImageCanvas
from denoiser.gui.picture import Picture

LOUPE_SIZE = 180


class Loupe(QFrame):
    """Floating pair of 1:1 views; call :meth:`look_at` with image coordinates."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loupe")
        self.setFrameShape(QFrame.Shape.Box)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAutoFillBackground(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        self.before = ImageCanvas(self)
        self.after = ImageCanvas(self)
        for c in (self.before, self.after):
            c.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
            c.setMinimumSize(LOUPE_SIZE, LOUPE_SIZE)
            c.setFixedSize(LOUPE_SIZE, LOUPE_SIZE)
            lay.addWidget(c)
        self.before.set_split(None)
        self.after.set_split(None)
        self.setToolTip("Loupe: original (left) and result (right) at 100 %")

    def set_pictures(self, before: Picture | None, after: Picture | None) -> None:
        self.before.set_pictures(None, before)
        self.after.set_pictures(None, after)
        self.before.set_labels("1:1", "1:1")
        self.after.set_labels("1:1 result", "1:1 result")

    def look_at(self, x: float, y: float) -> None:
        for c in (self.before, self.after):
            c.set_view(1.0, x, y, False)
