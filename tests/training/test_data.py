"""Patch sampling: the detail share draws patches from where the structure is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from training.data import PatchSampler, colour_resolution
from training.noise_synth import NoiseParams


def half_flat_image(size: int = 128) -> torch.Tensor:
    """Left half flat grey, right half random texture."""
    rng = np.random.default_rng(0)
    img = np.full((3, size, size), 128, np.uint8)
    img[:, :, size // 2 :] = rng.integers(0, 256, (3, size, size // 2), dtype=np.uint8)
    return torch.from_numpy(img)


def textured_share(sampler: PatchSampler, batches: int = 20) -> float:
    """Mean spread of the clean patches drawn: higher means more texture."""
    gen = torch.Generator().manual_seed(0)
    return float(torch.stack([sampler.batch(8, gen)[0].std(dim=(1, 2, 3))
                              for _ in range(batches)]).mean())


def test_detail_share_draws_more_detailed_patches():
    uniform = PatchSampler([half_flat_image()], patch=16, detail_share=0.0)
    detailed = PatchSampler([half_flat_image()], patch=16, detail_share=1.0)
    assert textured_share(detailed) > 1.3 * textured_share(uniform)


def test_no_detail_share_keeps_the_uniform_stream():
    """Recipes without the key draw exactly the patches they drew before it existed."""
    a = PatchSampler([half_flat_image()], patch=16)
    b = PatchSampler([half_flat_image()], patch=16, detail_share=0.0, detail_candidates=8)
    ga, gb = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for x, y in zip(a.batch(4, ga), b.batch(4, gb)):
        assert torch.equal(x, y)


def grey_texture(size: int = 64) -> torch.Tensor:
    """Random texture with R = G = B: all of its fine detail is in the luminance."""
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (1, size, size), dtype=np.uint8)
    return torch.from_numpy(np.repeat(grey, 3, axis=0))


def test_channel_gains_put_fine_detail_into_colour():
    plain = PatchSampler([grey_texture()], patch=16)
    gained = PatchSampler([grey_texture()], patch=16, gain_low=0.5)
    gen = torch.Generator().manual_seed(0)
    clean = plain.batch(8, gen)[0]
    assert torch.equal(clean[:, 0], clean[:, 1])  # grey: no colour at all
    clean = gained.batch(8, gen)[0]
    spread = clean - clean.mean(dim=1, keepdim=True)  # the colour part of each pixel
    assert spread.abs().mean() > 0.02
    assert clean.amax(dim=(2, 3)).max() <= 1.0  # gains at most 1: nothing is clipped


def test_gain_share_leaves_the_rest_of_the_patches_alone():
    sampler = PatchSampler([grey_texture()], patch=16, gain_low=0.5, gain_share=0.5)
    clean = sampler.batch(64, torch.Generator().manual_seed(0))[0]
    grey = (clean[:, 0] == clean[:, 1]).flatten(1).all(dim=1) & (
        clean[:, 1] == clean[:, 2]).flatten(1).all(dim=1)
    assert 16 <= int(grey.sum()) <= 48


def test_saturation_scales_the_colour_and_keeps_the_range():
    rng = np.random.default_rng(2)
    tinted = torch.from_numpy(rng.integers(64, 192, (3, 32, 32), dtype=np.uint8))
    plain = PatchSampler([tinted], patch=16, channel_shuffle=False)
    vivid = PatchSampler([tinted], patch=16, channel_shuffle=False, saturation_max=3.0)

    def colour(sampler: PatchSampler) -> float:
        clean = sampler.batch(32, torch.Generator().manual_seed(5))[0]
        assert 0.0 <= float(clean.min()) and float(clean.max()) <= 1.0
        return float((clean - clean.mean(dim=1, keepdim=True)).abs().mean())

    assert colour(vivid) > 1.5 * colour(plain)


def test_full_colour_takes_subsampled_jpegs_only_at_half_size(tmp_path):
    rng = np.random.default_rng(0)
    pixels = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    pixels.save(tmp_path / "a.jpg", quality=95, subsampling=2)  # 4:2:0
    pixels.save(tmp_path / "b.jpg", quality=95, subsampling=0)  # 4:4:4
    pixels.save(tmp_path / "c.png")
    assert [colour_resolution(tmp_path / n) for n in ("a.jpg", "b.jpg", "c.png")] == [0.5, 1, 1]

    def sizes(**kw):
        s = PatchSampler.from_folders([tmp_path], 3, scales=[1.0, 0.5], patch=16, **kw)
        return sorted(img.shape[-1] for img in s.images)

    assert sizes() == [32, 32, 32, 64, 64, 64]
    assert sizes(full_colour=True) == [32, 32, 32, 64, 64]
    grey = PatchSampler.from_folders([tmp_path], 1, scales=[1.0, 0.5], patch=16, full_colour=True)
    assert len(grey.images) == 6  # grey models lose nothing: luminance is stored in full


def test_sigma_power_moves_patches_to_weak_noise():
    """Power 2: P(sigma < sigma_max / 3) = sqrt(1/3), about 0.58, against 1/3 for uniform."""
    gen = torch.Generator().manual_seed(0)
    sampler = PatchSampler([half_flat_image()], patch=16, sigma_max=75.0, sigma_power=2.0)
    levels = torch.cat([sampler.batch(16, gen)[2][:, 0, 0, 0] for _ in range(40)]) * 255
    assert levels.min() >= 0 and levels.max() <= 75
    assert abs(float((levels < 25).float().mean()) - 3 ** -0.5) < 0.07


def test_sigma_power_one_keeps_the_uniform_stream():
    a = PatchSampler([half_flat_image()], patch=16)
    b = PatchSampler([half_flat_image()], patch=16, sigma_power=1.0)
    ga, gb = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for x, y in zip(a.batch(4, ga), b.batch(4, gb)):
        assert torch.equal(x, y)


def test_sigma_power_with_camera_noise_is_refused():
    with pytest.raises(ValueError, match="sigma_power"):
        PatchSampler([half_flat_image()], patch=16, noise=NoiseParams(), sigma_power=2.0)
