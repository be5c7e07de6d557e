"""Auto strength: white noise reads as before; correlated noise is no longer read as none."""

from __future__ import annotations

import numpy as np
import pytest

from denoiser.engine import Engine
from denoiser.models import load_model_info
from denoiser.noise import estimate_sigma
from denoiser.strength import CORRELATED_GAIN, auto_sigma


def smooth_picture(h: int = 192, w: int = 192) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / w
    return (0.3 + 0.4 * x + 0.1 * np.sin(4 * y)).astype(np.float32)


def blurred_noise(shape: tuple[int, int], sigma: float, seed: int) -> np.ndarray:
    """White noise blurred 3 x 3 (binomial), scaled to per-pixel std ``sigma``/255."""
    white = np.random.default_rng(seed).standard_normal((shape[0] + 2, shape[1] + 2))
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    out = sum(k[dy, dx] * white[dy : dy + shape[0], dx : dx + shape[1]]
              for dy in range(3) for dx in range(3))
    return out / np.sqrt((k**2).sum()) * sigma / 255.0


def test_white_noise_reads_as_the_white_estimate():
    clean = smooth_picture()
    noisy = clean + np.random.default_rng(0).normal(0, 15 / 255, clean.shape)
    white = estimate_sigma(noisy)
    assert white == pytest.approx(15, rel=0.05)
    assert auto_sigma(noisy, "gaussian") == pytest.approx(white, rel=0.05)


def test_correlated_noise_gets_more_than_its_per_pixel_std_for_a_gaussian_model():
    clean = smooth_picture()
    noisy = clean + blurred_noise(clean.shape, 12.0, seed=1)
    assert estimate_sigma(noisy) < 0.4 * 12  # the white-noise estimate nearly misses it
    auto = auto_sigma(noisy, "gaussian")
    assert 0.8 * CORRELATED_GAIN * 12 < auto < 1.2 * CORRELATED_GAIN * 12


def test_camera_models_get_the_camera_estimate():
    clean = smooth_picture()
    noisy = clean + blurred_noise(clean.shape, 12.0, seed=2)
    assert auto_sigma(noisy, "camera") == estimate_sigma(noisy, noise_type="camera")


def test_engine_auto_uses_it(tmp_path, build):
    """What the model is fed when no sigma is given (the echo model outputs its sigma)."""
    eng = Engine(load_model_info(build.sigma_echo(tmp_path / "echo.onnx", channels=1)), "cpu", 1)
    clean = smooth_picture()
    noisy = (clean + blurred_noise(clean.shape, 12.0, seed=3)).astype(np.float32)
    fed = float(eng.denoise(noisy, None).mean()) * 255
    assert fed == pytest.approx(auto_sigma(noisy, "gaussian"), rel=1e-4)
