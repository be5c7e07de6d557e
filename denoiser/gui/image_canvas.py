"""Zoomable, pannable image view with an optional before/after split divider.

Zoom is measured in *device* pixels per image pixel, so 100 % is pixel-exact on
high-DPI screens too; above 100 % pixels are drawn nearest-neighbour so noise grain
is shown as it is, not smoothed. Several canvases can be kept in sync by connecting
``viewChanged`` to each other's ``set_view`` (see :mod:`compare_view`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from denoiser.gui.picture import Picture
from denoiser.gui.qtcompat import emit

MIN_ZOOM = 0.01
MAX_ZOOM = 32.0
WHEEL_STEP = 1.25
DIVIDER_GRAB_PX = 8


class ImageCanvas(QWidget):
    """Paints one picture, or two split by a draggable vertical divider.

    Signals:
        viewChanged(zoom, center_x, center_y, fit): the user zoomed, panned or resized.
        hovered(x, y): image coordinates under the mouse (for the loupe).
        splitChanged(fraction): the divider moved (0 = all after, 1 = all before).
        holdChanged(bool): the right button is held to flick to the original.
    """

    viewChanged = Signal(float, float, float, bool)
    hovered = Signal(float, float)
    splitChanged = Signal(float)
    holdChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(120, 90)
        self._before: Picture | None = None
        self._after: Picture | None = None
        self._labels = ("Original", "Denoised")
        self._split: float | None = None  # fraction of the width, None = single view
        self._show_before = False
        self._zoom = 1.0
        self._center = QPointF(0.0, 0.0)
        self._fit = True
        self._img_w = 0
        self._img_h = 0
        self._pan_from: QPointF | None = None
        self._drag_divider = False
        self.placeholder = placeholder
        self._checker = _checker_pixmap()

    # ----- content -------------------------------------------------------------
    def set_pictures(self, before: Picture | None, after: Picture | None) -> None:
        """Show ``after`` (and ``before`` left of the divider in split mode).

        Keeps the view if the picture size is unchanged (a new result of the same
        image), otherwise fits the new image.
        """
        pic = after or before
        w, h = (pic.width, pic.height) if pic else (0, 0)
        size_changed = (w, h) != (self._img_w, self._img_h)
        self._before, self._after = before, after
        self._img_w, self._img_h = w, h
        if size_changed:
            self._fit = True
            self._center = QPointF(w / 2, h / 2)
            self._apply_fit()
            self._emit_view()
        self.update()

    def set_labels(self, before: str, after: str) -> None:
        self._labels = (before, after)
        self.update()

    def pictures(self) -> tuple[Picture | None, Picture | None]:
        return self._before, self._after

    def has_image(self) -> bool:
        return self._img_w > 0

    def image_size(self) -> tuple[int, int]:
        return self._img_w, self._img_h

    # ----- split / hold --------------------------------------------------------
    def set_split(self, fraction: float | None) -> None:
        """Split position as a fraction of the width, or None for a single picture."""
        self._split = None if fraction is None else min(1.0, max(0.0, fraction))
        self.update()

    def split(self) -> float | None:
        return self._split

    def set_show_before(self, on: bool) -> None:
        """Flick to the original (press-and-hold compare)."""
        if on != self._show_before:
            self._show_before = on
            self.update()

    def showing_before(self) -> bool:
        return self._show_before

    # ----- view ----------------------------------------------------------------
    def zoom(self) -> float:
        return self._zoom

    def center(self) -> QPointF:
        return QPointF(self._center)

    def is_fit(self) -> bool:
        return self._fit

    def set_view(self, zoom: float, cx: float, cy: float, fit: bool) -> None:
        """Set zoom/centre without emitting ``viewChanged`` (used to sync views)."""
        self._fit = fit
        if fit:
            self._center = QPointF(self._img_w / 2, self._img_h / 2)
            self._apply_fit()
        else:
            self._zoom = _clamp_zoom(zoom)
            self._center = QPointF(cx, cy)
        self.update()

    def fit_to_window(self) -> None:
        self._fit = True
        self._center = QPointF(self._img_w / 2, self._img_h / 2)
        self._apply_fit()
        self._emit_view()
        self.update()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (1.0 = 100 %), keeping the image point under ``anchor`` still."""
        zoom = _clamp_zoom(zoom)
        if anchor is None:
            anchor = QPointF(self.width() / 2, self.height() / 2)
        img_pt = self.widget_to_image(anchor)
        self._fit = False
        self._zoom = zoom
        s = self._scale()
        self._center = QPointF(
            img_pt.x() - (anchor.x() - self.width() / 2) / s,
            img_pt.y() - (anchor.y() - self.height() / 2) / s,
        )
        self._emit_view()
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self._zoom * factor, anchor)

    def visible_box(self, margin: int = 0) -> tuple[int, int, int, int]:
        """The image area in view as (y0, x0, y1, x1), clipped to the image."""
        if not self.has_image():
            return (0, 0, 0, 0)
        tl = self.widget_to_image(QPointF(0, 0))
        br = self.widget_to_image(QPointF(self.width(), self.height()))
        x0 = max(0, int(math.floor(tl.x())) - margin)
        y0 = max(0, int(math.floor(tl.y())) - margin)
        x1 = min(self._img_w, int(math.ceil(br.x())) + margin)
        y1 = min(self._img_h, int(math.ceil(br.y())) + margin)
        return (y0, x0, max(y0, y1), max(x0, x1))

    # ----- coordinates ---------------------------------------------------------
    def _scale(self) -> float:
        """Logical widget pixels per image pixel."""
        return self._zoom / max(self.devicePixelRatioF(), 1e-6)

    def _origin(self) -> QPointF:
        """Widget position of image (0, 0), snapped to whole device pixels."""
        dpr = self.devicePixelRatioF()
        ox = (self.width() / 2 - self._center.x() * self._scale()) * dpr
        oy = (self.height() / 2 - self._center.y() * self._scale()) * dpr
        return QPointF(round(ox) / dpr, round(oy) / dpr)

    def widget_to_image(self, p: QPointF) -> QPointF:
        o, s = self._origin(), self._scale()
        return QPointF((p.x() - o.x()) / s, (p.y() - o.y()) / s)

    def image_to_widget(self, p: QPointF) -> QPointF:
        o, s = self._origin(), self._scale()
        return QPointF(o.x() + p.x() * s, o.y() + p.y() * s)

    def _apply_fit(self) -> None:
        if self._img_w <= 0 or self.width() <= 0:
            return
        dpr = self.devicePixelRatioF()
        self._zoom = _clamp_zoom(
            min(self.width() * dpr / self._img_w, self.height() * dpr / self._img_h)
        )

    def _emit_view(self) -> None:
        emit(self.viewChanged, self._zoom, self._center.x(), self._center.y(), self._fit)

    # ----- painting ------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        bg = self.palette().color(QPalette.ColorRole.Window).darker(115)
        p.fillRect(self.rect(), bg)
        if not self.has_image():
            self._paint_placeholder(p)
            return
        w = self.width()
        if self._split is None or self._show_before:
            pic = self._before if self._show_before else self._after
            self._paint_picture(p, pic or self._before, QRectF(0, 0, w, self.height()))
            label = self._labels[0] if (self._show_before or pic is None) else self._labels[1]
            self._paint_label(p, label, left=True)
            return
        x = round(self._split * w)
        self._paint_picture(p, self._before, QRectF(0, 0, x, self.height()))
        self._paint_picture(p, self._after or self._before, QRectF(x, 0, w - x, self.height()))
        self._paint_divider(p, x)
        self._paint_label(p, self._labels[0], left=True)
        self._paint_label(p, self._labels[1], left=False)

    def _paint_picture(self, p: QPainter, pic: Picture | None, clip: QRectF) -> None:
        if pic is None or clip.width() <= 0:
            return
        p.save()
        p.setClipRect(clip)
        # a reduced decode is magnified, and shown smoothly like the preview patches
        smooth = self._zoom < 1.0 or pic.reduced
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        o, s = self._origin(), self._scale()
        full = QRectF(o.x(), o.y(), pic.width * s, pic.height * s)
        if pic.has_alpha:
            p.fillRect(full.intersected(clip), QBrush(self._checker))
        # draw only the visible part of the source, snapped to whole source pixels
        img, level_scale = pic.level_for(self._zoom)
        vis = clip.intersected(full)
        if not vis.isEmpty():
            x0 = max(0, math.floor((vis.left() - o.x()) / s * level_scale))
            y0 = max(0, math.floor((vis.top() - o.y()) / s * level_scale))
            x1 = min(img.width(), math.ceil((vis.right() - o.x()) / s * level_scale))
            y1 = min(img.height(), math.ceil((vis.bottom() - o.y()) / s * level_scale))
            if x1 > x0 and y1 > y0:
                ls = s / level_scale
                target = QRectF(o.x() + x0 * ls, o.y() + y0 * ls, (x1 - x0) * ls, (y1 - y0) * ls)
                p.drawImage(target, img, QRectF(x0, y0, x1 - x0, y1 - y0))
        for patch in pic.patches:
            r = patch.rect
            target = QRectF(o.x() + r.x() * s, o.y() + r.y() * s, r.width() * s, r.height() * s)
            if target.intersects(clip):
                # a reduced-resolution preview patch is always drawn smoothly
                p.setRenderHint(
                    QPainter.RenderHint.SmoothPixmapTransform,
                    smooth or patch.image.width() < r.width(),
                )
                p.drawImage(target, patch.image, QRectF(patch.image.rect()))
        p.restore()

    def _paint_divider(self, p: QPainter, x: int) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(QColor(0, 0, 0, 120), 3))
        p.drawLine(x, 0, x, self.height())
        p.setPen(QPen(QColor(255, 255, 255, 230), 1))
        p.drawLine(x, 0, x, self.height())
        cy = self.height() / 2
        p.setBrush(QColor(255, 255, 255, 230))
        p.setPen(QPen(QColor(0, 0, 0, 150), 1))
        p.drawEllipse(QPointF(x, cy), 9, 9)
        p.setPen(QPen(QColor(40, 40, 40), 1.5))
        p.drawLine(QPointF(x - 4, cy), QPointF(x - 1.5, cy - 3))
        p.drawLine(QPointF(x - 4, cy), QPointF(x - 1.5, cy + 3))
        p.drawLine(QPointF(x + 4, cy), QPointF(x + 1.5, cy - 3))
        p.drawLine(QPointF(x + 4, cy), QPointF(x + 1.5, cy + 3))
        p.restore()

    def _paint_label(self, p: QPainter, text: str, left: bool) -> None:
        if not text:
            return
        p.save()
        fm = p.fontMetrics()
        tw, th = fm.horizontalAdvance(text) + 12, fm.height() + 6
        x = 8 if left else self.width() - tw - 8
        rect = QRectF(x, 8, tw, th)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 140))
        p.drawRoundedRect(rect, 4, 4)
        p.setPen(QColor(255, 255, 255))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()

    def _paint_placeholder(self, p: QPainter) -> None:
        if not self.placeholder:
            return
        p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        r = self.rect().adjusted(20, 20, -20, -20)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)

    # ----- interaction ---------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit and self.has_image():
            self._apply_fit()
            self._emit_view()

    def _near_divider(self, pos: QPointF) -> bool:
        if self._split is None or self._show_before:
            return False
        return abs(pos.x() - self._split * self.width()) <= DIVIDER_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if event.button() == Qt.MouseButton.LeftButton:
            if self._near_divider(pos):
                self._drag_divider = True
            elif self.has_image():
                self._pan_from = pos
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.RightButton and self.has_image():
            emit(self.holdChanged, True)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._drag_divider:
            self.set_split(pos.x() / max(1, self.width()))
            emit(self.splitChanged, self._split)
        elif self._pan_from is not None:
            d = pos - self._pan_from
            self._pan_from = pos
            s = self._scale()
            self._fit = False
            self._center = QPointF(self._center.x() - d.x() / s, self._center.y() - d.y() / s)
            self._emit_view()
            self.update()
        else:
            near = self._near_divider(pos)
            self.setCursor(
                Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.OpenHandCursor
                if self.has_image()
                else Qt.CursorShape.ArrowCursor
            )
        if self.has_image():
            ip = self.widget_to_image(pos)
            emit(self.hovered, ip.x(), ip.y())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_divider = False
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.button() == Qt.MouseButton.RightButton:
            emit(self.holdChanged, False)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self.has_image():
            return
        if self._fit:
            self.set_zoom(1.0, event.position())
        else:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if not self.has_image():
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_STEP**steps, event.position())
        event.accept()


def _clamp_zoom(z: float) -> float:
    return min(MAX_ZOOM, max(MIN_ZOOM, z))


def _checker_pixmap() -> QPixmap:
    """Checkerboard shown behind transparent areas."""
    pm = QPixmap(16, 16)
    pm.fill(QColor(204, 204, 204))
    p = QPainter(pm)
    p.fillRect(0, 0, 8, 8, QColor(153, 153, 153))
    p.fillRect(8, 8, 8, 8, QColor(153, 153, 153))
    p.end()
    return pm
