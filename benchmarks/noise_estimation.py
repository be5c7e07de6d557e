"""Accuracy and speed of denoiser.noise.estimate_sigma on a folder of clean images.

Noise follows the evaluation protocol: image i (in sorted file-name order) gets
``add_gaussian_noise(clean, sigma, seed=i)``. For each sigma the table gives the mean estimate,
the mean and maximum absolute error (0-255 scale) and the estimation time per image.
``--noise-type camera`` measures the estimate camera-noise models get (it must still read
white noise right: such models see some white noise too).

    python benchmarks/noise_estimation.py --data ../shared/datasets/test/BSD68
    python benchmarks/noise_estimation.py --data ../shared/datasets/test/CBSD68 --sigmas 5 50
    python benchmarks/noise_estimation.py --data ../shared/datasets/test/CBSD68 --noise-type camera
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from denoiser.imageio import is_supported, read_image
from denoiser.noise import add_gaussian_noise, estimate_sigma


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean images")
    parser.add_argument(
        "--sigmas", type=float, nargs="+", default=[5, 15, 25, 50], help="0-255 scale"
    )
    parser.add_argument(
        "--noise-type", default="gaussian", choices=["gaussian", "camera"],
        help="the estimate for models trained on this noise (model metadata noise_type)",
    )
    return parser.parse_args(argv)


def load_clean(folder: Path) -> list[np.ndarray]:
    """Clean images in sorted name order (the order that fixes each image's noise seed)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_supported(p))
    if not files:
        raise SystemExit(f"No supported images in {folder}")
    return [read_image(p).pixels for p in files]


def measure(
    images: list[np.ndarray], sigma: float, noise_type: str = "gaussian"
) -> tuple[np.ndarray, float]:
    """Estimates for every image at one noise level, and milliseconds per estimate."""
    estimates = np.empty(len(images))
    elapsed = 0.0
    for index, clean in enumerate(images):
        noisy = add_gaussian_noise(clean, sigma, seed=index)
        start = time.perf_counter()
        estimates[index] = estimate_sigma(noisy, noise_type=noise_type)
        elapsed += time.perf_counter() - start
    return estimates, 1000.0 * elapsed / len(images)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = load_clean(args.data)
    pixels = sum(img.shape[0] * img.shape[1] for img in images) / len(images)
    print(
        f"{args.data}: {len(images)} images, {images[0].shape[2]} channel(s), "
        f"{pixels / 1e6:.2f} MP on average; noise_type {args.noise_type}"
    )
    print(f"{'sigma':>6} {'mean est':>9} {'mean |err|':>11} {'max |err|':>10} {'ms/image':>9}")
    for sigma in args.sigmas:
        estimates, ms = measure(images, sigma, args.noise_type)
        errors = np.abs(estimates - sigma)
        print(
            f"{sigma:6g} {estimates.mean():9.2f} {errors.mean():11.2f} {errors.max():10.2f} "
            f"{ms:9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
