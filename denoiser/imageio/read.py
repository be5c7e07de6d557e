"""read_image: a file's pixels as float32 0..1, upright, with what is needed to save it alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from PIL import ImageFile

from denoiser.imageio.decode16 import _decode_16bit_colour, _tiff_bits, _tile_rawmode
from denoiser.imageio.exif import _source_exif
from denoiser.imageio.icc import _matching_icc
from denoiser.imageio.limits import _check_pixel_count
from denoiser.imageio.modes import _split_alpha, _to_8bit_mode
from denoiser.imageio.opening import _format_name, _open, _with_read_errors
from denoiser.imageio.orientation import _apply_orientation, _remaining_orientation
from denoiser.imageio.text import _source_text


@dataclass
class LoadedImage:
    """An image as read from disk, upright, with what is needed to save it alike."""

    pixels: np.ndarray  # float32, H x W x C (C = 1 or 3), 0..1, EXIF orientation applied
    alpha: np.ndarray | None  # float32 H x W in 0..1, or None
    bit_depth: int  # 8 or 16 per channel, of the source
    format: str  # Pillow format name of the source: PNG, JPEG, TIFF, WEBP, BMP
    exif: bytes | None  # starts with b"Exif\0\0"; orientation tag reset to 1
    icc_profile: bytes | None  # only if it matches the pixels (a CMYK profile never does)
    path: Path | None = None
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks / XMP description

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def read_image(path: str | Path) -> LoadedImage:
    """Read a PNG, JPEG, TIFF, WebP or BMP file into float32 pixels, upright.

    Raises ImageReadError with one sentence naming the file for missing, unreadable, empty,
    non-image, corrupt, truncated or too large files.
    """
    return _with_read_errors(Path(path), _read_file)


def _read_file(fp: IO[bytes], path: Path) -> LoadedImage:
    """Decode an open file: pixels, alpha, depth, metadata, then apply EXIF orientation."""
    im = _open(fp)
    with im:
        _check_pixel_count(im, path)
        fmt = _format_name(im)
        colour, alpha, bit_depth, icc = _decode(im, fp, fmt)
        orientation = _remaining_orientation(im)
        exif = _source_exif(im, fmt)
        text = _source_text(im, fmt)
    colour, alpha = _apply_orientation(colour, alpha, orientation)
    return LoadedImage(
        pixels=colour,
        alpha=alpha,
        bit_depth=bit_depth,
        format=fmt,
        exif=exif,
        icc_profile=icc,
        path=path,
        text=text,
    )


def _decode(
    im: ImageFile.ImageFile, fp: IO[bytes], fmt: str
) -> tuple[np.ndarray, np.ndarray | None, int, bytes | None]:
    """Pixels (H x W x C float32) and alpha of any Pillow mode, with bit depth and usable ICC."""
    icc = im.info.get("icc_profile") or None
    rawmode = _tile_rawmode(im)
    if ";16" in rawmode and im.mode in ("RGB", "RGBA"):
        data = _decode_16bit_colour(im, fp, fmt, rawmode)
        return *_split_alpha(data, 65535.0), 16, _matching_icc(icc, data.shape[2] >= 3)
    if im.mode.startswith("I;16"):
        maximum = float(2 ** _tiff_bits(im, 16) - 1) if fmt == "TIFF" else 65535.0
        data = np.asarray(im).astype(np.float32)[..., None]
        return np.minimum(data / maximum, 1.0), None, 16, _matching_icc(icc, False)
    if im.mode == "I":  # 32-bit integer (e.g. signed 16-bit TIFF): read as 16-bit values
        data = np.clip(np.asarray(im).astype(np.float32) / 65535.0, 0.0, 1.0)[..., None]
        return data, None, 16, _matching_icc(icc, False)
    if im.mode == "F":  # floating point TIFF: taken as already 0..1
        data = np.clip(np.nan_to_num(np.asarray(im, dtype=np.float32)), 0.0, 1.0)[..., None]
        return data, None, 16, _matching_icc(icc, False)
    converted, icc = _to_8bit_mode(im, icc)
    data = np.asarray(converted)
    if data.ndim == 2:
        data = data[..., None]
    depth = 16 if ";16" in rawmode else 8  # e.g. 16-bit CMYK: source depth, 8-bit precision
    return *_split_alpha(data, 255.0), depth, _matching_icc(icc, data.shape[2] >= 3)


_GREY_MODES = ("1", "L", "LA", "La", "I", "F")


def read_channels(path: str | Path) -> int:
    """1 or 3, as :func:`read_image` would give, mostly from the header alone.

    Why: a batch names and routes each file by the model its channels call for before any
    slow decoding. Only palette images are decoded, since whether one is grey depends on the
    colours it uses. Raises ImageReadError like :func:`read_image`.
    """
    return _with_read_errors(Path(path), _channels_of)


def _channels_of(fp: IO[bytes], path: Path) -> int:
    im = _open(fp)
    with im:
        mode = im.mode
        if mode.startswith("I;16") or mode in _GREY_MODES:
            return 1
        if mode in ("P", "PA"):
            return 1 if _to_8bit_mode(im, im.info.get("icc_profile") or None)[0].mode in (
                "L", "LA") else 3
        return 3
