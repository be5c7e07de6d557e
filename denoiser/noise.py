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

Camera noise (``noise_type="camera"``): demosaicing, JPEG and in-camera processing make noise
spatially correlated, with little power at the highest frequencies, so the smallest eigenvalue
reads a fraction of the per-pixel std (about a tenth for bilinear-demosaiced noise). A model
trained on camera noise takes that per-pixel std, so for it the estimate is built differently:

* Correlation test per channel: 2 x 2 binning quarters the variance of white noise but not of
  correlated noise, so 4 x (estimate on the binned image) / (estimate on the image) is about 1
  for white noise and 10-100 for demosaiced or JPEG'd noise. White-looking channels keep the
  estimate above (so white noise reads as it does for Gaussian models); correlated ones get
  the covariance fit below; between ``_WHITE_RATIO`` and ``_CORRELATED_RATIO`` they blend.
* Covariance fit: the noise covariance is modelled as periodic over the 2 x 2 Bayer period and
  zero beyond ``_CORRELATION_REACH`` pixels (bilinear demosaicing reaches 2). Its parameters
  are fitted by least squares to the covariance of 5 x 5 patches with their mean and linear
  ramp projected out (the reach below the patch size pins what that hides); the per-pixel
  variance is the fitted lag-0 covariance. Weakly textured patches are selected by their
  Mahalanobis length under the fitted covariance (below the chi-square median; the cut's
  effect on Gaussian noise is undone exactly), fit and selection iterated. Liu's gradient-
  energy threshold does not work for this: a fitted covariance reproduces the selected
  patches' gradient energy, texture included, so the threshold admits whatever it selected.
* Brightness: camera noise varies with brightness, and selecting flat patches favours the
  quiet levels, so each channel is estimated in ``_LEVELS`` equal-count brightness groups;
  the result is the mean over the picture of the per-pixel std (channels combined as the root
  mean square), the quantity a camera model's sigma map holds.

Measured in benchmarks/camera_noise_estimation.py: texture still leaks in at low noise (reads
high there) and in deep shadows, where the sRGB curve and clipping make noise uneven and
non-Gaussian, it reads low.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_PATCH = 5  # patch side; 5x5 measured slightly less texture bias than Liu's 7x7 on BSD68
_MAX_PATCHES = 60_000  # per channel; enough that sampling error stays well below 1 %
_Z_99 = 2.3263478740408408  # standard-normal 99 % quantile: the weak-texture confidence
_MAX_ITERATIONS = 10
_BLOCKS = 64  # granularity of the cumulative covariance sums
_CORRELATION_REACH = 2  # camera noise: r(d) = 0 beyond this many pixels in x or y
_WHITE_RATIO = 2.0  # binning ratio up to which a channel's noise counts as white
_CORRELATED_RATIO = 6.0  # ... and from which as correlated (log-linear blend between)
_SELECT_QUANTILE = 0.5  # camera noise: keep patches below this Mahalanobis quantile
_CONVERGED = 1e-3  # ... iterated until r(0) moves less than this (relative)
_WHITEN_FLOOR = 1e-2  # ... measured over directions with at least this share of the top power
_LEVELS = 4  # camera noise: brightness groups estimated separately (8 measured worse)
_MIN_LEVEL_PATCHES = 8_000  # fewer groups on small images: white noise read 3 % high at 4k
_PAIR_WIDTH = 2 * _PATCH + _CORRELATION_REACH  # a patch and, past the reach, its neighbour


def add_gaussian_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """The protocol: clean + N(0, sigma/255) in float32, unclipped, seeded by the image's index.

    ``clean`` is float32 in 0..1 (H x W or H x W x C); ``sigma`` is on the 0-255 scale.
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma / 255.0)
    return clean.astype(np.float32) + noise


def estimate_sigma(pixels: np.ndarray, noise_type: str = "gaussian") -> float:
    """Standard deviation of the noise in ``pixels``, on the 0-255 scale.

    ``pixels`` is H x W or H x W x C (C = 1 or 3; a 2nd/4th channel is taken as alpha and
    ignored) with values in 0..1; uint8 and uint16 arrays are scaled by their full range.
    ``noise_type`` is what the model the estimate is for was trained on (its metadata):
    ``"camera"`` estimates the per-pixel std of possibly correlated noise (demosaiced, JPEG'd;
    module docstring); anything else the std of white Gaussian noise, the evaluation protocol.
    Colour channels are estimated separately and combined as the root mean square, i.e. the
    average noise *variance*, so one noisier channel is neither hidden nor exaggerated.
    Patches containing exact 0 or 1 (clipped, noise-free) values are left out when enough
    others remain. Raises ``ValueError`` for images too small to estimate from (about 20 x 20;
    40 x 40 for correlated camera noise) or with NaN or infinite values where it samples.
    """
    image = _colour_channels(pixels)
    if noise_type == "camera":
        return _camera_sigma(image) * 255.0
    patches = _sample_patches(image, _PATCH, _MAX_PATCHES)
    variances = [_patch_noise_variance(patches[:, c]) for c in range(patches.shape[1])]
    return float(np.sqrt(np.mean(variances)) * 255.0)


def _camera_sigma(image: np.ndarray) -> float:
    """Mean per-pixel noise std (0..1 scale) of camera noise, correlated or not.

    Camera noise depends on brightness, and any selection of "flat" patches prefers the
    levels where noise is low. So each channel's patches are split into ``_LEVELS``
    equal-count groups by that channel's brightness, each group is estimated on its own,
    every patch takes its groups' variances, and the result is the mean over patches of
    the root-mean-square over channels: the mean of the per-pixel std over the picture.
    Whether a channel's noise is correlated is decided once, on the whole image.
    """
    pairs, phases = _sample_grid(image, _PATCH, _MAX_PATCHES, odd_step=True, width=_PAIR_WIDTH)
    patches, levels = _split_pairs(pairs)
    coarse = _binned_patches(image)
    variance = np.zeros(len(patches))
    for c in range(patches.shape[1]):
        weight = _correlation_weight(patches[:, c], coarse[:, c])
        for group in _level_groups(levels[:, c]):
            variance[group] += _blended_variance(patches[group, c], phases[group], weight)
    return float(np.mean(np.sqrt(variance / patches.shape[1])))


def _split_pairs(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(patches (n, C, 25), brightness (n, C)) from (n, C, 5 x ``_PAIR_WIDTH``) windows.

    The brightness that groups a patch is the mean of the patch beside it, beyond the
    noise's correlation reach: grouping by the patch's own mean would select its noise
    too (correlated noise is not independent of its mean), which biased the fit by +12 %
    on a flat field.
    """
    rows = pairs.reshape(*pairs.shape[:2], _PATCH, _PAIR_WIDTH)
    patches = rows[..., :_PATCH].reshape(*pairs.shape[:2], _PATCH * _PATCH)
    return np.ascontiguousarray(patches), rows[..., -_PATCH:].mean(axis=(2, 3))


def _level_groups(levels: np.ndarray) -> list[np.ndarray]:
    """Patch indices split into equal-count groups by brightness."""
    groups = int(np.clip(len(levels) // _MIN_LEVEL_PATCHES, 1, _LEVELS))
    return np.array_split(np.argsort(levels, kind="stable"), groups)


def _blended_variance(patches: np.ndarray, phases: np.ndarray, weight: float) -> float:
    """White-noise variance, moved by ``weight`` (0..1) toward the correlated-noise fit."""
    white = _patch_noise_variance(patches)
    if weight <= 0.0:
        return white
    return white + weight * (_correlated_variance(patches, phases) - white)


def _correlation_weight(patches: np.ndarray, binned_patches: np.ndarray) -> float:
    """0 for white noise, 1 for correlated, from one channel's full and 2 x 2-binned patches.

    White noise's variance quarters under 2 x 2 binning, correlated noise's does not, so
    4 * (binned estimate) / (full estimate) is about 1 for white noise and 10-100 for
    demosaiced or JPEG'd noise; between ``_WHITE_RATIO`` and ``_CORRELATED_RATIO`` the
    weight rises log-linearly, so the estimate does not jump as the ratio crosses a limit.
    """
    full = _patch_noise_variance(patches)
    binned = _patch_noise_variance(binned_patches)
    if binned <= 0.0:
        return 0.0
    ratio = 4.0 * binned / full if full > 0.0 else np.inf
    position = np.log(ratio / _WHITE_RATIO) / np.log(_CORRELATED_RATIO / _WHITE_RATIO)
    return float(np.clip(position, 0.0, 1.0))


def _binned_patches(image: np.ndarray) -> np.ndarray:
    """(n, C, 25) patches of the image binned 2 x 2 (block means): 10 x 10 windows averaged.

    Binning only the sampled windows costs what sampling does, not a full-size image pass.
    """
    wide = _sample_grid(image, 2 * _PATCH, _MAX_PATCHES, odd_step=True)[0]
    n, channels = wide.shape[:2]
    blocks = wide.reshape(n, channels, _PATCH, 2, _PATCH, 2)
    return blocks.mean(axis=(3, 5), dtype=np.float32).reshape(n, channels, _PATCH * _PATCH)


def _correlated_variance(patches: np.ndarray, phases: np.ndarray) -> float:
    """Per-pixel noise variance (0..1 scale) of one channel's (n, 25) patches, noise correlated.

    ``phases`` (0..3) are the patches' start positions modulo the 2 x 2 Bayer period.
    Starts from the fit to all patches (texture makes it too high, so the first selection is
    generous) and alternates selection and fit until the variance moves by less than
    ``_CONVERGED`` (waiting for an unchanged selection took twice as many rounds).
    """
    unclipped = ~((patches == 0.0) | (patches == 1.0)).any(axis=1)
    if np.bincount(phases[unclipped], minlength=4).min() >= _min_fit_count():
        patches, phases = patches[unclipped], phases[unclipped]
    coords = [_detrended(patches[phases == start]) for start in range(4)]
    if min(len(c) for c in coords) < _min_fit_count():
        raise ValueError("The image is too small to estimate noise.")
    model = _lag_model(_PATCH, _CORRELATION_REACH)
    lag_cov = model.fit([_second_moment(c) for c in coords], [len(c) for c in coords])
    for _ in range(_MAX_ITERATIONS):
        previous = model.variance(lag_cov)
        chosen = [_select(c, model.covariance(lag_cov, k)) for k, c in enumerate(coords)]
        lag_cov = model.fit([m for m, _ in chosen], [n for _, n in chosen])
        if abs(model.variance(lag_cov) - previous) <= _CONVERGED * abs(previous):
            break
    return max(model.variance(lag_cov), 0.0)


def _select(coords: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, int]:
    """Second moment of the rows below the median Mahalanobis length (the cut undone), count.

    The length is taken over the covariance's eigen-directions above ``_WHITEN_FLOOR`` of
    the largest only: demosaiced noise has next to no power in some directions, and whitening
    those amplifies estimation error until it decides the selection (the estimate then
    wandered by 15 % between subsets of one noise field). Under the model the kept
    directions are independent of the rest, so only their block of the moment is shrunk by
    the cut, by F_{k+2}(limit) / F_k(limit) (F the chi-square CDF, k directions kept).
    """
    values, vectors = np.linalg.eigh(covariance)
    keep = values >= _WHITEN_FLOOR * max(values.max(), 1e-20)
    basis = vectors[:, keep]
    whitened = np.einsum("nj,jk->nk", coords, basis / np.sqrt(values[keep]), optimize=False)
    distance = np.einsum("nk,nk->n", whitened, whitened)
    limit, shrink = _median_selection(int(np.count_nonzero(keep)))
    selected = distance < limit
    if np.count_nonzero(selected) < _min_fit_count():
        selected = distance <= np.partition(distance, _min_fit_count())[_min_fit_count()]
    moment = _second_moment(coords[selected])
    kept = basis @ (basis.T @ moment @ basis) @ basis.T
    return moment + (1.0 / shrink - 1.0) * kept, int(np.count_nonzero(selected))


def _min_fit_count() -> int:
    """Fewest patches a covariance fit uses (8 per dimension, as the white estimate)."""
    return 8 * _PATCH * _PATCH


def _detrended(patches: np.ndarray) -> np.ndarray:
    """Patch coordinates in the space orthogonal to constant and linear ramps (float64).

    Removing the ramps takes the commonest low-frequency texture (gradients) out before the
    fit; the short-range noise model stays identifiable without those three directions.
    """
    return np.einsum("ni,ij->nj", patches, _trend_complement(_PATCH), optimize=False)


@functools.lru_cache(maxsize=4)
def _trend_complement(size: int) -> np.ndarray:
    """Orthonormal basis (size^2 x size^2-3) orthogonal to 1, x and y over a patch."""
    y, x = (a.ravel() - (size - 1) / 2.0 for a in np.mgrid[0:size, 0:size].astype(np.float64))
    trend = np.stack([np.ones(size * size), x, y], axis=1)
    q, _ = np.linalg.qr(np.concatenate([trend, np.eye(size * size)], axis=1))
    return q[:, 3:]


def _second_moment(coords: np.ndarray) -> np.ndarray:
    """Mean outer product of the rows (the noise is zero-mean, no mean is removed)."""
    return _gram(coords[None])[0] / len(coords)


@functools.lru_cache(maxsize=32)
def _median_selection(dims: int) -> tuple[float, float]:
    """Chi-square limit for ``_SELECT_QUANTILE`` and the share of variance kept below it.

    Gaussian noise cut at a Mahalanobis length keeps covariance times
    F_{d+2}(limit) / F_d(limit) (F the chi-square CDF) in the directions measured.
    """
    low, high = 0.0, 10.0 * dims
    for _ in range(100):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if _chi2_cdf(mid, dims) < _SELECT_QUANTILE else (low, mid)
    limit = 0.5 * (low + high)
    return limit, _chi2_cdf(limit, dims + 2) / _chi2_cdf(limit, dims)


def _chi2_cdf(x: float, dims: int) -> float:
    """Chi-square CDF, from F_1 = erf(sqrt(x/2)) or F_2 = 1 - exp(-x/2) by the recurrence
    F_{k+2}(x) = F_k(x) - (x/2)^(k/2) exp(-x/2) / Gamma(k/2 + 1)."""
    half = x / 2.0
    k = 2 - dims % 2
    cdf = 1.0 - math.exp(-half) if k == 2 else math.erf(math.sqrt(half))
    while k < dims:
        cdf -= math.exp((k / 2.0) * math.log(half) - half - math.lgamma(k / 2.0 + 1.0))
        k += 2
    return cdf


class _LagModel:
    """Noise covariance periodic over a 2 x 2 Bayer period, zero beyond ``reach`` pixels.

    The covariance of pixels p and p + d (|dx|, |dy| <= reach) is r(phase of p, d), phase
    being p's position modulo 2 in y and x: demosaicing makes noise periodic, not
    stationary (a site's own sample against an average of two or four neighbours). A
    stationary model read 15-20 % low on flat bilinear-demosaiced noise, because the
    selection then measures patches of the four phases with the wrong covariance. Patches
    start at one of four phases, and each phase sees its own combination of the r's; ``fit``
    is least squares over all four detrended covariances at once. With the reach below the
    patch size, what detrending hides is pinned by the longer lags having to be zero.
    """

    def __init__(self, size: int, reach: int) -> None:
        basis = _trend_complement(size)
        y, x = (a.ravel() for a in np.mgrid[0:size, 0:size])
        dy, dx = y[None, :] - y[:, None], x[None, :] - x[:, None]  # [i, j]: from i to j
        forward = (dy > 0) | ((dy == 0) & (dx >= 0))
        near = forward & (np.abs(dy) <= reach) & (np.abs(dx) <= reach)
        first, second = np.nonzero(near)
        lag = (dy[first, second] * (2 * reach + 1) + dx[first, second] + reach).astype(np.int64)
        lags_per_phase = (reach + 1) * (2 * reach + 1)
        self.zero_lag = [reach + lags_per_phase * phase for phase in range(4)]
        mats = np.zeros((4, 4 * lags_per_phase, size * size, size * size))
        for start in range(4):
            phase = ((y[first] + start // 2) % 2) * 2 + (x[first] + start % 2) % 2
            index = phase * lags_per_phase + lag
            mats[start, index, first, second] = 1.0
            mats[start, index, second, first] = 1.0
        self.lags = np.einsum("ia,spij,jb->spab", basis, mats, basis)
        used = np.abs(self.lags).sum(axis=(0, 2, 3)) > 0
        self.lags = self.lags[:, used]
        self.zero_lag = [int(np.count_nonzero(used[:k])) for k in self.zero_lag]
        self._design = self.lags.reshape(4, self.lags.shape[1], -1)

    def fit(self, moments: list[np.ndarray], counts: list[int]) -> np.ndarray:
        """Lag covariances fitted to each start phase's detrended moment, weighted by count."""
        gram = sum(n * d @ d.T for n, d in zip(counts, self._design))
        target = sum(n * d @ m.ravel() for n, d, m in zip(counts, self._design, moments))
        return np.linalg.lstsq(gram, target, rcond=None)[0]

    def covariance(self, lag_cov: np.ndarray, start: int) -> np.ndarray:
        """The detrended covariance of patches starting at phase ``start``."""
        return np.tensordot(lag_cov, self.lags[start], axes=1)

    def variance(self, lag_cov: np.ndarray) -> float:
        """Per-pixel variance: r(0) averaged over the four phases."""
        return float(np.mean(lag_cov[self.zero_lag]))


@functools.lru_cache(maxsize=4)
def _lag_model(size: int, reach: int) -> _LagModel:
    return _LagModel(size, reach)


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
    return _sample_grid(image, size, max_patches)[0]


def _sample_grid(
    image: np.ndarray, size: int, max_patches: int, odd_step: bool = False,
    width: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``_sample_patches`` with options, and each patch's start phase (0..3) modulo 2 x 2.

    ``odd_step`` makes the grid step odd, so the patches fall on every phase of a 2 x 2
    Bayer period (and of an 8 x 8 JPEG block) in equal numbers; an even step would see one
    phase only. ``width`` (default ``size``) makes the windows rectangular.
    """
    height, image_width, channels = image.shape
    width = size if width is None else width
    if height < size or image_width < width:
        raise ValueError(
            f"The image is too small to estimate noise ({image_width} x {height})."
        )
    available = (height - size + 1) * (image_width - width + 1)
    step = max(1, int(np.ceil(np.sqrt(available / max_patches))))
    if odd_step and step % 2 == 0:
        step += 1
    windows = sliding_window_view(image, (size, width), axis=(0, 1))[::step, ::step]
    rows, cols = windows.shape[:2]
    patches = np.ascontiguousarray(windows, dtype=np.float32).reshape(-1, channels, size * width)
    if image.dtype in (np.uint8, np.uint16):
        patches /= np.float32(np.iinfo(image.dtype).max)
    if not np.isfinite(patches).all():
        raise ValueError("The image contains NaN or infinite values.")
    starts = np.arange(max(rows, cols)) * step % 2
    phases = (2 * starts[:rows, None] + starts[None, :cols]).ravel()
    return patches, phases


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
