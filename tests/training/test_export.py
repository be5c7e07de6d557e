"""Export writes the model contract: dynamic shapes, metadata from evaluation, torch parity."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort

from training.export import export
from training.train import train


def trained_checkpoint(tmp_path, image_root, recipe):
    recipe["train"]["steps"] = 5
    train(recipe, tmp_path / "run", image_root, max_minutes=None, threads=2)
    return tmp_path / "run" / "last.pt"


def eval_json(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"data": "TINY", "methods": {
        "tiny": {"25": {"psnr": 30.123, "ssim": 0.9, "sec_per_mp": 1.0, "images": 2}},
        "bm3d": {"25": {"psnr": 29.5, "ssim": 0.8, "sec_per_mp": 9.0, "images": 2}}}}))
    return path


def test_ae_export_round_trips_with_parity_and_metadata(tmp_path, image_root, tiny_recipe):
    ckpt = trained_checkpoint(tmp_path, image_root, tiny_recipe)
    out = tmp_path / "tiny.onnx"
    diff = export(ckpt, out, "0.1.0", [eval_json(tmp_path)])
    assert diff <= 1e-4
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["name"] == "tiny" and meta["family"] == "ae" and meta["channels"] == "3"
    assert meta["multiple"] == "4" and meta["version"] == "0.1.0"
    bench = json.loads(meta["benchmarks"])
    assert bench["TINY"]["25"]["psnr"] == 30.12 and bench["TINY"]["bm3d"]["25"] == 29.5
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for h, w in [(32, 48), (64, 20)]:  # dynamic batch, height and width
        x = np.random.default_rng(0).random((2, 3, h, w), dtype=np.float32)
        y = sess.run(None, {"noisy": x, "sigma": np.zeros((2, 1, h, w), np.float32)})[0]
        assert y.shape == x.shape
    export(ckpt, out, "0.2.0", [], name="grown")  # a later stage ships under the model's name
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["name"] == "grown" and "name: tiny" in meta["recipe"]
    assert "stand_in_for" not in meta
    assert "tile" not in meta
    export(ckpt, out, "0.2.0", [], name="tiny-avx2", stand_in_for="tiny", tile=1536)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["stand_in_for"] == "tiny" and "in place of tiny's int8" in meta["description"]
    assert meta["tile"] == "1536"


def test_vae_export_temperature_is_optional_and_samples(tmp_path, image_root, tiny_vae_recipe):
    ckpt = trained_checkpoint(tmp_path, image_root, tiny_vae_recipe)
    out = tmp_path / "tiny-vae.onnx"
    assert export(ckpt, out, "0.1.0", []) <= 1e-4
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["family"] == "vae" and "temperature" in json.loads(meta["extra_inputs"])
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    s = np.full((1, 1, 32, 32), 0.1, np.float32)
    det = sess.run(None, {"noisy": x, "sigma": s})[0]
    det0 = sess.run(None, {"noisy": x, "sigma": s, "temperature": np.zeros(1, np.float32)})[0]
    np.testing.assert_array_equal(det, det0)


def test_benchmarks_of_one_data_set_in_two_files_are_merged(tmp_path):
    from training.export import benchmarks_from

    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps({"data": "TINY", "methods": {
        "tiny": {"camera-low": {"psnr": 35.0, "ssim": 0.95}},
        "bm3d": {"camera-low": {"psnr": 31.0, "ssim": 0.9}}}}))
    bench = benchmarks_from([eval_json(tmp_path), camera])["TINY"]
    assert bench["25"] == {"psnr": 30.12, "ssim": 0.9}
    assert bench["camera-low"] == {"psnr": 35.0, "ssim": 0.95}
    assert bench["bm3d"] == {"25": 29.5, "camera-low": 31.0}


def test_model_with_a_full_resolution_head_exports_with_parity(tmp_path, image_root, tiny_recipe):
    tiny_recipe["arch"].update(full_width=4, full_blocks=1)
    ckpt = trained_checkpoint(tmp_path, image_root, tiny_recipe)
    out = tmp_path / "head.onnx"
    assert export(ckpt, out, "0.1.0", []) <= 1e-4
    convs = [n for n in onnx.load(str(out)).graph.node if n.op_type == "Conv"]
    first = {a.name: list(a.ints) for a in convs[0].attribute}
    assert first["strides"] == [2, 2]  # the unshuffle stem is still folded, the head left alone


def test_model_with_window_attention_exports_with_parity(tmp_path, image_root, tiny_recipe):
    tiny_recipe["arch"].update(attention=[1], window=4, heads=2)
    ckpt = trained_checkpoint(tmp_path, image_root, tiny_recipe)
    assert export(ckpt, tmp_path / "attention.onnx", "0.1.0", []) <= 1e-4
