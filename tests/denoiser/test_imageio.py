"""denoiser.imageio: every image here is built in tmp_path by the test itself."""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from denoiser import imageio
from denoiser.errors import DenoiserError, ImageReadError, ImageWriteError
from denoiser.imageio import LoadedImage, read_image, write_image

RNG = np.random.default_rng(1234)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def random_samples(height: int, width: int, channels: int, depth: int) -> np.ndarray:
    """Integer samples using every bit of the depth (so an 8-bit shortcut cannot pass)."""
    dtype = np.uint8 if depth == 8 else np.uint16
    return RNG.integers(0, 2**depth, (height, width, channels)).astype(dtype)


def smooth_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """Gradient colour image (float 0..1): realistic for lossy codecs."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.dstack([x / width, y / height, 0.5 + 0.4 * np.sin(x / 7.0) * np.cos(y / 5.0)])


def stacked(img: LoadedImage) -> np.ndarray:
    """Colour and alpha of a loaded image as one H x W x C array."""
    return img.pixels if img.alpha is None else np.dstack([img.pixels, img.alpha])


def exif_bytes(orientation: int | None = None, **ifd0: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = ifd0.get("make", "TestCam")
    exif[0x0110] = ifd0.get("model", "Model 1")
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x8769] = {0x9003: "2021:02:03 04:05:06"}  # DateTimeOriginal in the EXIF sub-IFD
    return exif.tobytes()


def parse_exif(data: bytes | None) -> Image.Exif:
    assert data is not None and data.startswith(b"Exif\x00\x00")
    exif = Image.Exif()
    exif.load(data)
    return exif


def assert_one_sentence_naming(message: str, path: Path) -> None:
    assert str(path) in message
    assert message.endswith(".")
    assert ". " not in message.replace(str(path), "<file>")
    assert "\n" not in message


# ----------------------------------------------------------------------------- suffixes


def test_supported_suffixes_and_helpers() -> None:
    assert imageio.SUPPORTED_SUFFIXES == {
        ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"
    }  # fmt: skip
    assert imageio.is_supported("a/b/photo.JPG")
    assert imageio.is_supported(Path("scan.tiff"))
    assert not imageio.is_supported("clip.gif")
    assert not imageio.is_supported("noextension")
    assert imageio.output_suffix_for(".JPEG") == ".jpeg"
    assert imageio.output_suffix_for("tif") == ".tif"
    assert imageio.output_suffix_for(".gif") == ".png"


# ----------------------------------------------------------------------------- round trips


LOSSLESS = [".png", ".tif", ".tiff"]


@pytest.mark.parametrize("suffix", LOSSLESS)
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_lossless_round_trip_is_exact(
    tmp_path: Path, suffix: str, depth: int, channels: int
) -> None:
    samples = random_samples(21, 34, channels, depth)
    path = write_image(tmp_path / f"img{suffix}", samples, bit_depth=depth)
    img = read_image(path)
    assert img.bit_depth == depth
    assert img.format == ("PNG" if suffix == ".png" else "TIFF")
    expected = samples.astype(np.float32) / (2**depth - 1)
    if suffix != ".png" and depth == 16 and channels == 2:
        # documented: 16-bit grey+alpha TIFF is stored as RGBA (Pillow cannot read the former)
        expected = expected[..., [0, 0, 0, 1]]
    got = stacked(img)
    assert got.dtype == np.float32
    assert (img.alpha is not None) == (channels in (2, 4))
    np.testing.assert_array_equal(np.rint(got * (2**depth - 1)), np.rint(expected * (2**depth - 1)))


def test_sixteen_bit_input_gives_sixteen_bit_output(tmp_path: Path) -> None:
    """bit_depth defaults to like.bit_depth, and the low byte of every sample survives."""
    for channels in (1, 3):
        samples = random_samples(10, 12, channels, 16)
        source = read_image(write_image(tmp_path / f"src{channels}.png", samples, bit_depth=16))
        out = write_image(tmp_path / f"out{channels}.tif", source.pixels, like=source)
        again = read_image(out)
        assert again.bit_depth == 16
        np.testing.assert_array_equal(np.rint(again.pixels * 65535).astype(np.uint16), samples)


def test_eight_bit_only_formats_write_eight_bits(tmp_path: Path) -> None:
    samples = random_samples(8, 8, 3, 16)
    img = read_image(write_image(tmp_path / "a.bmp", samples, bit_depth=16))
    assert img.bit_depth == 8
    np.testing.assert_allclose(img.pixels, samples / 65535.0, atol=0.5 / 255 + 1e-6)


def test_webp_lossless_and_lossy(tmp_path: Path) -> None:
    rgba = random_samples(16, 20, 4, 8)
    rgba[0, 0, 3] = 0  # colour under a fully transparent pixel must survive too
    img = read_image(write_image(tmp_path / "lossless.webp", rgba, quality=100))
    assert img.format == "WEBP"
    np.testing.assert_array_equal(np.rint(stacked(img) * 255).astype(np.uint8), rgba)

    smooth = smooth_rgb()
    lossy = read_image(write_image(tmp_path / "lossy.webp", smooth, quality=90))
    assert np.abs(lossy.pixels - smooth).mean() < 3 / 255


def test_webp_stores_grey_as_rgb(tmp_path: Path) -> None:
    grey = random_samples(9, 11, 1, 8)
    img = read_image(write_image(tmp_path / "g.webp", grey, quality=100))
    assert img.channels == 3
    for c in range(3):
        np.testing.assert_array_equal(np.rint(img.pixels[..., c] * 255), grey[..., 0])


@pytest.mark.parametrize("channels", [1, 3])
def test_bmp_round_trip(tmp_path: Path, channels: int) -> None:
    samples = random_samples(13, 7, channels, 8)
    img = read_image(write_image(tmp_path / "a.bmp", samples))
    assert img.format == "BMP" and img.channels == channels
    np.testing.assert_array_equal(np.rint(img.pixels * 255).astype(np.uint8), samples)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg_round_trip_within_tolerance(tmp_path: Path, suffix: str) -> None:
    smooth = smooth_rgb()
    img = read_image(write_image(tmp_path / f"a{suffix}", smooth, quality=95))
    assert img.format == "JPEG" and img.bit_depth == 8
    assert np.abs(img.pixels - smooth).mean() < 1.5 / 255
    assert np.abs(img.pixels - smooth).max() < 12 / 255
    grey = read_image(write_image(tmp_path / f"g{suffix}", smooth[..., :1], quality=95))
    assert grey.channels == 1


def test_alpha_is_composited_on_white_where_format_has_none(tmp_path: Path) -> None:
    colour = np.zeros((4, 4, 3), np.float32)
    alpha = np.ones((4, 4), np.float32)
    alpha[:2] = 0.0
    for suffix in (".jpg", ".bmp"):
        img = read_image(write_image(tmp_path / f"a{suffix}", colour, alpha=alpha, quality=100))
        assert img.alpha is None
        assert img.pixels[:2].min() > 0.95  # transparent became white
        assert img.pixels[2:].max() < 0.05  # opaque black stayed black


def test_alpha_defaults_to_like_and_round_trips(tmp_path: Path) -> None:
    rgba = random_samples(6, 5, 4, 8)
    source = read_image(write_image(tmp_path / "src.png", rgba))
    out = read_image(write_image(tmp_path / "out.tif", source.pixels, like=source))
    np.testing.assert_array_equal(out.alpha, source.alpha)


def test_alpha_of_like_must_fit(tmp_path: Path) -> None:
    source = read_image(write_image(tmp_path / "src.png", random_samples(6, 5, 4, 8)))
    with pytest.raises(ImageWriteError, match="alpha"):
        write_image(tmp_path / "out.png", np.zeros((3, 3, 3), np.float32), like=source)
    assert not (tmp_path / "out.png").exists()


def test_values_are_clipped_and_rounded(tmp_path: Path) -> None:
    pixels = np.array([[[-0.5], [0.5 / 255], [0.6 / 255], [1.7]]], np.float32)
    img = read_image(write_image(tmp_path / "c.png", pixels))
    np.testing.assert_array_equal(np.rint(img.pixels[0, :, 0] * 255), [0, 0, 1, 255])


def test_loaded_image_properties(tmp_path: Path) -> None:
    img = read_image(write_image(tmp_path / "p.png", random_samples(30, 40, 3, 8)))
    assert (img.height, img.width, img.channels) == (30, 40, 3)
    assert img.megapixels == pytest.approx(0.0012)
    assert img.path == tmp_path / "p.png"


# ----------------------------------------------------------------------------- 16-bit sources


def png16_bytes(samples: np.ndarray, interlace: bool = False) -> bytes:
    """Independent 16-bit PNG encoder (filter None, optional Adam7) for reader tests."""
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    big = samples.astype(">u2")
    passes = (
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
        if interlace
        else [(0, 0, 1, 1)]
    )  # fmt: skip
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = big[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, int(interlace))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("interlace", [False, True])
def test_reads_foreign_16bit_png(tmp_path: Path, channels: int, interlace: bool) -> None:
    samples = random_samples(19, 23, channels, 16)
    path = tmp_path / "foreign.png"
    path.write_bytes(png16_bytes(samples, interlace))
    img = read_image(path)
    assert img.bit_depth == 16
    np.testing.assert_array_equal(np.rint(stacked(img) * 65535).astype(np.uint16), samples)


TIFF_VARIANTS = [
    {},
    {"byteorder": ">"},
    {"compression": "zlib"},
    {"compression": "zlib", "predictor": 2},
    {"tile": (16, 16)},
    {"tile": (16, 16), "compression": "zlib", "byteorder": ">"},
    {"rowsperstrip": 3},
]


@pytest.mark.parametrize("variant", TIFF_VARIANTS, ids=str)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_reads_foreign_16bit_tiff(tmp_path: Path, variant: dict, channels: int) -> None:
    tifffile = pytest.importorskip("tifffile")
    samples = random_samples(37, 45, channels, 16)
    extra = {"photometric": "rgb", "extrasamples": ["unassalpha"]} if channels == 4 else {}
    path = tmp_path / "foreign.tif"
    tifffile.imwrite(path, samples[..., 0] if channels == 1 else samples, **variant, **extra)
    img = read_image(path)
    assert img.bit_depth == 16
    np.testing.assert_array_equal(np.rint(stacked(img) * 65535).astype(np.uint16), samples)


def test_own_tiff_is_read_correctly_by_tifffile(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    samples = random_samples(300, 211, 4, 16)  # several strips
    path = write_image(tmp_path / "mine.tif", samples, bit_depth=16)
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(tif.pages[0].asarray(), samples)


def test_own_16bit_png_matches_pillow_on_grey(tmp_path: Path) -> None:
    samples = random_samples(17, 9, 1, 16)
    path = write_image(tmp_path / "g16.png", samples, bit_depth=16)
    with Image.open(path) as im:
        assert im.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(im), samples[..., 0])


# ----------------------------------------------------------------------------- Pillow modes


def save_pillow(im: Image.Image, path: Path, **kwargs) -> Path:
    im.save(path, **kwargs)
    return path


def test_palette_without_transparency_becomes_rgb(tmp_path: Path) -> None:
    rgb = Image.fromarray(random_samples(10, 10, 3, 8))
    pal = rgb.quantize(16)
    img = read_image(save_pillow(pal, tmp_path / "p.png"))
    assert img.channels == 3 and img.alpha is None and img.bit_depth == 8
    np.testing.assert_array_equal(np.rint(img.pixels * 255), np.asarray(pal.convert("RGB")))


def test_grey_palette_becomes_grey(tmp_path: Path) -> None:
    pal = Image.fromarray(random_samples(10, 10, 1, 8)[..., 0]).convert("P")
    assert pal.mode == "P"
    img = read_image(save_pillow(pal, tmp_path / "gp.png"))
    assert img.channels == 1
    np.testing.assert_array_equal(np.rint(img.pixels[..., 0] * 255), np.asarray(pal.convert("L")))


def test_palette_with_transparency_gets_alpha(tmp_path: Path) -> None:
    indices = np.array([[0, 1], [2, 1]], np.uint8)
    pal = Image.fromarray(indices, mode="P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    img = read_image(save_pillow(pal, tmp_path / "t.png", transparency=1))
    assert img.channels == 3
    np.testing.assert_array_equal(img.alpha, [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(img.pixels[0, 0], [1.0, 0.0, 0.0])

    per_entry = read_image(save_pillow(pal, tmp_path / "t2.png", transparency=bytes([255, 128, 0])))
    np.testing.assert_allclose(per_entry.alpha, [[1.0, 128 / 255], [0.0, 128 / 255]], atol=1e-6)


def _mode_samples(tmp_path: Path) -> list[Path]:
    """One file of each kind whose channel count the header may or may not tell."""
    grey = Image.fromarray(random_samples(6, 8, 1, 8)[..., 0])
    rgb = Image.fromarray(random_samples(6, 8, 3, 8))
    made = [
        (grey, "l.png", {}), (grey.convert("LA"), "la.png", {}), (rgb, "rgb.jpg", {}),
        (rgb.convert("RGBA"), "rgba.png", {}), (grey.convert("1"), "bits.png", {}),
        (grey.convert("P"), "grey-palette.png", {}), (rgb.quantize(8), "palette.png", {}),
        (Image.fromarray(random_samples(6, 8, 1, 16)[..., 0]), "l16.png", {}),
        (Image.fromarray(random_samples(6, 8, 4, 8), mode="CMYK"), "cmyk.jpg", {}),
        (grey, "k.png", {"transparency": 20}),
    ]
    return [save_pillow(im, tmp_path / name, **kw) for im, name, kw in made]


def test_read_channels_agrees_with_read_image(tmp_path: Path) -> None:
    paths = _mode_samples(tmp_path)
    got = {p.name: imageio.read_channels(p) for p in paths}
    assert got == {p.name: read_image(p).channels for p in paths}
    assert got["grey-palette.png"] == 1 and got["palette.png"] == 3 and got["l16.png"] == 1
    with pytest.raises(ImageReadError, match="broken.png"):
        bad = tmp_path / "broken.png"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
        imageio.read_channels(bad)


def test_grey_with_transparent_colour_key(tmp_path: Path) -> None:
    grey = Image.fromarray(np.array([[10, 20], [20, 30]], np.uint8))
    img = read_image(save_pillow(grey, tmp_path / "k.png", transparency=20))
    assert img.channels == 1
    np.testing.assert_array_equal(img.alpha, [[1.0, 0.0], [0.0, 1.0]])


def test_la_and_one_bit(tmp_path: Path) -> None:
    la = random_samples(5, 6, 2, 8)
    img = read_image(save_pillow(Image.fromarray(la, mode="LA"), tmp_path / "la.png"))
    np.testing.assert_array_equal(np.rint(stacked(img) * 255).astype(np.uint8), la)

    bits = (random_samples(8, 9, 1, 8)[..., 0] > 127).astype(np.uint8) * 255
    one = Image.fromarray(bits).convert("1")
    img = read_image(save_pillow(one, tmp_path / "one.png"))
    assert img.channels == 1 and img.bit_depth == 8
    np.testing.assert_array_equal(img.pixels[..., 0], bits / 255.0)


def fake_icc(space: bytes) -> bytes:
    """A profile header that only declares its colour space (enough to test attachment)."""
    header = bytearray(128)
    header[12:16] = b"mntr"
    header[16:20] = space
    header[36:40] = b"acsp"
    struct.pack_into(">I", header, 0, len(header))
    return bytes(header)


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_becomes_rgb_and_drops_its_profile(tmp_path: Path, suffix: str) -> None:
    cmyk = Image.fromarray(random_samples(8, 8, 4, 8), mode="CMYK")
    path = save_pillow(cmyk, tmp_path / f"c{suffix}", icc_profile=fake_icc(b"CMYK"))
    img = read_image(path)
    assert img.channels == 3
    assert img.icc_profile is None
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB"))  # the unusable profile is ignored
    np.testing.assert_array_equal(np.rint(img.pixels * 255), expected)
    out = read_image(write_image(tmp_path / "out.png", img.pixels, like=img))
    assert out.icc_profile is None


# ----------------------------------------------------------------------------- orientation


def asymmetric_rgb(height: int = 6, width: int = 10) -> np.ndarray:
    data = np.zeros((height, width, 3), np.uint8)
    data[..., 0] = np.arange(width)[None] * 20
    data[..., 1] = np.arange(height)[:, None] * 40
    data[0, 0] = (255, 255, 255)
    return data


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".jpg"])
def test_exif_orientation_is_applied_once(tmp_path: Path, suffix: str, orientation: int) -> None:
    raw = Image.fromarray(asymmetric_rgb())
    path = tmp_path / f"o{orientation}{suffix}"
    extra = {"quality": 100, "subsampling": 0} if suffix == ".jpg" else {}
    if suffix == ".webp":
        extra = {"lossless": True}
    raw.save(path, exif=exif_bytes(orientation), **extra)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    img = read_image(path)
    assert img.pixels.shape[:2] == expected.shape[:2] == ((10, 6) if orientation > 4 else (6, 10))
    np.testing.assert_array_equal(np.rint(img.pixels * 255).astype(np.uint8), expected)
    exif = parse_exif(img.exif)
    assert exif.get(0x0112, 1) == 1
    assert exif[0x010F] == "TestCam"
    assert exif.get_ifd(0x8769)[0x9003] == "2021:02:03 04:05:06"


def test_orientation_six_turns_landscape_to_portrait(tmp_path: Path) -> None:
    """Independent of Pillow's transpose: 6 means rotate 90 degrees clockwise to view."""
    data = asymmetric_rgb()
    path = tmp_path / "six.png"
    Image.fromarray(data).save(path, exif=exif_bytes(6))
    img = read_image(path)
    assert (img.height, img.width) == (10, 6)
    # the stored top-left pixel (white) ends up top-right
    np.testing.assert_array_equal(img.pixels[0, -1], [1.0, 1.0, 1.0])


def test_orientation_of_16bit_tiff_and_alpha(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    samples = random_samples(5, 9, 4, 16)
    path = tmp_path / "o.tif"
    tifffile.imwrite(
        path, samples, photometric="rgb", extrasamples=["unassalpha"],
        extratags=[(274, 3, 1, 8, True)],
    )  # fmt: skip
    img = read_image(path)
    expected = np.rot90(samples, 1)  # 8: rotate 90 counter-clockwise to view
    np.testing.assert_array_equal(np.rint(stacked(img) * 65535).astype(np.uint16), expected)


def test_exif_orientation_reset_leaves_other_bytes_alone(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    original = exif_bytes(3)
    Image.fromarray(asymmetric_rgb()).save(path, exif=original)
    img = read_image(path)
    assert img.exif is not None and len(img.exif) == len(original)
    differing = [i for i, (a, b) in enumerate(zip(img.exif, original, strict=True)) if a != b]
    assert len(differing) == 1  # only the orientation value's byte


# ----------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
@pytest.mark.parametrize("depth", [8, 16])
def test_exif_icc_and_text_are_kept(tmp_path: Path, suffix: str, depth: int) -> None:
    source_path = tmp_path / "source.png"
    Image.fromarray(asymmetric_rgb()).save(source_path, exif=exif_bytes(1), icc_profile=SRGB)
    source = read_image(source_path)
    text = {"Software": "denoiser-studio 0.1", "Comment": "denoised with model Ünet v2, sigma 25"}
    out = write_image(
        tmp_path / f"out{suffix}", source.pixels, like=source, bit_depth=depth, text=text
    )
    img = read_image(out)
    assert img.icc_profile == SRGB
    exif = parse_exif(img.exif)
    assert exif[0x010F] == "TestCam"
    assert exif.get_ifd(0x8769)[0x9003] == "2021:02:03 04:05:06"
    assert img.text == text


def test_icc_is_only_attached_when_it_fits(tmp_path: Path) -> None:
    colour = LoadedImage(np.zeros((4, 4, 3), np.float32), None, 8, "PNG", None, SRGB)
    grey = read_image(write_image(tmp_path / "g.png", np.zeros((4, 4, 1)), like=colour))
    assert grey.icc_profile is None
    grey_icc = fake_icc(b"GRAY")
    grey_src = LoadedImage(np.zeros((4, 4, 1), np.float32), None, 8, "PNG", None, grey_icc)
    for suffix in (".png", ".tif"):
        kept = read_image(write_image(tmp_path / f"k{suffix}", np.zeros((4, 4)), like=grey_src))
        assert kept.icc_profile == grey_icc
    as_rgb = read_image(write_image(tmp_path / "w.webp", np.zeros((4, 4)), like=grey_src))
    assert as_rgb.icc_profile is None  # WebP stores grey as RGB: a GRAY profile would lie


def test_png_text_readable_by_pillow(tmp_path: Path) -> None:
    for depth in (8, 16):
        path = write_image(
            tmp_path / f"t{depth}.png", np.zeros((2, 2, 3)), bit_depth=depth,
            text={"Description": "sigma 15", "Author": "Zoë"},
        )  # fmt: skip
        with Image.open(path) as im:
            assert im.text == {"Description": "sigma 15", "Author": "Zoë"}


def test_bad_text_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", np.zeros((2, 2)), text={"a: b": "c"})
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- read errors


@pytest.fixture
def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(random_samples(64, 64, 3, 8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(ImageReadError, match="does not exist") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("shopping list: milk, eggs\n")
    with pytest.raises(ImageReadError, match="not an image") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(ImageReadError, match="supported format"):
        read_image(path)


def test_corrupt_header(tmp_path: Path, png_bytes: bytes) -> None:
    path = tmp_path / "corrupt.png"
    path.write_bytes(png_bytes[:8] + b"\x00garbage" * 20)
    with pytest.raises(ImageReadError, match="damaged") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)


def test_corrupt_pixel_data(tmp_path: Path, png_bytes: bytes) -> None:
    data = bytearray(png_bytes)
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 400] = bytes(390)  # zeroed deflate stream
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="damaged") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP", "BMP"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(random_samples(80, 80, 3, 8)).save(buffer, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="damaged|incomplete") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.png"
    Image.new("L", (4, 4)).save(path)
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: simulate what the OS would say
        real_open = open

        def deny(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", deny)
    try:
        with pytest.raises(ImageReadError, match="permission") as info:
            read_image(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert_one_sentence_naming(str(info.value), path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)


@pytest.fixture
def restore_limit():
    before = imageio.get_max_megapixels()
    yield
    imageio.set_max_megapixels(before)


def test_default_limit_allows_large_scans(restore_limit) -> None:
    assert imageio.get_max_megapixels() == imageio.DEFAULT_MAX_MEGAPIXELS == 200
    assert Image.MAX_IMAGE_PIXELS == 200_000_000


@pytest.mark.parametrize("side", [150, 300])  # over the limit, and over twice the limit
def test_decompression_bomb_limit(tmp_path: Path, restore_limit, side: int) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (side, side)).save(path)
    imageio.set_max_megapixels(0.02)
    with pytest.raises(ImageReadError, match="limit") as info:
        read_image(path)
    assert_one_sentence_naming(str(info.value), path)
    imageio.set_max_megapixels(None)
    assert read_image(path).width == side


def test_errors_share_the_base_class() -> None:
    assert issubclass(ImageReadError, DenoiserError)
    assert issubclass(ImageWriteError, DenoiserError)


# ----------------------------------------------------------------------------- write errors


def test_refuses_to_replace_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keep.png"
    path.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="already exists") as info:
        write_image(path, np.zeros((2, 2)))
    assert_one_sentence_naming(str(info.value), path)
    assert path.read_bytes() == b"precious"
    write_image(path, np.ones((2, 2)), overwrite=True)
    assert read_image(path).pixels.min() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_unknown_or_missing_suffix(tmp_path: Path) -> None:
    for name in ("out.gif", "out"):
        with pytest.raises(ImageWriteError) as info:
            write_image(tmp_path / name, np.zeros((2, 2)))
        assert_one_sentence_naming(str(info.value), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "x.png"
    with pytest.raises(ImageWriteError, match="does not exist") as info:
        write_image(path, np.zeros((2, 2)))
    assert_one_sentence_naming(str(info.value), path)


def test_destination_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "pics.png"
    folder.mkdir()
    with pytest.raises(ImageWriteError, match="folder"):
        write_image(folder, np.zeros((2, 2)), overwrite=True)


def test_unwritable_folder_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "x.png"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    else:  # root writes anywhere: simulate the refusal

        def deny(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(imageio.atomic.os, "open", deny)
    try:
        with pytest.raises(ImageWriteError, match="permission") as info:
            write_image(path, np.zeros((2, 2)))
    finally:
        folder.chmod(stat.S_IRWXU)
    assert_one_sentence_naming(str(info.value), path)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError("encoder exploded"), KeyboardInterrupt()])
def test_failure_while_encoding_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    def half_then_fail(fp, samples, meta, quality):
        fp.write(b"\x89PNG partial")
        raise error

    monkeypatch.setitem(imageio.encoders._ENCODERS, "PNG", half_then_fail)
    path = tmp_path / "x.png"
    expected = ImageWriteError if isinstance(error, Exception) else KeyboardInterrupt
    with pytest.raises(expected):
        write_image(path, np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_old_file_when_overwriting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_image(tmp_path / "x.png", np.zeros((2, 2)))
    before = path.read_bytes()

    def fail(fp, samples, meta, quality):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(imageio.encoders._ENCODERS, "PNG", fail)
    with pytest.raises(ImageWriteError, match="disk is full"):
        write_image(path, np.ones((2, 2)), overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_invalid_values_are_refused(tmp_path: Path) -> None:
    pixels = np.zeros((3, 3), np.float32)
    pixels[1, 1] = np.nan
    with pytest.raises(ImageWriteError, match="NaN"):
        write_image(tmp_path / "nan.png", pixels)
    assert list(tmp_path.iterdir()) == []


def test_written_file_has_normal_permissions(tmp_path: Path) -> None:
    path = write_image(tmp_path / "p.png", np.zeros((2, 2)))
    umask = os.umask(0)
    os.umask(umask)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_reads_16bit_tiff_with_extra_or_premultiplied_alpha(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    samples = random_samples(9, 11, 4, 16)
    samples[..., 3] = np.maximum(samples[..., 3], 1000)
    tifffile.imwrite(tmp_path / "x.tif", samples, photometric="rgb", extrasamples=["unspecified"])
    img = read_image(tmp_path / "x.tif")
    assert img.alpha is None  # an unspecified extra sample is not transparency
    np.testing.assert_array_equal(np.rint(img.pixels * 65535), samples[..., :3])

    premultiplied = samples.copy()
    premultiplied[..., :3] = np.rint(samples[..., :3] * (samples[..., 3:] / 65535.0))
    tifffile.imwrite(
        tmp_path / "p.tif", premultiplied, photometric="rgb", extrasamples=["assocalpha"]
    )
    img = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(np.rint(img.alpha * 65535), samples[..., 3])
    # straight colour is recovered to within the precision premultiplication left
    bound = 65535 / samples[..., 3:] + 1
    assert np.all(np.abs(img.pixels * 65535 - samples[..., :3]) <= bound)


# ----------------------------------------------------------------------------- reduced preview


def block_means(pixels: np.ndarray, k: int) -> np.ndarray:
    h, w, c = pixels.shape
    return pixels[: h // k * k, : w // k * k].reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))


def smooth_jpeg(path: Path, height: int, width: int, mode: str = "RGB", **save: object) -> Path:
    pixels = (smooth_rgb(height, width) * 255 + 0.5).astype(np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    image.save(path, quality=95, **save)
    return path


@pytest.mark.parametrize(("fit", "scale"), [((100, 75), 8), ((200, 150), 4), ((400, 300), 2)])
def test_preview_is_the_smallest_reduction_that_covers_the_fitted_size(
    tmp_path: Path, fit: tuple[int, int], scale: int
) -> None:
    path = smooth_jpeg(tmp_path / "p.jpg", 600, 800)
    preview = imageio.read_preview(path, fit)
    assert preview is not None and preview.scale == scale and preview.size == (800, 600)
    assert preview.pixels.dtype == np.uint8
    assert preview.pixels.shape == (600 // scale, 800 // scale, 3)
    # each preview pixel is (close to) the mean of its block of the full decode
    means = block_means(read_image(path).pixels, scale) * 255
    assert np.abs(preview.pixels.astype(np.float32) - means).mean() < 2.0


def test_no_preview_without_a_reduction_or_for_other_formats(tmp_path: Path) -> None:
    jpeg = smooth_jpeg(tmp_path / "p.jpg", 60, 80)
    assert imageio.read_preview(jpeg, (80, 60)) is None  # shown at 100 %: nothing to gain
    assert imageio.read_preview(jpeg, (0, 0)) is None
    png = tmp_path / "p.png"
    Image.open(jpeg).save(png)
    assert imageio.read_preview(png, (10, 8)) is None


def test_preview_is_upright_and_grey_stays_grey(tmp_path: Path) -> None:
    path = smooth_jpeg(tmp_path / "o6.jpg", 240, 320, exif=exif_bytes(6))
    full = read_image(path)
    preview = imageio.read_preview(path, (60, 80))  # portrait once turned
    assert preview is not None and preview.size == (240, 320) and preview.scale == 4
    assert preview.pixels.shape == (80, 60, 3)
    means = block_means(full.pixels, 4) * 255
    assert np.abs(preview.pixels.astype(np.float32) - means).mean() < 2.0

    grey = imageio.read_preview(smooth_jpeg(tmp_path / "g.jpg", 64, 64, "L"), (16, 16))
    assert grey is not None and grey.pixels.shape == (16, 16, 1)


def test_preview_of_a_damaged_jpeg_says_so(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(smooth_jpeg(tmp_path / "p.jpg", 64, 64).read_bytes()[:300])
    with pytest.raises(ImageReadError) as info:
        imageio.read_preview(path, (8, 8))
    assert_one_sentence_naming(str(info.value), path)
