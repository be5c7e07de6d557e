"""What the render jobs compute (worker threads): previews of the view, the whole image.

Kept apart from :mod:`denoiser.gui.render_session`, which decides *when* each of these
runs; here is only *what* runs, as plain functions of their inputs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF

from denoiser.gui import backend, preview
from denoiser.gui.document import Document, Draft, Rendered, blend_uncertain, render_pictures
from denoiser.gui.picture import Patch
from denoiser.gui.qimage_convert import (
    amplify_residual,
    array_to_qimage,
    reduce_uint8,
    residual_gain,
)
from denoiser.gui.workers import Job

Box = tuple[int, int, int, int]  # y0, x0, y1, x1

# Middle of a reduced decode the Auto estimate looks at. The estimator's cost grows with
# the patches it samples, at most 60,000 per channel on a grid: from 256 x 256 pixels it
# takes every second row and column, 16,000 patches, about 0.1 s (192 x 192 would give
# twice as many patches from a smaller area, in three times as long).
DRAFT_SIGMA_CROP = 256


@dataclass(frozen=True)
class RenderParams:
    """Everything that decides what the result looks like."""

    model: Any  # denoiser.models.ModelInfo
    sigma: float | None = None  # None = Auto (estimated)
    device: str = "auto"
    tile: int = 0  # 0: the model's own tile (Engine.default_tile)
    samples: int = 0  # VAE samples for the uncertainty view (0 = off)
    blend: float = 0.0  # lean toward the original where the VAE is unsure
    compare_model: Any = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def key(self, sigma_used: float | None) -> tuple:
        s = None if sigma_used is None else round(float(sigma_used), 2)
        return (str(getattr(self.model, "path", self.model)), s, self.samples,
                round(self.blend, 2))


@dataclass
class PreviewPatch:
    box: Box  # in full-image pixels
    factor: int  # one patch pixel stands for factor x factor image pixels
    result: Patch
    residual: Patch
    generation: int = 0  # patches of one generation (same image and settings) layer


def engine_info(engine: Any, params: RenderParams) -> tuple[str, str]:
    """(device actually used, why not the one asked for: "" if it was)."""
    return (str(getattr(engine, "device", params.device)),
            str(getattr(engine, "fallback_reason", "") or ""))


def known_sigma(doc: Document, params: RenderParams) -> float | None:
    """The sigma a render with ``params`` uses, as far as known without estimating: the
    user's, or the document's estimate for the model's noise type (None for a blind model)."""
    if getattr(params.model, "blind", False) or params.sigma is not None:
        return params.sigma
    return doc.sigma_estimates.get(backend.model_noise_type(params.model))


def resolve_sigma(doc: Document, params: RenderParams) -> Generator[tuple, None, float | None]:
    """The sigma to use: the user's, or the document's estimate for the model's noise type
    (computed once per type). Yields ("sigma", estimate, noise type) for Auto."""
    if getattr(params.model, "blind", False) or params.sigma is not None:
        return params.sigma
    kind = backend.model_noise_type(params.model)
    sigma = doc.sigma_estimates.get(kind)
    if sigma is None:
        sigma = backend.estimate_sigma(doc.pixels, noise_type=kind)
    yield ("sigma", sigma, kind)
    return sigma


def make_patch(box: Box, factor: int, orig: np.ndarray, out: np.ndarray,
               sigma: float | None, alpha: np.ndarray | None = None) -> PreviewPatch:
    """Result and residual patches for ``box`` from its (possibly reduced) input and output.

    ``sigma`` is on the full image's scale: it sets the residual's gain like the whole
    result's, so the residual view does not change its contrast when that arrives.
    """
    y0, x0, y1, x1 = box
    rect = QRectF(x0, y0, x1 - x0, y1 - y0)
    return PreviewPatch(
        box=box, factor=factor,
        result=Patch(array_to_qimage(out, alpha, fast_paint=True), rect),
        residual=Patch(array_to_qimage(amplify_residual(orig, out, residual_gain(sigma)),
                                       fast_paint=True), rect),
    )


def make_preview(engine: Any, doc: Document, sigma: float | None,
                 pbox: Box, factor: int) -> PreviewPatch | None:
    """Denoise ``pbox`` at 1/``factor`` resolution (worker thread)."""
    y0, x0, y1, x1 = pbox
    if y1 <= y0 or x1 <= x0:
        return None
    if factor == 1:
        out = backend.denoise_region(engine, doc.pixels, sigma, pbox)
        orig = doc.pixels[y0:y1, x0:x1]
    else:
        if doc.display_u8 is not None:  # Pillow's box reduce: ten times faster on 24 MP
            orig = reduce_uint8(doc.display_u8, pbox, factor).astype(np.float32) / 255.0
        else:
            orig = preview.block_mean(doc.pixels, pbox, factor)
        s = None if sigma is None else sigma / factor
        # one tile: the preview is small, and tile overlap would only cost time
        out = backend.denoise(engine, orig, s, tile=max(orig.shape[:2]) + 64)
    alpha = None
    if doc.alpha is not None and factor == 1:
        alpha = doc.alpha[y0:y1, x0:x1]
    return make_patch(pbox, factor, orig, out, sigma, alpha)


def draft_preview(engine: Any, draft: Draft, params: RenderParams, box: Box, zoom: float,
                  stages: dict[str, Any] | None = None) -> PreviewPatch | None:
    """Denoise the area in view from a reduced decode, within the quick budget (worker).

    The noise level: a draft pixel is the mean of a scale x scale block, which would
    divide white noise by the scale, but a JPEG's noise is not white (compression takes
    its finest part and keeps the coarse), so with Auto the noise is measured on the
    draft itself. A strength set by hand is divided by the reduction, as for every
    reduced preview. ``stages`` receives the seconds each step took.
    """
    t0 = time.perf_counter()
    stages = {} if stages is None else stages
    k = draft.scale
    dbox = _draft_box(box, k, draft.u8.shape)
    if dbox[2] <= dbox[0] or dbox[3] <= dbox[1]:
        return None
    start = max(1, math.floor(1.0 / (zoom * k))) if zoom * k < 1.0 else 1
    f = preview.reduction(dbox, preview.QUICK_BUDGET_PX, start)
    sigma = _draft_sigma(draft, params)
    stages["sigma_s"] = time.perf_counter() - t0
    small = reduce_uint8(draft.u8, dbox, f).astype(np.float32) / 255.0
    s = None if sigma is None else sigma / (k * f)
    out = backend.denoise(engine, small, s, tile=max(small.shape[:2]) + 64)
    stages["denoise_s"] = time.perf_counter() - t0
    w, h = draft.size
    full = (dbox[0] * k, dbox[1] * k, min(h, dbox[2] * k), min(w, dbox[3] * k))
    stages["plan"] = (full, k * f)
    return make_patch(full, k * f, small, out, sigma)


def _draft_box(box: Box, k: int, shape: tuple[int, ...]) -> Box:
    """``box`` in a 1/``k`` draft's pixels, widened to whole draft pixels."""
    y0, x0, y1, x1 = box
    return (y0 // k, x0 // k, min(shape[0], -(-y1 // k)), min(shape[1], -(-x1 // k)))


def _draft_sigma(draft: Draft, params: RenderParams) -> float | None:
    """The noise level on the full image's scale: the user's, or measured on the draft."""
    if getattr(params.model, "blind", False) or params.sigma is not None:
        return params.sigma
    kind = backend.model_noise_type(params.model)
    return backend.estimate_sigma(draft.u8, DRAFT_SIGMA_CROP, noise_type=kind) * draft.scale


def full_render(job: Job, engine: Any, doc: Document, params: RenderParams,
                sigma: float | None, zoom: float, t0: float) -> Rendered:
    """Denoise the whole image (and sample a VAE's spread), with display pictures."""
    samples = params.samples if getattr(params.model, "stochastic", False) else 0
    share = 0.5 if samples else 1.0
    job.set_progress(0.0, "Denoising")
    result = backend.denoise(
        engine, doc.pixels, sigma, tile=params.tile,
        progress=lambda f: job.set_progress(f * share, "Denoising"), cancel=job.token)
    std = None
    if samples:
        _, std = backend.sample(
            engine, doc.pixels, sigma, samples, tile=params.tile,
            progress=lambda f: job.set_progress(share + f * (1 - share), "Measuring uncertainty"),
            cancel=job.token)
    result = np.asarray(result, dtype=np.float32)
    shown = blend_uncertain(result, doc.pixels, std, params.blend)
    job.set_progress(1.0, "Preparing display")
    pic, residual, unc = render_pictures(doc.pixels, shown, doc.alpha, std, zoom, sigma)
    return Rendered(
        key=params.key(sigma), model=params.model, sigma=sigma if sigma is not None else -1.0,
        result=shown, picture=pic, residual=residual, std=std, uncertainty=unc,
        device=str(getattr(engine, "device", "")), seconds=time.perf_counter() - t0,
        raw=result if std is not None else None,
    )
