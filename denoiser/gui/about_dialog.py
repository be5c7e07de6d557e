"""About box: version, where settings live, and each model's provenance.

Provenance (name, version, training recipe, benchmark figures) is shown because a
denoised photo is only as trustworthy as the model that made it.
"""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import denoiser
from denoiser.gui.model_picker import benchmark_lines, channels_label, family_label


def model_provenance(model: Any) -> str:
    """Plain-text provenance of one model."""
    lines = [
        f"Name: {model.name}",
        f"Version: {getattr(model, 'version', '') or 'unknown'}",
        f"Kind: {family_label(model)}, {channels_label(model)}",
        f"Noise: {getattr(model, 'noise_type', 'unknown')}, σ range "
        f"{model.sigma_range[0]:g}–{model.sigma_range[1]:g}",
        f"File: {getattr(model, 'path', '')}",
    ]
    steps = training_line(getattr(model, "metadata", {}))
    if steps:
        lines.append(steps)
    bench = benchmark_lines(getattr(model, "benchmarks", {}))
    lines.append("Benchmarks (PSNR):" if bench else "Benchmarks: none recorded")
    lines += [f"  {b}" for b in bench]
    recipe = getattr(model, "recipe", "")
    if recipe:
        lines += ["", "Recipe:", recipe.rstrip()]
    return "\n".join(lines)


def training_line(metadata: dict) -> str:
    """The provenance line of the training, e.g. ``Training steps: 57,706 (ae-color 51,851,
    then ae-color-p160 5,855)``: a model trained in stages counts them all. Empty when the
    file records no steps."""
    steps = metadata.get("training_steps", "")
    if not str(steps).isdigit():
        return f"Training steps: {steps}" if steps else ""
    line = f"Training steps: {int(steps):,}"
    try:
        stages = json.loads(metadata.get("training_stages", "[]"))
        parts = [f"{s['run']} {int(s['steps']):,}" for s in stages]
    except (ValueError, TypeError, KeyError):  # a hand-edited or foreign file: the total only
        parts = []
    return line + (f" ({', then '.join(parts)})" if len(parts) > 1 else "")


class AboutDialog(QDialog):
    def __init__(self, models: list[Any], settings_file: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About denoiser-studio")
        self.setObjectName("about_dialog")
        head = QLabel(
            f"<h2>denoiser-studio {html.escape(denoiser.__version__)}</h2>"
            "<p>Drop a noisy photo or scan in, compare before and after, save.</p>"
            "<p>Runs ONNX models on your computer with onnxruntime; nothing is uploaded.</p>"
            + (f"<p><small>Settings: {html.escape(settings_file)}</small></p>"
               if settings_file else "")
        )
        head.setTextFormat(Qt.TextFormat.RichText)
        head.setWordWrap(True)
        tabs = QTabWidget()
        tabs.setObjectName("model_tabs")
        for m in models:
            text = QPlainTextEdit(model_provenance(m))
            text.setReadOnly(True)
            tabs.addTab(text, m.name)
        if not models:
            tabs.addTab(QLabel("No models installed."), "Models")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addWidget(tabs, 1)
        lay.addWidget(buttons)
        self.resize(560, 480)
