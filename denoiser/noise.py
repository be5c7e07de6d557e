"""Noise: the evaluation protocol's synthetic noise, and noise-level estimation without a reference."""

from __future__ import annotations

import numpy as np


def add_gaussian_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """The protocol: clean + N(0, sigma/255) in float32, unclipped, seeded by the image's index.

    ``clean`` is float32 in 0..1 (H x W or H x W x C); ``sigma`` is on the 0-255 scale.
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma / 255.0)
    return clean.astype(np.float32) + noise
