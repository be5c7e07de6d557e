"""Signal-dependent noise: a noise curve var(x) = a * x + b estimated from one photo.

Camera noise grows with brightness (shot noise), so one sigma for the whole picture is too
strong in the shadows or too weak in the highlights. This follows the single-image
Poisson-Gaussian fitting of Foi et al., "Practical Poissonian-Gaussian noise modeling and
fitting for single-image raw-data" (IEEE TIP 2008): measure the noise of smooth regions at
many intensity levels and fit the affine variance law. The per-level measurement reuses
``denoiser.noise``'s weak-texture patch PCA (Liu, Tanaka and Okutomi, IEEE TIP 2013) rather
than Foi's wavelet residual: it is already tuned here, and unlike a Laplacian or wavelet
residual it does not read texture as noise.

Steps: sample 5 x 5 patches on a thinned grid (never downscaled: that would average noise
away), group each channel's patches by their mean into intensity bins, run the iterated
weak-texture PCA estimate per bin, and fit a, b >= 0 per channel by weighted least squares
made robust by Cauchy reweighting (a bin whose smooth patches still hold texture reads
too high; near-clipped bins read too low).

Where the law is fitted: a sensor's noise is affine in *linear light*, and an sRGB photo
shows it through the tone curve, where its std typically *falls* with brightness (the
curve's slope falls faster than shot noise grows) - no a, b >= 0 fits that in image values.
So by default each bin's variance is taken back to linear light by the curve's slope at
the bin's level (first order; it overstates the darkest bins under strong noise, which
the robust fit discounts) and the law is fitted there; ``linear_light=False`` fits it on
the image values instead (for noise added after the tone curve). The per-bin measurements
are kept (``levels``, ``variances``). ``NoiseCurve.sigma_map`` turns the curve into the
per-pixel noise level the models take (H x W, 0-255 scale, channels combined as root mean
square like ``estimate_sigma``).

Known limit: demosaiced, in-camera-denoised or JPEG-compressed noise is spatially
correlated, with little power at high frequencies. The smallest patch eigenvalue then
reads far less than the per-pixel std (about a tenth for bilinear-demosaiced noise, see
benchmarks/noise_curve.py). Such a curve understates the per-pixel std by a factor that
depends on the camera's processing. ``denoiser.noise.estimate_sigma(..., noise_type=
"camera")`` estimates the mean per-pixel std of such noise; a constant map of it measured
closer to the true map than this curve's map (benchmarks/camera_noise_estimation.py
--curve), so the curve is not calibrated with it here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from denoiser.noise import _PATCH, _colour_channels, _patch_noise_variance, _sample_patches

_MAX_PATCHES = 60_000  # per channel, as estimate_sigma: cost follows it, not the image size
_BINS = 16  # intensity bins of width 1/16
_MIN_BIN_PATCHES = 400  # fewer than this and a bin's estimate is too noisy to use
_CAUCHY_SCALE = 0.25  # relative residual at which a bin's weight halves
_REWEIGHTS = 4
_LUT_SIZE = 4096
_SMOOTH_RADIUS = 1  # sigma_map: a 3 x 3 box of 2 x 2 bins, not the noisy pixel


@dataclass(frozen=True)
class NoiseCurve:
    """Per-channel noise variance law ``var = a * x + b``.

    With ``linear_light`` (the default for photos) ``x`` is the linear-light intensity
    (the image with its sRGB curve undone) and ``var`` the noise variance there, which is
    where a sensor's shot and read noise are affine; the noise the image shows is that
    std times the slope of the sRGB curve. Without it, ``x`` and ``var`` are the image's
    own 0..1 values. ``a`` and ``b`` have one entry per colour channel; ``levels`` and
    ``variances`` are the per-bin measurements in image values (one array per channel).
    """

    a: np.ndarray
    b: np.ndarray
    linear_light: bool = True
    levels: tuple[np.ndarray, ...] = ()
    variances: tuple[np.ndarray, ...] = ()

    def std(self, y: np.ndarray | float, channel: int = 0) -> np.ndarray:
        """Noise std in image units (0..1) at image value ``y`` (0..1) in one channel."""
        y = np.asarray(y, dtype=np.float64)
        x = srgb_to_linear(y) if self.linear_light else y
        std = np.sqrt(np.maximum(self.a[channel] * x + self.b[channel], 0.0))
        return std * srgb_slope(x) if self.linear_light else std

    def sigma_map(self, pixels: np.ndarray) -> np.ndarray:
        """Per-pixel noise level (float32 H x W, 0-255 scale) for ``pixels``.

        Each channel is averaged over 2 x 2 bins and then a 3 x 3 box of bins (about
        6 x 6 pixels), so the map follows the scene rather than the image's own noise, and
        12 MP costs a fraction of a second. The curve is a 1-D function of each channel's
        value, read from a lookup table (exact to 1/4096, no float64 powers per pixel);
        channels combine as the root mean square of their stds.
        """
        image = _colour_channels(pixels)
        height, width, channels = image.shape
        if channels != len(self.a):
            raise ValueError(f"The curve has {len(self.a)} channel(s), the image {channels}.")
        scale = np.iinfo(image.dtype).max if image.dtype in (np.uint8, np.uint16) else 1.0
        grid = np.linspace(0.0, 1.0, _LUT_SIZE)
        variance = None
        for c in range(channels):
            lut = (self.std(grid, c) ** 2 / channels).astype(np.float32)
            level = _box_mean(_bin2(image[..., c]), _SMOOTH_RADIUS)
            index = np.clip(level * np.float32((_LUT_SIZE - 1) / scale) + 0.5, 0, _LUT_SIZE - 1)
            part = lut[index.astype(np.int32)]
            variance = part if variance is None else variance + part
        sigma = np.sqrt(variance) * np.float32(255.0)
        return _unbin2(sigma, height, width)


def estimate_noise_curve(pixels: np.ndarray, linear_light: bool = True) -> NoiseCurve:
    """Estimate the signal-dependent noise curve of ``pixels`` (no clean reference needed).

    ``pixels`` is H x W or H x W x C (as ``estimate_sigma`` takes: float 0..1, uint8 or
    uint16; alpha ignored). ``linear_light`` fits the affine law in linear light (each
    bin's variance divided by the squared sRGB slope at its level, the first-order rule),
    right for sRGB photos; ``False`` fits it on the image values themselves. Where fewer
    than two intensity bins hold enough smooth patches (a flat or tiny image), the curve
    is flat: ``a = 0``. Raises ``ValueError`` for images too small to estimate from.
    """
    patches = _sample_patches(_colour_channels(pixels), _PATCH, _MAX_PATCHES)
    fits = [_fit_channel(patches[:, c], linear_light) for c in range(patches.shape[1])]
    return NoiseCurve(
        a=np.array([f[0] for f in fits]),
        b=np.array([f[1] for f in fits]),
        linear_light=linear_light,
        levels=tuple(f[2] for f in fits),
        variances=tuple(f[3] for f in fits),
    )


def _fit_channel(
    patches: np.ndarray, linear_light: bool
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(a, b, bin levels, bin variances) for one channel's (n, 25) patches."""
    levels, variances, counts = _binned_variances(patches)
    if len(levels) < 2:
        levels = np.array([float(np.median(patches.mean(axis=1)))])
        variances = np.array([_patch_noise_variance(patches)])
        counts = np.array([float(len(patches))])
    x, var = levels, variances
    if linear_light:
        x = srgb_to_linear(levels)
        var = variances / srgb_slope(x) ** 2
    if len(levels) < 2:
        return 0.0, float(var[0]), levels, variances
    a, b = _robust_affine_fit(x, var, counts)
    return a, b, levels, variances


def _binned_variances(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise variance per intensity bin, from unclipped patches only.

    Patches touching exact 0 or 1 lose noise to clipping, so they are dropped here rather
    than left to bias the darkest and brightest bins.
    """
    unclipped = ~((patches == 0.0) | (patches == 1.0)).any(axis=1)
    patches = patches[unclipped]
    means = patches.mean(axis=1)
    index = np.minimum((means * _BINS).astype(np.int64), _BINS - 1)
    levels, variances, counts = [], [], []
    for k in range(_BINS):
        members = index == k
        count = int(np.count_nonzero(members))
        if count < _MIN_BIN_PATCHES:
            continue
        levels.append(float(np.median(means[members])))
        variances.append(_patch_noise_variance(patches[members]))
        counts.append(count)
    return np.array(levels), np.array(variances), np.array(counts, dtype=np.float64)


def _robust_affine_fit(
    x: np.ndarray, var: np.ndarray, counts: np.ndarray
) -> tuple[float, float]:
    """a, b >= 0 minimising a weighted squared error of ``a * x + b`` against ``var``.

    A variance estimate from n samples has a spread proportional to var / sqrt(n), so the
    base weights are n / var^2; Cauchy reweighting on the relative residual then discounts
    bins that disagree with the rest (texture, clipping).
    """
    base = counts / np.maximum(var, 1e-12) ** 2
    weights = base
    a, b = _nonnegative_affine(x, var, weights)
    for _ in range(_REWEIGHTS):
        predicted = np.maximum(a * x + b, 1e-12)
        residual = (var - predicted) / predicted
        weights = base / (1.0 + (residual / _CAUCHY_SCALE) ** 2)
        a, b = _nonnegative_affine(x, var, weights)
    return a, b


def _nonnegative_affine(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least squares of y = a x + b with a, b >= 0 (the two-variable NNLS).

    The unconstrained optimum, if feasible, is the answer; otherwise the optimum lies on
    a = 0 or b = 0, and each boundary has a closed form.
    """
    sw, sx, sy = w.sum(), (w * x).sum(), (w * y).sum()
    sxx, sxy = (w * x * x).sum(), (w * x * y).sum()
    det = sw * sxx - sx * sx
    if det > 0:
        a = (sw * sxy - sx * sy) / det
        b = (sy - a * sx) / sw
        if a >= 0 and b >= 0:
            return float(a), float(b)
    candidates = [(0.0, max(sy / sw, 0.0)), (max(sxy / sxx, 0.0) if sxx > 0 else 0.0, 0.0)]
    costs = [float((w * (y - ca * x - cb) ** 2).sum()) for ca, cb in candidates]
    return candidates[int(np.argmin(costs))]


def _bin2(channel: np.ndarray) -> np.ndarray:
    """float32 means of 2 x 2 blocks (an odd last row or column is dropped)."""
    height, width = channel.shape
    c = channel[: height - height % 2, : width - width % 2]
    total = c[0::2, 0::2].astype(np.float32)
    total += c[1::2, 0::2]
    total += c[0::2, 1::2]
    total += c[1::2, 1::2]
    return total * np.float32(0.25)


def _unbin2(small: np.ndarray, height: int, width: int) -> np.ndarray:
    """Each value repeated over its 2 x 2 block, edge-extended to height x width."""
    h2, w2 = small.shape
    out = np.empty((h2, 2, w2, 2), dtype=small.dtype)
    out[...] = small[:, None, :, None]
    out = out.reshape(2 * h2, 2 * w2)
    if out.shape != (height, width):
        out = np.pad(out, ((0, height - 2 * h2), (0, width - 2 * w2)), mode="edge")
    return out


def _box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2 radius + 1)^2 window, edges replicated; separable shifted sums.

    For the small radius used here, shifted slices beat cumulative sums (fewer passes).
    """
    height, width = image.shape
    padded = np.pad(image.astype(np.float32, copy=False), radius, mode="edge")
    rows = padded[:height].copy()
    for k in range(1, 2 * radius + 1):
        rows += padded[k : k + height]
    out = rows[:, :width].copy()
    for k in range(1, 2 * radius + 1):
        out += rows[:, k : k + width]
    return out / np.float32((2 * radius + 1) ** 2)


def srgb_to_linear(y: np.ndarray) -> np.ndarray:
    """Inverse sRGB curve (IEC 61966-2-1) on 0..1 values."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(y <= 0.04045, y / 12.92, ((np.maximum(y, 0.04045) + 0.055) / 1.055) ** 2.4)


def srgb_slope(x: np.ndarray) -> np.ndarray:
    """Derivative of the sRGB curve at linear value ``x`` (0..1)."""
    x = np.asarray(x, dtype=np.float64)
    curve = (1.055 / 2.4) * np.maximum(x, 0.0031308) ** (1 / 2.4 - 1)
    return np.where(x <= 0.0031308, 12.92, curve)
