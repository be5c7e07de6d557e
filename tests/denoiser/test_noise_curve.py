"""denoiser.noise_curve: Poisson-Gaussian scenes made here with known (a, b), no dataset."""

from __future__ import annotations

import numpy as np
import pytest

from denoiser.noise_curve import NoiseCurve, estimate_noise_curve, srgb_slope, srgb_to_linear

LEVELS = np.linspace(0.1, 0.9, 9)


def scene(height: int = 360, width: int = 480, seed: int = 0) -> np.ndarray:
    """Grey scene spanning nearly 0..1: a ramp, soft waves, blotches and a striped block."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = 0.85 * (0.02 + 0.96 * x / width) + 0.07 * np.sin(y / 23.0) * np.cos(x / 31.0)
    blotches = rng.random((height // 16 + 1, width // 16 + 1)).repeat(16, 0).repeat(16, 1)
    img += 0.1 * blotches[:height, :width]
    block = (slice(height // 3, height // 2), slice(width // 4, width // 2))
    img[block] += 0.1 * np.sign(np.sin(x[block] / 2.0))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def colour_scene(seed: int = 0) -> np.ndarray:
    return np.dstack([scene(seed=seed + k) for k in range(3)])


def poisson_gaussian(clean: np.ndarray, a: float, b: float, seed: int) -> np.ndarray:
    """clean + N(0, a * clean + b), clipped to 0..1 as a photo is."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(clean.shape).astype(np.float32)
    return np.clip(clean + np.sqrt(a * clean + b) * noise, 0.0, 1.0).astype(np.float32)


def in_linear_light(clean: np.ndarray, a: float, b: float, seed: int) -> np.ndarray:
    """A photo's noise: N(0, a x + b) added in linear light x, sRGB curve re-applied, clipped."""
    rng = np.random.default_rng(seed)
    x = srgb_to_linear(clean)
    noisy = x + np.sqrt(a * x + b) * rng.standard_normal(clean.shape)
    y = np.where(noisy <= 0.0031308, 12.92 * noisy, 1.055 * np.abs(noisy) ** (1 / 2.4) - 0.055)
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def worst_std_error(
    curve: NoiseCurve, a: float, b: float, levels: np.ndarray = LEVELS
) -> float:
    """Largest relative error of the fitted std over ``levels``, all channels.

    The truth is in the curve's own space: for a linear-light curve, the std the sRGB
    image shows at value y by the first-order rule, slope(x) * sqrt(a x + b).
    """
    if curve.linear_light:
        x = srgb_to_linear(levels)
        truth = srgb_slope(x) * np.sqrt(a * x + b)
    else:
        truth = np.sqrt(a * levels + b)
    return max(
        float(np.max(np.abs(curve.std(levels, c) / truth - 1.0))) for c in range(len(curve.a))
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [(1e-2, 1e-4), (2e-3, 1e-5), (5e-4, 4e-5), (4e-3, 0.0), (0.0, 4e-4)],
)
def test_colour_curve_recovers_a_and_b(a: float, b: float) -> None:
    noisy = poisson_gaussian(colour_scene(), a, b, seed=1)
    curve = estimate_noise_curve(noisy, linear_light=False)
    assert curve.a.shape == (3,) and curve.b.shape == (3,)
    assert worst_std_error(curve, a, b) < 0.08
    np.testing.assert_allclose(curve.a, a, atol=0.1 * a + 2e-4)


def test_grey_and_uint8() -> None:
    a, b = 3e-3, 2e-5
    noisy = poisson_gaussian(scene(seed=3), a, b, seed=2)
    curve = estimate_noise_curve(noisy, linear_light=False)
    assert curve.a.shape == (1,)
    assert worst_std_error(curve, a, b) < 0.08
    as_uint8 = estimate_noise_curve(np.rint(noisy * 255).astype(np.uint8), linear_light=False)
    assert worst_std_error(as_uint8, a, b) < 0.10  # 8-bit rounding adds 1/12 LSB^2


def test_texture_does_not_raise_the_curve() -> None:
    clean = scene(seed=4)
    y, x = np.mgrid[0 : clean.shape[0], 0 : clean.shape[1]]
    clean = np.clip(clean + 0.15 * np.sin(x / 2.3) * np.sin(y / 3.1) * (y > 180), 0, 1)
    a, b = 1e-3, 1e-5
    noisy = poisson_gaussian(clean.astype(np.float32), a, b, seed=5)
    curve = estimate_noise_curve(noisy, linear_light=False)
    assert worst_std_error(curve, a, b) < 0.12


def test_flat_image_gives_a_flat_curve() -> None:
    noisy = poisson_gaussian(np.full((120, 160), 0.4, np.float32), 0.0, 1e-4, seed=6)
    curve = estimate_noise_curve(noisy, linear_light=False)
    assert curve.a[0] == 0.0
    assert np.sqrt(curve.b[0]) == pytest.approx(0.01, rel=0.05)
    assert estimate_noise_curve(noisy).std(0.4)[()] == pytest.approx(0.01, rel=0.05)


def test_sigma_map_follows_the_curve() -> None:
    curve = NoiseCurve(
        a=np.array([4e-3, 2e-3, 6e-3]), b=np.array([1e-4, 1e-4, 1e-4]), linear_light=False
    )
    image = np.zeros((40, 60, 3), np.float32)
    image[:, :30] = 0.2
    image[:, 30:] = 0.8
    sigma = curve.sigma_map(image)
    assert sigma.shape == (40, 60) and sigma.dtype == np.float32
    for x, column in ((0.2, 5), (0.8, 55)):
        expected = 255 * np.sqrt(np.mean(curve.a * x + curve.b))
        assert sigma[20, column] == pytest.approx(expected, rel=1e-4)
    assert sigma[20, 5] < sigma[20, 29] < sigma[20, 30] < sigma[20, 55]  # smooth step
    as_uint8 = curve.sigma_map(np.rint(image * 255).astype(np.uint8))
    np.testing.assert_allclose(as_uint8, sigma, rtol=1e-2)
    with pytest.raises(ValueError, match="channel"):
        curve.sigma_map(image[..., 0])


def test_sigma_map_of_a_noisy_photo_is_close_to_the_truth() -> None:
    a, b = 4e-3, 5e-5
    clean = colour_scene(seed=7)
    noisy = poisson_gaussian(clean, a, b, seed=8)
    estimated = estimate_noise_curve(noisy, linear_light=False).sigma_map(noisy)
    truth = 255 * np.sqrt(np.mean(a * clean + b, axis=2))
    inner = (slice(10, -10), slice(10, -10))
    ratio = estimated[inner] / truth[inner]
    assert abs(float(np.median(ratio)) - 1.0) < 0.05


@pytest.mark.parametrize(("a", "b"), [(1e-2, 1e-4), (2e-3, 2e-5), (5e-4, 1e-6)])
def test_linear_light_curve_of_a_photo(a: float, b: float) -> None:
    """Noise made as a sensor makes it: affine in linear light, then the sRGB curve.

    In image values this noise *falls* with brightness, which no a, b >= 0 can fit there.
    """
    noisy = in_linear_light(colour_scene(seed=9), a, b, seed=10)
    curve = estimate_noise_curve(noisy)
    assert curve.linear_light
    assert worst_std_error(curve, a, b, levels=np.linspace(0.2, 0.9, 8)) < 0.12
    np.testing.assert_allclose(curve.a, a, rtol=0.15)
    flat = estimate_noise_curve(noisy, linear_light=False)
    assert worst_std_error(flat, a, b, levels=np.linspace(0.2, 0.9, 8)) > 0.10 or a < 1e-3


def test_linear_light_sigma_map() -> None:
    curve = NoiseCurve(a=np.array([4e-3]), b=np.array([1e-4]))
    image = np.full((30, 30), 0.5, np.float32)
    x = srgb_to_linear(0.5)
    expected = 255 * srgb_slope(x) * np.sqrt(4e-3 * x + 1e-4)
    np.testing.assert_allclose(curve.sigma_map(image), expected, rtol=1e-4)


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="too small"):
        estimate_noise_curve(np.zeros((12, 12), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        estimate_noise_curve(np.zeros((40, 40), np.int32))


@pytest.mark.slow
def test_twelve_megapixels() -> None:
    """Patches are sampled, so a 12 MP photo's curve still fits, and its sigma map covers
    it (their times are measured in benchmarks/noise_curve.py, not asserted here)."""
    height, width = 3000, 4000
    ramp = np.linspace(0.05, 0.95, width, dtype=np.float32)[None, :, None]
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((height, width, 3), dtype=np.float32)
    noisy = ramp + noise * np.sqrt(np.float32(2e-3) * ramp + np.float32(1e-5))
    curve = estimate_noise_curve(noisy, linear_light=False)
    assert worst_std_error(curve, 2e-3, 1e-5) < 0.08
    sigma = estimate_noise_curve(noisy[:512, :512]).sigma_map(noisy)
    assert sigma.shape == (height, width)
