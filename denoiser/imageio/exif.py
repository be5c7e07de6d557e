"""The source's EXIF, carried to the saved file with its orientation reset to 1 (upright)."""

from __future__ import annotations

import logging
import struct

from PIL import Image

from denoiser.imageio.opening import _DECODE_ERRORS

log = logging.getLogger(__package__)

_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION = 0x0112

# IFD0 tags of a TIFF that describe the picture rather than its storage: the only ones taken
# into ``LoadedImage.exif`` (strip offsets and the like would be wrong in any other file).
_DESCRIPTIVE_TAGS = frozenset(
    {
        0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B,
        0x013C, 0x4746, 0x4749, 0x8298, 0x8769, 0x8825, 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F,
    }
)  # fmt: skip
_SUB_IFDS = (0x8769, 0x8825)  # EXIF and GPS


def _source_exif(im: Image.Image, fmt: str) -> bytes | None:
    """The source's EXIF as ``Exif\\0\\0`` + TIFF structure, with orientation reset to 1."""
    raw = im.info.get("exif")
    if isinstance(raw, bytes) and raw:
        payload = raw if raw.startswith(_EXIF_HEADER) else _EXIF_HEADER + raw
        return _reset_orientation(payload)
    try:
        exif = im.getexif()
        if fmt == "TIFF":
            for tag in [t for t in exif if t not in _DESCRIPTIVE_TAGS]:
                del exif[tag]
        if not len(exif):
            return None
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return exif.tobytes()
    except _DECODE_ERRORS as exc:
        log.warning("Dropping unreadable EXIF: %s", exc)
        return None


def _reset_orientation(payload: bytes) -> bytes | None:
    """Set the IFD0 orientation to 1 in place, so every other byte (maker notes!) stays as is."""
    tiff = payload[len(_EXIF_HEADER) :]
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, n = struct.unpack_from(order + "HHI", tiff, entry)
            if tag == _ORIENTATION and kind == 3 and n == 1:
                patched = bytearray(tiff)
                struct.pack_into(order + "H", patched, entry + 8, 1)
                return _EXIF_HEADER + bytes(patched)
        return payload
    except (KeyError, struct.error) as exc:
        log.warning("Dropping malformed EXIF: %s", exc)
        return None
