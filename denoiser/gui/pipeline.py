"""From a file to what is on screen: load, show, denoise view-first, show the result.

Why a controller: the window only composes widgets. This object owns the open document
and the order its pictures arrive in, each replacing the last without moving the view:

1. a large JPEG's reduced decode (a *draft*) is shown, and the area in view is denoised
   from it (:meth:`RenderSession.set_draft`): the first result within about a second;
2. the full pixels are read: the document's own render starts (view first, then whole);
3. the full-resolution original replaces the draft's; the previews stay on top of it;
4. finer previews, then the whole result, replace the coarse ones.

Other formats, and photos not much larger than the view, start at step 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QImage

from denoiser.gui import backend, window_settings
from denoiser.gui.document import Document, Draft, Rendered, fit_zoom
from denoiser.gui.loader import Loader
from denoiser.gui.picture import Patch, Picture
from denoiser.gui.qimage_convert import residual_gain
from denoiser.gui.qtcompat import emit
from denoiser.gui.render_session import PreviewPatch

if TYPE_CHECKING:
    from denoiser.gui.main_window import MainWindow

MAX_PATCHES = 6


class Pipeline(QObject):
    """Signals: documentShown(doc), previewShown(), resultShown()."""

    documentShown = Signal(object)
    previewShown = Signal()
    resultShown = Signal()

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.loader = Loader(win.runner, self)
        self.doc: Document | None = None
        self.draft: Draft | None = None  # shown until the full picture replaces it
        self.patches: list[PreviewPatch] = []
        self.timings: dict[str, float] = {}  # perf_counter() of each step since the drop
        self._stashed: list[PreviewPatch] = []
        self._generation = -1
        self._held = False  # cancelled while reading: the pixels arrive without a render
        self.loader.draftRead.connect(self.show_draft)
        self.loader.pixelsRead.connect(self._pixels_read)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._load_failed)
        self.session.previewReady.connect(self.show_preview)
        self.session.resultReady.connect(self.show_result)
        self.session.sigmaEstimated.connect(win.controls.set_estimate)
        self.session.failed.connect(lambda _message: self.loader.draft_previewed())
        win.runner.submit(lambda job: backend.import_reader(), "import reader")

    # ----- loading -------------------------------------------------------------------
    def load(self, path: Path) -> None:
        """Read ``path`` in a worker; the old image stays until the new one can be shown."""
        if "drop" not in self.timings or "shown" in self.timings:
            self.timings = {"drop": time.perf_counter()}  # not a fresh drop: from now
        self._held = False
        self.win.status_text.setText(f"Opening {path.name}…")
        self.loader.load(path, self._view_size())

    def _view_size(self) -> tuple[int, int]:
        view = self.win.view.active_canvas()
        dpr = view.devicePixelRatioF()
        return int(view.width() * dpr), int(view.height() * dpr)

    def show_draft(self, draft: Draft) -> None:
        """Show a large JPEG's reduced decode now, and denoise the view from it."""
        self.doc, self.draft = None, draft
        self._show_original(draft.original, draft.name, draft.size)
        self.win.status_text.setText(f"{draft.name}: reading the full image…")
        canvas = self.win.view.active_canvas()
        self._suit_model(draft.u8.shape[2] if draft.u8.ndim == 3 else 1)
        self.session.params = self.win.controls.params()
        if not self.session.set_draft(draft, (canvas.visible_box(), canvas.zoom())):
            self.loader.draft_previewed()  # no model: nothing to wait for

    def _pixels_read(self, doc: Document) -> None:
        """Start denoising a just-read image; its display picture is still being built."""
        self.timings["read"] = time.perf_counter()
        self.doc, view = doc, None
        if not self._is_draft_of(doc):  # not on screen yet: it will be shown fitted
            self.draft = None
            self._reset_patches()
            h, w = doc.pixels.shape[:2]
            view = ((0, 0, h, w), fit_zoom(doc.size, self._view_size()))
        self._start(doc, view)

    def _loaded(self, doc: Document) -> None:
        self.show_document(doc, started=self.session.doc is doc)
        if doc.path is not None:
            window_settings.remember_file(self.win, doc.path)

    def _load_failed(self, path: Path, message: str) -> None:
        if self.draft is not None or (self.doc is not None and self.doc.original is None):
            self.session.set_document(None)  # read (or half read) but never fully shown
            self.doc = self.draft = None
            self.win.view.clear()
            self.win.saver.update_actions()
        self.win.status_text.setText("")
        self.win.banner.show_message(message, "error")

    def _is_draft_of(self, doc: Document) -> bool:
        return self.draft is not None and self.draft.path == doc.path

    # ----- showing ---------------------------------------------------------------------
    def show_document(self, doc: Document, started: bool = False) -> None:
        """Show a new image and start denoising what is in view (unless ``started``)."""
        if started and self._is_draft_of(doc):
            self._replace_draft(doc)
            return
        stashed = self._stashed if started else []
        self.doc, self.draft = doc, None
        assert doc.original is not None
        self._show_original(doc.original, doc.name, doc.size)
        self._document_shown(doc)
        if not started:
            self._start(doc, None)
            return
        for patch in stashed:  # the render began when the pixels were read
            self.show_preview(patch)
        if doc.rendered is not None:
            self.show_result(doc.rendered)

    def _show_original(self, original: Picture, name: str, size: tuple[int, int]) -> None:
        """A new image on screen (fitted), before anything is denoised."""
        win = self.win
        self._reset_patches()
        if win.banner.level == "error":  # about the previous file; notices stay
            win.banner.hide()
        win.view.clear()
        win.view.set_picture("original", original)
        win.actions_.layer_uncertainty.setEnabled(False)
        if win.view.layer() == "uncertainty":
            win.actions_.layer_result.trigger()
        win.controls.set_estimate(None)
        win.set_title(f"{name} ({size[0]}×{size[1]})")
        self.timings["shown"] = time.perf_counter()
        win.saver.update_actions()
        self.view_changed()

    def _replace_draft(self, doc: Document) -> None:
        """The full-resolution original takes the draft's place; view and previews stay."""
        self.draft = None
        assert doc.original is not None
        self.win.view.set_picture("original", doc.original)
        if self.patches:
            self._layer_patches(doc.original)
            self._prebuild_zoom_levels(doc)
        self.timings["full"] = time.perf_counter()
        self._document_shown(doc)
        if self.patches:
            self._say_previewing(doc.name)
        self.win.saver.update_actions()
        if doc.rendered is not None:
            self.show_result(doc.rendered)

    def _document_shown(self, doc: Document) -> None:
        w, h = doc.size
        self.win.status_text.setText(f"{doc.name}: {w}×{h}, {doc.bit_depth}-bit")
        emit(self.documentShown, doc)

    def _start(self, doc: Document, view: tuple | None) -> None:
        self.session.want_compare = self.win.view.mode() == "models"
        self._suit_model(doc.channels)
        self.session.params = self.win.controls.params()
        self.session.set_document(doc, view=view, start=not self._held)

    def _base(self) -> Picture | None:
        """The original the previews are laid over: the full one, else the draft's."""
        if self.doc is not None and self.doc.original is not None:
            return self.doc.original
        return self.draft.original if self.draft is not None else None

    def _reset_patches(self) -> None:
        self.patches, self._stashed, self._generation = [], [], -1

    def show_preview(self, patch: PreviewPatch) -> None:
        """Layer view-first patches over the original: coarse ones first, finer on top."""
        base = self._base()
        if base is None:  # still building the display picture: show it then
            self._stashed.append(patch)
            return
        if patch.generation != self._generation:
            self._generation = patch.generation
            self.patches = []
        self.patches = sorted([*self.patches, patch], key=lambda p: -p.factor)[-MAX_PATCHES:]
        self._layer_patches(base)
        self.timings.setdefault("preview", time.perf_counter())
        if self.draft is not None:
            self.loader.draft_previewed()
        if self.doc is not None and self.doc.original is base:
            self._prebuild_zoom_levels(self.doc)
        shown = self.doc or self.draft
        if shown is not None:
            self._say_previewing(shown.name)
        emit(self.previewShown)

    def _say_previewing(self, name: str) -> None:
        if self.session.is_running():
            self.win.status_text.setText(f"{name}: preview of the view shown; "
                                         "denoising the whole image…")

    def _layer_patches(self, base: Picture) -> None:
        grey = QImage(1, 1, QImage.Format.Format_Grayscale8)
        grey.fill(128)
        view = self.win.view
        view.set_picture("result", base.with_patches([p.result for p in self.patches]))
        view.set_picture("residual", base.with_patches(
            [Patch(grey, QRectF(0, 0, base.width, base.height))]
            + [p.residual for p in self.patches]))

    def _prebuild_zoom_levels(self, doc: Document) -> None:
        """Once, after the first preview, make the original's other reduced copies in the
        background, so zooming in from "fit" never builds one in the GUI thread."""
        u8, zoom, original = doc.display_u8, self.win.view.active_canvas().zoom(), doc.original
        if u8 is None or original is None or zoom >= 0.25 or doc.extra.get("levels"):
            return
        doc.extra["levels"] = True
        self.win.runner.submit(lambda job: original.prebuild(u8, zoom, every=True),
                               "zoom levels")

    def show_result(self, r: Rendered) -> None:
        if self.doc is not None and self.doc.original is None:
            return  # shown with the original (show_document)
        win = self.win
        win.view.residual_gain = residual_gain(r.sigma if r.sigma >= 0 else None)
        win.view.set_picture("result", r.picture)
        win.view.set_picture("residual", r.residual)
        win.view.set_picture("uncertainty", r.uncertainty)
        win.actions_.layer_uncertainty.setEnabled(r.uncertainty is not None)
        sigma = "blind" if r.sigma < 0 else f"σ {r.sigma:.1f}"
        win.status_text.setText(f"Denoised with {r.model.name} ({sigma}) in {r.seconds:.1f} s "
                                f"on {r.device.upper() or 'CPU'}.")
        self.timings.setdefault("result", time.perf_counter())
        win.saver.update_actions()
        emit(self.resultShown)

    # ----- the user stepping in ------------------------------------------------------
    def params_changed(self) -> None:
        """A control changed: the session re-renders (debounced) if the result differs."""
        params = self.win.controls.params()
        if params is None:
            return
        self.session.want_compare = self.win.view.mode() == "models"
        self.session.set_params(params, immediate=self.session.params is None)
        # another model may read the noise differently (camera vs Gaussian): show its own
        # estimate, or none until its render makes one
        self.win.controls.set_estimate(self.session.estimate())
        self.win.saver.update_actions()
        if params.compare_model is not None:
            self.win.view.set_model_names(params.model.name, params.compare_model.name)

    def engine_ready(self, device: str, reason: str) -> None:
        self.win.controls.set_device_status(device, reason)
        if reason:
            self.win.banner.show_message(
                f"Using the CPU instead of {self.win.controls.device().upper()}: {reason}.",
                "warning")

    def view_changed(self) -> None:
        """Zoomed or panned: the session previews the new view if the result is not there."""
        canvas = self.win.view.active_canvas()
        self.win.zoom_label.setText(f"{canvas.zoom() * 100:.0f} %" if canvas.has_image() else "")
        if canvas.has_image():
            self.session.set_view(canvas.visible_box(), canvas.zoom())

    def _suit_model(self, channels: int) -> None:
        """The CLI's model for this many channels, unless the user picked one."""
        if self.win.models:
            model = backend.choose_default(self.win.models, channels)
            self.win.controls.suggest_model(str(model.path))

    def cancel(self) -> None:
        """Stop denoising; a file still being read is shown when it is, not denoised."""
        loading = self.loader.is_loading()
        if self.session.is_running() or loading:
            self._held = loading
            self.session.cancel()
            self.loader.draft_previewed()  # the full decode need not wait any longer
            self.win.status_text.setText("Cancelled; change a setting to denoise again.")

    def set_document(self, doc: Document) -> None:
        """Show an image that needs no reading (pasted), and denoise it."""
        self.loader.cancel()
        self._held = False
        self.show_document(doc)
