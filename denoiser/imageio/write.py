"""write_image: validate and quantise pixels, then hand them to the format's encoder atomically."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

import numpy as np

from denoiser.errors import ImageWriteError
from denoiser.imageio.atomic import _atomic_write
from denoiser.imageio.encoders import _ENCODERS, _Metadata
from denoiser.imageio.exif import _reset_orientation
from denoiser.imageio.formats import _SIXTEEN_BIT_FORMATS, _format_for
from denoiser.imageio.icc import _matching_icc
from denoiser.imageio.read import LoadedImage
from denoiser.imageio.text import _check_text

log = logging.getLogger(__package__)


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    like: LoadedImage | None = None,
    bit_depth: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
    alpha: np.ndarray | None = None,
    text: dict[str, str] | None = None,
) -> Path:
    """Save ``pixels`` (H x W or H x W x C float 0..1; C = 2/4 means the last is alpha) atomically.

    The format follows the suffix. ``bit_depth`` defaults to ``like.bit_depth`` (else 8) and
    becomes 8 for formats without 16 bits (JPEG, WebP, BMP); ``alpha`` defaults to
    ``like.alpha``; EXIF and ICC come from ``like`` (an ICC profile only when its colour space
    matches what is written). ``quality`` is for JPEG and WebP (100 = lossless WebP). The file
    appears complete or not at all; an existing file is only replaced with ``overwrite=True``.
    Raises ImageWriteError with one sentence naming the file.
    """
    path = Path(path)
    fmt = _format_for(path)
    if bit_depth not in (None, 8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}.")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, not {quality}.")
    _check_text(text or {})
    colour, alpha = _prepare_pixels(pixels, alpha, like, path)
    depth = bit_depth or (like.bit_depth if like is not None else 8)
    if fmt not in _SIXTEEN_BIT_FORMATS:
        depth = 8
    if alpha is not None and fmt in ("JPEG", "BMP"):
        log.info("%s has no alpha channel here; compositing %s onto white", fmt, path.name)
        colour = colour * alpha[..., None] + (1.0 - alpha[..., None])
        alpha = None
    if fmt == "WEBP" and colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    samples = _quantise(colour if alpha is None else np.dstack([colour, alpha]), depth)
    meta = _Metadata(
        exif=_reset_orientation(like.exif) if like is not None and like.exif else None,
        icc=_matching_icc(like.icc_profile if like is not None else None, colour.shape[2] == 3),
        text=dict(text or {}),
    )
    if meta.text and fmt == "BMP":
        log.info("BMP stores no metadata; not writing the text to %s", path.name)

    def encode(fp: IO[bytes]) -> None:
        _ENCODERS[fmt](fp, samples, meta, quality)

    _atomic_write(path, encode, overwrite, fmt)
    return path


def _prepare_pixels(
    pixels: np.ndarray, alpha: np.ndarray | None, like: LoadedImage | None, path: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validated float32 colour (H x W x 1|3) and alpha (H x W or None)."""
    arr = _as_unit_float(pixels)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or 0 in arr.shape:
        raise ValueError(f"Expected H x W x C pixels with C in 1..4, got shape {arr.shape}.")
    if arr.shape[2] in (2, 4):
        if alpha is not None:
            raise ValueError("Pixels already carry an alpha channel; do not pass alpha too.")
        arr, alpha = arr[..., :-1], arr[..., -1]
    if alpha is None and like is not None and like.alpha is not None:
        alpha = like.alpha
        if alpha.shape != arr.shape[:2]:
            raise ImageWriteError(
                f"Cannot save '{path}' because the original's alpha channel is "
                f"{alpha.shape[1]} x {alpha.shape[0]} but the image is "
                f"{arr.shape[1]} x {arr.shape[0]}."
            )
    if alpha is not None:
        alpha = _as_unit_float(alpha)
        if alpha.shape != arr.shape[:2]:
            raise ValueError(f"Alpha shape {alpha.shape} does not match pixels {arr.shape[:2]}.")
    for a in (arr, alpha):
        if a is not None and not np.isfinite(a).all():
            raise ImageWriteError(
                f"Cannot save '{path}' because the image contains invalid (NaN or infinite) values."
            )
    return arr, alpha


def _as_unit_float(a: np.ndarray) -> np.ndarray:
    """float32 view in 0..1 of float, uint8 or uint16 data."""
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"Expected float, uint8 or uint16 pixels, got dtype {a.dtype}.")
    return a.astype(np.float32, copy=False)


def _quantise(data: np.ndarray, depth: int) -> np.ndarray:
    """Clip to 0..1 and round to uint8 or uint16."""
    maximum = 255 if depth == 8 else 65535
    dtype = np.uint8 if depth == 8 else np.uint16
    return np.rint(np.clip(data, 0.0, 1.0) * np.float32(maximum)).astype(dtype)
