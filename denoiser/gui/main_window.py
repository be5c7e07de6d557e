"""The main window: composes the widgets and wires their signals. No pixel work here.

Layout: toolbar; an inline banner; the comparison view in the middle; controls in a
dock on the right; the batch queue in a dock at the bottom; status bar with progress,
cancel, zoom and device.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QRectF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from denoiser.gui import backend, qtcompat, window_settings
from denoiser.gui.about_dialog import AboutDialog
from denoiser.gui.actions import Actions
from denoiser.gui.banner import Banner
from denoiser.gui.batch_panel import BatchPanel
from denoiser.gui.batch_runner import BatchOptions
from denoiser.gui.compare_view import CompareView
from denoiser.gui.controls_panel import ControlsPanel
from denoiser.gui.document import (
    Document,
    Rendered,
    add_display,
    document_from_qimage,
    fit_zoom,
    read_document,
)
from denoiser.gui.icons import app_icon
from denoiser.gui.loupe import LOUPE_SIZE
from denoiser.gui.picture import Patch
from denoiser.gui.qimage_convert import residual_gain
from denoiser.gui.qtcompat import emit
from denoiser.gui.render_session import PreviewPatch, RenderSession
from denoiser.gui.saving import save_pixels, settings_note
from denoiser.gui.settings import AppSettings
from denoiser.gui.workers import Job, JobRunner

APP_TITLE = "denoiser-studio"
MAX_PATCHES = 6


class MainWindow(QMainWindow):
    """Signals for tests and measurement scripts:
    documentShown(doc), previewShown(), resultShown(), saved(path), modelsLoaded(list).
    """

    documentShown = Signal(object)
    previewShown = Signal()
    resultShown = Signal()
    saved = Signal(str)
    modelsLoaded = Signal(list)

    def __init__(self, settings: AppSettings | None = None, model: str | None = None,
                 device: str | None = None) -> None:
        super().__init__()
        qtcompat.install(QApplication.instance())  # no-op unless the binding leaks refs
        self.settings = settings or AppSettings()
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setObjectName("main_window")
        self.runner = JobRunner(self)
        self.session = RenderSession(self.runner, self)
        self.doc: Document | None = None
        self.models: list[Any] = []
        self.timings: dict[str, float] = {}
        self._load_job: Job | None = None
        self._patches: list[PreviewPatch] = []
        self._stashed_patches: list[PreviewPatch] = []
        self._patch_generation = -1
        self._model_override = model

        # centre: banner over the comparison view
        self.banner = Banner()
        self.view = CompareView()
        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.view, 1)
        self.setCentralWidget(centre)

        # docks
        self.controls = ControlsPanel()
        self.controls_dock = self._dock("Controls", "controls_dock", self.controls,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.batch = BatchPanel(self.runner, self.batch_options)
        self.batch_dock = self._dock("Batch queue", "batch_dock", self.batch,
                                     Qt.DockWidgetArea.BottomDockWidgetArea)
        self.batch_dock.hide()

        # status bar
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setObjectName("cancel_button")
        self.status_text = QLabel("")
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(60)
        sb = self.statusBar()
        sb.addWidget(self.status_text, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_btn)
        sb.addPermanentWidget(self.zoom_label)
        self._set_running(False)

        # actions
        self.actions_ = Actions(self)
        self.note_action = QAction("Note Model and Settings in Saved Files", self)
        self.note_action.setCheckable(True)
        self.actions_.build_menus(self)
        self.menuBar().actions()[0].menu().insertAction(self.actions_.quit, self.note_action)
        self.toolbar = self.actions_.build_toolbar(self)
        self.actions_.layer_uncertainty.setEnabled(False)  # until a VAE result has one
        self._connect()
        self._restore_settings(device)
        self.controls.set_available_devices(backend.available_devices())
        for edit in self.findChildren(QLineEdit):  # files dropped on a text field go to the
            edit.setAcceptDrops(False)              # window, not into the text
        self._load_models()

    # ----- composition -------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        a = self.actions_
        a.open.triggered.connect(self.open_dialog)
        a.open_folder.triggered.connect(self.open_folder_dialog)
        a.paste.triggered.connect(self.paste)
        a.save.triggered.connect(self.save)
        a.save_as.triggered.connect(self.save_as)
        a.quit.triggered.connect(self.close)
        a.clear_recent.triggered.connect(self._clear_recent)
        a.toggle.triggered.connect(lambda: self.view.set_hold(not self.view.holding()))
        a.zoom_in.triggered.connect(lambda: self.view.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: self.view.zoom_by(0.8))
        a.zoom_fit.triggered.connect(self.view.fit)
        a.zoom_100.triggered.connect(lambda: self.view.set_zoom(1.0))
        a.zoom_200.triggered.connect(lambda: self.view.set_zoom(2.0))
        a.loupe.toggled.connect(self.view.set_loupe_visible)
        a.mode_split.triggered.connect(lambda: self.set_view_mode("split"))
        a.mode_side.triggered.connect(lambda: self.set_view_mode("side"))
        a.mode_models.triggered.connect(lambda: self.set_view_mode("models"))
        a.layer_result.triggered.connect(lambda: self.view.set_layer("result"))
        a.layer_residual.triggered.connect(lambda: self.view.set_layer("residual"))
        a.layer_uncertainty.triggered.connect(lambda: self.view.set_layer("uncertainty"))
        a.cancel.triggered.connect(self.cancel_render)
        a.show_batch.toggled.connect(self.batch_dock.setVisible)
        self.batch_dock.visibilityChanged.connect(a.show_batch.setChecked)
        a.show_controls.toggled.connect(self.controls_dock.setVisible)
        self.controls_dock.visibilityChanged.connect(a.show_controls.setChecked)
        a.about.triggered.connect(self.show_about)
        self.cancel_btn.clicked.connect(self.cancel_render)

        self.controls.paramsChanged.connect(self._params_changed)
        self.controls.compareToggled.connect(self._compare_toggled)
        self.view.viewChanged.connect(self._view_changed)
        self.view.loupeMoved.connect(
            lambda x, y: self.session.preview_spot(x, y, LOUPE_SIZE + 20))
        self.session.engineReady.connect(self._engine_ready)
        self.session.sigmaEstimated.connect(self.controls.set_estimate)
        self.session.previewReady.connect(self._show_preview)
        self.session.resultReady.connect(self._show_result)
        self.session.compareReady.connect(self._show_compare)
        self.session.progress.connect(self._progress)
        self.session.runningChanged.connect(self._set_running)
        self.session.failed.connect(lambda m: self.banner.show_message(m, "error"))
        self.batch.message.connect(lambda m: self.banner.show_message(m, "warning", 8000))
        self.batch.batchFinished.connect(self._batch_finished)

    # ----- getting images in ---------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        md = event.mimeData()
        if md.hasUrls() or md.hasImage():
            urls = [u for u in md.urls() if u.isLocalFile()]
            several = len(urls) > 1 or any(Path(u.toLocalFile()).is_dir() for u in urls)
            self.view.set_drop_hint(True, "Drop to add to the batch queue" if several
                                    else "Drop to open")
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: Any) -> None:  # noqa: N802
        self.view.set_drop_hint(False)
        super().dragLeaveEvent(event)

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.view.set_drop_hint(False)
        md = event.mimeData()
        self.timings = {"drop": time.perf_counter()}
        paths = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()
        elif md.hasImage():
            self.open_qimage(QImage(md.imageData()), "Dropped image")
            event.acceptProposedAction()
        else:
            self.banner.show_message("Only local files, folders or images can be dropped here.",
                                     "warning", 6000)
            event.ignore()

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open one file in the viewer; queue several files or folders as a batch."""
        ps = [Path(p) for p in paths]
        missing = [p for p in ps if not p.exists()]
        ps = [p for p in ps if p.exists()]
        if missing:
            self.banner.show_message(f"{missing[0]} does not exist.", "error")
        if not ps:
            return
        if len(ps) == 1 and ps[0].is_file():
            self.open_file(ps[0])
            return
        added, skipped = self.batch.add_paths(ps)
        self.batch_dock.show()
        if added:
            first = next((r.source.path for r in self.batch.rows[-added:]), None)
            self.status_text.setText(f"Queued {added} image(s) for the batch; press Start.")
            if first is not None:
                self.open_file(first)
        elif not skipped:
            self.banner.show_message("No supported images were found there.", "warning", 8000)

    def open_file(self, path: str | Path) -> None:
        """Load in a worker; the old image stays until the new one is ready."""
        path = Path(path)
        if not self.timings.get("drop"):
            self.timings = {"drop": time.perf_counter()}
        if path.is_dir():
            self.open_paths([path])
            return
        if not backend.is_supported(path):
            self.banner.show_message(f"{path.name} is not a supported image type.", "error")
            return
        if self._load_job is not None and shiboken6.isValid(self._load_job):
            self._load_job.cancel()  # the newest drop wins
        self.status_text.setText(f"Opening {path.name}…")
        view = self.view.active_canvas()
        dpr = view.devicePixelRatioF()
        size = (int(view.width() * dpr), int(view.height() * dpr))

        def work(job: Job) -> Any:
            # denoising starts as soon as the pixels are read; the display picture is
            # built meanwhile (two cores, two jobs), which saves a few tenths of a second
            doc = read_document(path)
            yield ("read", doc)
            return add_display(doc, size)

        self._load_job = job = self.runner.submit(
            work, "load",
            yielded=lambda v: self._pixels_read(job, v[1], size),
            succeeded=self._loaded,
            failed=lambda m: self._load_failed(path, m),
        )

    def _pixels_read(self, job: Job, doc: Document, view: tuple[int, int]) -> None:
        """Start the view-first denoise of a just-read image, fitted, before it is shown."""
        if job is not self._load_job:
            return  # a newer drop won
        self.doc = doc
        self._patches, self._patch_generation = [], -1
        self._stashed_patches = []
        h, w = doc.pixels.shape[:2]
        self.session.want_compare = self.view.mode() == "models"
        self.session.params = self.controls.params()
        self.session.set_document(doc, view=((0, 0, h, w), fit_zoom(doc.size, view)))

    def _loaded(self, doc: Document) -> None:
        self._load_job = None
        self.set_document(doc, started=self.session.doc is doc)
        if doc.path is not None:
            self.settings.add_recent_file(doc.path)
            self.settings.set("last_open_dir", str(doc.path.parent))
            self._update_recent_menu()

    def _load_failed(self, path: Path, message: str) -> None:
        self._load_job = None
        if self.doc is not None and self.doc.original is None:  # read, but not shown
            self.session.set_document(None)
            self.doc = None
            self._update_save_actions()
        self.status_text.setText("")
        self.banner.show_message(message, "error")

    def open_qimage(self, image: QImage, name: str = "Pasted image") -> None:
        if image.isNull():
            self.banner.show_message("The clipboard has no image.", "warning", 6000)
            return
        self.set_document(document_from_qimage(image, name))

    def paste(self) -> None:
        md = QGuiApplication.clipboard().mimeData()
        if md is not None and md.hasUrls():
            paths = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
            if paths:
                self.open_paths(paths)
                return
        self.open_qimage(QGuiApplication.clipboard().image())

    def open_dialog(self) -> None:
        suffixes = " ".join(f"*{s}" for s in backend.supported_suffixes())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open image", self.settings.get("last_open_dir"),
            f"Images ({suffixes});;All files (*)")
        if path:
            self.timings = {}
            self.open_file(path)

    def open_folder_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder to denoise",
                                             self.settings.get("last_open_dir"))
        if d:
            self.open_paths([d])

    def set_document(self, doc: Document, started: bool = False) -> None:
        """Show a new image and start denoising what is in view (unless ``started``)."""
        self.doc = doc
        stashed = self._stashed_patches if started else []
        self._stashed_patches = []
        self._patches, self._patch_generation = [], -1
        if self.banner.level == "error":  # about the previous file; notices stay
            self.banner.hide()
        self.view.clear()
        self.view.set_picture("original", doc.original)
        self.actions_.layer_uncertainty.setEnabled(False)
        if self.view.layer() == "uncertainty":
            self.actions_.layer_result.trigger()
        self.controls.set_estimate(None)
        w, h = doc.size
        self.setWindowTitle(f"{doc.name} ({w}×{h}) — {APP_TITLE}")
        self.status_text.setText(f"{doc.name}: {w}×{h}, {doc.bit_depth}-bit")
        self.timings["shown"] = time.perf_counter()
        emit(self.documentShown, doc)
        self._update_save_actions()
        if started:  # the render began when the pixels were read
            for patch in stashed:
                self._show_preview(patch)
            if doc.rendered is not None:
                self._show_result(doc.rendered)
            self._view_changed()
            return
        self._view_changed()
        self.session.want_compare = self.view.mode() == "models"
        self.session.params = self.controls.params()
        self.session.set_document(doc)

    # ----- rendering ------------------------------------------------------------------
    def _params_changed(self) -> None:
        params = self.controls.params()
        if params is None:
            return
        self.session.want_compare = self.view.mode() == "models"
        self.session.set_params(params, immediate=self.session.params is None)
        self._update_save_actions()
        if params.compare_model is not None:
            self.view.set_model_names(params.model.name, params.compare_model.name)

    def _compare_toggled(self, on: bool) -> None:
        if on and self.view.mode() != "models":
            self.actions_.mode_models.setChecked(True)
            self.set_view_mode("models")
        elif not on and self.view.mode() == "models":
            self.actions_.mode_side.setChecked(True)
            self.set_view_mode("side")

    def set_view_mode(self, mode: str) -> None:
        self.view.set_mode(mode)
        {"split": self.actions_.mode_split, "side": self.actions_.mode_side,
         "models": self.actions_.mode_models}[mode].setChecked(True)
        if mode == "models":
            if not self.controls.comparing():
                self.controls.compare_box.setChecked(True)  # emits paramsChanged
            self.session.want_compare = True
            if self.doc is not None and self.doc.compare is None and self.session.is_current():
                self.session.start_compare()

    def _view_changed(self) -> None:
        canvas = self.view.active_canvas()
        self.zoom_label.setText(f"{canvas.zoom() * 100:.0f} %" if canvas.has_image() else "")
        if canvas.has_image():
            self.session.set_view(canvas.visible_box(), canvas.zoom())

    def _engine_ready(self, device: str, reason: str) -> None:
        self.controls.set_device_status(device, reason)
        if reason:
            self.banner.show_message(
                f"Using the CPU instead of {self.controls.device().upper()}: {reason}.",
                "warning")

    def _show_preview(self, patch: PreviewPatch) -> None:
        """Layer view-first patches over the original: coarse ones first, finer on top."""
        doc = self.doc
        if doc is None:
            return
        if doc.original is None:  # still building the display picture: show it then
            self._stashed_patches.append(patch)
            return
        if patch.generation != self._patch_generation:
            self._patch_generation = patch.generation
            self._patches = []
        self._patches = sorted([*self._patches, patch], key=lambda p: -p.factor)[-MAX_PATCHES:]
        grey = QImage(1, 1, QImage.Format.Format_Grayscale8)
        grey.fill(128)
        orig = doc.original
        self.view.set_picture("result", orig.with_patches([p.result for p in self._patches]))
        self.view.set_picture("residual", orig.with_patches(
            [Patch(grey, QRectF(0, 0, *doc.size))] + [p.residual for p in self._patches]))
        if "preview" not in self.timings:
            self.timings["preview"] = time.perf_counter()
            self._prebuild_zoom_levels(doc)
        if self.session.is_running():
            self.status_text.setText(f"{doc.name}: preview of the view shown; "
                                     "denoising the whole image…")
        emit(self.previewShown)

    def _prebuild_zoom_levels(self, doc: Document) -> None:
        """After the first preview, make the original's other reduced copies in the
        background, so zooming in from "fit" never builds one in the GUI thread."""
        u8, zoom = doc.display_u8, self.view.active_canvas().zoom()
        if u8 is not None and zoom < 0.25:
            self.runner.submit(lambda job: doc.original.prebuild(u8, zoom, every=True),
                               "zoom levels")

    def _show_result(self, r: Rendered) -> None:
        if self.doc is not None and self.doc.original is None:
            return  # shown with the original (set_document)
        self.view.residual_gain = residual_gain(r.sigma if r.sigma >= 0 else None)
        self.view.set_picture("result", r.picture)
        self.view.set_picture("residual", r.residual)
        self.view.set_picture("uncertainty", r.uncertainty)
        self.actions_.layer_uncertainty.setEnabled(r.uncertainty is not None)
        sigma = "blind" if r.sigma < 0 else f"σ {r.sigma:.1f}"
        self.status_text.setText(f"Denoised with {r.model.name} ({sigma}) in {r.seconds:.1f} s "
                                 f"on {r.device.upper() or 'CPU'}.")
        self.timings.setdefault("result", time.perf_counter())
        self._update_save_actions()
        emit(self.resultShown)

    def _show_compare(self, r: Rendered) -> None:
        self.view.set_picture("result_b", r.picture)

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        self.progress.setToolTip(message)

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_btn.setVisible(running)
        if not running:
            self.progress.setValue(0)

    def cancel_render(self) -> None:
        if self.session.is_running():
            self.session.cancel()
            self.status_text.setText("Cancelled; change a setting to denoise again.")

    # ----- saving ---------------------------------------------------------------------
    def _update_save_actions(self) -> None:
        """Saving is possible once the whole image is denoised with the current settings."""
        ok = self.doc is not None and self.doc.rendered is not None and self.session.is_current()
        self.actions_.save.setEnabled(ok)
        self.actions_.save_as.setEnabled(ok)

    def default_save_path(self) -> Path:
        doc = self.doc
        assert doc is not None
        out_dir = self.settings.get("output_dir")
        stem = doc.path.stem if doc.path else "pasted"
        suffix = doc.path.suffix.lower() if doc.path else ".png"
        folder = Path(out_dir) if out_dir else (doc.path.parent if doc.path else Path.home())
        return folder / f"{stem}_denoised{suffix}"

    def save(self) -> None:
        if self.doc is None or self.doc.rendered is None:
            return
        if self.doc.saved_path is not None:
            self.save_to(self.doc.saved_path, overwrite=True)
        else:
            self.save_as()

    def save_as(self) -> None:
        if self.doc is None or self.doc.rendered is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save denoised image", str(self.default_save_path()),
            "Same type as the name (*.*);;PNG (*.png);;JPEG (*.jpg);;TIFF (*.tif)")
        if path:
            # the dialog has asked about replacing an existing file already
            self.save_to(path, overwrite=True)

    def ask(self, title: str, question: str) -> bool:
        """Yes/no question (tests replace this)."""
        reply = QMessageBox.question(self, title, question)
        return reply == QMessageBox.StandardButton.Yes

    def save_to(self, path: str | Path, overwrite: bool = False) -> Job | None:
        """Write the current result in a worker; asks before replacing the original."""
        doc = self.doc
        if doc is None or doc.rendered is None:
            return None
        path = Path(path)
        if doc.path is not None and path.exists() and path.resolve() == doc.path.resolve():
            if not self.ask("Replace the original?",
                            f"{path.name} is the original photo. Replace it with the "
                            "denoised version? This cannot be undone."):
                return None
            overwrite = True
        r = doc.rendered
        note = settings_note(r.model, r.sigma, r.device) if self.note_action.isChecked() else None
        self.status_text.setText(f"Saving {path.name}…")
        return self.runner.submit(
            lambda job: save_pixels(path, r.result, loaded=doc.loaded, alpha=doc.alpha,
                                    quality=self.settings.get("jpeg_quality"),
                                    overwrite=overwrite, note=note),
            "save", succeeded=lambda p: self._saved(doc, Path(p)),
            failed=lambda m: self.banner.show_message(m, "error"),
        )

    def _saved(self, doc: Document, path: Path) -> None:
        doc.saved_path = path
        self.settings.set("output_dir", str(path.parent))
        self.status_text.setText(f"Saved {path}")
        emit(self.saved, str(path))

    # ----- batch ----------------------------------------------------------------------
    def batch_options(self) -> BatchOptions | None:
        p = self.controls.params()
        if p is None:
            return None
        return BatchOptions(model=p.model, sigma=p.sigma, device=p.device, tile=p.tile,
                            note=self.note_action.isChecked())

    def _batch_finished(self, totals: dict) -> None:
        self.status_text.setText(f"Batch: {totals['done']} done, {totals['error']} failed, "
                                 f"{totals['cancelled']} cancelled.")

    # ----- models ---------------------------------------------------------------------
    def _load_models(self) -> None:
        self.runner.submit(lambda job: backend.discover_models(), "models",
                           succeeded=self._models_loaded,
                           failed=lambda m: self.banner.show_message(m, "error"))

    def _models_loaded(self, models: list[Any]) -> None:
        if self._model_override:
            try:
                extra = backend.find_model(self._model_override)
            except Exception as e:  # noqa: BLE001 - shown to the user, app keeps going
                self.banner.show_message(str(e), "error")
            else:
                models = [extra] + [m for m in models if m.path != extra.path]
        self.models = models
        want = self._model_override or self.settings.get("model") or None
        if want and not any(want in (m.name, str(m.path)) for m in models):
            want = None
        if want is None and models:
            try:
                want = backend.default_model(3).name
            except Exception:  # noqa: BLE001 - no default is fine, the first model is used
                want = None
        self.controls.set_models(models, want, self.settings.get("compare_model") or None)
        if not models:
            self.banner.show_message(
                "No denoising model is installed, so images can be viewed but not denoised.",
                "warning")
        emit(self.modelsLoaded, models)

    def show_about(self) -> None:
        AboutDialog(self.models, self.settings.file_name, self).exec()

    # ----- keys -----------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.view.set_hold(True)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.view.set_hold(False)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ----- settings -------------------------------------------------------------------
    def _restore_settings(self, device: str | None) -> None:
        window_settings.restore(self, device)

    def save_settings(self) -> None:
        window_settings.store(self)

    def _update_recent_menu(self) -> None:
        menu = self.actions_.recent_menu
        menu.clear()
        recent = self.settings.recent_files()
        for p in recent:
            a = menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self._open_recent(p))
        if recent:
            menu.addSeparator()
            menu.addAction(self.actions_.clear_recent)
        menu.setEnabled(bool(recent))

    def _open_recent(self, path: str) -> None:
        self.timings = {}
        self.open_file(path)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._update_recent_menu()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.session.cancel()
        self.batch.cancel_all()
        self.runner.shutdown()
        super().closeEvent(event)


def file_url(path: str | Path) -> QUrl:
    """A local-file URL (for drops in tests and scripts)."""
    return QUrl.fromLocalFile(str(path))


__all__ = ["MainWindow", "file_url"]
