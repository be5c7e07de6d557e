"""Small synthetic image folders and tiny recipes: training tests never touch real data."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")


def synthetic_image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Smooth gradients, a few hard-edged rectangles and a sinusoid: structure to preserve."""
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.3 + 0.4 * x, 0.2 + 0.5 * y, 0.5 + 0.2 * np.sin(6 * x + 3 * y)], axis=-1)
    for _ in range(3):
        y0, x0 = rng.integers(0, size - 16, 2)
        img[y0 : y0 + 16, x0 : x0 + 16] = rng.random(3)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def image_root(tmp_path):
    """A data root with a `train/tiny` folder of eight 64x64 colour PNGs."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "train" / "tiny"
    folder.mkdir(parents=True)
    for i in range(8):
        Image.fromarray(synthetic_image(rng)).save(folder / f"{i:02d}.png")
    return tmp_path / "data"


TINY_RECIPE = {
    "name": "tiny",
    "arch": {"name": "unet_ae", "channels": 3, "widths": [8, 16], "blocks": [1, 1], "unshuffle": 2},
    "data": {"train": ["train/tiny"], "scales": [1.0], "patch": 32, "sigma_max": 50,
             "val_holdout": 2},
    "train": {"seed": 0, "batch": 4, "steps": 60, "lr": 2e-3, "lr_min": 1e-4, "warmup": 5,
              "loss": "l1", "grad_clip": 1.0, "val_every": 10, "ckpt_every": 20, "log_every": 10,
              "ema": 0.8},
    "vae": {"kl_weight": 1e-3, "kl_anneal_steps": 20},
}


@pytest.fixture
def tiny_recipe():
    return copy.deepcopy(TINY_RECIPE)


@pytest.fixture
def tiny_vae_recipe():
    r = copy.deepcopy(TINY_RECIPE)
    r["name"] = "tiny-vae"
    r["arch"] = {"name": "unet_cvae", "channels": 3, "widths": [8, 16], "blocks": [1, 1],
                 "unshuffle": 2, "latent": 4}
    return r
