"""Camera-like test noise for the evaluation: fixed settings, seeded by the image's index.

Three strengths of Poisson-Gaussian noise in linear light (shot-noise gain ``a`` and read
variance ``b``, roughly base ISO, ISO 1600 and ISO 6400 on a phone), always through white
balance, a colour-correction matrix and a Bayer mosaic with bilinear demosaicing, clipped
as a photo is; ``+jpegQ`` adds JPEG at quality Q on top.
"""

from __future__ import annotations

import numpy as np
import torch

from training.noise_synth import NoiseParams, synthesize

LEVELS = {"low": (1e-3, 1e-5), "mid": (4e-3, 5e-5), "high": (1.2e-2, 2e-4)}


def params_for(setting: str) -> NoiseParams:
    """``camera-mid`` or ``camera-high+jpeg75`` -> the fixed parameters of that setting."""
    level, _, jpeg = setting.removeprefix("camera-").partition("+jpeg")
    if level not in LEVELS:
        raise ValueError(f"unknown camera-noise level {level!r}; known: {sorted(LEVELS)}")
    a, b = LEVELS[level]
    quality = int(jpeg) if jpeg else 95
    return NoiseParams(a_range=(a, a), b_range=(b, b), colour_prob=1.0, mosaic_prob=1.0,
                       jpeg_prob=1.0 if jpeg else 0.0, jpeg_quality=(quality, quality))


def camera_noisy(clean: np.ndarray, index: int, setting: str) -> tuple[np.ndarray, np.ndarray]:
    """(noisy H x W x C, true noise map H x W on the 0-255 scale) for one test image."""
    if clean.shape[2] != 3:
        raise ValueError("camera noise is defined for colour images")
    gen = torch.Generator().manual_seed(index)
    x = torch.from_numpy(np.ascontiguousarray(clean.transpose(2, 0, 1)))[None]
    noisy, sigma = synthesize(x, gen, params_for(setting))
    return noisy[0].permute(1, 2, 0).numpy(), sigma[0, 0].numpy() * 255.0
