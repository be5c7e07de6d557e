"""Tile layout and blend weights: coverage, alignment, guard bands, reflect padding."""

from __future__ import annotations

import numpy as np
import pytest

from denoiser import tiling


@pytest.mark.parametrize("length,tile,overlap,m", [
    (64, 64, 16, 8), (72, 32, 8, 8), (1008, 256, 64, 16), (152, 80, 16, 8), (19, 10, 2, 1),
])
def test_starts_cover_axis_aligned_with_overlap(length, tile, overlap, m):
    starts = tiling.tile_starts(length, tile, overlap, m)
    assert starts[0] == 0 and starts[-1] + tile == length
    assert all(s % m == 0 for s in starts)
    gaps = np.diff(starts)
    assert (gaps > 0).all() and (tile - gaps >= overlap).all()


def test_fit_tile_snaps_to_multiple_and_caps_overlap():
    assert tiling.fit_tile(500, 64, 16) == (496, 64)
    assert tiling.fit_tile(40, 64, 16) == (32, 16)  # tiles must still advance
    assert tiling.fit_tile(3, 0, 8) == (8, 0)
    assert tiling.auto_overlap(512, 16) == 64 and tiling.auto_overlap(64, 16) == 32


def test_layout_small_image_is_one_tile():
    tiles = tiling.layout(48, 40, 512, 64, 8)
    assert len(tiles) == 1 and tiles[0].shape == (48, 40) and tiles[0].inner == (False,) * 4


def test_ramp_has_guard_band_and_partition_of_unity():
    overlap = 16
    left = tiling.ramp(48, overlap, start_inner=False, end_inner=True)
    right = tiling.ramp(48, overlap, start_inner=True, end_inner=False)
    assert (right[:4] == 0).all() and (left[-4:] == 0).all()
    # two tiles overlapping by exactly `overlap`: weights sum to one across the overlap
    np.testing.assert_allclose(left[-overlap:] + right[:overlap], 1.0, atol=1e-6)


def test_weights_cover_every_pixel():
    h, w, m = 100, 130, 4
    ph, pw = tiling.padded_size(h, m), tiling.padded_size(w, m)
    weights = np.zeros((h, w), np.float32)
    for t in tiling.layout(ph, pw, 32, 16, m):
        tiling.add_weight(weights, t, tiling.tile_weight(t, 16))
    assert weights.min() > 0.1


def test_reflect_index_matches_numpy_pad():
    a = np.arange(7)
    np.testing.assert_array_equal(a[tiling.reflect_index(0, 12, 7)], np.pad(a, (0, 5), "reflect"))
    assert list(tiling.reflect_index(0, 4, 1)) == [0, 0, 0, 0]


def test_crop_padded_is_a_view_inside_and_pads_outside():
    img = np.arange(5 * 6, dtype=np.float32).reshape(5, 6, 1)
    inside = tiling.crop_padded(img, tiling.Tile(0, 0, 4, 4, (False,) * 4))
    assert np.shares_memory(inside, img)
    edge = tiling.crop_padded(img, tiling.Tile(0, 0, 8, 8, (False,) * 4))
    np.testing.assert_array_equal(edge, np.pad(img, ((0, 3), (0, 2), (0, 0)), "reflect"))


@pytest.mark.parametrize("length,tile,overlap,m", [
    (6000, 1024, 64, 16), (4000, 512, 64, 16), (1232, 512, 64, 16), (96, 32, 16, 8), (40, 64, 8, 8),
])
def test_fitted_tile_covers_with_no_more_tiles(length, tile, overlap, m):
    fitted = tiling.fitted_tile(length, tile, overlap, m)
    assert fitted % m == 0 or fitted == length
    assert fitted <= tile
    starts = tiling.tile_starts(length, fitted, overlap, m)
    assert len(starts) <= len(tiling.tile_starts(length, tile, overlap, m))
    assert starts[-1] + fitted == length and (fitted - np.diff(starts) >= overlap).all()


def test_layout_computes_less_overlap_on_a_large_photo():
    """6000 x 4000 in 1024 px tiles: 1.53 times the pixels before fitting, 1.15 after."""
    tiles = tiling.layout(4000, 6000, 1024, 64, 16)
    computed = sum(t.shape[0] * t.shape[1] for t in tiles) / (4000 * 6000)
    assert computed < 1.16 and len({t.shape for t in tiles}) == 1


def test_accumulate_equals_weighted_sum_to_the_bit():
    rng = np.random.default_rng(0)
    out = rng.random((20, 30, 3), dtype=np.float32)
    expected = out.copy()
    result = rng.random((3, 16, 16), dtype=np.float32)  # C x h x w, the network's layout
    t = tiling.Tile(8, 16, 24, 32, (True, False, True, False))  # hangs over two edges
    w = tiling.tile_weight(t, 8)
    expected[8:20, 16:30] += result.transpose(1, 2, 0)[:12, :14] * w[:12, :14, None]
    tiling.accumulate(out, result, t, w)
    np.testing.assert_array_equal(out, expected)
