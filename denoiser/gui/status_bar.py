"""The status bar's parts: a message, progress with Cancel while denoising runs, the zoom."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar


class StatusParts:
    """Builds the parts into ``bar`` and shows or hides them as denoising starts and ends."""

    def __init__(self, bar: QStatusBar) -> None:
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setObjectName("cancel_button")
        self.text = QLabel("")
        self.zoom = QLabel("")
        self.zoom.setMinimumWidth(60)
        bar.addWidget(self.text, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_btn)
        bar.addPermanentWidget(self.zoom)
        self.set_running(False)

    def set_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        self.progress.setToolTip(message)

    def set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_btn.setVisible(running)
        if not running:
            self.progress.setValue(0)
