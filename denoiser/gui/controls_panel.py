"""Side panel: model, strength (with Auto), VAE options, second model, device, tile size.

The panel only holds values and says when they change (``paramsChanged``); the render
session decides when to re-render (it debounces, so dragging the slider stays fluid).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from denoiser.gui.model_picker import ModelPicker
from denoiser.gui.qtcompat import emit
from denoiser.gui.render_work import RenderParams
from denoiser.tiling import DEFAULT_TILE

DEVICES = (("auto", "Auto"), ("cpu", "CPU"), ("cuda", "CUDA (NVIDIA GPU)"))
SLIDER_STEPS = 10  # slider ticks per sigma unit


class ControlsPanel(QWidget):
    paramsChanged = Signal()
    compareToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("controls")
        lay = QVBoxLayout(self)
        model_box = QGroupBox("Model")
        self.model_picker = ModelPicker()
        QVBoxLayout(model_box).addWidget(self.model_picker)
        for box in (model_box, self._strength_box(), self._vae_box(), self._compare_box(),
                    self._device_box()):
            lay.addWidget(box)
        self._add_advanced(lay)
        lay.addStretch(1)

        self._estimate: float | None = None
        self._available: list[str] = ["cpu"]
        self._have = "CPU"
        self._connect()
        self.set_auto(True)

    # ----- construction ------------------------------------------------------------
    def _strength_box(self) -> QGroupBox:
        """Auto check box with the estimate beside it, then a slider and a spin box."""
        box = QGroupBox("Strength (noise level σ, 0–255)")
        lay = QVBoxLayout(box)
        row = QHBoxLayout()
        self.auto_check = QCheckBox("Auto")
        self.auto_check.setObjectName("auto_sigma")
        self.auto_check.setToolTip("Use the noise level estimated from the picture")
        self.estimate_label = QLabel("estimated σ —")
        self.estimate_label.setObjectName("estimate_label")
        row.addWidget(self.auto_check)
        row.addWidget(self.estimate_label, 1)
        lay.addLayout(row)
        row2 = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("sigma_slider")
        self.slider.setRange(0, 75 * SLIDER_STEPS)
        self.spin = QDoubleSpinBox()
        self.spin.setObjectName("sigma_spin")
        self.spin.setDecimals(1)
        self.spin.setRange(0.0, 75.0)
        self.spin.setSingleStep(1.0)
        row2.addWidget(self.slider, 1)
        row2.addWidget(self.spin)
        lay.addLayout(row2)
        return box

    def _vae_box(self) -> QGroupBox:
        """Samples and blend: shown only while a VAE is the chosen model."""
        self.vae_box = QGroupBox("Uncertainty (VAE)")
        lay = QFormLayout(self.vae_box)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(0, 32)
        self.samples_spin.setValue(0)
        self.samples_spin.setSpecialValueText("off")
        self.samples_spin.setToolTip("Samples drawn to measure where the model is unsure")
        self.blend_slider = QSlider(Qt.Orientation.Horizontal)
        self.blend_slider.setRange(0, 100)
        self.blend_slider.setToolTip("Lean back toward the original where the model is unsure")
        lay.addRow("Samples", self.samples_spin)
        lay.addRow("Keep original where unsure", self.blend_slider)
        self.vae_box.setVisible(False)
        return self.vae_box

    def _compare_box(self) -> QGroupBox:
        self.compare_box = QGroupBox("Compare with a second model")
        self.compare_box.setCheckable(True)
        self.compare_box.setChecked(False)
        self.compare_picker = ModelPicker(show_details=False)
        QVBoxLayout(self.compare_box).addWidget(self.compare_picker)
        return self.compare_box

    def _device_box(self) -> QGroupBox:
        box = QGroupBox("Device")
        lay = QVBoxLayout(box)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device_combo")
        for key, text in DEVICES:
            self.device_combo.addItem(text, key)
        self.device_status = QLabel("")
        self.device_status.setObjectName("device_status")
        self.device_status.setWordWrap(True)
        lay.addWidget(self.device_combo)
        lay.addWidget(self.device_status)
        return box

    def _add_advanced(self, lay: QVBoxLayout) -> None:
        """A folded "Advanced" section with the tile size: most people never need it."""
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced = QWidget()
        form = QFormLayout(self.advanced)
        form.setContentsMargins(0, 0, 0, 0)
        self.tile_spin = QSpinBox()
        self.tile_spin.setObjectName("tile_spin")
        self.tile_spin.setRange(0, 4096)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("Auto")  # 0: the model's own tile, else 1024
        self.tile_spin.setValue(0)
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Smaller tiles use less memory; larger ones are a bit faster. "
                                  f"Auto: the model's own size, else {DEFAULT_TILE} px")
        form.addRow("Tile size", self.tile_spin)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        lay.addWidget(self.advanced_toggle)
        lay.addWidget(self.advanced)

    def _connect(self) -> None:
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(self._spin_changed)
        self.auto_check.toggled.connect(self._auto_toggled)
        self.model_picker.modelChanged.connect(self._model_changed)
        self.compare_picker.modelChanged.connect(lambda _m: self._emit_if_comparing())
        self.compare_box.toggled.connect(self._compare_toggled)
        for sig in (self.samples_spin.valueChanged, self.blend_slider.valueChanged,
                    self.device_combo.currentIndexChanged, self.tile_spin.valueChanged):
            sig.connect(lambda *_: emit(self.paramsChanged))

    # ----- values ----------------------------------------------------------------
    def params(self) -> RenderParams | None:
        model = self.model_picker.current()
        if model is None:
            return None
        stochastic = bool(getattr(model, "stochastic", False))
        return RenderParams(
            model=model,
            sigma=None if self.auto_check.isChecked() else float(self.spin.value()),
            device=self.device(),
            tile=int(self.tile_spin.value()),
            samples=int(self.samples_spin.value()) if stochastic else 0,
            blend=self.blend_slider.value() / 100.0 if stochastic else 0.0,
            compare_model=self.compare_picker.current() if self.compare_box.isChecked() else None,
        )

    def sigma(self) -> float:
        return float(self.spin.value())

    def set_sigma(self, sigma: float) -> None:
        self.spin.setValue(sigma)

    def is_auto(self) -> bool:
        return self.auto_check.isChecked()

    def set_auto(self, on: bool) -> None:
        self.auto_check.setChecked(on)
        self._auto_toggled(on)

    def device(self) -> str:
        return str(self.device_combo.currentData())

    def set_device(self, device: str) -> None:
        idx = self.device_combo.findData(device.lower())
        if idx >= 0:
            self.device_combo.setCurrentIndex(idx)

    def set_tile(self, tile: int) -> None:
        self.tile_spin.setValue(tile)

    def comparing(self) -> bool:
        return self.compare_box.isChecked()

    # ----- feedback --------------------------------------------------------------
    def set_models(self, models: list[Any], select: str | None = None,
                   compare: str | None = None) -> None:
        self.model_picker.set_models(models, select)
        self.compare_picker.set_models(models, compare)
        if compare is None and len(models) > 1:  # default to a model other than A
            cur = self.model_picker.current()
            other = next(m for m in models if m is not cur)
            self.compare_picker.select(str(other.path))
        self.compare_box.setEnabled(len(models) > 1)
        self.compare_box.setToolTip("" if len(models) > 1
                                    else "Install a second model to compare two models")

    def set_estimate(self, sigma: float | None) -> None:
        """Show the estimated noise level; in Auto mode the slider follows it."""
        self._estimate = sigma
        self.estimate_label.setText("estimated σ —" if sigma is None
                                    else f"estimated σ {sigma:.1f}")
        if sigma is not None and self.auto_check.isChecked():
            self._set_value_quietly(sigma)

    def set_available_devices(self, devices: list[str]) -> None:
        """Grey out devices this machine lacks, and say so in their tooltips."""
        self._available = [d.lower() for d in devices]
        model = self.device_combo.model()
        for i in range(self.device_combo.count()):
            key = self.device_combo.itemData(i)
            ok = key == "auto" or key in self._available
            item = model.item(i)
            item.setEnabled(ok)
            item.setToolTip("" if ok else "Not available on this machine")
        self._have = ", ".join(d.upper() for d in self._available) or "none"
        self.device_status.setText(f"This machine has: {self._have}")

    def set_device_status(self, used: str, fallback_reason: str) -> None:
        """Say what the engine actually runs on, and why if it is not what was asked."""
        text = f"Running on {used.upper()}"
        if fallback_reason:
            text += f" — {fallback_reason}"
        self.device_status.setText(f"{text}\nThis machine has: {self._have}")
        self.device_status.setToolTip(text)

    # ----- internals -------------------------------------------------------------
    def _set_value_quietly(self, sigma: float) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(sigma)
        self.slider.setValue(round(sigma * SLIDER_STEPS))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

    def _slider_moved(self, value: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value / SLIDER_STEPS)
        self.spin.blockSignals(False)
        self._manual_change()

    def _spin_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self._manual_change()

    def _manual_change(self) -> None:
        if self.auto_check.isChecked():  # touching the strength means "I choose"
            self.auto_check.blockSignals(True)
            self.auto_check.setChecked(False)
            self.auto_check.blockSignals(False)
        emit(self.paramsChanged)

    def _auto_toggled(self, on: bool) -> None:
        if on and self._estimate is not None:
            self._set_value_quietly(self._estimate)
        emit(self.paramsChanged)

    def suggest_model(self, name_or_path: str) -> None:
        """Use the app's choice for the image just opened, unless the user picked a model.

        Quiet: the caller reads ``params()`` next, so no ``paramsChanged`` is needed.
        """
        if self.model_picker.suggest(name_or_path):
            self._fit_to_model(self.model_picker.current())

    def _model_changed(self, model: Any) -> None:
        self._fit_to_model(model)
        emit(self.paramsChanged)

    def _fit_to_model(self, model: Any) -> None:
        """Strength range, blind and VAE controls as the model needs them."""
        if model is not None:
            lo, hi = getattr(model, "sigma_range", (0.0, 75.0))
            hi = max(float(hi), 1.0)
            for w in (self.slider, self.spin):
                w.blockSignals(True)
            self.spin.setRange(float(lo), hi)
            self.slider.setRange(round(lo * SLIDER_STEPS), round(hi * SLIDER_STEPS))
            self.slider.setValue(round(self.spin.value() * SLIDER_STEPS))
            for w in (self.slider, self.spin):
                w.blockSignals(False)
            blind = bool(getattr(model, "blind", False))
            for w in (self.slider, self.spin, self.auto_check):
                w.setEnabled(not blind)
            self.vae_box.setVisible(bool(getattr(model, "stochastic", False)))

    def _compare_toggled(self, on: bool) -> None:
        emit(self.compareToggled, on)
        emit(self.paramsChanged)

    def _emit_if_comparing(self) -> None:
        if self.compare_box.isChecked():
            emit(self.paramsChanged)

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
