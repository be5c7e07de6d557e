"""benchmarks/self_ensemble.py: the eight versions turn back exactly, and it runs end to end."""

from __future__ import annotations

import json

import numpy as np
from benchhelpers import load_script
from PIL import Image


def test_every_version_turns_back_to_the_picture():
    script = load_script("self_ensemble")
    x = np.random.default_rng(0).random((6, 10, 3)).astype(np.float32)
    versions = [script.turned(x, k) for k in range(8)]
    assert len({v.tobytes() for v in versions}) == 8  # all eight differ
    for k, v in enumerate(versions):
        assert np.array_equal(script.turned_back(v, k), x)


def test_writes_a_psnr_per_count_of_versions(tmp_path, gray_model):
    script = load_script("self_ensemble")
    data = tmp_path / "clean"
    data.mkdir()
    y, x = np.mgrid[0:48, 0:64] / 64.0
    Image.fromarray(((0.3 + 0.4 * x + 0.1 * y) * 255).astype(np.uint8)).save(data / "a.png")
    out = tmp_path / "r.json"
    assert script.main(["--model", str(gray_model), "--data", str(data), "--sigmas", "25",
                        "--json", str(out)]) == 0
    r = json.loads(out.read_text())["sigmas"]["25"]
    assert set(r["psnr"]) == {"1", "2", "4", "8"} and r["images"] == 1
