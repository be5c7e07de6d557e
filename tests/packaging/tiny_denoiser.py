"""A small contract-conforming denoising model built with onnx.helper, for bundle tests.

Why: the bundle must be tested with a model inside it before the trained models are
committed to resources/models. A sigma-gated Gaussian blur is enough to make the bundled
CLI measurably reduce noise, and it follows docs/model-contract.md (inputs ``noisy`` and
``sigma``, output ``denoised``, metadata name/family/channels/multiple).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODEL_NAME = "bundle-test-blur"


def gaussian_kernel(radius: int = 2, std: float = 1.2) -> np.ndarray:
    """A normalised (2r+1)^2 Gaussian, repeated per channel for a depthwise Conv."""
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    g = np.exp(-(x**2) / (2 * std**2))
    k = np.outer(g, g)
    k /= k.sum()
    return np.repeat(k[None, None], 3, axis=0).astype(np.float32)  # 3 x 1 x k x k


def make_model(path: Path, radius: int = 2) -> Path:
    """Write the model: denoised = noisy + clip(sigma * 255 / 10, 0, 1) * (blur - noisy).

    The gate keeps clean images (sigma ~ 0) untouched and blurs fully from sigma 10/255 up,
    so ``sigma`` is a real input, as for the shipped conditional models.
    """
    from onnx import TensorProto, checker, helper, numpy_helper, save

    kernel = numpy_helper.from_array(gaussian_kernel(radius), "kernel")
    gain = numpy_helper.from_array(np.array(255.0 / 10.0, dtype=np.float32), "gain")
    lo = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "lo")
    hi = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "hi")
    pad = [radius] * 4
    nodes = [
        helper.make_node("Conv", ["noisy", "kernel"], ["blur"], group=3, pads=pad),
        helper.make_node("Sub", ["blur", "noisy"], ["detail"]),
        helper.make_node("Mul", ["sigma", "gain"], ["gate_raw"]),
        helper.make_node("Clip", ["gate_raw", "lo", "hi"], ["gate"]),
        helper.make_node("Mul", ["detail", "gate"], ["step"]),
        helper.make_node("Add", ["noisy", "step"], ["denoised"]),
    ]
    graph = helper.make_graph(
        nodes, MODEL_NAME,
        [helper.make_tensor_value_info("noisy", TensorProto.FLOAT, ["N", 3, "H", "W"]),
         helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("denoised", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        initializer=[kernel, gain, lo, hi],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="denoiser-studio tests")
    model.ir_version = 8  # readable by every onnxruntime the project allows (>= 1.17)
    meta = {"name": MODEL_NAME, "family": "ae", "channels": "3", "multiple": "1",
            "noise_type": "gaussian", "sigma_min": "0", "sigma_max": "75",
            "version": "0.0.1",
            "description": "Gaussian blur gated by sigma; only for testing the bundle."}
    helper.set_model_props(model, meta)
    checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(model, str(path))
    return path
