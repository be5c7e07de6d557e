"""Accuracy and speed of denoiser.noise.estimate_sigma on a folder of clean images.

Noise follows the evaluation protocol: image i (in sorted file-name order) gets
``add_gaussian_noise(clean, sigma, seed=i)``. For each sigma the table gives the mean estimate,
the mean and maximum absolute error (0-255 scale) and the estimation time per image.
``--noise-type camera`` measures the estimate camera-noise models get (it must still read
white noise right: such models see some white noise too).

Then the time on one large synthetic photo (``--megapixels``, 12 by default; 0 skips it): a
colour ramp with sigma-8 noise, white for the Gaussian estimate and blurred like demosaiced
noise for the camera one. The cost follows the sampled patch count, not the image size; a
machine busy with other work reads slower (the figure is the best of ``--repeat`` runs).

    python benchmarks/noise_estimation.py --data ../shared/datasets/test/BSD68
    python benchmarks/noise_estimation.py --data ../shared/datasets/test/CBSD68 --sigmas 5 50
    python benchmarks/noise_estimation.py --data ../shared/datasets/test/CBSD68 --noise-type camera
    python benchmarks/noise_estimation.py                      # only the 12 MP timing
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
    parser.add_argument("--data", type=Path, help="folder of clean images (the accuracy table)")
    parser.add_argument(
        "--sigmas", type=float, nargs="+", default=[5, 15, 25, 50], help="0-255 scale"
    )
    parser.add_argument(
        "--noise-type", default="gaussian", choices=["gaussian", "camera"],
        help="the estimate for models trained on this noise (model metadata noise_type)",
    )
    parser.add_argument("--megapixels", type=float, default=12.0,
                        help="size of the synthetic photo timed at the end (0 skips it)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per estimate")
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


def accuracy_table(args: argparse.Namespace) -> None:
    """The protocol's noise on ``args.data`` at each sigma: errors and ms per image."""
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



def large_photo(megapixels: float, correlated: bool, sigma: float = 8.0) -> np.ndarray:
    """A 4:3 colour ramp of ``megapixels`` with noise of per-pixel std ``sigma`` (0-255):
    white, or ``correlated`` (white noise blurred by the 3 x 3 binomial kernel, as bilinear
    demosaicing blurs it; the estimate for camera models is made for that)."""
    width = round(np.sqrt(megapixels * 1e6 * 4 / 3))
    height = round(width * 3 / 4)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.1, 0.9, width, dtype=np.float32)[None, :, None]
    if not correlated:
        noise = rng.standard_normal((height, width, 3), dtype=np.float32)
    else:
        white = rng.standard_normal((height + 2, width + 2, 3), dtype=np.float32)
        rows = white[:-2] + 2 * white[1:-1] + white[2:]
        noise = (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) / np.float32(6.0)
    return ramp + noise * np.float32(sigma / 255)


def time_large(megapixels: float, repeat: int) -> None:
    """Seconds per estimate (best of ``repeat``) on a ``megapixels`` photo, both kinds."""
    print(f"\n{megapixels:g} MP synthetic photo, sigma 8; best of {repeat}")
    print(f"{'noise_type':>10} {'noise':>10} {'estimate':>9} {'seconds':>8}")
    for noise_type, correlated in (("gaussian", False), ("camera", True)):
        noisy = large_photo(megapixels, correlated)
        estimate_sigma(noisy[:64, :64], noise_type=noise_type)  # warm-up (lazy set-up)
        times = []
        for _ in range(max(repeat, 1)):
            start = time.perf_counter()
            value = estimate_sigma(noisy, noise_type=noise_type)
            times.append(time.perf_counter() - start)
        kind = "correlated" if correlated else "white"
        print(f"{noise_type:>10} {kind:>10} {value:9.2f} {min(times):8.2f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data is not None:
        accuracy_table(args)
    if args.megapixels > 0:
        time_large(args.megapixels, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
