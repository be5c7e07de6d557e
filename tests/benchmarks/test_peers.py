"""benchmarks/peers.py on two tiny synthetic images, a 32 px crop and a tiny torch net.

Only that it runs and reports the right things: speed is never asserted.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchhelpers import load_script
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("cv2")
pytest.importorskip("bm3d")


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    y, x = np.mgrid[0:40, 0:56] / 56.0
    for i in range(2):
        img = np.stack([0.3 + 0.4 * x, 0.2 + 0.5 * y, 0.5 + 0.2 * np.sin(6 * x + i)], -1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def test_peers_tiny_run(capsys, tmp_path, data_dir, color_model, gray_model):
    peers = load_script("peers")
    out_json = tmp_path / "peers.json"
    code = peers.main(["--data", str(data_dir), "--models", str(color_model), str(gray_model),
                       "--crop", "32", "--dncnn-depth", "3", "--dncnn-width", "8",
                       "--slow-limit", "1", "--json", str(out_json)])
    assert code == 0
    out = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    methods = [r["method"] for r in result["rows"]]
    assert methods == ["ae-color", "ae-color (crops)", "opencv-nlm", "cbm3d",
                       "dncnn-size (3x8, torch)"]
    assert result["reference"] == "ae-color"
    assert any("ae-gray" in s for s in result["skipped"])
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["ae-color"]["ratio_to_ours"] == pytest.approx(1.0)
    assert rows["cbm3d"]["region"] == "centre 32x32 crops (1)"
    assert rows["dncnn-size (3x8, torch)"]["psnr"] is None
    assert rows["dncnn-size (3x8, torch)"]["region"] == "full images (1)"
    for name, images in (("ae-color", 2), ("opencv-nlm", 2), ("cbm3d", 1)):
        assert 10 < rows[name]["psnr"] < 60
        assert rows[name]["sec_per_mp"] > 0 and rows[name]["images"] == images
        assert "others_cores" in rows[name]
    assert "--crop 32" in result["command"] and "--dncnn-depth 3" in result["command"]
    assert "--slow-limit 1" in result["command"]
    assert "cbm3d" in out and "random weights" in out
