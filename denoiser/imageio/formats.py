"""Which file types are read and written, told by the file name's suffix."""

from __future__ import annotations

from pathlib import Path

from PIL import features

from denoiser.errors import ImageWriteError

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


def is_supported(path: str | Path) -> bool:
    """Whether the file name's extension is one this package reads and writes."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def output_suffix_for(input_suffix: str) -> str:
    """Suffix to save under for "same format as the input": the input's, lower-cased.

    Accepts ".JPG" or "jpg"; anything unsupported maps to ".png" (lossless, keeps 16 bits).
    """
    suffix = input_suffix.lower()
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    return suffix if suffix in SUPPORTED_SUFFIXES else ".png"


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
