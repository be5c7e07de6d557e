"""Reading and writing images: 8/16-bit, alpha, EXIF orientation, metadata, atomic saves.

Pixels are always float32 in 0..1, H x W x C with C = 1 (grey) or 3 (colour); alpha is kept
apart. Only numpy, Pillow and the standard library are used.

Pillow 13 decodes 16-bit RGB(A) PNG/TIFF to 8 bits and cannot encode 16-bit RGB at all, so:

* reading: such files are decoded twice by Pillow's own decoders, once with the raw mode that
  yields the high byte of every sample and once with the one that yields the low byte (for
  16-bit grey+alpha PNG one pass that copies all four bytes suffices); the PNG unfiltering,
  TIFF decompression, predictors and tiling all stay Pillow's/libtiff's;
* writing: 16-bit PNG (any channel count) uses the small PNG writer below (zlib, "Sub" filter,
  iCCP/eXIf/tEXt/iTXt chunks) and every TIFF uses the small baseline TIFF writer below
  (Deflate + horizontal predictor; its IFD, EXIF sub-IFDs included, is serialised by Pillow's
  ``ImageFileDirectory_v2``).

Metadata written (``text`` is stored as ``"key: value"`` lines where a format has one free-text
field): PNG gets one tEXt chunk per key (iTXt when the value is not Latin-1); JPEG, WebP and TIFF
get an XMP packet whose ``dc:description`` holds the lines (UTF-8, and it leaves the source EXIF
byte-for-byte intact, which rewriting EXIF ImageDescription would not); BMP stores no metadata.
EXIF is passed on unchanged for PNG/JPEG/WebP; for TIFF its descriptive IFD0 tags and the EXIF
and GPS sub-IFDs are copied into the new file's IFD. ``LoadedImage.exif`` always starts with
``b"Exif\\x00\\x00"`` (the form Pillow's ``save(exif=...)`` takes).

JPEG and BMP have no alpha here: an image with alpha is composited onto white for them. WebP has
no grey mode, so grey is stored as RGB; quality 100 means lossless WebP. 16-bit grey+alpha TIFF
is written as 16-bit RGBA because Pillow cannot read 16-bit grey+alpha TIFF back.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageFile, TiffImagePlugin, UnidentifiedImageError, features
from PIL.PngImagePlugin import PngInfo

from denoiser.errors import ImageReadError, ImageWriteError

__all__ = [
    "DEFAULT_MAX_MEGAPIXELS",
    "SUPPORTED_SUFFIXES",
    "LoadedImage",
    "PreviewImage",
    "get_max_megapixels",
    "is_supported",
    "output_suffix_for",
    "read_image",
    "read_preview",
    "set_max_megapixels",
    "write_image",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
)
_FORMAT_BY_SUFFIX = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}
_READ_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP")
_SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION = 0x0112

DEFAULT_MAX_MEGAPIXELS = 200.0
_max_pixels: int | None = None
_PREVIEW_SCALES = (8, 4, 2)  # what a JPEG decoder can scale by in the DCT domain
_T = TypeVar("_T")


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


@dataclass
class PreviewImage:
    """A reduced, upright copy of a photo, decoded in a fraction of the full decode's time.

    Why: a viewer can show (and start working on) a large JPEG this way while the full
    decode, most of the wait for a 24-megapixel photo, is still running.
    """

    pixels: np.ndarray  # uint8, h x w x C (C = 1 or 3), upright; no alpha (JPEG has none)
    scale: int  # 2, 4 or 8: one preview pixel is the mean of scale x scale source pixels
    size: tuple[int, int]  # (width, height) of the upright full-resolution image


# --------------------------------------------------------------------------- size limit


def set_max_megapixels(megapixels: float | None) -> None:
    """Largest image ``read_image`` accepts (None: no limit); guards against decompression bombs.

    Pillow's own process-wide ``Image.MAX_IMAGE_PIXELS`` is set to the same value, because its
    default (about 89 MP, refusing outright at 179 MP) would otherwise reject large scans first.
    """
    global _max_pixels
    if megapixels is not None and megapixels <= 0:
        raise ValueError("The megapixel limit must be positive or None.")
    _max_pixels = None if megapixels is None else int(megapixels * 1e6)
    Image.MAX_IMAGE_PIXELS = _max_pixels


def get_max_megapixels() -> float | None:
    """The current limit set by :func:`set_max_megapixels`."""
    return None if _max_pixels is None else _max_pixels / 1e6


set_max_megapixels(DEFAULT_MAX_MEGAPIXELS)


# --------------------------------------------------------------------------- suffixes


def is_supported(path: str | Path) -> bool:
    """Whether the file name's extension is one this module reads and writes."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def output_suffix_for(input_suffix: str) -> str:
    """Suffix to save under for "same format as the input": the input's, lower-cased.

    Accepts ".JPG" or "jpg"; anything unsupported maps to ".png" (lossless, keeps 16 bits).
    """
    suffix = input_suffix.lower()
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    return suffix if suffix in SUPPORTED_SUFFIXES else ".png"


# --------------------------------------------------------------------------- reading


def read_image(path: str | Path) -> LoadedImage:
    """Read a PNG, JPEG, TIFF, WebP or BMP file into float32 pixels, upright.

    Raises ImageReadError with one sentence naming the file for missing, unreadable, empty,
    non-image, corrupt, truncated or too large files.
    """
    return _with_read_errors(Path(path), _read_file)


def _with_read_errors(path: Path, decode: Callable[[IO[bytes], Path], _T]) -> _T:
    """Run ``decode`` on the open file, turning every failure into one ImageReadError."""
    try:
        with open(path, "rb") as fp:
            if os.fstat(fp.fileno()).st_size == 0:
                raise ImageReadError(f"Cannot open '{path}' because the file is empty.")
            return decode(fp, path)
    except ImageReadError:
        raise
    except FileNotFoundError as exc:
        raise ImageReadError(f"Cannot open '{path}' because the file does not exist.") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"Cannot open '{path}' because it is a folder, not a file.") from exc
    except PermissionError as exc:
        raise ImageReadError(
            f"Cannot open '{path}' because you do not have permission to read it."
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(
            f"Cannot open '{path}' because it is larger than the limit of "
            f"{get_max_megapixels():g} megapixels."
        ) from exc
    except MemoryError as exc:
        raise ImageReadError(
            f"Cannot open '{path}' because there is not enough memory for an image that large."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(_unidentified_message(path)) from exc
    except _DECODE_ERRORS as exc:
        log.debug("Decoding %s failed", path, exc_info=True)
        raise ImageReadError(
            f"Cannot open '{path}' because the file is damaged or incomplete."
        ) from exc


# What Pillow's decoders raise on corrupt or truncated data (OSError covers I/O errors too).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
)


def _unidentified_message(path: Path) -> str:
    """Tell a damaged file of a supported type apart from something that is no image at all."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(16)
    except OSError:
        head = b""
    known = (
        head.startswith(b"\x89PNG")
        or head.startswith(b"\xff\xd8")
        or head[:4] in (b"II*\x00", b"MM\x00*")
        or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")
        or head.startswith(b"BM")
    )
    if known:
        return f"Cannot open '{path}' because the file is damaged or uses an unsupported variant."
    return (
        f"Cannot open '{path}' because it is not an image in a supported format "
        "(PNG, JPEG, TIFF, WebP or BMP)."
    )


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


def _open(fp: IO[bytes]) -> ImageFile.ImageFile:
    """Pillow's lazy open (header only), limited to the formats read here."""
    with warnings.catch_warnings():
        # Over our limit but under Pillow's hard stop Pillow only warns: make that an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(fp, formats=_READ_FORMATS)


def _format_name(im: Image.Image) -> str:
    """Pillow's format name, with a camera's multi-picture JPEG (MPO) counted as JPEG."""
    return "JPEG" if im.format == "MPO" else str(im.format)


def _check_pixel_count(im: Image.Image, path: Path) -> None:
    """Refuse images over the configured limit before any pixel is decoded."""
    if _max_pixels is not None and im.width * im.height > _max_pixels:
        raise ImageReadError(
            f"Cannot open '{path}' because it has {im.width * im.height / 1e6:.0f} megapixels, "
            f"more than the limit of {get_max_megapixels():g}."
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


def _to_8bit_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert any 8-bit-or-less Pillow mode to L, LA, RGB or RGBA (and say which ICC still fits).

    Palette images become grey when every used colour is grey and no colour profile says
    otherwise; transparency (tRNS, palette alpha) becomes an alpha channel; CMYK is converted
    through its ICC profile when it has one, and that profile is dropped either way.
    """
    mode = im.mode
    has_key = "transparency" in im.info
    if mode in ("L", "RGB", "LA", "RGBA"):
        if has_key and mode in ("L", "RGB"):
            return im.convert("LA" if mode == "L" else "RGBA"), icc
        return im, icc
    if mode in ("P", "PA"):
        with_alpha = has_key or mode == "PA"
        grey = _icc_space(icc) in (None, "GRAY") and _palette_is_grey(im)
        target = ("LA" if with_alpha else "L") if grey else ("RGBA" if with_alpha else "RGB")
        return im.convert("RGBA" if with_alpha else "RGB").convert(target), icc
    if mode == "1":
        return im.convert("L"), icc
    if mode == "La":
        return im.convert("LA"), icc
    if mode in ("RGBa", "RGBX"):
        return im.convert("RGBA" if mode == "RGBa" else "RGB"), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc), None
    return im.convert("RGB"), icc if _icc_space(icc) == "RGB" else None


def _palette_is_grey(im: Image.Image) -> bool:
    """Whether every palette entry the image uses has R == G == B."""
    palette = im.getpalette("RGB")
    if not palette:
        return False
    entries = np.array(palette, dtype=np.uint8).reshape(-1, 3)
    indices = np.asarray(im)
    if indices.ndim == 3:  # PA: index and alpha
        indices = indices[..., 0]
    used = np.bincount(indices.ravel(), minlength=256)[: len(entries)] > 0
    rgb = entries[used]
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """CMYK to sRGB through the file's own profile if it has a usable one, else Pillow's formula."""
    if icc and _icc_space(icc) == "CMYK":
        try:
            import io

            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(im, source, target, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.warning("CMYK profile unusable (%s); converting without it", exc)
    return im.convert("RGB")


def _icc_space(icc: bytes | None) -> str | None:
    """Colour space of an ICC profile ("RGB", "GRAY", "CMYK", ...) from its header."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("latin-1").strip() or None


def _matching_icc(icc: bytes | None, colour: bool) -> bytes | None:
    """The profile if it describes pixels like these (RGB for colour, GRAY for grey), else None."""
    return icc if _icc_space(icc) == ("RGB" if colour else "GRAY") else None


def _split_alpha(data: np.ndarray, maximum: float) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 colour (H x W x 1|3) and alpha (H x W or None) from integer samples."""
    scale = np.float32(maximum)
    if data.shape[2] in (2, 4):
        colour = data[..., :-1].astype(np.float32) / scale
        return colour, data[..., -1].astype(np.float32) / scale
    return data.astype(np.float32) / scale, None


def _remaining_orientation(im: Image.Image) -> int:
    """EXIF orientation still to apply after loading (Pillow 13 already applies it for TIFF
    and then removes the tag, so whatever is left has not been applied)."""
    try:
        value = im.getexif().get(_ORIENTATION, 1)
    except _DECODE_ERRORS as exc:
        log.warning("Ignoring unreadable EXIF: %s", exc)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(
    colour: np.ndarray, alpha: np.ndarray | None, orientation: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Turn pixels upright per EXIF orientation 1..8 (same mapping as ImageOps.exif_transpose)."""

    def turn(a: np.ndarray) -> np.ndarray:
        if orientation == 2:
            a = a[:, ::-1]
        elif orientation == 3:
            a = a[::-1, ::-1]
        elif orientation == 4:
            a = a[::-1]
        elif orientation == 5:
            a = a.swapaxes(0, 1)
        elif orientation == 6:
            a = np.rot90(a, -1)
        elif orientation == 7:
            a = a.swapaxes(0, 1)[::-1, ::-1]
        elif orientation == 8:
            a = np.rot90(a, 1)
        return np.ascontiguousarray(a)

    if orientation == 1:
        return colour, alpha
    return turn(colour), None if alpha is None else turn(alpha)


# IFD0 tags of a TIFF that describe the picture rather than its storage: the only ones taken
# into ``LoadedImage.exif`` (strip offsets and the like would be wrong in any other file).
_DESCRIPTIVE_TAGS = frozenset(
    {
        0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B,
        0x013C, 0x4746, 0x4749, 0x8298, 0x8769, 0x8825, 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F,
    }
)  # fmt: skip
_SUB_IFDS = (0x8769, 0x8825)  # EXIF and GPS


def _source_exif(im: Image.Image, fmt: str) -> bytes | None:
    """The source's EXIF as ``Exif\\0\\0`` + TIFF structure, with orientation reset to 1."""
    raw = im.info.get("exif")
    if isinstance(raw, bytes) and raw:
        payload = raw if raw.startswith(_EXIF_HEADER) else _EXIF_HEADER + raw
        return _reset_orientation(payload)
    try:
        exif = im.getexif()
        if fmt == "TIFF":
            for tag in [t for t in exif if t not in _DESCRIPTIVE_TAGS]:
                del exif[tag]
        if not len(exif):
            return None
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return exif.tobytes()
    except _DECODE_ERRORS as exc:
        log.warning("Dropping unreadable EXIF: %s", exc)
        return None


def _reset_orientation(payload: bytes) -> bytes | None:
    """Set the IFD0 orientation to 1 in place, so every other byte (maker notes!) stays as is."""
    tiff = payload[len(_EXIF_HEADER) :]
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, n = struct.unpack_from(order + "HHI", tiff, entry)
            if tag == _ORIENTATION and kind == 3 and n == 1:
                patched = bytearray(tiff)
                struct.pack_into(order + "H", patched, entry + 8, 1)
                return _EXIF_HEADER + bytes(patched)
        return payload
    except (KeyError, struct.error) as exc:
        log.warning("Dropping malformed EXIF: %s", exc)
        return None


def _source_text(im: Image.Image, fmt: str) -> dict[str, str]:
    """PNG text chunks, or the ``key: value`` lines of an XMP dc:description."""
    if fmt == "PNG":
        chunks = getattr(im, "text", {})
        return {
            str(k): str(v)
            for k, v in chunks.items()
            if k != "XML:com.adobe.xmp" and not str(k).startswith("Raw profile type")
        }
    xmp = im.info.get("xmp")
    if isinstance(xmp, tuple) and xmp:  # TIFF keeps BYTE tags as tuples of one bytes value
        xmp = xmp[0]
    return _parse_text_lines(_xmp_description(xmp)) if isinstance(xmp, bytes) else {}


_TEXT_LINE = re.compile(r"^([^:\n]{1,79}): (.*)$")


def _text_lines(text: dict[str, str]) -> str:
    """``key: value`` lines, the one free-text form every non-PNG format here shares."""
    return "\n".join(f"{k}: {v}" for k, v in text.items())


def _parse_text_lines(description: str | None) -> dict[str, str]:
    """Inverse of :func:`_text_lines`; other descriptions come back under "Description"."""
    if not description:
        return {}
    matches = [_TEXT_LINE.match(line) for line in description.split("\n")]
    if all(matches):
        return {m.group(1): m.group(2) for m in matches if m}
    return {"Description": description}


_XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _xmp_description(xmp: bytes) -> str | None:
    """dc:description (x-default or first) from an XMP packet; None if absent or unreadable."""
    try:
        root = ElementTree.fromstring(xmp.strip(b"\x00 \r\n\t"))
    except ElementTree.ParseError as exc:
        log.debug("Ignoring unreadable XMP: %s", exc)
        return None
    items = root.findall(".//dc:description/rdf:Alt/rdf:li", _XMP_NS)
    for item in items:
        if item.get("{http://www.w3.org/XML/1998/namespace}lang") == "x-default":
            return item.text or ""
    return (items[0].text or "") if items else None


def _xmp_packet(description: str) -> bytes:
    """A minimal XMP packet holding ``description`` as dc:description (x-default)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{_XMP_NS["rdf"]}">'
        f'<rdf:Description rdf:about="" xmlns:dc="{_XMP_NS["dc"]}">'
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">'
        f"{escape(description)}"
        "</rdf:li></rdf:Alt></dc:description>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


# --------------------------------------------------------------------------- writing


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


@dataclass
class _Metadata:
    exif: bytes | None
    icc: bytes | None
    text: dict[str, str]


def _format_for(path: Path) -> str:
    """Pillow format name for the path's suffix, or a clear ImageWriteError."""
    suffix = path.suffix.lower()
    if not suffix:
        raise ImageWriteError(
            f"Cannot save '{path}' because the file name has no extension to tell its type."
        )
    if suffix not in _FORMAT_BY_SUFFIX:
        raise ImageWriteError(
            f"Cannot save '{path}' because '{path.suffix}' is not a supported file type "
            "(use .png, .jpg, .tif, .webp or .bmp)."
        )
    fmt = _FORMAT_BY_SUFFIX[suffix]
    if fmt == "WEBP" and not features.check("webp"):
        raise ImageWriteError(
            f"Cannot save '{path}' because this installation has no WebP support."
        )
    return fmt


def _check_text(text: dict[str, str]) -> None:
    """Keys must suit PNG (1-79 Latin-1 characters, no colon/newline for the line form)."""
    for key, value in text.items():
        ok = isinstance(key, str) and 0 < len(key) < 80 and not set(key) & {":", "\n", "\0"}
        if ok:
            try:
                key.encode("latin-1")
            except UnicodeEncodeError:
                ok = False
        if not ok:
            raise ValueError(f"Unusable metadata key {key!r}: use 1-79 Latin-1 characters.")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"Metadata value for {key!r} must be a string without NUL.")


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


# ----- encoders: each writes ``samples`` (H x W x C uint8/uint16, C = 1..4) to an open file


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


# ----- 16-bit PNG


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_png16(fp: IO[bytes], samples: np.ndarray, meta: _Metadata) -> None:
    """16-bit PNG (grey, grey+alpha, RGB, RGBA) with iCCP, eXIf and text chunks.

    Every row uses the "Sub" filter: for photographic 16-bit data it compresses within ~1 %
    of Paeth at a fraction of the cost, and it vectorises trivially.
    """
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    fp.write(b"\x89PNG\r\n\x1a\n")
    fp.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)))
    if meta.icc:
        fp.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(meta.icc)))
    if meta.exif:
        exif = meta.exif
        fp.write(_png_chunk(b"eXIf", exif[6:] if exif.startswith(_EXIF_HEADER) else exif))
    for key, value in meta.text.items():
        fp.write(_png_text_chunk(key, value))
    rows = samples.astype(">u2").reshape(height, width * channels).view(np.uint8)
    bpp = 2 * channels
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 1  # filter type Sub
    filtered[:, 1 : bpp + 1] = rows[:, :bpp]
    filtered[:, bpp + 1 :] = rows[:, bpp:] - rows[:, :-bpp]  # uint8 arithmetic wraps mod 256
    compressor = zlib.compressobj(6)
    data = compressor.compress(filtered.tobytes()) + compressor.flush()
    for start in range(0, len(data), 1 << 20):
        fp.write(_png_chunk(b"IDAT", data[start : start + (1 << 20)]))
    fp.write(_png_chunk(b"IEND", b""))


def _png_text_chunk(key: str, value: str) -> bytes:
    """tEXt when the value is Latin-1, else uncompressed iTXt (UTF-8)."""
    keyword = key.encode("latin-1")
    try:
        return _png_chunk(b"tEXt", keyword + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _png_chunk(b"iTXt", keyword + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))


# ----- TIFF


def _write_tiff(fp: IO[bytes], samples: np.ndarray, meta: _Metadata) -> None:
    """Little-endian baseline TIFF: Deflate strips with horizontal differencing (predictor 2).

    Layout as Pillow writes it: header, IFD (+ its out-of-line values), then the strips.
    ``ImageFileDirectory_v2.tobytes`` adds the end of the IFD block to the strip offsets, so
    they are given relative to that point.
    """
    height, width, channels = samples.shape
    bits = samples.dtype.itemsize * 8
    differenced = samples.astype(samples.dtype.newbyteorder("<"))
    differenced[:, 1:] -= samples[:, :-1]  # predictor 2, wrapping like the decoder expects
    row_bytes = width * channels * samples.dtype.itemsize
    rows_per_strip = max(1, min(height, (1 << 20) // row_bytes))
    strips = []
    for top in range(0, height, rows_per_strip):
        strips.append(zlib.compress(differenced[top : top + rows_per_strip].tobytes(), 6))
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    _copy_exif_into(ifd, meta.exif)
    ifd[256] = width
    ifd[257] = height
    ifd[258] = (bits,) * channels
    ifd[259] = 8  # Adobe Deflate
    ifd[262] = 2 if channels >= 3 else 1  # RGB or BlackIsZero
    ifd[273] = tuple(int(x) for x in np.cumsum([0] + [len(s) for s in strips[:-1]]))
    ifd[274] = 1
    ifd[277] = channels
    ifd[278] = rows_per_strip
    ifd[279] = tuple(len(s) for s in strips)
    ifd[284] = 1
    ifd[317] = 2
    ifd[339] = (1,) * channels
    if channels in (2, 4):
        ifd[338] = (2,)  # unassociated alpha
    for tag, value in ((282, 72.0), (283, 72.0), (296, 2)):
        if tag not in ifd:
            ifd[tag] = value
    if meta.icc:
        ifd[34675] = meta.icc
    if meta.text:
        ifd[700] = _xmp_packet(_text_lines(meta.text))
    fp.write(b"II*\x00" + struct.pack("<I", 8))
    fp.write(ifd.tobytes(8))
    for strip in strips:
        fp.write(strip)


def _copy_exif_into(ifd: TiffImagePlugin.ImageFileDirectory_v2, exif_bytes: bytes | None) -> None:
    """Descriptive IFD0 tags plus the EXIF/GPS sub-IFDs of ``exif_bytes`` into a TIFF IFD."""
    if not exif_bytes:
        return
    exif = Image.Exif()
    try:
        exif.load(exif_bytes)
        for tag in exif:
            if tag not in _DESCRIPTIVE_TAGS or tag == _ORIENTATION:
                continue
            if tag in _SUB_IFDS:
                sub = {k: v for k, v in exif.get_ifd(tag).items() if k != 0xA005}  # no Interop
                if sub:
                    ifd[tag] = sub
            else:
                ifd[tag] = exif[tag]
    except _DECODE_ERRORS as exc:
        log.warning("Not copying unreadable EXIF into TIFF: %s", exc)


# ----- atomic file replacement


def _atomic_write(
    path: Path, encode: Callable[[IO[bytes]], None], overwrite: bool, fmt: str
) -> None:
    """Encode into a temporary file beside ``path``, fsync, then move it into place.

    The temporary file is removed on any failure (KeyboardInterrupt included), so neither a
    partial image nor a stray temporary is ever left. Without ``overwrite`` the final step is
    a hard link, which fails atomically if the name was taken meanwhile.
    """
    folder = path.parent
    if path.is_dir():
        raise ImageWriteError(f"Cannot save to '{path}' because it is a folder.")
    if not overwrite and os.path.lexists(path):
        raise ImageWriteError(f"Cannot save '{path}' because a file with that name already exists.")
    if not folder.is_dir():
        raise ImageWriteError(f"Cannot save '{path}' because the folder '{folder}' does not exist.")
    try:
        temp, fd = _create_temp(folder, path.name)
    except OSError as exc:
        raise ImageWriteError(_os_error_message(path, exc)) from exc
    try:
        with os.fdopen(fd, "wb") as fp:
            encode(fp)
            fp.flush()
            os.fsync(fp.fileno())
        _move_into_place(temp, path, overwrite)
    except BaseException as exc:
        _remove_quietly(temp)
        if isinstance(exc, ImageWriteError) or not isinstance(exc, Exception):
            raise
        if isinstance(exc, OSError) and exc.errno is not None:
            raise ImageWriteError(_os_error_message(path, exc)) from exc
        raise ImageWriteError(f"Cannot save '{path}' as {fmt}: {exc}.") from exc


def _create_temp(folder: Path, name: str) -> tuple[Path, int]:
    """Exclusive new file with the user's default permissions (mkstemp's 0600 would stick)."""
    for _ in range(8):
        temp = folder / f".{name[:100]}.{secrets.token_hex(4)}.part"
        try:
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(folder))


_O_BINARY = getattr(os, "O_BINARY", 0)


def _move_into_place(temp: Path, path: Path, overwrite: bool) -> None:
    """os.replace, or a no-clobber hard link when existing files must be kept."""
    if overwrite:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)
    except FileExistsError as exc:
        raise ImageWriteError(
            f"Cannot save '{path}' because a file with that name already exists."
        ) from exc
    except OSError:  # file system without hard links: check, then replace
        if os.path.lexists(path):
            raise ImageWriteError(
                f"Cannot save '{path}' because a file with that name already exists."
            ) from None
        os.replace(temp, path)
        return
    os.unlink(temp)


def _remove_quietly(temp: Path) -> None:
    """Delete a temporary file that may already be gone; other failures are logged."""
    try:
        os.unlink(temp)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("Could not remove temporary file %s: %s", temp, exc)


def _os_error_message(path: Path, exc: OSError) -> str:
    """One sentence for the common reasons a save fails."""
    reasons = {
        errno.EACCES: f"you do not have permission to write in '{path.parent}'",
        errno.EPERM: f"you do not have permission to write in '{path.parent}'",
        errno.EROFS: f"'{path.parent}' is on a read-only disk",
        errno.ENOSPC: "the disk is full",
        getattr(errno, "EDQUOT", -1): "your disk quota is used up",
        errno.ENAMETOOLONG: "the file name is too long",
    }
    reason = reasons.get(exc.errno or 0, (exc.strerror or str(exc)).rstrip(".").lower())
    return f"Cannot save '{path}' because {reason}."
