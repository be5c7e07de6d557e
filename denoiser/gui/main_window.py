"""The main window: composes the widgets and wires their signals. No pixel work here.

Layout: toolbar; an inline banner; the comparison view in the middle; controls in a
dock on the right; the batch queue in a dock at the bottom; status bar with progress,
cancel, zoom and device.

What happens behind the widgets lives in controllers the window builds and connects:
:mod:`~denoiser.gui.opening` (getting images in), :mod:`~denoiser.gui.pipeline` (loading,
denoising view-first, showing), :mod:`~denoiser.gui.save_controller`,
:mod:`~denoiser.gui.model_loading` and :mod:`~denoiser.gui.window_settings`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLineEdit,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from denoiser.gui import backend, model_loading, qtcompat, window_settings
from denoiser.gui.about_dialog import AboutDialog
from denoiser.gui.actions import Actions
from denoiser.gui.banner import Banner
from denoiser.gui.batch_panel import BatchPanel
from denoiser.gui.batch_runner import BatchOptions
from denoiser.gui.compare_view import CompareView
from denoiser.gui.controls_panel import ControlsPanel
from denoiser.gui.document import Document
from denoiser.gui.icons import app_icon
from denoiser.gui.loupe import LOUPE_SIZE
from denoiser.gui.opening import Opener
from denoiser.gui.pipeline import Pipeline
from denoiser.gui.render_session import RenderSession
from denoiser.gui.save_controller import SaveController
from denoiser.gui.settings import AppSettings
from denoiser.gui.status_bar import StatusParts
from denoiser.gui.workers import JobRunner

APP_TITLE = "denoiser-studio"


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
        self.models: list[Any] = []
        self.runner = JobRunner(self)
        self.session = RenderSession(self.runner, self)
        self._build_centre()
        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self.saver = SaveController(self)
        self.pipeline = Pipeline(self)
        self.opener = Opener(self)
        self._connect_actions()
        self._connect_view_actions()
        self._connect_panels()
        window_settings.restore(self, device)
        self.controls.set_available_devices(backend.available_devices())
        for edit in self.findChildren(QLineEdit):  # files dropped on a text field go to the
            edit.setAcceptDrops(False)              # window, not into the text
        model_loading.load_models(self, model)

    # ----- composition -------------------------------------------------------------
    def _build_centre(self) -> None:
        """The banner over the comparison view."""
        self.banner = Banner()
        self.view = CompareView()
        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.view, 1)
        self.setCentralWidget(centre)

    def _build_docks(self) -> None:
        self.controls = ControlsPanel()
        self.controls_dock = self._dock("Controls", "controls_dock", self.controls,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.batch = BatchPanel(self.runner, self.batch_options)
        self.batch_dock = self._dock("Batch queue", "batch_dock", self.batch,
                                     Qt.DockWidgetArea.BottomDockWidgetArea)
        self.batch_dock.hide()

    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.status = StatusParts(self.statusBar())
        self.status_text, self.zoom_label = self.status.text, self.status.zoom
        self.progress, self.cancel_btn = self.status.progress, self.status.cancel_btn

    def _build_actions(self) -> None:
        self.actions_ = Actions(self)
        self.note_action = QAction("Note Model and Settings in Saved Files", self)
        self.note_action.setCheckable(True)
        self.actions_.build_menus(self)
        self.menuBar().actions()[0].menu().insertAction(self.actions_.quit, self.note_action)
        self.toolbar = self.actions_.build_toolbar(self)
        self.actions_.layer_uncertainty.setEnabled(False)  # until a VAE result has one

    def _connect_actions(self) -> None:
        a, opener = self.actions_, self.opener
        a.open.triggered.connect(opener.open_dialog)
        a.open_folder.triggered.connect(opener.open_folder_dialog)
        a.paste.triggered.connect(opener.paste)
        a.save.triggered.connect(self.saver.save)
        a.save_as.triggered.connect(self.saver.save_as)
        a.quit.triggered.connect(self.close)
        a.clear_recent.triggered.connect(lambda: window_settings.clear_recent(self))
        a.cancel.triggered.connect(self.cancel_render)
        a.show_batch.toggled.connect(self.batch_dock.setVisible)
        self.batch_dock.visibilityChanged.connect(a.show_batch.setChecked)
        a.show_controls.toggled.connect(self.controls_dock.setVisible)
        self.controls_dock.visibilityChanged.connect(a.show_controls.setChecked)
        a.about.triggered.connect(self.show_about)
        self.cancel_btn.clicked.connect(self.cancel_render)

    def _connect_view_actions(self) -> None:
        a, view = self.actions_, self.view
        a.toggle.triggered.connect(lambda: view.set_hold(not view.holding()))
        a.zoom_in.triggered.connect(lambda: view.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: view.zoom_by(0.8))
        a.zoom_fit.triggered.connect(view.fit)
        a.zoom_100.triggered.connect(lambda: view.set_zoom(1.0))
        a.zoom_200.triggered.connect(lambda: view.set_zoom(2.0))
        a.loupe.toggled.connect(view.set_loupe_visible)
        for mode in ("split", "side", "models"):
            getattr(a, f"mode_{mode}").triggered.connect(
                lambda _=False, m=mode: self.set_view_mode(m))
        for layer in ("result", "residual", "uncertainty"):
            getattr(a, f"layer_{layer}").triggered.connect(
                lambda _=False, name=layer: view.set_layer(name))

    def _connect_panels(self) -> None:
        s, p = self.session, self.pipeline
        self.controls.paramsChanged.connect(p.params_changed)
        self.controls.compareToggled.connect(self._compare_toggled)
        self.view.viewChanged.connect(p.view_changed)
        self.view.loupeMoved.connect(lambda x, y: s.preview_spot(x, y, LOUPE_SIZE + 20))
        s.engineReady.connect(p.engine_ready)
        s.compareReady.connect(lambda r: self.view.set_picture("result_b", r.picture))
        s.progress.connect(self.status.set_progress)
        s.runningChanged.connect(self.status.set_running)
        s.failed.connect(lambda m: self.banner.show_message(m, "error"))
        for src, dst in ((p.documentShown, self.documentShown),
                         (p.previewShown, self.previewShown),
                         (p.resultShown, self.resultShown), (self.saver.saved, self.saved)):
            src.connect(dst)
        self.batch.message.connect(lambda m: self.banner.show_message(m, "warning", 8000))
        self.batch.batchFinished.connect(self._batch_finished)

    # ----- the open image ------------------------------------------------------------
    @property
    def doc(self) -> Document | None:
        return self.pipeline.doc

    @property
    def timings(self) -> dict[str, float]:
        """perf_counter() times of drop, shown, preview, read, full and result."""
        return self.pipeline.timings

    def open_paths(self, paths: list[str | Path]) -> None:
        self.opener.open_paths(paths)

    def open_file(self, path: str | Path) -> None:
        self.opener.open_file(path)

    def set_title(self, text: str) -> None:
        self.setWindowTitle(f"{text} — {APP_TITLE}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        hint = self.opener.drag_hint(event.mimeData())
        if hint is None:
            event.ignore()
            return
        self.view.set_drop_hint(True, hint)
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: Any) -> None:  # noqa: N802
        self.view.set_drop_hint(False)
        super().dragLeaveEvent(event)

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.view.set_drop_hint(False)
        if self.opener.drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # ----- view modes, cancel ----------------------------------------------------------
    def _compare_toggled(self, on: bool) -> None:
        if on and self.view.mode() != "models":
            self.set_view_mode("models")
        elif not on and self.view.mode() == "models":
            self.set_view_mode("side")

    def set_view_mode(self, mode: str) -> None:
        self.view.set_mode(mode)
        getattr(self.actions_, f"mode_{mode}").setChecked(True)
        if mode == "models":
            if not self.controls.comparing():
                self.controls.compare_box.setChecked(True)  # emits paramsChanged
            self.session.want_compare = True
            doc = self.doc
            if doc is not None and doc.compare is None and self.session.is_current():
                self.session.start_compare()

    def cancel_render(self) -> None:
        self.pipeline.cancel()

    # ----- batch, about, keys, closing -----------------------------------------------
    def batch_options(self) -> BatchOptions | None:
        p = self.controls.params()
        if p is None:
            return None
        picked = self.controls.model_picker.chosen or not self.models
        return BatchOptions(model=p.model, sigma=p.sigma, device=p.device, tile=p.tile,
                            note=self.note_action.isChecked(),
                            model_for=None if picked else functools.partial(
                                backend.choose_default, list(self.models)))

    def _batch_finished(self, totals: dict) -> None:
        self.status_text.setText(f"Batch: {totals['done']} done, {totals['error']} failed, "
                                 f"{totals['cancelled']} cancelled.")

    def show_about(self) -> None:
        AboutDialog(self.models, self.settings.file_name, self).exec()

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

    def save_settings(self) -> None:
        window_settings.store(self)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.session.cancel()
        self.pipeline.loader.cancel()
        self.batch.cancel_all()
        self.runner.shutdown()
        super().closeEvent(event)


def file_url(path: str | Path) -> QUrl:
    """A local-file URL (for drops in tests and scripts)."""
    return QUrl.fromLocalFile(str(path))


__all__ = ["MainWindow", "file_url"]
