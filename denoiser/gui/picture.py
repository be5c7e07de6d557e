"""A displayable picture: a full-size base image, optional patches, cached mipmaps.

A patch is a smaller image placed over part of the base in image coordinates. The
view-first preview uses patches: the area in view is denoised (possibly at reduced
resolution when zoomed out) and painted over the original until the full result
arrives, without building another full-size image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage


@dataclass
class Patch:
    image: QImage
    rect: QRectF  # where it goes, in base-image pixel coordinates


@dataclass
class Picture:
    base: QImage
    patches: list[Patch] = field(default_factory=list)
    _levels: list[QImage] = field(default_factory=list, repr=False)

    @property
    def width(self) -> int:
        return self.base.width()

    @property
    def height(self) -> int:
        return self.base.height()

    @property
    def has_alpha(self) -> bool:
        return self.base.hasAlphaChannel()

    def level_for(self, zoom: float) -> tuple[QImage, float]:
        """The cheapest image to draw at ``zoom`` device px per image px, and its scale.

        Scaling a 24-megapixel image down on every paint is too slow, so halved copies
        are made once, lazily, and the smallest one that is still at least as large as
        the screen needs is used (smooth look, little work).
        """
        if zoom >= 0.5 or self.base.isNull():
            return self.base, 1.0
        level = min(int(math.floor(math.log2(1.0 / zoom))), 8)
        while len(self._levels) < level:
            src = self._levels[-1] if self._levels else self.base
            w, h = max(1, src.width() // 2), max(1, src.height() // 2)
            if w == src.width() and h == src.height():
                break
            self._levels.append(
                src.scaled(
                    w,
                    h,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        if not self._levels or level == 0:
            return self.base, 1.0
        img = self._levels[min(level, len(self._levels)) - 1]
        return img, img.width() / self.base.width()
