"""Before/after comparison: split view, side by side, and two models side by side.

All canvases share one zoom and centre: whichever the user moves, the others follow,
so the same pixels are always compared. Holding Space (or the right mouse button)
flicks every canvas to the original.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from denoiser.gui.image_canvas import ImageCanvas
from denoiser.gui.loupe import Loupe
from denoiser.gui.picture import Picture
from denoiser.gui.qtcompat import emit

MODES = ("split", "side", "models")
LAYERS = ("result", "residual", "uncertainty")
PLACEHOLDER = (
    "Drop photos or folders here\n\n"
    "or open one with Ctrl+O, or paste an image with Ctrl+V"
)


class CompareView(QWidget):
    """Composes the canvases and keeps them in sync.

    Pictures are handed in ready-made (built in worker threads); this widget only
    decides which picture goes on which canvas.
    """

    viewChanged = Signal()  # zoom or pan changed (the preview may need re-running)
    loupeMoved = Signal(float, float)  # image point under the loupe (preview it at 1:1)
    holdChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._mode = "split"
        self._layer = "result"
        self._hold = False
        self._pics: dict[str, Picture | None] = {
            "original": None, "result": None, "residual": None,
            "uncertainty": None, "result_b": None,
        }
        self._names = ("Model A", "Model B")
        self.residual_gain = 4.0
        self._hover: tuple[float, float] | None = None
        self.split_canvas = ImageCanvas(placeholder=PLACEHOLDER)
        self.split_canvas.set_split(0.5)
        self.left_canvas = ImageCanvas(placeholder=PLACEHOLDER)
        self.right_canvas = ImageCanvas()
        for c in self.canvases():
            c.setObjectName("canvas")
            c.viewChanged.connect(lambda *v, src=c: self._sync(src, *v))
            c.holdChanged.connect(self.set_hold)
            c.hovered.connect(self._on_hover)
        self.split_canvas.setObjectName("split_canvas")
        self.left_canvas.setObjectName("left_canvas")
        self.right_canvas.setObjectName("right_canvas")
        side = QSplitter(Qt.Orientation.Horizontal)
        side.addWidget(self.left_canvas)
        side.addWidget(self.right_canvas)
        side.setChildrenCollapsible(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.split_canvas)
        self.stack.addWidget(side)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self.loupe = Loupe(self)
        self.loupe.hide()
        self.drop_hint = QLabel("Drop to open", self)
        self.drop_hint.setObjectName("drop_hint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.drop_hint.setStyleSheet(
            "#drop_hint { border: 3px dashed palette(highlight); border-radius: 12px;"
            " background: rgba(127, 127, 127, 60); font-size: 20pt; }")
        self.drop_hint.hide()
        self._refresh()

    # ----- state ---------------------------------------------------------------
    def canvases(self) -> list[ImageCanvas]:
        return [self.split_canvas, self.left_canvas, self.right_canvas]

    def active_canvas(self) -> ImageCanvas:
        return self.split_canvas if self._mode == "split" else self.right_canvas

    def mode(self) -> str:
        return self._mode

    def layer(self) -> str:
        return self._layer

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown view mode {mode!r}")
        src = self.active_canvas()
        self._mode = mode
        self.stack.setCurrentIndex(0 if mode == "split" else 1)
        dst = self.active_canvas()
        if dst is not src:
            dst.set_view(src.zoom(), src.center().x(), src.center().y(), src.is_fit())
        self._refresh()
        emit(self.viewChanged)

    def set_layer(self, layer: str) -> None:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}")
        self._layer = layer
        self._refresh()

    def set_model_names(self, a: str, b: str) -> None:
        self._names = (a, b)
        self._refresh()

    def set_picture(self, key: str, picture: Picture | None) -> None:
        """Set one of original/result/residual/uncertainty/result_b and repaint."""
        if key not in self._pics:
            raise KeyError(key)
        self._pics[key] = picture
        self._refresh()

    def picture(self, key: str) -> Picture | None:
        return self._pics[key]

    def clear(self) -> None:
        self._hover = None
        for k in self._pics:
            self._pics[k] = None
        self._refresh()

    def set_hold(self, on: bool) -> None:
        """Flick all canvases to the original while ``on``."""
        if on == self._hold:
            return
        self._hold = on
        for c in self.canvases():
            c.set_show_before(on)
        emit(self.holdChanged, on)

    def holding(self) -> bool:
        return self._hold

    def set_drop_hint(self, on: bool, text: str = "Drop to open") -> None:
        """Show where a drag would land while files are dragged over the window."""
        self.drop_hint.setText(text)
        self.drop_hint.setGeometry(self.rect().adjusted(16, 16, -16, -16))
        self.drop_hint.setVisible(on)
        if on:
            self.drop_hint.raise_()

    def set_loupe_visible(self, on: bool) -> None:
        self.loupe.setVisible(on)
        if on:
            self._place_loupe()
            self.loupe.raise_()
            self._aim_loupe()

    def _aim_loupe(self) -> None:
        """Point the loupe at the last hovered spot, or the middle of the view."""
        if self._hover is None:
            c = self.active_canvas().center()
            x, y = c.x(), c.y()
        else:
            x, y = self._hover
        self.loupe.look_at(x, y)
        emit(self.loupeMoved, x, y)

    # ----- view ----------------------------------------------------------------
    def fit(self) -> None:
        self.active_canvas().fit_to_window()

    def set_zoom(self, zoom: float) -> None:
        self.active_canvas().set_zoom(zoom)

    def zoom_by(self, factor: float) -> None:
        self.active_canvas().zoom_by(factor)

    def zoom(self) -> float:
        return self.active_canvas().zoom()

    def visible_box(self) -> tuple[int, int, int, int]:
        return self.active_canvas().visible_box()

    def _sync(self, src: ImageCanvas, zoom: float, cx: float, cy: float, fit: bool) -> None:
        for c in self.canvases():
            if c is not src:
                c.set_view(zoom, cx, cy, fit)
        emit(self.viewChanged)

    def _on_hover(self, x: float, y: float) -> None:
        self._hover = (x, y)
        if self.loupe.isVisible():
            self.loupe.look_at(x, y)
            emit(self.loupeMoved, x, y)

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001
        super().resizeEvent(event)
        self._place_loupe()

    def _place_loupe(self) -> None:
        hint = self.loupe.sizeHint()
        self.loupe.resize(hint)
        self.loupe.move(self.width() - hint.width() - 12, self.height() - hint.height() - 12)

    # ----- which picture goes where -------------------------------------------
    def _after(self) -> Picture | None:
        if self._layer == "residual":
            return self._pics["residual"]
        if self._layer == "uncertainty":
            return self._pics["uncertainty"]
        return self._pics["result"]

    def _after_label(self) -> str:
        return {
            "result": "Denoised",
            "residual": f"Removed noise (×{self.residual_gain:g})",
            "uncertainty": "Uncertainty",
        }[self._layer]

    def _refresh(self) -> None:
        orig = self._pics["original"]
        after = self._after()
        self.split_canvas.set_pictures(orig, after or orig)
        self.split_canvas.set_labels("Original", self._after_label() if after else "Original")
        if self._mode == "models":
            a, b = self._pics["result"], self._pics["result_b"]
            self.left_canvas.set_pictures(orig, a or orig)
            self.right_canvas.set_pictures(orig, b or orig)
            self.left_canvas.set_labels("Original", self._names[0])
            self.right_canvas.set_labels("Original", self._names[1] if b else "working…")
        else:
            self.left_canvas.set_pictures(orig, orig)
            self.right_canvas.set_pictures(orig, after or orig)
            self.left_canvas.set_labels("Original", "Original")
            self.right_canvas.set_labels("Original", self._after_label() if after else "Original")
        for c in (self.left_canvas, self.right_canvas):
            c.set_split(None)
        self.loupe.set_pictures(orig, self._pics["result"] or orig)
        if self.loupe.isVisible():
            self._aim_loupe()
