"""Tile layout and blend weights for bounded-memory inference (pure numpy, no onnxruntime).

Why tiles: a whole 24 MP photo through a U-Net needs gigabytes of activations; tiles keep
the network's working set to one tile. Why this layout:

* Every tile origin and size is a multiple of the model's ``multiple``, so a U-Net's
  downsampling grid in a tile lines up with the grid of a whole-image pass.
* Neighbouring tiles overlap. Near a tile's inner edge the network sees zero padding
  instead of real neighbours, so each tile's blend weight is **zero** over a guard band of
  ``overlap // 4`` pixels at its inner edges, then rises linearly (a feather) across the
  middle half of the overlap. A network whose receptive-field radius fits in the guard
  band therefore gives exactly the whole-image result; a larger one (a U-Net) gives a
  seamless, feathered blend.
* Weights are normalised by their sum, so any number of overlapping tiles is fine.

Coordinates are in the *padded* image (sizes rounded up to the multiple, padded by
reflection at the bottom and right), which is what the network sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Tile side used when the caller gives none. Why 1024: with fitted tiles (``fitted_tile``)
#: a 24 MP photo computes 1.15 times its pixels instead of 1.33 at 512, the network runs
#: about as fast per pixel on either, and the larger tile costs about 150 MB more at peak
#: (the tile sweep in docs/benchmarks.md).
DEFAULT_TILE = 1024


@dataclass(frozen=True)
class Tile:
    """One tile: a window ``[y0:y1, x0:x1]`` of the padded image and its inner-edge flags."""

    y0: int
    x0: int
    y1: int
    x1: int
    inner: tuple[bool, bool, bool, bool]  # top, bottom, left, right edge borders another tile

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


def round_up(n: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= n."""
    return -(-n // multiple) * multiple


def default_overlap(multiple: int) -> int:
    """Overlap used when the caller gives none: 64 px (16 guard, 32 feather), whole multiples."""
    return round_up(max(64, 2 * multiple), multiple)


def padded_size(length: int, multiple: int) -> int:
    """Length of one image side after padding it to the model's multiple."""
    return round_up(max(length, 1), multiple)


def fit_tile(tile: int, overlap: int, multiple: int) -> tuple[int, int]:
    """Snap a requested tile size and overlap to the multiple.

    The overlap may be at most one multiple short of the tile: tiles must advance.
    """
    tile = max(multiple, tile // multiple * multiple)
    overlap = min(round_up(max(overlap, 0), multiple), tile - multiple)
    return tile, overlap


def auto_overlap(tile: int, multiple: int) -> int:
    """Overlap used when the caller gives none: the default, but at most half the tile.

    Why half: more would compute every pixel more than four times.
    """
    half = max(tile // 2 // multiple * multiple, 0)
    return min(default_overlap(multiple), half)


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Start offsets along one axis of ``length`` (a multiple of ``multiple``).

    Tiles are spread evenly between 0 and ``length - tile`` with steps of whole multiples,
    each step at most ``tile - overlap`` so that neighbours overlap by at least ``overlap``.
    """
    if length <= tile:
        return [0]
    units, tile_u, step_u = length // multiple, tile // multiple, (tile - overlap) // multiple
    span = units - tile_u
    gaps = -(-span // max(step_u, 1))
    return [(i * span // gaps) * multiple for i in range(gaps + 1)]


def fitted_tile(length: int, tile: int, overlap: int, multiple: int) -> int:
    """The smallest tile side (a multiple, at most ``tile``) that covers ``length`` with as
    few tiles as ``tile`` itself would.

    Why: tiles of the requested size are spread evenly, so when ``length`` is not a whole
    number of steps they overlap by more than asked, and every extra overlapping pixel is
    computed twice for nothing. A 6000 x 4000 photo in 1024 px tiles computed 1.53 times
    its pixels; shrinking the tiles to what the count needs brings that to 1.15 (1.38 to
    1.33 with 512 px tiles). Smaller tiles also use less memory, never more.
    """
    count = len(tile_starts(length, tile, overlap, multiple))
    if count == 1:
        return min(tile, length)
    need = -(-(length + (count - 1) * overlap) // count)
    return min(tile, round_up(need, multiple))


def layout(height: int, width: int, tile: int, overlap: int, multiple: int) -> list[Tile]:
    """All tiles covering a padded ``height x width`` image, row by row; all the same size."""
    th = fitted_tile(height, tile, overlap, multiple)
    tw = fitted_tile(width, tile, overlap, multiple)
    ys = tile_starts(height, th, overlap, multiple)
    xs = tile_starts(width, tw, overlap, multiple)
    tiles = []
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            inner = (i > 0, i < len(ys) - 1, j > 0, j < len(xs) - 1)
            tiles.append(Tile(y, x, y + th, x + tw, inner))
    return tiles


def ramp(size: int, overlap: int, start_inner: bool, end_inner: bool) -> np.ndarray:
    """1-D blend weight: zero guard band, linear feather, then 1; only at inner edges."""
    w = np.ones(size, dtype=np.float32)
    guard = overlap // 4
    feather = overlap - 2 * guard
    rise = np.concatenate([
        np.zeros(guard, np.float32),
        np.arange(1, feather + 1, dtype=np.float32) / np.float32(feather + 1),
    ])[:size]
    if start_inner:
        w[: rise.size] = np.minimum(w[: rise.size], rise)
    if end_inner:
        w[size - rise.size :] = np.minimum(w[size - rise.size :], rise[::-1])
    return w


def tile_weight(t: Tile, overlap: int) -> np.ndarray:
    """2-D blend weight (h x w, float32) of one tile: the outer product of two ramps."""
    h, w = t.shape
    top, bottom, left, right = t.inner
    return np.outer(ramp(h, overlap, top, bottom), ramp(w, overlap, left, right))


def reflect_index(start: int, stop: int, length: int) -> np.ndarray:
    """Source indices for padded positions ``start..stop-1`` of an axis of ``length``.

    Positions past the end mirror back without repeating the edge (numpy's 'reflect'),
    bouncing as often as needed, so tiny images pad correctly too.
    """
    idx = np.arange(start, stop)
    if length == 1:
        return np.zeros_like(idx)
    period = 2 * (length - 1)
    idx = idx % period
    return np.where(idx < length, idx, period - idx)


def crop_padded(image: np.ndarray, t: Tile) -> np.ndarray:
    """The tile's window of ``image`` (H x W [x C]) as if it had been reflect-padded.

    Why not pad the whole image: that would copy it; here only the tile is materialised.
    """
    h, w = image.shape[:2]
    if t.y1 <= h and t.x1 <= w:
        return image[t.y0 : t.y1, t.x0 : t.x1]
    rows = reflect_index(t.y0, t.y1, h)
    cols = reflect_index(t.x0, t.x1, w)
    return image[np.ix_(rows, cols)]


def accumulate(out: np.ndarray, result: np.ndarray, t: Tile, tile_w: np.ndarray,
               scratch: np.ndarray | None = None) -> None:
    """Add a tile's result (C x h x w, the network's layout) times its weight into ``out``
    (H x W x C). The parts of the tile that lie in the padding are dropped.

    Why the product goes into an h x w x C ``scratch`` through a transposed view: reading
    the network's planes in order and writing them interleaved once is about five times
    cheaper than multiplying and adding through a transposed (strided) view, and a reused
    scratch buffer saves allocating a tile-sized temporary per tile. Same products, same
    sums, so the same result to the bit.
    """
    h, w = t.shape
    if scratch is None or scratch.shape != (h, w, out.shape[2]):
        scratch = np.empty((h, w, out.shape[2]), np.float32)
    np.multiply(result, tile_w, out=scratch.transpose(2, 0, 1))
    vh, vw = _visible(out, t)
    target = out[t.y0 : t.y0 + vh, t.x0 : t.x0 + vw]
    np.add(target, scratch[:vh, :vw], out=target)


def add_weight(weights: np.ndarray, t: Tile, tile_w: np.ndarray) -> None:
    """Add a tile's blend weight into the running weight map (H x W)."""
    vh, vw = _visible(weights, t)
    weights[t.y0 : t.y0 + vh, t.x0 : t.x0 + vw] += tile_w[:vh, :vw]


def _visible(target: np.ndarray, t: Tile) -> tuple[int, int]:
    """Height and width of the part of tile ``t`` inside the unpadded image."""
    h, w = target.shape[:2]
    return min(t.y1, h) - t.y0, min(t.x1, w) - t.x0


def normalise(out: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Divide the accumulated sum by the weights, in place."""
    out /= weights[..., None]
    return out
