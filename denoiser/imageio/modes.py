"""Any 8-bit-or-less Pillow mode (palette, 1-bit, CMYK, premultiplied...) as grey or RGB + alpha."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from denoiser.imageio.icc import _icc_space

log = logging.getLogger(__package__)


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


def _split_alpha(data: np.ndarray, maximum: float) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 colour (H x W x 1|3) and alpha (H x W or None) from integer samples."""
    scale = np.float32(maximum)
    if data.shape[2] in (2, 4):
        colour = data[..., :-1].astype(np.float32) / scale
        return colour, data[..., -1].astype(np.float32) / scale
    return data.astype(np.float32) / scale, None
