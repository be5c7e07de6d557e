"""training.noise_synth: noise statistics against the parameters that made them."""

from __future__ import annotations

import pytest
import torch

from training.noise_synth import NoiseParams, srgb_to_linear, synthesize

A, B = 4e-3, 1e-4  # a fairly high ISO: linear std 0.01 .. 0.06


def fixed(**kwargs) -> NoiseParams:
    """Parameters pinned to (A, B), every optional stage off unless asked for."""
    base = dict(a_range=(A, A), b_range=(B, B), colour_prob=0.0, mosaic_prob=0.0,
                jpeg_prob=0.0, clip=False)
    base.update(kwargs)
    return NoiseParams(**base)


def flat(level: float, n: int = 4, channels: int = 3, size: int = 96) -> torch.Tensor:
    return torch.full((n, channels, size, size), level)


def neighbour_correlation(noise: torch.Tensor) -> float:
    noise = noise - noise.mean(dim=(2, 3), keepdim=True)
    return float((noise[..., 1:] * noise[..., :-1]).mean() / noise.square().mean())


@pytest.mark.parametrize("level", [0.1, 0.3, 0.6, 0.9])
def test_linear_variance_is_a_x_plus_b(level: float) -> None:
    gen = torch.Generator().manual_seed(1)
    noisy, _ = synthesize(flat(level), gen, fixed())
    x = srgb_to_linear(torch.tensor(level))
    measured = float((srgb_to_linear(noisy) - x).var())
    assert measured == pytest.approx(float(A * x + B), rel=0.03)


@pytest.mark.parametrize("level", [0.05, 0.2, 0.5, 0.8])
@pytest.mark.parametrize("stages", ["plain", "colour+mosaic"])
def test_sigma_map_matches_measured_std_after_gamma(level: float, stages: str) -> None:
    gen = torch.Generator().manual_seed(2)
    extra = {"colour_prob": 1.0, "mosaic_prob": 1.0} if stages != "plain" else {}
    noisy, sigma = synthesize(flat(level), gen, fixed(**extra))
    assert sigma.shape == (4, 1, 96, 96)
    measured = (noisy - level).square().mean(dim=(1, 2, 3)).sqrt()  # RMS over channels
    predicted = sigma.square().mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(measured, predicted, rtol=0.10)


def test_mosaic_noise_is_spatially_correlated_and_plain_is_not() -> None:
    gen = torch.Generator().manual_seed(3)
    plain, _ = synthesize(flat(0.5), gen, fixed())
    mosaic, _ = synthesize(flat(0.5), gen, fixed(mosaic_prob=1.0))
    assert abs(neighbour_correlation(plain - 0.5)) < 0.03
    assert neighbour_correlation(mosaic - 0.5) > 0.3


def test_colour_correction_correlates_channels() -> None:
    gen = torch.Generator().manual_seed(4)
    noisy, _ = synthesize(flat(0.5, n=1), gen, fixed(colour_prob=1.0))
    noise = (noisy - 0.5).reshape(3, -1)
    corr = torch.corrcoef(noise)
    assert corr[0, 1] < -0.05 or corr[1, 2] < -0.05  # negative CCM off-diagonals


def test_jpeg_removes_noise_and_the_sigma_map_follows() -> None:
    gen = torch.Generator().manual_seed(5)
    params = fixed(jpeg_prob=1.0, jpeg_quality=(50, 50))
    noisy, sigma = synthesize(flat(0.5), gen, params)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert torch.allclose(noisy * 255, (noisy * 255).round(), atol=1e-3)  # decoded 8-bit
    measured = (noisy - 0.5).square().mean(dim=(1, 2, 3)).sqrt()
    unjpeg = synthesize(flat(0.5), torch.Generator().manual_seed(5), fixed())[1]
    assert float(sigma.mean()) < 0.9 * float(unjpeg.mean())  # JPEG smoothed some away
    predicted = sigma.square().mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(measured, predicted, rtol=0.15)


def test_reproducible_with_a_seed_and_shapes_for_grey() -> None:
    clean = torch.rand(6, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    params = NoiseParams(gaussian_fraction=0.5)
    one = synthesize(clean, torch.Generator().manual_seed(9), params)
    two = synthesize(clean, torch.Generator().manual_seed(9), params)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
    assert one[0].shape == clean.shape and one[1].shape == (6, 1, 40, 40)
    assert torch.isfinite(one[0]).all() and (one[1] >= 0).all()


def test_gaussian_case_matches_the_protocol() -> None:
    gen = torch.Generator().manual_seed(6)
    noisy, sigma = synthesize(flat(0.5, n=8), gen, NoiseParams(gaussian_fraction=1.0))
    per_patch = sigma[:, 0, 0, 0]
    assert (sigma == per_patch.view(-1, 1, 1, 1)).all()  # constant map per patch
    measured = (noisy - 0.5).std(dim=(1, 2, 3))
    assert torch.allclose(measured, per_patch, rtol=0.05, atol=2e-3)


@pytest.mark.parametrize("level", [0.02, 0.1, 0.97])
def test_sigma_map_follows_clipping_near_black_and_white(level: float) -> None:
    gen = torch.Generator().manual_seed(7)
    noisy, sigma = synthesize(flat(level), gen, fixed(clip=True, colour_prob=1.0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    centred = noisy - noisy.mean(dim=(2, 3), keepdim=True)  # clipping moves the mean
    measured = centred.square().mean(dim=(1, 2, 3)).sqrt()
    predicted = sigma.square().mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(measured, predicted, rtol=0.10)
