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


def test_shipped_int8_weights_cannot_saturate_without_vnni():
    """The installer carries the int8 graphs in place of the float ones on every CPU. Without
    VNNI an x86 CPU adds pairs of uint8 x int8 products in int16: 2 x 255 x 64 fits, 2 x 255 x
    127 does not, so the weights must be 7-bit (``training.quantize --reduce-range``)."""
    import onnx
    from onnx import numpy_helper

    for path in SHIPPED:
        weights = [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
                   if t.data_type == onnx.TensorProto.INT8]
        if weights:
            assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64, path.name


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
