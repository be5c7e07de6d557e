"""Getting images in: drops, the Open dialogs, the clipboard and command-line paths.

One file opens in the viewer; several files, or a folder, go to the batch queue (and
the first of them opens for a look). Reading and showing is the pipeline's job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog

from denoiser.gui import backend
from denoiser.gui.document import document_from_qimage

if TYPE_CHECKING:
    from denoiser.gui.main_window import MainWindow


class Opener:
    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.opened = 0  # images asked for so far: a later one wins over a batch's first

    def drag_hint(self, md: QMimeData) -> str | None:
        """What dropping ``md`` would do, or None if it cannot be dropped."""
        if not (md.hasUrls() or md.hasImage()):
            return None
        urls = [u for u in md.urls() if u.isLocalFile()]
        several = len(urls) > 1 or any(Path(u.toLocalFile()).is_dir() for u in urls)
        return "Drop to add to the batch queue" if several else "Drop to open"

    def drop(self, md: QMimeData) -> bool:
        """Open what was dropped; False (with a message) if it is nothing to open."""
        self.win.pipeline.timings = {"drop": time.perf_counter()}
        paths = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
        elif md.hasImage():
            self.open_qimage(QImage(md.imageData()), "Dropped image")
        else:
            self.win.banner.show_message(
                "Only local files, folders or images can be dropped here.", "warning", 6000)
            return False
        return True

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open one file in the viewer; queue several files or folders as a batch."""
        win = self.win
        ps = [Path(p) for p in paths]
        missing = [p for p in ps if not p.exists()]
        ps = [p for p in ps if p.exists()]
        if missing:
            win.banner.show_message(f"{missing[0]} does not exist.", "error")
        if not ps:
            return
        if len(ps) == 1 and ps[0].is_file():
            self.open_file(ps[0])
            return
        win.batch_dock.show()
        asked = self.opened
        win.batch.add_paths(ps, then=lambda added, skipped: self._queued(added, skipped, asked))

    def _queued(self, added: int, skipped: list[Path], asked: int) -> None:
        """The batch has the files: open the first of them for a look, unless the user
        opened another image while the folders were walked."""
        win = self.win
        if added:
            win.status_text.setText(f"Queued {added} image(s) for the batch; press Start.")
            if self.opened == asked:
                self.open_file(win.batch.rows[-added].source.path)
        elif not skipped:
            win.banner.show_message("No supported images were found there.", "warning", 8000)

    def open_file(self, path: str | Path) -> None:
        """Load in a worker; the old image stays until the new one can be shown."""
        path = Path(path)
        if path.is_dir():
            self.open_paths([path])
        elif not backend.is_supported(path):
            self.win.banner.show_message(f"{path.name} is not a supported image type.", "error")
        else:
            self.opened += 1
            self.win.pipeline.load(path)

    def open_qimage(self, image: QImage, name: str = "Pasted image") -> None:
        if image.isNull():
            self.win.banner.show_message("The clipboard has no image.", "warning", 6000)
            return
        self.opened += 1
        self.win.pipeline.set_document(document_from_qimage(image, name))

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
            self.win, "Open image", self.win.settings.get("last_open_dir"),
            f"Images ({suffixes});;All files (*)")
        if path:
            self.open_file(path)

    def open_folder_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self.win, "Folder to denoise",
                                             self.win.settings.get("last_open_dir"))
        if d:
            self.open_paths([d])
