"""A displayable picture: a base image, optional patches, cached mipmaps.

A patch is a smaller image placed over part of the base in image coordinates. The
view-first preview uses patches: the area in view is denoised (possibly at reduced
resolution when zoomed out) and painted over the original until the full result
arrives, without building another full-size image.

The base is normally full size. A photo still being decoded is shown from a reduced
decode instead: its base is smaller than the image (``size`` says how large the image
is), so zoom, pan and patches already work in full-image coordinates and nothing
moves when the full-resolution picture replaces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage


@dataclass
class Patch:
    image: QImage
    rect: QRectF  # where it goes, in image pixel coordinates


@dataclass
class Picture:
    base: QImage
    patches: list[Patch] = field(default_factory=list)
    _levels: dict[int, QImage] = field(default_factory=dict, repr=False)
    size: tuple[int, int] | None = None  # (w, h) of the image when the base is reduced

    @property
    def width(self) -> int:
        return self.size[0] if self.size else self.base.width()

    @property
    def height(self) -> int:
        return self.size[1] if self.size else self.base.height()

    @property
    def reduced(self) -> bool:
        """True when the base has fewer pixels than the image (a reduced decode)."""
        return self.base.width() < self.width

    @property
    def has_alpha(self) -> bool:
        return self.base.hasAlphaChannel()

    def with_patches(self, patches: list[Patch]) -> Picture:
        """The same base (and its reduced copies, shared) with ``patches`` on top.

        Sharing matters: rebuilding a 24 MP picture's reduced copy costs a quarter of a
        second in the GUI thread, on every preview.
        """
        return Picture(self.base, list(patches), self._levels, self.size)

    def _base_zoom(self, zoom: float) -> float:
        """``zoom`` (device px per image px) as device px per base px."""
        return zoom * self.width / max(1, self.base.width())

    @staticmethod
    def level_index(zoom: float) -> int:
        """Which halving suits ``zoom``: the smallest copy still at least as large as needed."""
        if zoom >= 0.5:
            return 0
        return min(int(math.floor(math.log2(1.0 / zoom))), 8)

    def prebuild(self, u8: np.ndarray, zoom: float, every: bool = False) -> None:
        """Make the reduced copy for ``zoom`` (``every``: also those between it and 50 %).

        Pillow's box reduce is several times faster than QImage.scaled on a 24 MP image,
        and this runs in a worker thread, so neither the first paint nor zooming in from
        "fit" later stalls the GUI thread building one.
        """
        from denoiser.gui.qimage_convert import array_to_qimage, reduce_uint8

        box = (0, 0, u8.shape[0], u8.shape[1])
        top = self.level_index(self._base_zoom(zoom))
        for level in range(1 if every else top, top + 1):
            if level == 0:
                continue
            if level in self._levels:
                continue
            small = reduce_uint8(u8, box, 2**level)
            if small.shape[0] < 2 or small.shape[1] < 2:
                break
            self._levels[level] = array_to_qimage(small, fast_paint=True)

    def level_for(self, zoom: float) -> tuple[QImage, float]:
        """The cheapest image to draw at ``zoom`` device px per image px, and its scale.

        Scaling a 24-megapixel image down on every paint is too slow, so a reduced copy
        is made once per zoom level, lazily, from the closest larger one.
        """
        if self.base.isNull():
            return self.base, 1.0
        level = self.level_index(self._base_zoom(zoom))
        if level == 0:
            return self.base, self.base.width() / self.width
        if level not in self._levels:
            src_level = max((k for k in self._levels if k < level), default=0)
            src = self._levels.get(src_level, self.base)
            f = 2 ** (level - src_level)
            w, h = max(1, src.width() // f), max(1, src.height() // f)
            self._levels[level] = src.scaled(
                w, h, Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation)
        img = self._levels[level]
        return img, img.width() / self.width
