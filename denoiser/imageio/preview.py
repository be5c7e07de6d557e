"""read_preview: a quick reduced decode of a JPEG, to show while the full decode runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from denoiser.imageio.limits import _check_pixel_count
from denoiser.imageio.modes import _to_8bit_mode
from denoiser.imageio.opening import _format_name, _open, _with_read_errors
from denoiser.imageio.orientation import _apply_orientation, _remaining_orientation

_PREVIEW_SCALES = (8, 4, 2)  # what a JPEG decoder can scale by in the DCT domain


@dataclass
class PreviewImage:
    """A reduced, upright copy of a photo, decoded in a fraction of the full decode's time.

    Why: a viewer can show (and start working on) a large JPEG this way while the full
    decode, most of the wait for a 24-megapixel photo, is still running.
    """

    pixels: np.ndarray  # uint8, h x w x C (C = 1 or 3), upright; no alpha (JPEG has none)
    scale: int  # 2, 4 or 8: one preview pixel is the mean of scale x scale source pixels
    size: tuple[int, int]  # (width, height) of the upright full-resolution image


def read_preview(path: str | Path, fit: tuple[int, int]) -> PreviewImage | None:
    """A reduced copy of a JPEG, decoded by the JPEG decoder's own scaling (8x8 DCT blocks).

    ``fit`` is the (width, height) the image will be shown in, fitted: the copy is the
    smallest of 1/2, 1/4 or 1/8 size that still has a pixel for every pixel shown there.
    Returns None when that is no reduction, or the file is not a JPEG (other formats have
    no cheap reduced decode: use :func:`read_image`). Raises ImageReadError as read_image.
    """
    return _with_read_errors(Path(path), lambda fp, p: _read_preview_file(fp, p, fit))


def _read_preview_file(fp: IO[bytes], path: Path, fit: tuple[int, int]) -> PreviewImage | None:
    im = _open(fp)
    with im:
        _check_pixel_count(im, path)
        if _format_name(im) != "JPEG":
            return None
        orientation = _remaining_orientation(im)
        fit_w, fit_h = fit if orientation < 5 else (fit[1], fit[0])  # 5-8 turn by 90 degrees
        width, height = im.size
        scale = _preview_scale(width, height, fit_w, fit_h)
        drafted = im.draft(None, (width // scale, height // scale)) if scale > 1 else None
        if drafted is None:
            return None
        scale = round(width / drafted[1][2])
        converted, _ = _to_8bit_mode(im, im.info.get("icc_profile") or None)
        data = np.asarray(converted)
    data = data[..., None] if data.ndim == 2 else data
    upright, _ = _apply_orientation(data, None, orientation)
    size = (width, height) if orientation < 5 else (height, width)
    return PreviewImage(pixels=upright, scale=scale, size=size)


def _preview_scale(width: int, height: int, fit_w: int, fit_h: int) -> int:
    """The largest DCT scale at which a width x height image still covers its fitted size."""
    if fit_w <= 0 or fit_h <= 0:
        return 1
    zoom = min(fit_w / width, fit_h / height)  # the fitted image is zoom times the source
    return next((s for s in _PREVIEW_SCALES if s * zoom <= 1.0), 1)
