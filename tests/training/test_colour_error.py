"""Error by colour part: errors of known kind land in the right part, as worked out by hand."""

from __future__ import annotations

import numpy as np

from training.colour_error import (
    PARTS,
    colour_error,
    detail_kept,
    fine_colour_share,
    kept_by_colour,
    mse_by_colour,
)


def grey_card(h: int = 8, w: int = 8) -> np.ndarray:
    return np.full((h, w, 3), 128 / 255, np.float32)


def parts_of(clean: np.ndarray, out: np.ndarray) -> dict[str, float]:
    return dict(zip(PARTS, mse_by_colour([colour_error(clean, out)])["mse"]))


def test_a_brightness_offset_is_coarse_luminance_error_only():
    clean = grey_card()
    out = clean + 3 / 255  # every channel 3 levels up: 9 per value, all of it luminance
    parts = parts_of(clean, out)
    assert parts == {"luma coarse": 9.0, "luma fine": 0.0, "colour coarse": 0.0,
                     "colour fine": 0.0}


def test_a_colour_checkerboard_is_fine_colour_error_only():
    clean = grey_card()
    out = clean.copy()
    yy, xx = np.mgrid[:8, :8]
    sign = np.where((yy + xx) % 2, 1.0, -1.0)
    out[..., 0] += 4 / 255 * sign  # red up where blue goes down: no change of R+G+B
    out[..., 2] -= 4 / 255 * sign
    parts = parts_of(clean, out)
    assert parts["luma coarse"] == parts["luma fine"] == parts["colour coarse"] == 0.0
    assert parts["colour fine"] == round((16 + 0 + 16) / 3, 4)  # the MSE of the whole


def test_parts_add_up_to_the_mse_over_images_of_different_sizes():
    rng = np.random.default_rng(0)
    stats, sq, n = [], 0.0, 0
    for h, w in ((10, 12), (7, 9)):  # the second has a ragged row and column, dropped
        clean = rng.random((h, w, 3)).astype(np.float32)
        out = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
        stats.append(colour_error(clean, out))
        e = np.round(out * 255) - np.round(clean * 255)
        e = e[: h // 2 * 2, : w // 2 * 2]
        sq, n = sq + np.square(e).sum(), n + e.size
    assert abs(sum(mse_by_colour(stats)["mse"]) - sq / n) < 1e-3


def test_fine_colour_share_sees_colour_stored_at_half_size():
    rng = np.random.default_rng(1)
    luma = rng.random((32, 32, 1))
    colour = rng.random((16, 16, 3)).repeat(2, 0).repeat(2, 1) * 0.2
    half_size = np.clip(luma * 0.8 + colour, 0, 1)  # colour constant in each 2x2 block
    assert fine_colour_share(half_size) < 1e-6
    assert fine_colour_share(rng.random((32, 32, 3))) > 1.0  # white: two colour dims to one


def test_detail_kept_is_one_for_the_clean_image_and_falls_with_blur():
    rng = np.random.default_rng(2)
    clean = rng.random((16, 16, 3))
    assert kept_by_colour([detail_kept(clean, clean)])["kept"] == [1.0] * 4
    blurred = clean.copy()  # each 2x2 block's colour made its mean: fine colour erased
    grey = blurred.mean(axis=2, keepdims=True)
    block = (blurred - grey).reshape(8, 2, 8, 2, 3).mean(axis=(1, 3)).repeat(2, 0).repeat(2, 1)
    kept = dict(zip(PARTS, kept_by_colour([detail_kept(clean, grey + block)])["kept"]))
    assert kept["luma fine"] > 0.98 and kept["colour coarse"] > 0.98  # up to 8-bit rounding
    assert abs(kept["colour fine"]) < 0.02
