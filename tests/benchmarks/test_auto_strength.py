"""benchmarks/auto_strength.py on two small synthetic grey images with the tiny grey model.

Only that it runs, makes noise of the stated per-pixel std and writes its page.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchhelpers import load_script
from PIL import Image


@pytest.fixture
def clean_dir(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    y, x = np.mgrid[0:72, 0:72] / 72.0
    for i in range(2):
        img = 0.3 + 0.4 * x + 0.1 * np.sin(5 * y + i)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("kind", ["white", "blur3", "blur5"])
def test_noise_has_the_stated_per_pixel_std(kind):
    script = load_script("auto_strength")
    clean = np.full((128, 128), 0.5, np.float32)
    noise = script.noisy_version(clean, kind, 10.0, seed=0) - clean
    assert noise.std() * 255 == pytest.approx(10.0, rel=0.05)


def test_writes_a_row_per_kind_and_strength(tmp_path, clean_dir, gray_model):
    script = load_script("auto_strength")
    out = tmp_path / "page.md"
    assert script.main(["--data", str(clean_dir), "--images", "2", "--strengths", "10",
                        "--threads", "1", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0][2:] for r in rows[1:]] == list(script.KINDS)
