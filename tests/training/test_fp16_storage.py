"""float16-stored weights: a smaller file that computes what the rounded network computes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from training.export import export
from training.fp16_storage import store_weights_fp16
from training.train import train


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"noisy": x, "sigma": np.full((1, 1, 32, 32), 0.1, np.float32)})[0]


def test_fp16_weights_halve_the_file_and_keep_parity(tmp_path, image_root, tiny_recipe):
    tiny_recipe["arch"]["widths"] = [16, 32]  # weights large enough to be stored as float16
    tiny_recipe["train"]["steps"] = 5
    train(tiny_recipe, tmp_path / "run", image_root, max_minutes=None, threads=1)
    ckpt = tmp_path / "run" / "last.pt"
    full, half = tmp_path / "full.onnx", tmp_path / "half.onnx"
    export(ckpt, full, "0.1.0", [])
    assert export(ckpt, half, "0.1.0", [], fp16_weights=True) <= 1e-4  # against rounded torch
    assert half.stat().st_size < 0.7 * full.stat().st_size
    model = onnx.load(str(half))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    assert {p.key: p.value for p in model.metadata_props}["weights_stored_as"] == "float16"
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    a, b = _run(full, x), _run(half, x)
    assert 0 < np.abs(a - b).max() < 1e-2  # rounding the weights moved the output, a little


def test_weights_that_are_not_float16_values_are_refused(tmp_path, image_root, tiny_recipe):
    tiny_recipe["arch"]["widths"] = [16, 32]
    tiny_recipe["train"]["steps"] = 2
    train(tiny_recipe, tmp_path / "run", image_root, max_minutes=None, threads=1)
    path = tmp_path / "full.onnx"
    export(tmp_path / "run" / "last.pt", path, "0.1.0", [])
    with pytest.raises(ValueError, match="float16-exact"):
        store_weights_fp16(path)
