"""Menus, toolbar actions and keyboard shortcuts, in one place.

Standard key sequences (QKeySequence.StandardKey) give each platform its usual keys:
Ctrl+O / Cmd+O, Ctrl+S, Ctrl++ and so on.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

SK = QKeySequence.StandardKey


class Actions(QObject):
    """All window actions; the window connects ``triggered`` signals to its slots."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)

        def act(text: str, shortcut: QKeySequence.StandardKey | str | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
            a = QAction(text, window)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.setCheckable(checkable)
            window.addAction(a)  # shortcuts work even when the menu bar is hidden
            return a

        self.open = act("&Open…", SK.Open, "Open an image")
        style = window.style()
        self.open.setIcon(style.standardIcon(style.StandardPixmap.SP_DialogOpenButton))
        self.open_folder = act("Open &Folder for Batch…", "Ctrl+Shift+O",
                               "Queue a folder (with subfolders) for batch denoising")
        self.paste = act("&Paste Image", SK.Paste, "Denoise the image on the clipboard")
        self.save = act("&Save", SK.Save, "Save the denoised image")
        self.save.setIcon(style.standardIcon(style.StandardPixmap.SP_DialogSaveButton))
        self.save_as = act("Save &As…", SK.SaveAs, "Save the denoised image under a new name")
        self.quit = act("&Quit", SK.Quit)
        self.recent_menu = QMenu("Open &Recent", window)
        self.clear_recent = QAction("Clear Recent", window)

        self.toggle = act("&Toggle Before/After", "B",
                          "Switch between the original and the result (hold Space to peek)")
        self.zoom_in = act("Zoom &In", SK.ZoomIn)
        self.zoom_out = act("Zoom &Out", SK.ZoomOut)
        self.zoom_fit = act("&Fit to Window", "Ctrl+0")
        self.zoom_100 = act("&100 %", "Ctrl+1")
        self.zoom_200 = act("&200 %", "Ctrl+2")
        self.loupe = act("&Loupe", "L", "Show original and result at 1:1 near the mouse",
                         checkable=True)

        self.mode_group = QActionGroup(window)
        self.mode_split = act("&Split View", "1", checkable=True)
        self.mode_side = act("Side &by Side", "2", checkable=True)
        self.mode_models = act("Two &Models", "3", "Compare two models side by side",
                               checkable=True)
        for a in (self.mode_split, self.mode_side, self.mode_models):
            self.mode_group.addAction(a)
        self.mode_split.setChecked(True)

        self.layer_group = QActionGroup(window)
        self.layer_result = act("&Result", "R", checkable=True)
        self.layer_residual = act("Removed &Noise (Residual)", "N",
                                  "Input minus output, amplified: structure here was removed",
                                  checkable=True)
        self.layer_uncertainty = act("&Uncertainty (VAE)", "U", checkable=True)
        for a in (self.layer_result, self.layer_residual, self.layer_uncertainty):
            self.layer_group.addAction(a)
        self.layer_result.setChecked(True)

        self.cancel = act("&Cancel", "Esc", "Stop the current denoising")
        self.show_batch = act("&Batch Queue", "Ctrl+B", checkable=True)
        self.show_controls = act("&Controls", None, checkable=True)
        self.about = act("&About denoiser-studio")

    def build_menus(self, window: QMainWindow) -> None:
        mb = window.menuBar()
        f = mb.addMenu("&File")
        for a in (self.open, self.open_folder, self.paste):
            f.addAction(a)
        f.addMenu(self.recent_menu)
        f.addSeparator()
        f.addAction(self.save)
        f.addAction(self.save_as)
        f.addSeparator()
        f.addAction(self.quit)
        v = mb.addMenu("&View")
        for a in (self.mode_split, self.mode_side, self.mode_models):
            v.addAction(a)
        v.addSeparator()
        for a in (self.layer_result, self.layer_residual, self.layer_uncertainty):
            v.addAction(a)
        v.addSeparator()
        for a in (self.toggle, self.loupe, self.zoom_in, self.zoom_out, self.zoom_fit,
                  self.zoom_100, self.zoom_200):
            v.addAction(a)
        v.addSeparator()
        v.addAction(self.show_controls)
        v.addAction(self.show_batch)
        h = mb.addMenu("&Help")
        h.addAction(self.about)

    def build_toolbar(self, window: QMainWindow) -> QToolBar:
        tb = QToolBar("Main", window)
        tb.setObjectName("main_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.open, self.save):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.mode_split, self.mode_side, self.mode_models):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.layer_result, self.layer_residual, self.layer_uncertainty):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.zoom_fit, self.zoom_100, self.zoom_200, self.loupe):
            tb.addAction(a)
        window.addToolBar(tb)
        return tb
