"""One encoder per format; each writes ``samples`` (H x W x C uint8/uint16, C = 1..4) to a file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from denoiser.imageio.png16 import _write_png16
from denoiser.imageio.text import _text_lines, _xmp_packet
from denoiser.imageio.tiff import _write_tiff

log = logging.getLogger(__package__)


@dataclass
class _Metadata:
    """What is written besides the pixels (EXIF and ICC already checked to suit them)."""

    exif: bytes | None
    icc: bytes | None
    text: dict[str, str]


def _pillow_image(samples: np.ndarray) -> Image.Image:
    """Pillow image of 8-bit samples: L, LA, RGB or RGBA."""
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[samples.shape[2]]
    return Image.fromarray(samples[..., 0] if mode == "L" else samples, mode=mode)


def _encode_png(fp: IO[bytes], samples: np.ndarray, meta: _Metadata, quality: int) -> None:
    """8-bit through Pillow; 16-bit through :func:`_write_png16`."""
    if samples.dtype == np.uint16:
        _write_png16(fp, samples, meta)
        return
    info = PngInfo()
    for key, value in meta.text.items():
        info.add_text(key, value)  # Pillow switches to iTXt for non-Latin-1 values
    extra: dict[str, Any] = {"pnginfo": info, "compress_level": 6}
    if meta.exif:
        extra["exif"] = meta.exif
    if meta.icc:
        extra["icc_profile"] = meta.icc
    _pillow_image(samples).save(fp, "PNG", **extra)


def _encode_jpeg(fp: IO[bytes], samples: np.ndarray, meta: _Metadata, quality: int) -> None:
    """Baseline-compatible JPEG; no chroma subsampling at quality 90+ (fine detail matters)."""
    extra: dict[str, Any] = {}
    if meta.exif and len(meta.exif) > 65533 - 2:
        log.warning("EXIF of %d bytes does not fit in JPEG; dropped", len(meta.exif))
        extra.update(_pillow_metadata(meta, exif=False))
    else:
        extra.update(_pillow_metadata(meta))
    _pillow_image(samples).save(
        fp, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2, optimize=True, **extra
    )


def _pillow_metadata(meta: _Metadata, exif: bool = True) -> dict[str, Any]:
    """EXIF, ICC and the text note (as XMP) in the keyword form Pillow's JPEG/WebP savers take."""
    extra: dict[str, Any] = {}
    if meta.exif and exif:
        extra["exif"] = meta.exif
    if meta.icc:
        extra["icc_profile"] = meta.icc
    if meta.text:
        extra["xmp"] = _xmp_packet(_text_lines(meta.text))
    return extra


def _encode_webp(fp: IO[bytes], samples: np.ndarray, meta: _Metadata, quality: int) -> None:
    """Lossy WebP, or lossless at quality 100; colour under transparent pixels kept exactly."""
    extra = _pillow_metadata(meta)
    _pillow_image(samples).save(
        fp, "WEBP", quality=quality, lossless=quality >= 100, exact=True, method=4, **extra
    )


def _encode_bmp(fp: IO[bytes], samples: np.ndarray, meta: _Metadata, quality: int) -> None:
    """Grey or RGB BMP; the format holds no metadata."""
    _pillow_image(samples).save(fp, "BMP")


def _encode_tiff(fp: IO[bytes], samples: np.ndarray, meta: _Metadata, quality: int) -> None:
    """All TIFFs through :func:`_write_tiff` so 8 and 16 bits share one metadata path."""
    if samples.dtype == np.uint16 and samples.shape[2] == 2:
        samples = samples[..., [0, 0, 0, 1]]  # Pillow cannot read 16-bit grey+alpha TIFF
    _write_tiff(fp, samples, meta)


_ENCODERS: dict[str, Callable[[IO[bytes], np.ndarray, _Metadata, int], None]] = {
    "PNG": _encode_png,
    "JPEG": _encode_jpeg,
    "WEBP": _encode_webp,
    "BMP": _encode_bmp,
    "TIFF": _encode_tiff,
}
