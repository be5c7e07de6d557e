"""Error by colour component: whether a colour denoiser loses on brightness or on colour.

A mean PSNR does not say whether a method's error is in the luminance or in the colour, nor
whether it is coarse or fine. The error of the 8-bit output (protocol clipping and rounding)
is turned into an orthonormal opponent basis, luminance (R+G+B)/sqrt 3 and the two colour
differences (R-B)/sqrt 2 and (R-2G+B)/sqrt 6, and each component is split into its coarse
part (the mean of each 2x2 block) and its fine part (the rest). Both steps are orthogonal,
so the four parts add up to the error of the whole: luminance coarse and fine, colour
coarse and fine, each as a mean squared error per pixel and channel on the 0..255 scale.

What share of the clean image's detail a method keeps tells over-smoothing from leftover
noise: the projection of each part of the output onto the same part of the clean image,
over that part's energy (1: kept in full, 0: erased).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from denoiser.metrics import to_8bit

PARTS = ("luma coarse", "luma fine", "colour coarse", "colour fine")
_OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float64) / np.sqrt(
    [[3.0], [2.0], [6.0]])


def _split(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coarse, fine) of one H x W plane, the ragged last row and column dropped."""
    h, w = c.shape[0] // 2 * 2, c.shape[1] // 2 * 2
    c = c[:h, :w]
    coarse = c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).repeat(2, 0).repeat(2, 1)
    return coarse, c - coarse


def _parts(img: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(index into PARTS, plane) of the six coarse and fine opponent planes of H x W x 3."""
    planes = np.einsum("kc,hwc->khw", _OPPONENT, img.astype(np.float64))
    out = []
    for k, plane in enumerate(planes):
        coarse, fine = _split(plane)
        out += [(0 if k == 0 else 2, coarse), (1 if k == 0 else 3, fine)]
    return out


def colour_error(clean: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, int]:
    """(summed squared error of each of PARTS, number of values) for one H x W x 3 image."""
    err = to_8bit(out).astype(np.float64) - to_8bit(clean).astype(np.float64)
    sums = np.zeros(len(PARTS))
    for i, plane in _parts(err):
        sums[i] += np.square(plane).sum()
    h, w = err.shape[0] // 2 * 2, err.shape[1] // 2 * 2
    return sums, h * w * 3


def detail_kept(clean: np.ndarray, out: np.ndarray) -> np.ndarray:
    """2 x len(PARTS): the output's projection onto the clean image, and the clean image's
    energy, summed over each part's planes (8-bit values, as the error)."""
    sums = np.zeros((2, len(PARTS)))
    pairs = zip(_parts(to_8bit(clean)), _parts(to_8bit(out)))
    for (i, c), (_, o) in pairs:
        sums[:, i] += (o * c).sum(), (c * c).sum()
    return sums


def kept_by_colour(stats: Sequence[np.ndarray]) -> dict:
    """Share of the clean images' detail each part of the outputs keeps, over all images."""
    total = sum(stats)
    kept = total[0] / np.maximum(total[1], 1e-12)
    return {"parts": list(PARTS), "kept": [round(float(v), 4) for v in kept]}


def mse_by_colour(stats: Sequence[tuple[np.ndarray, int]]) -> dict:
    """Each part's mean squared error per value over all images; the parts sum to the MSE."""
    total = sum(s for s, _ in stats)
    values = sum(n for _, n in stats)
    return {"parts": list(PARTS), "mse": [round(float(v), 4) for v in total / values]}


def fine_colour_share(img: np.ndarray) -> float:
    """Energy of the fine part of the colour over that of the luminance, for a clean H x W x 3
    image in 0..1: about 0.01 for pictures whose colour a 4:2:0 JPEG stored at half size."""
    planes = np.einsum("kc,hwc->khw", _OPPONENT, np.asarray(img, np.float64))
    fine = [np.square(_split(p)[1]).mean() for p in planes]
    return float((fine[1] + fine[2]) / max(fine[0], 1e-12))


def main(argv: list[str] | None = None) -> int:
    import argparse

    from training.data import list_images, load_image

    p = argparse.ArgumentParser(description="Median fine colour share of folders of images.")
    p.add_argument("folders", type=Path, nargs="+")
    args = p.parse_args(argv)
    for folder in args.folders:
        shares = [fine_colour_share(load_image(f, 3) / 255.0) for f in list_images(folder)]
        print(f"{folder}: median fine colour share {np.median(shares):.3f} "
              f"({len(shares)} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
