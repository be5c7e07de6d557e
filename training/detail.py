"""PSNR by local detail: where in a picture one denoiser loses to another.

A mean PSNR mixes flat sky with fine texture, so a method that smooths texture can lose the
mean while winning the flat parts. Each image is cut into 16x16 blocks, each block is ranked
by the standard deviation of its clean luminance, and the PSNR is reported for each quarter
of all the blocks of a test set, from the flattest to the most detailed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from denoiser.metrics import to_8bit

BLOCK = 16


def _blocks(a: np.ndarray) -> np.ndarray:
    """H x W -> (blocks, BLOCK * BLOCK), dropping the ragged right and bottom edges."""
    h, w = a.shape[0] // BLOCK * BLOCK, a.shape[1] // BLOCK * BLOCK
    return a[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2).reshape(
        -1, BLOCK * BLOCK)


def block_stats(clean: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(detail, squared error) of each block: the std of the clean luminance (0..255) and
    the mean squared error of the 8-bit output (protocol clipping and rounding)."""
    c8, o8 = to_8bit(clean), to_8bit(out)
    err = ((c8 - o8) ** 2).reshape(*c8.shape[:2], -1).mean(axis=2)
    luma = c8.reshape(*c8.shape[:2], -1).mean(axis=2)
    return _blocks(luma).std(axis=1), _blocks(err).mean(axis=1)


def psnr_by_detail(stats: Sequence[tuple[np.ndarray, np.ndarray]], parts: int = 4) -> dict:
    """PSNR of each ``parts``-quantile of the blocks by detail, and the quantiles' upper edges.

    The edges depend on the clean images only, so every method run on the same images is cut
    the same way."""
    detail = np.concatenate([d for d, _ in stats])
    err = np.concatenate([e for _, e in stats])
    order = np.argsort(detail, kind="stable")
    groups = np.array_split(order, parts)
    return {"psnr": [round(float(10 * np.log10(255.0**2 / max(err[g].mean(), 1e-12))), 3)
                     for g in groups],
            "detail_upper": [round(float(detail[g].max()), 2) for g in groups]}
