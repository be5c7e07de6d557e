"""Noise: the evaluation protocol's synthetic noise, and noise-level estimation without a reference.

Estimation follows Liu, Tanaka and Okutomi, "Single-image noise level estimation for blind
denoising" (IEEE TIP 2013): the noise variance is the smallest eigenvalue of the covariance of
*weakly textured* patches, where "weakly textured" means a gradient energy that pure noise of the
current estimate would not exceed with 99 % probability; estimate and selection are iterated.
Compared with Immerkaer's Laplacian filter or a wavelet MAD, which read texture as noise, this
stays unbiased on textured photos, and unlike plain patch PCA (Chen et al., ICCV 2015) it does not
need the image to have enough noise-only directions overall.

Speed: patches come from a regular grid thinned to ``_MAX_PATCHES`` per channel (never by
downscaling, which would average the noise away), and the covariance of any "weakest k patches"
subset is read from cumulative block sums, so the iterations cost almost nothing.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_PATCH = 5  # patch side; 5x5 measured slightly less texture bias than Liu's 7x7 on BSD68
_MAX_PATCHES = 60_000  # per channel; enough that sampling error stays well below 1 %
_Z_99 = 2.3263478740408408  # standard-normal 99 % quantile: the weak-texture confidence
_MAX_ITERATIONS = 10
_BLOCKS = 64  # granularity of the cumulative covariance sums


def add_gaussian_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """The protocol: clean + N(0, sigma/255) in float32, unclipped, seeded by the image's index.

    ``clean`` is float32 in 0..1 (H x W or H x W x C); ``sigma`` is on the 0-255 scale.
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma / 255.0)
    return clean.astype(np.float32) + noise


def estimate_sigma(pixels: np.ndarray) -> float:
    """Standard deviation of additive white Gaussian noise in ``pixels``, on the 0-255 scale.

    ``pixels`` is H x W or H x W x C (C = 1 or 3; a 2nd/4th channel is taken as alpha and
    ignored) with values in 0..1; uint8 and uint16 arrays are scaled by their full range.
    Colour channels are estimated separately and combined as the root mean square, i.e. the
    average noise *variance*, so one noisier channel is neither hidden nor exaggerated.
    Patches containing exact 0 or 1 (clipped, noise-free) values are left out when enough
    others remain. Raises ``ValueError`` for images too small to estimate from (about 20 x 20)
    or with NaN or infinite values where it samples.
    """
    patches = _sample_patches(_colour_channels(pixels), _PATCH, _MAX_PATCHES)
    variances = [_patch_noise_variance(patches[:, c]) for c in range(patches.shape[1])]
    return float(np.sqrt(np.mean(variances)) * 255.0)


def _colour_channels(pixels: np.ndarray) -> np.ndarray:
    """H x W x C view of the colour channels (alpha dropped), shape and dtype validated.

    No conversion happens here: on a 12 MP image a full-size copy would cost more than the
    whole estimate, so only the sampled patches are converted.
    """
    arr = np.asarray(pixels)
    if not (np.issubdtype(arr.dtype, np.floating) or arr.dtype in (np.uint8, np.uint16)):
        raise ValueError(f"Expected a float, uint8 or uint16 image, got dtype {arr.dtype}.")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"Expected an H x W or H x W x C image, got shape {arr.shape}.")
    return arr[..., :-1] if arr.shape[2] in (2, 4) else arr


def _sample_patches(image: np.ndarray, size: int, max_patches: int) -> np.ndarray:
    """(n, C, size*size) float32 patches on a regular grid thinned to about ``max_patches``.

    A grid (not random positions) keeps the estimate deterministic; thinning instead of
    downscaling keeps the noise untouched. Integer images are scaled to 0..1.
    """
    height, width, channels = image.shape
    if height < size or width < size:
        raise ValueError(f"The image is too small to estimate noise ({width} x {height}).")
    available = (height - size + 1) * (width - size + 1)
    step = max(1, int(np.ceil(np.sqrt(available / max_patches))))
    windows = sliding_window_view(image, (size, size), axis=(0, 1))[::step, ::step]
    patches = np.ascontiguousarray(windows, dtype=np.float32).reshape(-1, channels, size * size)
    if image.dtype in (np.uint8, np.uint16):
        patches /= np.float32(np.iinfo(image.dtype).max)
    if not np.isfinite(patches).all():
        raise ValueError("The image contains NaN or infinite values.")
    return patches


def _patch_noise_variance(patches: np.ndarray) -> float:
    """Noise variance (0..1 scale) from one channel's patches by iterated weak-texture selection."""
    dims = patches.shape[1] - 1  # the patch mean (DC) direction is removed below
    min_count = 8 * dims
    if len(patches) < min_count:
        raise ValueError("The image is too small to estimate noise.")
    unclipped = ~((patches == 0.0) | (patches == 1.0)).any(axis=1)
    if np.count_nonzero(unclipped) >= min_count:
        patches = patches[unclipped]
    texture = _texture_strength(patches, _PATCH)
    order = np.argsort(texture, kind="stable")
    texture = texture[order]
    ranked = patches[order]
    # Removing each patch's own mean keeps float32 sums accurate (no large offsets cancel).
    sums = _PrefixMoments(ranked - ranked.mean(axis=1, keepdims=True))
    factor = _noise_texture_quantile(_PATCH, _Z_99)
    count = len(ranked)
    variance = _min_eigenvalue(sums.covariance(count), count)
    for _ in range(_MAX_ITERATIONS):
        new_count = max(int(np.searchsorted(texture, variance * factor)), min_count)
        if new_count == count:
            break
        count = new_count
        variance = _min_eigenvalue(sums.covariance(count), count)
    return variance


def _texture_strength(patches: np.ndarray, size: int) -> np.ndarray:
    """Sum of squared horizontal and vertical neighbour differences inside each patch."""
    square = patches.reshape(-1, size, size)
    horizontal = square[:, :, 1:] - square[:, :, :-1]
    vertical = square[:, 1:, :] - square[:, :-1, :]
    return np.einsum("nij,nij->n", horizontal, horizontal) + np.einsum(
        "nij,nij->n", vertical, vertical
    )


@functools.lru_cache(maxsize=8)
def _noise_texture_quantile(size: int, z: float) -> float:
    """Texture strength that pure unit-variance white noise stays below with probability Phi(z).

    The texture strength of a noise patch x is the quadratic form x^T A x with
    A = Dh^T Dh + Dv^T Dv; a gamma law with its exact mean (tr A) and variance (2 tr A^2)
    approximates it (as in Liu et al.), and the Wilson-Hilferty formula gives the quantile.
    """
    a = _difference_gram(size)
    trace, trace_sq = float(np.trace(a)), float(np.sum(a * a))
    shape = trace**2 / (2.0 * trace_sq)
    scale = 2.0 * trace_sq / trace
    wh = 1.0 - 1.0 / (9.0 * shape) + z * np.sqrt(1.0 / (9.0 * shape))
    return float(shape * scale * wh**3)


def _difference_gram(size: int) -> np.ndarray:
    """A = D^T D for D stacking all horizontal and vertical neighbour differences of a patch."""
    index = np.arange(size * size).reshape(size, size)
    pairs = [(index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])]
    rows = []
    for left, right in pairs:
        for i, j in zip(left.ravel(), right.ravel(), strict=True):
            row = np.zeros(size * size)
            row[i], row[j] = -1.0, 1.0
            rows.append(row)
    d = np.array(rows)
    return d.T @ d


@functools.lru_cache(maxsize=8)
def _dc_complement(dims: int) -> np.ndarray:
    """Orthonormal basis (dims x dims-1) of the space orthogonal to the constant vector."""
    seed = np.eye(dims)
    seed[:, 0] = 1.0
    q, _ = np.linalg.qr(seed)
    return q[:, 1:]


def _min_eigenvalue(covariance: np.ndarray, count: int) -> float:
    """Smallest eigenvalue off the DC direction, corrected for finite-sample spread.

    With n samples in d dimensions the smallest sample eigenvalue of white noise sits near
    sigma^2 (1 - sqrt(d/n))^2 (Marchenko-Pastur lower edge); dividing by that removes the
    downward bias of taking a minimum.
    """
    basis = _dc_complement(covariance.shape[0])
    smallest = float(np.linalg.eigvalsh(basis.T @ covariance @ basis)[0])
    ratio = basis.shape[1] / count
    return max(smallest, 0.0) / (1.0 - np.sqrt(ratio)) ** 2


class _PrefixMoments:
    """First and second moments of the first k rows for any k, from cumulative block sums.

    One pass of block matrix products up front; each query then costs one small product for
    the partial block, so re-selecting patches in every iteration is cheap.
    """

    def __init__(self, rows: np.ndarray) -> None:
        count, dims = rows.shape
        size = max(1, -(-count // _BLOCKS))
        full = count // size
        self._rows = rows
        edges = list(range(0, full * size + 1, size)) + ([count] if count % size else [])
        self._edges = np.array(edges, dtype=np.int64)
        stacked = rows[: full * size].reshape(full, size, dims)
        second = _gram(stacked)
        first = stacked.sum(axis=1, dtype=np.float64)
        if count % size:
            tail = rows[full * size :]
            second = np.concatenate([second, _gram(tail[None])])
            first = np.concatenate([first, tail.sum(axis=0, dtype=np.float64)[None]])
        self._first = np.concatenate([np.zeros((1, dims)), np.cumsum(first, axis=0)])
        self._second = np.concatenate([np.zeros((1, dims, dims)), np.cumsum(second, axis=0)])

    def covariance(self, count: int) -> np.ndarray:
        """Sample covariance of the first ``count`` rows (count >= 2)."""
        b = int(np.searchsorted(self._edges, count, side="right")) - 1
        lo = self._edges[b]
        tail = self._rows[lo:count]
        first = self._first[b] + tail.sum(axis=0, dtype=np.float64)
        second = self._second[b] + _gram(tail[None])[0]
        mean = first / count
        return (second - count * np.outer(mean, mean)) / (count - 1)


def _gram(blocks: np.ndarray) -> np.ndarray:
    """Per-block X^T X (float64) of a (blocks, rows, dims) stack, without BLAS.

    einsum's own loops run at a steady ~20-80 ms per channel; the same product through
    OpenBLAS measured anywhere from 1 ms to 1.5 s on a busy CPU (its worker threads stall
    when other processes, e.g. inference, hold the cores), which a GUI cannot afford.
    """
    return np.einsum("bni,bnj->bij", blocks, blocks, optimize=False).astype(np.float64)
