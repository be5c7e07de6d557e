"""16-bit RGB(A) and grey+alpha samples that Pillow 13 would decode to 8 bits.

Why two passes: Pillow's decoders run once with the raw mode that yields the high byte of
every sample and once with the one that yields the low byte, so PNG unfiltering, TIFF
decompression, predictors and tiling all stay Pillow's/libtiff's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

import numpy as np
from PIL import Image, ImageFile


def _tile_rawmode(im: ImageFile.ImageFile) -> str:
    """The raw mode of the first tile ('' when there is none), i.e. how samples are stored."""
    if not im.tile:
        return ""
    args = im.tile[0].args
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return ""


def _tiff_bits(im: Image.Image, default: int) -> int:
    """BitsPerSample of a TIFF (12-bit data is scaled by 4095, not 65535)."""
    tags = getattr(im, "tag_v2", {})
    bits = tags.get(258, (default,))
    value = bits[0] if isinstance(bits, tuple) else bits
    return int(value) if isinstance(value, int) and 1 <= value <= 16 else default


def _decode_16bit_colour(
    im: ImageFile.ImageFile, fp: IO[bytes], fmt: str, rawmode: str
) -> np.ndarray:
    """Full 16-bit samples (uint16 H x W x C) of RGB/RGBA/grey+alpha data Pillow keeps as 8 bits.

    See the module docstring: Pillow's decoder runs once per byte of each sample. The first
    pass decodes ``im`` itself, so it ends up loaded (and, for TIFF, turned upright by Pillow)
    like any other image; the second pass re-opens the file.
    """
    if rawmode == "LA;16B":  # PNG grey+alpha: decoded into RGBA, 4 bytes copied as they are
        quad = _load_with_rawmode(im, lambda raw: "RGBA").astype(np.uint16)
        return np.stack([quad[..., 0] * 256 + quad[..., 1], quad[..., 2] * 256 + quad[..., 3]], -1)
    high = _load_with_rawmode(im, _straight_rawmode)
    fp.seek(0)
    with Image.open(fp, formats=[fmt]) as again:
        low = _load_with_rawmode(again, lambda raw: _other_byte(_straight_rawmode(raw)))
    data = high.astype(np.uint16) * 256 + low
    return _unpremultiply(data) if rawmode.startswith("RGBa") else data


def _load_with_rawmode(im: ImageFile.ImageFile, change: Callable[[str], str]) -> np.ndarray:
    """Decode ``im`` with every tile's raw mode replaced by ``change(raw)``."""
    im.tile = [tile._replace(args=_replace_rawmode(tile.args, change)) for tile in im.tile]
    return np.asarray(im)


def _replace_rawmode(args: Any, change: Callable[[str], str]) -> Any:
    """Tile arguments are the raw mode itself (PNG) or a tuple starting with it (TIFF)."""
    if isinstance(args, str):
        return change(args)
    return (change(args[0]), *args[1:])


def _straight_rawmode(rawmode: str) -> str:
    """The non-premultiplied raw mode (premultiplication is undone at 16 bits afterwards)."""
    return "RGBA" + rawmode[4:] if rawmode.startswith("RGBa") else rawmode


def _other_byte(rawmode: str) -> str:
    """The raw mode reading the *other* byte of each 16-bit sample than ``rawmode`` does.

    Pillow's ";16L" unpackers take the second byte of a sample and ";16B" the first, each
    being the high byte in its own byte order; libtiff hands out native order (";16N").
    """
    if rawmode.endswith(";16N"):
        rawmode = rawmode[:-1] + ("L" if np.little_endian else "B")
    if rawmode.endswith(";16L"):
        return rawmode[:-1] + "B"
    if rawmode.endswith(";16B"):
        return rawmode[:-1] + "L"
    raise ValueError(f"not a 16-bit raw mode: {rawmode}")


def _unpremultiply(data: np.ndarray) -> np.ndarray:
    """Straight colour from premultiplied 16-bit RGBA (colour = stored / alpha)."""
    alpha = data[..., 3:4].astype(np.float64)
    colour = np.where(alpha > 0, data[..., :3] * 65535.0 / np.maximum(alpha, 1.0), 0.0)
    straight = np.clip(np.round(colour), 0, 65535).astype(np.uint16)
    return np.concatenate([straight, data[..., 3:4]], axis=-1)
