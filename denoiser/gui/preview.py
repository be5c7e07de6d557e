"""View-first preview planning (numpy only, no Qt).

The first result a person sees should cover what is on screen, within about a second.
At 100 % and above that is a small full-resolution region (``engine.denoise_region``).
Zoomed out on a large photo the area in view can be the whole 24 megapixels, so the
visible area is averaged down to roughly screen resolution first: block-averaging
f x f pixels divides Gaussian noise by f, so the model runs at ``sigma / f`` on an image
f^2 times smaller and gives what the full result will look like at that zoom.
"""

from __future__ import annotations

import math

import numpy as np

Box = tuple[int, int, int, int]  # y0, x0, y1, x1

# Two passes: a quick one that is on screen within about a second even on a busy CPU
# (a 0.15 MP U-Net pass takes 0.2-0.5 s on two busy laptop cores), then one at screen
# resolution; the whole image follows.
QUICK_BUDGET_PX = 150_000
PREVIEW_BUDGET_PX = 1_200_000


def plan(box: Box, zoom: float, budget_px: int = PREVIEW_BUDGET_PX) -> tuple[Box, int]:
    """Region and block factor for a preview of ``box`` seen at ``zoom`` (device px/image px).

    The factor starts at what the screen can show (1/zoom). If that is still over the
    pixel budget: zoomed out, the factor grows (the whole view, a little soft); at 1:1,
    where sharp detail is the point, the box shrinks around its centre instead.
    The box is trimmed to whole blocks.
    """
    y0, x0, y1, x1 = box
    h, w = y1 - y0, x1 - x0
    if h <= 0 or w <= 0:
        return box, 1
    factor = max(1, int(math.floor(1.0 / zoom))) if zoom < 1.0 else 1
    if factor == 1 and h * w > budget_px:
        scale = math.sqrt(budget_px / (h * w))
        ch, cw = max(1, int(h * scale)), max(1, int(w * scale))
        cy, cx = y0 + (h - ch) // 2, x0 + (w - cw) // 2
        return (cy, cx, cy + ch, cx + cw), 1
    while (h // factor) * (w // factor) > budget_px:
        factor += 1
    h2, w2 = h // factor * factor, w // factor * factor
    if factor > 1 and (h2 == 0 or w2 == 0):
        return box, 1
    return (y0, x0, y0 + h2, x0 + w2), factor


def reduction(box: Box, budget_px: int, start: int = 1) -> int:
    """Smallest block factor >= ``start`` that brings ``box`` within ``budget_px`` pixels.

    Partial blocks at the edges count as whole pixels, as Pillow's reduce makes them;
    unlike :func:`plan`, the box is never trimmed or cropped (a draft's view stays whole).
    """
    h, w = box[2] - box[0], box[3] - box[1]
    factor = max(1, start)
    while math.ceil(h / factor) * math.ceil(w / factor) > budget_px:
        factor += 1
    return factor


def block_mean(pixels: np.ndarray, box: Box, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of ``pixels[box]`` (float32, keeps channels)."""
    y0, x0, y1, x1 = box
    crop = pixels[y0:y1, x0:x1]
    if factor == 1:
        return np.ascontiguousarray(crop, dtype=np.float32)
    h, w = (y1 - y0) // factor, (x1 - x0) // factor
    c = crop.shape[2] if crop.ndim == 3 else 1
    blocks = crop[: h * factor, : w * factor].reshape(h, factor, w, factor, c)
    out = blocks.mean(axis=(1, 3), dtype=np.float32)
    return out if crop.ndim == 3 else out[:, :, 0]


def central_crop(shape: tuple[int, ...], size: int) -> Box:
    """A centred box of at most ``size`` x ``size`` inside an image of ``shape``."""
    h, w = shape[:2]
    ch, cw = min(h, size), min(w, size)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return (y0, x0, y0 + ch, x0 + cw)


def covers(outer: Box | None, inner: Box) -> bool:
    if outer is None:
        return False
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and outer[2] >= inner[2] and outer[3] >= inner[3])
