"""PSNR by local detail: blocks ranked by clean detail, PSNR per quarter, as done by hand."""

from __future__ import annotations

import numpy as np

from training.detail import BLOCK, block_stats, psnr_by_detail


def two_block_image() -> np.ndarray:
    """A flat block beside a checkerboard block, grey, one block high."""
    img = np.full((BLOCK, 2 * BLOCK, 1), 128 / 255, np.float32)
    yy, xx = np.mgrid[:BLOCK, :BLOCK]
    img[:, BLOCK:, 0] = ((yy + xx) % 2) * 200 / 255
    return img


def test_block_stats_rank_detail_and_measure_each_blocks_error():
    clean = two_block_image()
    out = clean.copy()
    out[:, BLOCK:] = 100 / 255  # the textured block smoothed to its mean: error 100 everywhere
    detail, err = block_stats(clean, out)
    assert detail[0] == 0 and detail[1] == 100  # std of a 0/200 checkerboard
    assert err[0] == 0 and err[1] == 100**2


def test_psnr_by_detail_splits_flat_from_detailed_blocks():
    clean = two_block_image()
    out = clean.copy()
    out[:, :BLOCK] += 2 / 255  # flat block off by 2 levels
    out[:, BLOCK:] = 100 / 255
    res = psnr_by_detail([block_stats(clean, out)], parts=2)
    by_hand = [10 * np.log10(255**2 / mse) for mse in (2**2, 100**2)]
    assert res["psnr"] == [round(v, 3) for v in by_hand]
    assert res["detail_upper"] == [0.0, 100.0]


def test_colour_blocks_use_luminance_and_drop_ragged_edges():
    rng = np.random.default_rng(0)
    clean = rng.random((BLOCK * 2 + 5, BLOCK * 3 + 7, 3)).astype(np.float32)
    detail, err = block_stats(clean, clean)
    assert detail.shape == err.shape == (6,)
    assert np.all(err == 0) and np.all(detail > 0)
