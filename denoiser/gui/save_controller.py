"""Save and Save As for the open image: when they are possible, where to, and asking first.

Why apart from :mod:`denoiser.gui.saving` (which writes the file): this is the user's
side of saving (dialogs, the question before replacing the original, the status line,
remembering the folder) and it needs the window; the writing needs none of that.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from denoiser.gui.document import Document
from denoiser.gui.qtcompat import emit
from denoiser.gui.saving import save_pixels, settings_note
from denoiser.gui.workers import Job

if TYPE_CHECKING:
    from denoiser.gui.main_window import MainWindow

SAVE_FILTERS = "Same type as the name (*.*);;PNG (*.png);;JPEG (*.jpg);;TIFF (*.tif)"


class SaveController(QObject):
    """Signal: saved(path) once a file is written."""

    saved = Signal(str)

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win

    def _doc(self) -> Document | None:
        """The open document if its whole result is there, else None."""
        doc = self.win.pipeline.doc
        return doc if doc is not None and doc.rendered is not None else None

    def update_actions(self) -> None:
        """Saving is possible once the whole image is denoised with the current settings."""
        ok = self._doc() is not None and self.win.session.is_current()
        self.win.actions_.save.setEnabled(ok)
        self.win.actions_.save_as.setEnabled(ok)

    def default_save_path(self) -> Path:
        doc = self.win.pipeline.doc
        assert doc is not None
        out_dir = self.win.settings.get("output_dir")
        stem = doc.path.stem if doc.path else "pasted"
        suffix = doc.path.suffix.lower() if doc.path else ".png"
        folder = Path(out_dir) if out_dir else (doc.path.parent if doc.path else Path.home())
        return folder / f"{stem}_denoised{suffix}"

    def save(self) -> None:
        doc = self._doc()
        if doc is not None and doc.saved_path is not None:
            self.save_to(doc.saved_path, overwrite=True)
        elif doc is not None:
            self.save_as()

    def save_as(self) -> None:
        if self._doc() is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.win, "Save denoised image", str(self.default_save_path()), SAVE_FILTERS)
        if path:  # the dialog has asked about replacing an existing file already
            self.save_to(path, overwrite=True)

    def ask(self, title: str, question: str) -> bool:
        """Yes/no question (tests replace this)."""
        reply = QMessageBox.question(self.win, title, question)
        return reply == QMessageBox.StandardButton.Yes

    def save_to(self, path: str | Path, overwrite: bool = False) -> Job | None:
        """Write the current result in a worker; asks before replacing the original."""
        doc = self._doc()
        if doc is None or doc.rendered is None:
            return None
        path = Path(path)
        if doc.path is not None and path.exists() and path.resolve() == doc.path.resolve():
            if not self.ask("Replace the original?",
                            f"{path.name} is the original photo. Replace it with the "
                            "denoised version? This cannot be undone."):
                return None
            overwrite = True
        win, r = self.win, doc.rendered
        note = settings_note(r.model, r.sigma, r.device) if win.note_action.isChecked() else None
        quality = win.settings.get("jpeg_quality")
        win.status_text.setText(f"Saving {path.name}…")
        return win.runner.submit(
            lambda job: save_pixels(path, r.result, loaded=doc.loaded, alpha=doc.alpha,
                                    quality=quality, overwrite=overwrite, note=note),
            "save", succeeded=lambda p: self._saved(doc, Path(p)),
            failed=lambda m: win.banner.show_message(m, "error"),
        )

    def _saved(self, doc: Document, path: Path) -> None:
        doc.saved_path = path
        self.win.settings.set("output_dir", str(path.parent))
        self.win.status_text.setText(f"Saved {path}")
        emit(self.saved, str(path))
