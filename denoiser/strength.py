"""Auto strength: the noise level to give a model, estimated from the image it will denoise.

A camera-noise model takes the per-pixel std of possibly correlated noise, which is what
``estimate_sigma(..., noise_type="camera")`` reads. A model trained on white Gaussian noise
takes a sigma too, but the white-noise estimate reads almost nothing on noise correlated over
a few pixels (grey scans, resized or JPEG'd photos): Auto then left such images as they were.
Measured in benchmarks/auto_strength.py (docs/auto-strength.md; ae-gray, Set12): on white
noise saved as JPEG, or noise blurred by 3 x 3 or 5 x 5 kernels with and without JPEG, the
white-noise estimate read 0.4-2.2 where the per-pixel std was 10 or 20, and gained next to
nothing; a Gaussian model did best at 1-2 times the per-pixel std.

So a Gaussian model gets the camera estimate c moved away from the white estimate w by half
their difference again, c + 0.5 (c - w): on white noise the two agree and it is the white
estimate, on correlated noise it is about 1.5 times the per-pixel std.
"""

from __future__ import annotations

import numpy as np

from denoiser.noise import estimate_sigma

CORRELATED_GAIN = 1.5  # times the per-pixel std, for a Gaussian model on correlated noise


def auto_sigma(pixels: np.ndarray, noise_type: str = "gaussian") -> float:
    """Noise level (0-255 scale) for a model trained on ``noise_type`` noise.

    Takes what ``estimate_sigma`` takes and raises what it raises.
    """
    camera = estimate_sigma(pixels, noise_type="camera")
    if noise_type == "camera":
        return camera
    white = estimate_sigma(pixels, noise_type="gaussian")
    return max(white, white + CORRELATED_GAIN * (camera - white))
