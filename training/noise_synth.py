"""Camera-like noise for training: signal-dependent, mosaic-correlated, JPEG-compressed.

The pipeline follows the "unprocessing" idea of Brooks et al., "Unprocessing Images for
Learned Raw Denoising" (CVPR 2019): take the clean sRGB patch back to the camera's linear
space, add the sensor's noise there, and process it forward again.

1. sRGB -> linear light (the exact sRGB curve), then optionally undo a colour-correction
   matrix (CCM) and white-balance gains, giving the camera-space signal ``x`` in 0..1.
2. Poisson-Gaussian sensor noise of variance ``a * x + b`` (Foi et al., "Practical
   Poissonian-Gaussian noise modeling and fitting for single-image raw-data", IEEE TIP 2008),
   drawn as a Gaussian of that variance: the Poisson law at camera photon counts is close to
   it and far cheaper.
3. Optionally the noise lives on an RGGB Bayer mosaic (one sample per site) and a bilinear
   demosaic spreads it to three channels: spatially correlated, blotchy noise.
4. White balance and CCM are re-applied to the noise (chromatically correlated noise), the
   noise is added to the clean linear image, and the sRGB curve is re-applied.
5. Optionally clipping to 0..1 and JPEG at a random quality.

Only the *noise* goes through the mosaic and demosaic: demosaicing is linear, so
``demosaic(clean + n) = demosaic(clean) + demosaic(n)``, and dropping the first term's
artifacts keeps the training target the clean patch itself (a camera at base ISO would have
produced demosaic artifacts of its own, which are part of the "clean" photo anyway).

The sigma map (N x 1 x H x W, 0..1 units, what the models take) is the per-pixel noise std
after the gamma, propagated rather than measured:

* linear-space variance per camera channel ``a * x + b``, times the mean variance gain of
  bilinear demosaicing over one 2 x 2 Bayer period (0.5625 for R and B, 0.625 for G: a
  site keeps its own sample, the others average 2 or 4 neighbours). The exact variance
  alternates between sites; the period average is what a smooth map can say. (A blind
  high-pass or patch-PCA estimate reads far less than this marginal std on demosaiced
  noise, which has little power at high frequencies: see benchmarks/noise_curve.py.)
* through white balance and CCM exactly (bilinear demosaicing never mixes channels, so the
  camera channels' noises are independent): ``var_i = sum_j (M_ij g_j)^2 var_j``;
* through the gamma: the linear-light noise of each channel is Gaussian, so the std of
  ``srgb(x + s z)`` is computed by Gauss-Hermite quadrature (8 nodes) instead of
  the first-order derivative rule ``srgb'(x) * s``. The derivative rule is what this
  reduces to for small noise, but in shadows with high-ISO noise (linear std comparable to
  the signal) it understated the std by up to 40 % in tests, where quadrature stays
  within a few per cent;
* clipping to 0..1 (``clip``) is included in that quadrature: near black, where strong
  noise is cut off at zero, the map follows the reduced std instead of overstating it
  (by about 30 % at sRGB 0.1 with high-ISO noise without it);
* JPEG, which smooths noise away, is modelled by one factor per patch: the measured ratio
  of the noise that survives compression, ``rms(jpeg(noisy) - jpeg(clean)) / rms(noisy - clean)``.

Channels are combined as the root mean square (the average variance), as
``denoiser.noise.estimate_sigma`` does. A grey patch (C = 1) is processed as three equal
channels and averaged back in linear light, like a grey conversion of a colour photo.
Everything is batched torch on the CPU. JPEG goes through Pillow (libjpeg), one small
call per patch: torchvision 0.29's ``encode_jpeg`` and ``decode_jpeg`` work but are
deprecated there (to be removed in favour of TorchCodec).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# Mean variance gain of bilinear demosaicing of white noise over a Bayer period, per channel.
_DEMOSAIC_VARIANCE_GAIN = (0.5625, 0.625, 0.5625)
# Bilinear demosaic kernels (Malvar et al. 2004 call this the baseline): R/B and G.
_KERNEL_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4.0
_KERNEL_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
_GH_NODES = 8  # Gauss-Hermite nodes for the noise std through the sRGB curve


@dataclass(frozen=True)
class NoiseParams:
    """Ranges the per-patch noise parameters are drawn from.

    ``a`` and ``b`` are in linear camera units (signal 0..1): ``a`` is the shot-noise gain,
    ``b`` the read-noise variance, both log-uniform (so both bounds must be positive; a
    fixed value is a range with equal ends). The defaults span Brooks et al.'s
    shot-noise range (1e-4 .. 1.2e-2, base ISO to about ISO 6400 on a phone) and read noise
    from negligible to their high-ISO value. White-balance gains are their ranges too.
    ``gaussian_fraction`` of the patches instead get the evaluation protocol's white
    Gaussian noise (sigma uniform in 0 .. ``sigma_max`` on the 0-255 scale, unclipped).
    """

    a_range: tuple[float, float] = (1e-4, 1.2e-2)
    b_range: tuple[float, float] = (1e-7, 2e-4)
    colour_prob: float = 0.8  # undo/redo white balance and a colour-correction matrix
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    ccm_crosstalk: tuple[float, float] = (0.0, 0.6)  # size of the CCM's negative off-diagonals
    mosaic_prob: float = 0.8
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 95)
    clip: bool = True  # clip to 0..1 as a real photo is (always done before JPEG)
    gaussian_fraction: float = 0.0
    sigma_max: float = 75.0


def synthesize(
    clean: torch.Tensor, gen: torch.Generator, params: NoiseParams | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy version of ``clean`` (N x C x H x W, C = 1 or 3, sRGB 0..1) and its sigma map.

    Returns ``(noisy, sigma_map)``: noisy N x C x H x W, sigma_map N x 1 x H x W in 0..1
    units. Every patch draws its own parameters from ``params``; for given ``params`` the
    number of random draws is fixed, so a generator state always gives the same batch.
    ``NoiseParams(gaussian_fraction=1.0, sigma_max=s)`` is the Gaussian training noise
    ``PatchSampler`` draws today (same law; not the same random stream).
    """
    params = params or NoiseParams()
    n, channels = clean.shape[:2]
    if channels not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {channels}")
    clean = clean.float()
    if params.gaussian_fraction >= 1.0:  # Gaussian only: skip the camera pipeline's cost
        return _gaussian_noise(clean, gen, params.sigma_max)
    noisy, sigma = _camera_noise(clean, gen, params)
    if params.gaussian_fraction <= 0.0:
        return noisy, sigma
    gauss_noisy, gauss_sigma = _gaussian_noise(clean, gen, params.sigma_max)
    use_gauss = torch.rand(n, generator=gen) < params.gaussian_fraction
    pick = use_gauss.view(n, 1, 1, 1)
    return torch.where(pick, gauss_noisy, noisy), torch.where(pick, gauss_sigma, sigma)


def _gaussian_noise(
    clean: torch.Tensor, gen: torch.Generator, sigma_max: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The protocol's noise: per-patch sigma uniform in 0..sigma_max (0-255 scale), unclipped."""
    n, _, h, w = clean.shape
    sigma = torch.rand(n, 1, 1, 1, generator=gen) * (sigma_max / 255.0)
    noise = torch.randn(clean.shape, generator=gen) * sigma
    return clean + noise, sigma.expand(n, 1, h, w).contiguous()


def _camera_noise(
    clean: torch.Tensor, gen: torch.Generator, p: NoiseParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 1-5 of the module docstring for the whole batch."""
    n, channels, h, w = clean.shape
    rgb = clean.expand(n, 3, h, w)
    a = _log_uniform(n, p.a_range, gen).view(n, 1, 1, 1)
    b = _log_uniform(n, p.b_range, gen).view(n, 1, 1, 1)
    colour = torch.rand(n, generator=gen) < p.colour_prob
    gains = _white_balance(n, p, gen, colour)  # n x 3
    ccm = _random_ccm(n, p.ccm_crosstalk, gen, colour)  # n x 3 x 3
    mosaic = (torch.rand(n, generator=gen) < p.mosaic_prob).view(n, 1, 1, 1)
    linear = srgb_to_linear(rgb)
    camera = torch.einsum("nij,njhw->nihw", torch.linalg.inv(ccm), linear)
    camera = (camera / gains.view(n, 3, 1, 1)).clamp(0.0, 1.0)
    variance = a * camera + b  # n x 3 x h x w, per camera channel

    white = torch.randn(n, 3, h, w, generator=gen) * variance.sqrt()
    bayer = _demosaic(torch.randn(n, 1, h, w, generator=gen) * _mosaic(variance).sqrt())
    noise_cam = torch.where(mosaic, bayer, white)
    gain_var = torch.tensor(_DEMOSAIC_VARIANCE_GAIN).view(1, 3, 1, 1)
    variance = variance * torch.where(mosaic, gain_var, torch.ones_like(gain_var))

    to_linear = ccm * gains.view(n, 1, 3)  # M diag(g): camera noise -> linear sRGB noise
    if channels == 1:  # a grey photo: the mean of the three processed channels
        to_linear = to_linear.mean(dim=1, keepdim=True)
    noise_lin = torch.einsum("nij,njhw->nihw", to_linear, noise_cam)
    var_lin = torch.einsum("nij,njhw->nihw", to_linear.square(), variance)
    clean_lin = linear[:, :channels]
    noisy = linear_to_srgb(clean_lin + noise_lin)
    clip = p.clip or p.jpeg_prob > 0
    sigma = srgb_std(clean_lin, var_lin.sqrt(), clip=clip)
    sigma = sigma.square().mean(dim=1, keepdim=True).sqrt()
    if clip:
        noisy = noisy.clamp(0.0, 1.0)
    if p.jpeg_prob > 0:
        noisy, sigma = _jpeg(clean, noisy, sigma, gen, p)
    return noisy, sigma


def _log_uniform(n: int, bounds: tuple[float, float], gen: torch.Generator) -> torch.Tensor:
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    return torch.exp(lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)).float()


def _white_balance(
    n: int, p: NoiseParams, gen: torch.Generator, active: torch.Tensor
) -> torch.Tensor:
    """Per-patch (R, G, B) gains, 1 where the colour step is off."""
    u = torch.rand(n, 2, generator=gen)
    red = p.red_gain[0] + (p.red_gain[1] - p.red_gain[0]) * u[:, 0]
    blue = p.blue_gain[0] + (p.blue_gain[1] - p.blue_gain[0]) * u[:, 1]
    gains = torch.stack([red, torch.ones(n), blue], dim=1)
    return torch.where(active.view(n, 1), gains, torch.ones_like(gains))


def _random_ccm(
    n: int, crosstalk: tuple[float, float], gen: torch.Generator, active: torch.Tensor
) -> torch.Tensor:
    """Camera-to-sRGB matrices: negative off-diagonals, rows summing to 1 (grey stays grey).

    Real CCMs look like this (e.g. diagonal 1.5-2, off-diagonals -0.1 .. -0.6): they undo
    the colour filters' overlap, and in doing so amplify and cross-correlate the noise.
    Random matrices of that shape stand in for measured ones (Brooks et al. interpolate
    between four real cameras' matrices; these have none to hand).
    """
    off = -(crosstalk[0] + (crosstalk[1] - crosstalk[0]) * torch.rand(n, 3, 3, generator=gen))
    eye = torch.eye(3).expand(n, 3, 3)
    off = off * (1 - eye)
    ccm = off + eye * (1 - off.sum(dim=2, keepdim=True))
    return torch.where(active.view(n, 1, 1), ccm, eye)


def _bayer_masks(h: int, w: int) -> torch.Tensor:
    """1 x 3 x H x W RGGB site masks (R at even row/even column)."""
    y = torch.arange(h).view(h, 1) % 2
    x = torch.arange(w).view(1, w) % 2
    red = (y == 0) & (x == 0)
    blue = (y == 1) & (x == 1)
    green = ~(red | blue)
    return torch.stack([red, green, blue]).float().unsqueeze(0)


def _mosaic(planes: torch.Tensor) -> torch.Tensor:
    """N x 1 x H x W: at each site, the value of that site's channel."""
    return (planes * _bayer_masks(*planes.shape[-2:])).sum(dim=1, keepdim=True)


def _demosaic(mosaic: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaic (N x 1 -> N x 3); reflect padding keeps the Bayer phase at edges."""
    masked = mosaic * _bayer_masks(*mosaic.shape[-2:])
    kernels = torch.stack([_KERNEL_RB, _KERNEL_G, _KERNEL_RB]).unsqueeze(1)
    return F.conv2d(F.pad(masked, (1, 1, 1, 1), mode="reflect"), kernels, groups=3)


def _jpeg(
    clean: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator,
    p: NoiseParams,
) -> tuple[torch.Tensor, torch.Tensor]:
    """JPEG a random subset at random qualities; scale each one's sigma by the noise kept."""
    n = noisy.shape[0]
    apply = (torch.rand(n, generator=gen) < p.jpeg_prob).tolist()
    quality = torch.randint(p.jpeg_quality[0], p.jpeg_quality[1] + 1, (n,), generator=gen)
    noisy, sigma = noisy.clone(), sigma.clone()
    for i in range(n):
        if not apply[i]:
            continue
        q = int(quality[i])
        noisy_u8, clean_u8 = _to_uint8(noisy[i]), _to_uint8(clean[i].clamp(0.0, 1.0))
        noisy_j, clean_j = _jpeg_roundtrip(noisy_u8, q), _jpeg_roundtrip(clean_u8, q)
        before = (noisy_u8.float() - clean_u8.float()).square().mean()
        after = (noisy_j - clean_j).square().mean()
        sigma[i] *= (after / before.clamp_min(1e-12)).sqrt().clamp(max=1.5)
        noisy[i] = noisy_j / 255.0
    return noisy, sigma


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255.0).round().clamp(0, 255).to(torch.uint8)


def _jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """C x H x W uint8 -> JPEG at ``quality`` (4:2:0 for colour, as cameras) -> float 0..255."""
    arr = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded, dtype=np.float32)
    out = out[..., None] if out.ndim == 2 else out
    return torch.from_numpy(out.copy()).permute(2, 0, 1)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Inverse sRGB curve (IEC 61966-2-1), extended oddly below 0 so noise stays symmetric."""
    mag = x.abs()
    lin = torch.where(mag <= 0.04045, mag / 12.92, ((mag + 0.055) / 1.055) ** 2.4)
    return torch.sign(x) * lin


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """sRGB curve, extended oddly below 0 (its linear toe continues through zero)."""
    mag = x.abs()
    out = torch.where(
        mag <= 0.0031308, mag * 12.92, 1.055 * mag.clamp_min(0.0031308) ** (1 / 2.4) - 0.055
    )
    return torch.sign(x) * out


def srgb_slope(x: torch.Tensor) -> torch.Tensor:
    """Derivative of ``linear_to_srgb`` at ``x`` (linear light)."""
    mag = x.abs()
    curve = (1.055 / 2.4) * mag.clamp_min(0.0031308) ** (1 / 2.4 - 1)
    return torch.where(mag <= 0.0031308, torch.full_like(mag, 12.92), curve)


def srgb_std(
    x: torch.Tensor, s: torch.Tensor, clip: bool = False, nodes: int = _GH_NODES
) -> torch.Tensor:
    """Std of ``linear_to_srgb(x + s z)``, z standard normal, by Gauss-Hermite quadrature.

    With ``clip`` the curve is followed by clipping to 0..1, which takes noise away near
    black and white; the kink makes the quadrature approximate there (see the tests).
    Deviations from ``linear_to_srgb(x)`` are summed rather than raw moments, so float32
    keeps its precision when ``s`` is tiny.
    """
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    centre = linear_to_srgb(x)
    m1 = torch.zeros_like(centre)
    m2 = torch.zeros_like(centre)
    for tk, wk in zip(t.tolist(), w.tolist()):
        value = linear_to_srgb(x + s * tk)
        d = (value.clamp(0.0, 1.0) if clip else value) - centre
        m1 += wk * d
        m2 += wk * d * d
    return (m2 - m1 * m1).clamp_min(0.0).sqrt()
