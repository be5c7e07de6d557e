"""Opening a file for decoding, with every way that can fail turned into one ImageReadError."""

from __future__ import annotations

import logging
import os
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from PIL import Image, ImageFile, UnidentifiedImageError

from denoiser.errors import ImageReadError
from denoiser.imageio.formats import _READ_FORMATS
from denoiser.imageio.limits import get_max_megapixels

log = logging.getLogger(__package__)
_T = TypeVar("_T")

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


def _open(fp: IO[bytes]) -> ImageFile.ImageFile:
    """Pillow's lazy open (header only), limited to the formats read here."""
    with warnings.catch_warnings():
        # Over our limit but under Pillow's hard stop Pillow only warns: make that an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(fp, formats=_READ_FORMATS)


def _format_name(im: Image.Image) -> str:
    """Pillow's format name, with a camera's multi-picture JPEG (MPO) counted as JPEG."""
    return "JPEG" if im.format == "MPO" else str(im.format)
