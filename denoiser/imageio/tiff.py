"""A small baseline TIFF writer: Pillow cannot encode 16-bit RGB, and 8 bits take the same path."""

from __future__ import annotations

import logging
import struct
import zlib
from typing import IO, TYPE_CHECKING

import numpy as np
from PIL import Image, TiffImagePlugin

from denoiser.imageio.exif import _DESCRIPTIVE_TAGS, _ORIENTATION, _SUB_IFDS
from denoiser.imageio.opening import _DECODE_ERRORS
from denoiser.imageio.text import _text_lines, _xmp_packet

if TYPE_CHECKING:
    from denoiser.imageio.encoders import _Metadata

log = logging.getLogger(__package__)


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
