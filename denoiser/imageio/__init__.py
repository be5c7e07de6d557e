"""Reading and writing images: 8/16-bit, alpha, EXIF orientation, metadata, atomic saves.

Pixels are always float32 in 0..1, H x W x C with C = 1 (grey) or 3 (colour); alpha is kept
apart. Only numpy, Pillow and the standard library are used.

Pillow 13 decodes 16-bit RGB(A) PNG/TIFF to 8 bits and cannot encode 16-bit RGB at all, so:

* reading: such files are decoded twice by Pillow's own decoders, once with the raw mode that
  yields the high byte of every sample and once with the one that yields the low byte (for
  16-bit grey+alpha PNG one pass that copies all four bytes suffices); the PNG unfiltering,
  TIFF decompression, predictors and tiling all stay Pillow's/libtiff's (:mod:`.decode16`);
* writing: 16-bit PNG (any channel count) uses a small PNG writer (:mod:`.png16`: zlib, "Sub"
  filter, iCCP/eXIf/tEXt/iTXt chunks) and every TIFF uses a small baseline TIFF writer
  (:mod:`.tiff`: Deflate + horizontal predictor; its IFD, EXIF sub-IFDs included, is
  serialised by Pillow's ``ImageFileDirectory_v2``).

Metadata written (``text`` is stored as ``"key: value"`` lines where a format has one free-text
field): PNG gets one tEXt chunk per key (iTXt when the value is not Latin-1); JPEG, WebP and TIFF
get an XMP packet whose ``dc:description`` holds the lines (UTF-8, and it leaves the source EXIF
byte-for-byte intact, which rewriting EXIF ImageDescription would not); BMP stores no metadata.
EXIF is passed on unchanged for PNG/JPEG/WebP; for TIFF its descriptive IFD0 tags and the EXIF
and GPS sub-IFDs are copied into the new file's IFD. ``LoadedImage.exif`` always starts with
``b"Exif\\x00\\x00"`` (the form Pillow's ``save(exif=...)`` takes).

JPEG and BMP have no alpha here: an image with alpha is composited onto white for them. WebP has
no grey mode, so grey is stored as RGB; quality 100 means lossless WebP. 16-bit grey+alpha TIFF
is written as 16-bit RGBA because Pillow cannot read 16-bit grey+alpha TIFF back.
"""

from __future__ import annotations

from denoiser.imageio.formats import SUPPORTED_SUFFIXES, is_supported, output_suffix_for
from denoiser.imageio.limits import DEFAULT_MAX_MEGAPIXELS, get_max_megapixels, set_max_megapixels
from denoiser.imageio.preview import PreviewImage, read_preview
from denoiser.imageio.read import LoadedImage, read_channels, read_image
from denoiser.imageio.write import write_image

__all__ = [
    "DEFAULT_MAX_MEGAPIXELS",
    "SUPPORTED_SUFFIXES",
    "LoadedImage",
    "PreviewImage",
    "get_max_megapixels",
    "is_supported",
    "output_suffix_for",
    "read_channels",
    "read_image",
    "read_preview",
    "set_max_megapixels",
    "write_image",
]
