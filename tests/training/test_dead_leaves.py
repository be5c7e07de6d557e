"""Dead-leaves pictures: sharp-edged colour at every scale, drawn reproducibly."""

from __future__ import annotations

import numpy as np
import torch

from training.data import PatchSampler
from training.dead_leaves import dead_leaves, disc_radii


def test_radii_follow_the_inverse_cube_law():
    r = disc_radii(200_000, 2.0, 200.0, np.random.default_rng(0))
    assert r.min() >= 2.0 and r.max() <= 200.0
    # density r^-3: P(r > x) = (x^-2 - 200^-2) / (2^-2 - 200^-2), about (2 / x)^2
    for x in (4.0, 8.0, 20.0):
        expected = (x**-2 - 200.0**-2) / (2.0**-2 - 200.0**-2)
        assert abs(np.mean(r > x) - expected) < 0.01


def test_picture_is_reproducible_and_the_asked_shape():
    a = dead_leaves(64, 3, np.random.default_rng(5))
    b = dead_leaves(64, 3, np.random.default_rng(5))
    assert a.shape == (3, 64, 64) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert dead_leaves(48, 1, np.random.default_rng(5)).shape == (1, 48, 48)


def test_picture_has_many_sharp_colour_edges():
    img = dead_leaves(96, 3, np.random.default_rng(1)).float()
    grey = img.mean(dim=0, keepdim=True)
    colour = img - grey  # what a 4:2:0 JPEG would blur: colour apart from brightness
    step = (colour[:, :, 1:] - colour[:, :, :-1]).abs().amax(dim=0)
    assert torch.unique(img.reshape(3, -1), dim=1).shape[1] > 50  # many discs, not one fill
    assert (step > 40).float().mean() > 0.02  # colour changes within one pixel, often


def test_sampler_mixes_in_the_asked_share_of_leaves():
    flat = torch.full((3, 64, 64), 128, dtype=torch.uint8)
    sampler = PatchSampler([flat], patch=32, leaves_share=0.5)
    clean, noisy, sigma = sampler.batch(4, torch.Generator().manual_seed(0))
    spread = clean.flatten(1).std(dim=1)
    assert (spread[:2] == 0).all() and (spread[2:] > 0.05).all()
    assert noisy.shape == clean.shape and sigma.shape == (4, 1, 32, 32)
