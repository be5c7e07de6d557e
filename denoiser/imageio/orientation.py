"""EXIF orientation: what Pillow left to apply, and turning the pixels upright with it."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from denoiser.imageio.exif import _ORIENTATION
from denoiser.imageio.opening import _DECODE_ERRORS

log = logging.getLogger(__package__)


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
