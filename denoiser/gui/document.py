"""The open image and what has been computed for it (Qt-light: only QImage, no widgets).

Building display images is done here, in worker threads, because converting a
24-megapixel float image to a QImage takes a noticeable fraction of a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QImage

from denoiser.gui import backend
from denoiser.gui.picture import Picture
from denoiser.gui.qimage_convert import (
    array_to_qimage,
    qimage_to_array,
    residual_gain,
    residual_uint8,
    to_uint8,
    uncertainty_map,
)


@dataclass
class Rendered:
    """One finished denoise of the whole image, with its display pictures."""

    key: tuple  # the settings that produced it (model path, sigma, ...)
    model: Any
    sigma: float
    result: np.ndarray
    picture: Picture
    residual: Picture
    std: np.ndarray | None = None
    uncertainty: Picture | None = None
    device: str = ""
    seconds: float = 0.0
    raw: np.ndarray | None = None  # before any blend toward the original (VAE)


@dataclass
class Document:
    """An image the user opened, dropped or pasted."""

    name: str
    pixels: np.ndarray  # float32 H x W x C in 0..1
    original: Picture | None  # None until the display picture is built
    path: Path | None = None  # None for a pasted image
    loaded: Any = None  # the core's LoadedImage (keeps EXIF, ICC, bit depth)
    alpha: np.ndarray | None = None
    # Auto noise level per noise type (backend.model_noise_type): a camera model reads the
    # same picture's noise differently, and switching models back should not re-estimate
    sigma_estimates: dict[str, float] = field(default_factory=dict)
    rendered: Rendered | None = None
    compare: Rendered | None = None
    saved_path: Path | None = None
    display_u8: np.ndarray | None = None  # 8-bit copy for fast previews (Pillow reduce)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[2])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def bit_depth(self) -> int:
        return int(getattr(self.loaded, "bit_depth", 8) or 8)


@dataclass
class Draft:
    """A reduced decode of a photo whose full-resolution pixels are still being read.

    Why: decoding a 24-megapixel JPEG takes about a second; its reduced decode a third of
    that. The draft is shown and its area in view denoised meanwhile. Its picture is in
    full-image coordinates, so the view and the preview patches carry over unchanged to
    the full document, which replaces it as soon as it is read.
    """

    name: str
    path: Path
    u8: np.ndarray  # uint8 h x w x C, upright, 1/scale of the image in each direction
    scale: int
    size: tuple[int, int]  # (width, height) of the full-resolution image
    original: Picture
    seconds: float = 0.0  # how long the reduced decode took


def make_picture(pixels: np.ndarray, alpha: np.ndarray | None = None,
                 warm_zoom: float | None = None, u8: np.ndarray | None = None,
                 every_level: bool = True) -> Picture:
    """Display picture for ``pixels``; ``warm_zoom`` pre-builds the reduced copy for that
    zoom (``every_level``: and those between it and 50 %)."""
    if u8 is None:
        u8 = to_uint8(pixels)
    pic = Picture(array_to_qimage(u8, alpha))
    if warm_zoom is not None:
        if alpha is None:
            pic.prebuild(u8, warm_zoom, every=every_level)
        else:
            pic.level_for(warm_zoom)
    return pic


def fit_zoom(size: tuple[int, int], view: tuple[int, int]) -> float:
    """Zoom that fits an image of ``size`` (w, h) into ``view`` (w, h) device pixels."""
    w, h = size
    vw, vh = view
    if w <= 0 or h <= 0 or vw <= 0 or vh <= 0:
        return 1.0
    return min(vw / w, vh / h)


def read_draft(path: str | Path, view: tuple[int, int]) -> Draft | None:
    """Reduced decode of a JPEG for a ``view`` of (w, h) device px (worker thread).

    None when the format has no cheap reduced decode or the photo is not much larger
    than the view (its full decode is quick then, and shown at 100 % it must be sharp).
    """
    t0 = time.perf_counter()
    p = Path(path)
    small = backend.read_preview(p, view)
    if small is None:
        return None
    original = Picture(array_to_qimage(small.pixels, fast_paint=True), size=small.size)
    return Draft(name=p.name, path=p, u8=small.pixels, scale=small.scale, size=small.size,
                 original=original, seconds=time.perf_counter() - t0)


def read_document(path: str | Path) -> Document:
    """Read an image file into a Document without display pictures yet (worker thread)."""
    t0 = time.perf_counter()
    loaded = backend.read_image(path)
    pixels = np.asarray(loaded.pixels, dtype=np.float32)
    t1 = time.perf_counter()
    u8 = to_uint8(pixels, clip=False)  # read_image gives 0..1 already
    p = Path(path)
    return Document(name=p.name, pixels=pixels, original=None, path=p, loaded=loaded,
                    alpha=getattr(loaded, "alpha", None), display_u8=u8,
                    extra={"timing": {"read": t1 - t0, "u8": time.perf_counter() - t1}})


def add_display(doc: Document, view: tuple[int, int] = (0, 0)) -> Document:
    """Build the original's display picture (worker thread); only the reduced copy the
    first paint needs is made here, the others follow after the first preview."""
    t0 = time.perf_counter()
    doc.original = make_picture(doc.pixels, doc.alpha, fit_zoom(doc.size, view),
                                doc.display_u8, every_level=False)
    doc.extra.setdefault("timing", {})["display"] = time.perf_counter() - t0
    return doc


def load_document(path: str | Path, view: tuple[int, int] = (0, 0)) -> Document:
    """Read an image file and prepare it for display (worker thread)."""
    return add_display(read_document(path), view)


def document_from_qimage(image: QImage, name: str = "Pasted image") -> Document:
    """A pasted image: no file, no metadata, 8 bits."""
    pixels = qimage_to_array(image)
    u8 = to_uint8(pixels)
    return Document(name=name, pixels=pixels, original=make_picture(pixels, u8=u8),
                    display_u8=u8)


def render_pictures(original: np.ndarray, result: np.ndarray, alpha: np.ndarray | None,
                    std: np.ndarray | None, warm_zoom: float | None,
                    sigma: float | None = None) -> tuple[Picture, Picture, Picture | None]:
    """Result, residual and (for a VAE) uncertainty pictures (worker thread)."""
    pic = make_picture(result, alpha, warm_zoom)
    gain = residual_gain(sigma)
    residual = make_picture(result, None, warm_zoom, u8=residual_uint8(original, result, gain))
    unc = make_picture(uncertainty_map(std), None, warm_zoom) if std is not None else None
    return pic, residual, unc


def blend_uncertain(result: np.ndarray, original: np.ndarray, std: np.ndarray | None,
                    amount: float) -> np.ndarray:
    """Lean back toward the original where the VAE's samples disagree.

    ``amount`` 0 keeps the result; 1 gives the original wherever the uncertainty is at
    its 99th percentile or above, and proportionally less elsewhere.
    """
    if std is None or amount <= 0:
        return result
    w = uncertainty_map(std) * float(min(1.0, amount))
    if result.ndim == 3:
        w = w[:, :, None]
    return (result * (1.0 - w) + original * w).astype(np.float32)
