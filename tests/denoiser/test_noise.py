"""denoiser.noise: synthetic scenes made here (smooth gradients, edges, texture, known noise)."""

from __future__ import annotations

import numpy as np
import pytest

from denoiser.noise import add_gaussian_noise, estimate_sigma


def scene(height: int = 240, width: int = 320, seed: int = 0, texture: float = 0.08) -> np.ndarray:
    """Grey test scene in 0..1: gradient, a bright block (edges), blotches, textured half."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = 0.2 + 0.6 * x / width * (0.5 + 0.5 * y / height)
    img += texture * np.sin(x / 3.1) * np.sin(y / 4.3) * (x > width / 2)
    img[height // 3 : 2 * height // 3, width // 5 : width // 3] += 0.15
    blotches = rng.random((height // 8 + 1, width // 8 + 1)).repeat(8, 0).repeat(8, 1)
    img += 0.05 * blotches[:height, :width]
    return img.astype(np.float32)


def colour_scene(seed: int = 0) -> np.ndarray:
    """Three differently arranged grey scenes as R, G, B (correlated edges, distinct content)."""
    base = scene(seed=seed)
    return np.dstack([base, scene(seed=seed + 1)[::-1], 0.5 * base + 0.3]).astype(np.float32)


def tolerance(sigma: float) -> float:
    return 0.3 + 0.05 * sigma


@pytest.mark.parametrize("sigma", [1, 2, 5, 15, 30, 50])
@pytest.mark.parametrize("texture", [0.0, 0.2])
def test_grey_accuracy(sigma: float, texture: float) -> None:
    noisy = add_gaussian_noise(scene(texture=texture), sigma, seed=7)
    assert estimate_sigma(noisy) == pytest.approx(sigma, abs=tolerance(sigma))


@pytest.mark.parametrize("sigma", [5, 25])
def test_colour_accuracy(sigma: float) -> None:
    noisy = add_gaussian_noise(colour_scene(), sigma, seed=3)
    assert estimate_sigma(noisy) == pytest.approx(sigma, abs=tolerance(sigma))


def test_unequal_channels_give_root_mean_square() -> None:
    clean = colour_scene()
    rng = np.random.default_rng(5)
    sigmas = np.array([4.0, 8.0, 16.0])
    noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * (sigmas / 255)
    expected = float(np.sqrt(np.mean(sigmas**2)))
    assert estimate_sigma(noisy) == pytest.approx(expected, abs=tolerance(expected))


def test_texture_is_not_mistaken_for_noise() -> None:
    """The textured clean scene reads as (nearly) noise-free; a local-variance or Laplacian
    estimate would report its texture (amplitude 0.2, i.e. ~50 grey levels) as noise."""
    assert estimate_sigma(scene(texture=0.2)) < 0.5


def test_clipped_areas_do_not_pull_the_estimate_down() -> None:
    clean = scene()
    clean[:, : clean.shape[1] // 2] = 1.0  # half the frame blown out
    noisy = np.clip(add_gaussian_noise(clean, 10, seed=1), 0.0, 1.0)
    assert estimate_sigma(noisy) == pytest.approx(10, abs=tolerance(10))


def test_layouts_and_dtypes_agree() -> None:
    noisy = np.clip(add_gaussian_noise(scene(), 12, seed=2), 0.0, 1.0)
    reference = estimate_sigma(noisy)
    assert estimate_sigma(noisy[..., None]) == reference
    assert estimate_sigma(noisy.astype(np.float64)) == pytest.approx(reference, rel=1e-4)
    as_uint8 = np.rint(noisy * 255).astype(np.uint8)
    assert estimate_sigma(as_uint8) == pytest.approx(12, abs=tolerance(12))
    as_uint16 = np.rint(noisy * 65535).astype(np.uint16)
    assert estimate_sigma(as_uint16) == pytest.approx(reference, rel=1e-3)
    rgb = np.repeat(noisy[..., None], 3, axis=2)
    rgba = np.dstack([rgb, np.zeros_like(noisy)])  # alpha is ignored, not taken as a channel
    assert estimate_sigma(rgba) == pytest.approx(estimate_sigma(rgb))


def test_deterministic() -> None:
    noisy = add_gaussian_noise(colour_scene(), 20, seed=4)
    assert estimate_sigma(noisy) == estimate_sigma(noisy.copy())


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="too small"):
        estimate_sigma(np.zeros((12, 12), np.float32))
    bad = scene()
    bad[100, 100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimate_sigma(bad)
    with pytest.raises(ValueError, match="shape"):
        estimate_sigma(np.zeros((4, 40, 40), np.float32).reshape(4, 40, 40, 1))
    with pytest.raises(ValueError, match="dtype"):
        estimate_sigma(np.zeros((40, 40), np.int32))


def test_add_gaussian_noise_is_the_protocol() -> None:
    clean = np.full((4, 5), 0.99, np.float32)
    noisy = add_gaussian_noise(clean, 50, seed=9)
    expected = clean + np.random.default_rng(9).standard_normal((4, 5)).astype(np.float32) * (
        np.float32(50 / 255)
    )
    np.testing.assert_array_equal(noisy, expected)
    assert noisy.dtype == np.float32 and noisy.max() > 1.0  # unclipped


@pytest.mark.slow
def test_twelve_megapixels() -> None:
    """Patches are sampled on a thinned grid: a 12 MP photo still reads right (its time is
    measured in benchmarks/noise_estimation.py, not asserted here)."""
    height, width = 3000, 4000
    ramp = np.linspace(0.1, 0.9, width, dtype=np.float32)[None, :, None]
    rng = np.random.default_rng(0)
    noisy = ramp + rng.standard_normal((height, width, 3), dtype=np.float32) * np.float32(8 / 255)
    assert estimate_sigma(noisy) == pytest.approx(8, abs=tolerance(8))


# ----------------------------------------------------------------------------- camera noise


def correlated_noise(shape: tuple[int, ...], sigma: float, seed: int) -> np.ndarray:
    """Noise of per-pixel std ``sigma`` (0-255) and the spectrum of bilinear-demosaiced noise.

    White noise blurred by the 3 x 3 binomial kernel (bilinear interpolation's R/B kernel:
    no power at the Nyquist frequency, where patch PCA looks), rescaled to the exact std.
    """
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((shape[0] + 2, shape[1] + 2, *shape[2:]))
    rows = white[:-2] + 2 * white[1:-1] + white[2:]
    blurred = rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]
    return (blurred / np.sqrt(36.0) * sigma / 255).astype(np.float32)  # 36 = (1+4+1)^2


def correlated_tolerance(sigma: float) -> float:
    """Looser than for white noise: texture the selection lets in reads as low-frequency noise."""
    return 1.0 + 0.15 * sigma


@pytest.mark.parametrize("sigma", [5, 15, 30])
def test_camera_estimate_reads_correlated_noise(sigma: float) -> None:
    """The per-pixel std of correlated noise, where the white-noise estimate reads a fraction."""
    clean = colour_scene(seed=2)
    noisy = clean + correlated_noise(clean.shape, sigma, seed=sigma)
    assert estimate_sigma(noisy, noise_type="camera") == pytest.approx(
        sigma, abs=correlated_tolerance(sigma)
    )
    assert estimate_sigma(noisy) < 0.5 * sigma  # why camera models need their own estimate


def test_camera_estimate_on_flat_correlated_noise_is_unbiased() -> None:
    """No texture at all: what is left is the fit itself (selection cut and its correction)."""
    noisy = np.float32(0.5) + correlated_noise((320, 480), 20.0, seed=11)
    assert estimate_sigma(noisy, noise_type="camera") == pytest.approx(20.0, rel=0.03)


@pytest.mark.parametrize("sigma", [5, 25])
def test_camera_estimate_keeps_white_noise_accuracy(sigma: float) -> None:
    """Camera models also see white noise (and the protocol's benchmark); it must read right."""
    noisy = add_gaussian_noise(colour_scene(), sigma, seed=3)
    assert estimate_sigma(noisy, noise_type="camera") == pytest.approx(
        sigma, abs=tolerance(sigma)
    )


def test_unknown_noise_type_is_the_protocol_estimate() -> None:
    noisy = add_gaussian_noise(scene(), 10, seed=6)
    assert estimate_sigma(noisy, noise_type="unknown") == estimate_sigma(noisy)


def test_camera_estimate_deterministic_and_grey() -> None:
    clean = scene()
    noisy = clean + correlated_noise(clean.shape, 12.0, seed=4)
    first = estimate_sigma(noisy, noise_type="camera")
    assert first == estimate_sigma(noisy.copy(), noise_type="camera")
    assert first == pytest.approx(12.0, abs=correlated_tolerance(12.0))


@pytest.mark.slow
def test_camera_estimate_on_twelve_megapixels() -> None:
    """Correlated noise on 12 MP reads right (the time: benchmarks/noise_estimation.py)."""
    height, width = 3000, 4000
    ramp = np.linspace(0.1, 0.9, width, dtype=np.float32)[None, :, None]
    noisy = ramp + correlated_noise((height, width, 3), 8.0, seed=1)
    value = estimate_sigma(noisy, noise_type="camera")
    assert value == pytest.approx(8, abs=correlated_tolerance(8))
