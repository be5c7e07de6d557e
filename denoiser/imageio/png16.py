"""A small 16-bit PNG writer, because Pillow 13 cannot encode 16-bit RGB."""

from __future__ import annotations

import struct
import zlib
from typing import IO, TYPE_CHECKING

import numpy as np

from denoiser.imageio.exif import _EXIF_HEADER

if TYPE_CHECKING:
    from denoiser.imageio.encoders import _Metadata


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
