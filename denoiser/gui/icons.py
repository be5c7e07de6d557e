"""The application icon: the shipped SVG/PNG when present, else drawn on the fly.

Drawing it in code as well means an install without the resources folder still has
an icon, and scripts/make_icon.py uses the same drawing to produce the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QLinearGradient, QPainter, QPainterPath, QPen

# the source tree, or a PyInstaller bundle (which puts resources/ beside the packages)
_ROOT = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
ICON_DIR = _ROOT / "resources" / "icons"
ICON_NAME = "denoiser-studio"


def draw_icon(painter: QPainter, size: float) -> None:
    """Rounded tile split diagonally: grainy on the left, clean gradient on the right."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    r = QRectF(size * 0.04, size * 0.04, size * 0.92, size * 0.92)
    tile = QPainterPath()
    tile.addRoundedRect(r, size * 0.18, size * 0.18)
    grad = QLinearGradient(r.topLeft(), r.bottomRight())
    grad.setColorAt(0.0, QColor("#2b6cb0"))
    grad.setColorAt(1.0, QColor("#7b3fa0"))
    painter.fillPath(tile, grad)
    # noisy half: deterministic speckles, clipped to the upper-left triangle
    left = QPainterPath()
    left.moveTo(r.topLeft())
    left.lineTo(r.topRight())
    left.lineTo(r.bottomLeft())
    left.closeSubpath()
    painter.save()
    painter.setClipPath(tile.intersected(left))
    rng = np.random.default_rng(7)
    n = int(60 * (size / 64) ** 0.8) + 40
    dot = max(1.0, size / 32)
    for x, y, v in zip(rng.random(n), rng.random(n), rng.random(n), strict=True):
        c = QColor(255, 255, 255, int(60 + 160 * v)) if v > 0.45 else QColor(0, 0, 0, 110)
        painter.fillRect(QRectF(r.x() + x * r.width(), r.y() + y * r.height(), dot, dot), c)
    painter.restore()
    # divider with a handle, as in the split view
    pen = QPen(QColor(255, 255, 255, 235), max(1.5, size * 0.035))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawLine(QPointF(r.right() - size * 0.1, r.top() + size * 0.1),
                     QPointF(r.left() + size * 0.1, r.bottom() - size * 0.1))
    painter.setBrush(QColor(255, 255, 255))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(QPointF(size / 2, size / 2), size * 0.09, size * 0.09)


def render_icon(size: int) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    draw_icon(p, float(size))
    p.end()
    return img


def app_icon() -> QIcon:
    """The window icon (needs a QGuiApplication)."""
    icon = QIcon()
    for name in (f"{ICON_NAME}.svg", f"{ICON_NAME}.png"):
        f = ICON_DIR / name
        if f.is_file():
            icon.addFile(str(f))
    if icon.isNull():
        from PySide6.QtGui import QPixmap

        for s in (16, 32, 64, 256):
            icon.addPixmap(QPixmap.fromImage(render_icon(s)))
    return icon
