"""training/quantize.py on the fixture models: metadata carried over, layers picked, the gate.

Quality and speed are the benchmarks' business; here only that the tool does what it says.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from PIL import Image

from denoiser.models import load_model_info

pytest.importorskip("onnxruntime.quantization")
quantize = pytest.importorskip("training.quantize")


@pytest.fixture
def calib_dir(tmp_path):
    """Three small 'training' images; never a real data set in a test."""
    folder = tmp_path / "calib"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        img = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i}.png")
    return folder


def test_static_variant_keeps_metadata_and_marks_precision(tmp_path, color_model, calib_dir):
    out, log = tmp_path / "int8.onnx", tmp_path / "quantize.json"
    code = quantize.main(["--model", str(color_model), "--calib-data", str(calib_dir),
                          "--out", str(out), "--calib-images", "2", "--crop", "32",
                          "--float-scale", "2", "--json", str(log)])
    assert code == 0
    info = load_model_info(out)
    assert info.name == "ae-color-int8" and info.channels == 3 and info.multiple == 8
    meta = info.metadata
    assert meta["precision"] == "int8" and meta["base_model"] == "ae-color"
    assert meta["recipe"] == "name: ae-color"  # carried over
    assert json.loads(meta["benchmarks"]) == {}  # the source's figures are not the variant's
    settings = json.loads(meta["quantization"])
    assert settings["int8_nodes"] > 0 and settings["calibration_images"].startswith("2 ")
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "QuantizeLinear" in ops
    made = json.loads(log.read_text())
    assert made["command"].startswith("python -m training.quantize --model")
    assert made["name"] == "ae-color-int8"


def test_float_nodes_follow_resolution(tmp_path, build):
    """Pool, pool, upsample: the half-size pool and the full-size output stay float at 0.5."""
    model = quantize.name_nodes(onnx.load(str(build.pool(tmp_path / "pool.onnx", levels=2))))
    names = {n.output[0]: n.name for n in model.graph.node}
    keep = set(quantize.float_nodes(model, 0.5))
    assert names["p0"] in keep and names["p1"] not in keep and names["denoised"] in keep
    assert set(quantize.float_nodes(model, 2.0)) == {names["denoised"]}


def test_stamp_writes_the_variants_own_figures(tmp_path, color_model, calib_dir):
    out = tmp_path / "int8.onnx"
    quantize.main(["--model", str(color_model), "--calib-data", str(calib_dir), "--out",
                   str(out), "--calib-images", "1", "--crop", "32"])
    figures = tmp_path / "eval.json"
    figures.write_text(json.dumps(_evaluation("ae-color-int8", 30.9)))
    quantize.stamp_benchmarks(out, [figures])
    bench = load_model_info(out).benchmarks
    assert bench["CBSD68"]["25"]["psnr"] == 30.9


def _evaluation(name: str, psnr25: float, psnr15: float = 33.0) -> dict:
    """The shape of a `training.evaluate --json` file, as far as the tool reads it."""
    return {"data": "CBSD68", "command": f"python -m training.evaluate --model {name}.onnx",
            "methods": {name: {"15": {"psnr": psnr15, "ssim": 0.9},
                               "25": {"psnr": psnr25, "ssim": 0.85}}}}


def test_gate_allows_a_tenth_of_a_decibel(tmp_path, capsys):
    ref, good, bad = (tmp_path / f"{n}.json" for n in ("ref", "good", "bad"))
    ref.write_text(json.dumps(_evaluation("ae-color", 31.0)))
    good.write_text(json.dumps(_evaluation("ae-color-int8", 30.95, 32.91)))
    bad.write_text(json.dumps(_evaluation("ae-color-int8", 30.95, 32.8)))
    assert quantize.main(["--gate", str(ref), str(good)]) == 0
    assert quantize.main(["--gate", str(ref), str(bad)]) == 1
    assert "NOT within 0.1 dB" in capsys.readouterr().out
