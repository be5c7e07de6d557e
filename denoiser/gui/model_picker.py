"""Model picker: a combo box of installed models and a summary of what each one is.

People choose between models by what they are for (grey or colour, how much noise)
and how good they are, so the summary shows the model's own metadata: family,
channels, strength range and its benchmark figures.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from denoiser.gui.qtcompat import emit


def family_label(model: Any) -> str:
    fam = str(getattr(model, "family", "ae")).lower()
    return "VAE (with uncertainty)" if fam == "vae" else "AE (autoencoder)"


def channels_label(model: Any) -> str:
    return "grey" if int(getattr(model, "channels", 3)) == 1 else "colour"


def short_label(model: Any) -> str:
    """One line for the combo box, e.g. ``ae-color  (AE, colour, v1)``."""
    bits = [str(getattr(model, "family", "")).upper() or "AE", channels_label(model)]
    version = getattr(model, "version", "")
    if version:
        bits.append(f"v{version}")
    return f"{model.name}  ({', '.join(bits)})"


def benchmark_lines(benchmarks: dict) -> list[str]:
    """Readable lines from the nested benchmarks dict ({set: {setting: {psnr, ssim}}}); a
    setting is a sigma or a named noise (e.g. "camera-low"), which gets no "σ"."""
    lines = []
    for dataset, by_sigma in (benchmarks or {}).items():
        if not isinstance(by_sigma, dict):
            continue
        parts = []
        for sigma, fig in by_sigma.items():
            if isinstance(fig, dict) and "psnr" in fig:
                ssim = f", SSIM {fig['ssim']:.3f}" if "ssim" in fig else ""
                label = f"σ {sigma}" if str(sigma).replace(".", "", 1).isdigit() else sigma
                parts.append(f"{label}: {fig['psnr']:.2f} dB{ssim}")
        if parts:
            lines.append(f"{dataset}: " + "; ".join(parts))
    return lines


def describe(model: Any) -> str:
    """Rich-text summary of a model's metadata."""
    lo, hi = getattr(model, "sigma_range", (0, 255))
    rows = [
        f"<b>{html.escape(model.name)}</b>"
        + (f" v{html.escape(str(model.version))}" if getattr(model, "version", "") else ""),
        f"{family_label(model)}, {channels_label(model)} images",
        f"Strength range σ {lo:g}–{hi:g} (0–255 scale)"
        + (" · estimates noise itself" if getattr(model, "blind", False) else ""),
    ]
    desc = getattr(model, "description", "")
    if desc:
        rows.append(html.escape(desc))
    bench = benchmark_lines(getattr(model, "benchmarks", {}))
    if bench:
        rows.append("PSNR: " + "<br>".join(html.escape(b) for b in bench))
    return "<br>".join(rows)


class ModelPicker(QWidget):
    """Combo box plus summary. ``modelChanged`` carries the ModelInfo (or None)."""

    modelChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, show_details: bool = True) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("model_combo")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setObjectName("model_details")
        self.details.setVisible(show_details)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addWidget(self.details)
        self._models: list[Any] = []
        self.chosen = False  # the user picked the model (here or on an earlier run)
        self.combo.currentIndexChanged.connect(self._changed)
        self.combo.activated.connect(self._picked)
        self.set_models([])

    def set_models(self, models: list[Any], select: str | None = None) -> None:
        """Fill the list; keep ``select`` (a name or path) or the current one selected."""
        keep = select or (self.current().name if self.current() else None)
        self._models = list(models)
        self.combo.blockSignals(True)
        self.combo.clear()
        for m in self._models:
            self.combo.addItem(short_label(m))
            self.combo.setItemData(self.combo.count() - 1, describe(m), Qt.ItemDataRole.ToolTipRole)
        if not self._models:
            self.combo.addItem("No model installed")
        self.combo.setEnabled(bool(self._models))
        idx = self.index_of(keep) if keep else -1
        self.combo.setCurrentIndex(max(0, idx))
        self.combo.blockSignals(False)
        self._changed()

    def models(self) -> list[Any]:
        return list(self._models)

    def index_of(self, name_or_path: str) -> int:
        for i, m in enumerate(self._models):
            if name_or_path in (m.name, str(getattr(m, "path", ""))):
                return i
        return -1

    def select(self, name_or_path: str) -> bool:
        idx = self.index_of(name_or_path)
        if idx >= 0:
            self.combo.setCurrentIndex(idx)
        return idx >= 0

    def suggest(self, name_or_path: str) -> bool:
        """Select a model the app chose for an image, unless the user picked one.

        Quiet (no ``modelChanged``): the caller is about to read the new choice anyway.
        Returns whether the selection changed.
        """
        idx = self.index_of(name_or_path)
        if self.chosen or idx < 0 or idx == self.combo.currentIndex():
            return False
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(idx)
        self.combo.blockSignals(False)
        self._describe(self.current())
        return True

    def current(self) -> Any:
        i = self.combo.currentIndex()
        return self._models[i] if 0 <= i < len(self._models) else None

    def _picked(self, _index: int) -> None:
        self.chosen = True

    def _describe(self, m: Any) -> None:
        self.details.setText(describe(m) if m else "Put .onnx models in the models folder.")

    def _changed(self) -> None:
        m = self.current()
        self._describe(m)
        emit(self.modelChanged, m)
