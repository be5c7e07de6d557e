"""Dead-leaves pictures: overlapping flat-coloured discs with a power-law spread of sizes.

Why: CBSD432 stores its colour at half resolution, so a network trained on it learns that
colour edges are soft and erases the fine colour a photograph has (``training.evaluate
--by-detail``). Dead leaves have sharp edges in every colour at every scale, and the
scale-invariant statistics of natural images (Lee, Mumford and Huang 2001); trained on, they
carry a prior much like natural pictures' (Achddou et al. 2021). They are drawn here, so no
data is fetched.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

SUPERSAMPLE = 2  # drawn at twice the size, then averaged: edges antialiased as a lens would


def disc_radii(n: int, r_min: float, r_max: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` radii with density proportional to r^-3 on [r_min, r_max] (scale invariance)."""
    u = rng.random(n)
    a, b = r_min ** -2.0, r_max ** -2.0
    return (a - u * (a - b)) ** -0.5


def dead_leaves(size: int, channels: int, rng: np.random.Generator,
                discs: int = 2000, r_min: float = 2.0) -> torch.Tensor:
    """A ``channels`` x ``size`` x ``size`` uint8 dead-leaves picture."""
    big = size * SUPERSAMPLE
    mode = "RGB" if channels == 3 else "L"
    img = Image.new(mode, (big, big), _colour(rng, channels))
    draw = ImageDraw.Draw(img)
    radii = disc_radii(discs, r_min * SUPERSAMPLE, big, rng)
    centres = rng.uniform(-0.1 * big, 1.1 * big, size=(discs, 2))
    for r, (x, y) in zip(radii, centres, strict=True):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng, channels))
    img = img.resize((size, size), Image.Resampling.BOX)
    arr = np.asarray(img, dtype=np.uint8).reshape(size, size, channels)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def _colour(rng: np.random.Generator, channels: int) -> tuple[int, ...] | int:
    """A random colour, from grey to fully saturated."""
    if channels == 1:
        return int(rng.integers(256))
    grey = rng.uniform(0, 255)
    rgb = grey + rng.uniform(0, 1) * (rng.uniform(0, 255, 3) - grey)
    return tuple(int(v) for v in np.clip(np.rint(rgb), 0, 255))
