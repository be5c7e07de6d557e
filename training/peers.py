"""The classic peers, run under the same protocol: BM3D / CBM3D and OpenCV's non-local means."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def bm3d_peer(channels: int) -> Callable[[np.ndarray, float], np.ndarray]:
    """BM3D for grey images, CBM3D (bm3d_rgb) for colour; the `bm3d` package, profile 'np'."""
    import bm3d

    def run(noisy: np.ndarray, sigma: float) -> np.ndarray:
        if channels == 3:
            return bm3d.bm3d_rgb(noisy, sigma / 255.0)
        return bm3d.bm3d(noisy[..., 0], sigma / 255.0)[..., None]

    return run


def nlm_peer(channels: int) -> Callable[[np.ndarray, float], np.ndarray]:
    """OpenCV fast non-local means; it takes 8-bit input, so the noisy image is quantised first.

    The filter strength follows the noise level, h = h_color = 0.6 sigma: the best of a small
    grid (0.2..1.0 sigma) on three CBSD68 images at sigma 25, which favours the peer. Patches are
    7x7 and the search window 21x21, OpenCV's documented defaults.
    """
    import cv2

    def run(noisy: np.ndarray, sigma: float) -> np.ndarray:
        u8 = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
        h = 0.6 * sigma
        if channels == 3:
            out = cv2.fastNlMeansDenoisingColored(u8, None, h, h, 7, 21)
        else:
            out = cv2.fastNlMeansDenoising(u8[..., 0], None, h, 7, 21)[..., None]
        return out.astype(np.float32) / 255.0

    return run


PEERS: dict[str, Callable[[int], Callable[[np.ndarray, float], np.ndarray]]] = {
    "bm3d": bm3d_peer,
    "nlm": nlm_peer,
}
