"""The largest image read_image accepts: one limit for this package and Pillow alike."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from denoiser.errors import ImageReadError

DEFAULT_MAX_MEGAPIXELS = 200.0
_max_pixels: int | None = None


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


def _check_pixel_count(im: Image.Image, path: Path) -> None:
    """Refuse images over the configured limit before any pixel is decoded."""
    if _max_pixels is not None and im.width * im.height > _max_pixels:
        raise ImageReadError(
            f"Cannot open '{path}' because it has {im.width * im.height / 1e6:.0f} megapixels, "
            f"more than the limit of {get_max_megapixels():g}."
        )
