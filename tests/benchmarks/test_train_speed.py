"""benchmarks/train_speed.py times a recipe's real training step in float32 and in bf16."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from benchhelpers import load_script
from PIL import Image

pytest.importorskip("torch")


def measure(tmp_path, *extra: str) -> dict:
    """Run the script on a tiny colour recipe over four random images; its JSON."""
    folder = tmp_path / "data" / "train" / "tiny"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    recipe = {
        "name": "tiny",
        "arch": {"name": "unet_ae", "channels": 3, "widths": [8, 16], "blocks": [1, 1],
                 "unshuffle": 2},
        "data": {"train": ["train/tiny"], "patch": 32, "sigma_max": 50, "val_holdout": 1},
        "train": {"seed": 0, "batch": 2, "loss": "l1", "sigma_weight": 0.6},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "speed.json"
    speed = load_script("train_speed")
    assert speed.main(["--data", str(tmp_path / "data"), "--recipe", str(path),
                       "--seconds", "0.2", "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_measures_both_precisions_of_a_recipe(tmp_path):
    result = measure(tmp_path)
    (row,) = result["rows"]
    assert row["float32"] > 0 and row["bf16"] > 0
    assert row["speed-up"] == pytest.approx(row["bf16"] / row["float32"], abs=0.01)
    assert isinstance(result["machine"]["bf16_native"], bool)


def test_compile_adds_a_compiled_float32_column(tmp_path):
    (row,) = measure(tmp_path, "--compile")["rows"]
    assert row["compiled"] > 0
    assert row["compile speed-up"] == pytest.approx(row["compiled"] / row["float32"], abs=0.01)
