"""Every shipped model loads under the contract and really denoises a small picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from denoiser.engine import Engine
from denoiser.imageio import read_image
from denoiser.metrics import psnr
from denoiser.models import load_model_info
from denoiser.noise import add_gaussian_noise

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "resources" / "models").glob("*.onnx"))
EXPECTED = ["ae-color", "ae-gray", "ae-photo", "vae-color", "vae-gray", "vae-photo"]


def test_the_expected_models_are_shipped():
    assert {p.stem for p in SHIPPED} >= set(EXPECTED)


def test_shipped_models_are_small():
    for path in SHIPPED:
        assert path.stat().st_size <= 20e6, path.name


@pytest.fixture(scope="module")
def clean_crop() -> np.ndarray:
    """A 128 x 192 crop of the synthetic sample scene (house, fence, text): edges to keep."""
    img = read_image(ROOT / "resources" / "samples" / "clean-sample.png").pixels
    return np.ascontiguousarray(img[296:424, 120:312])


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_shipped_model_raises_psnr_by_a_clear_margin(path, sigma, clean_crop):
    info = load_model_info(path)
    clean = clean_crop if info.channels == 3 else clean_crop.mean(axis=2, keepdims=True)
    noisy = add_gaussian_noise(clean, sigma, seed=0)
    out = Engine(info, device="cpu").denoise(noisy, float(sigma))
    gain = psnr(clean, out) - psnr(clean, noisy)
    assert gain > 6.0, f"{info.name} at sigma {sigma}: only {gain:.2f} dB better than the input"
    if info.stochastic:
        mean, std = Engine(info, device="cpu").sample(noisy, float(sigma), 4, seed=1)
        assert float(std.mean()) > 0  # samples differ
