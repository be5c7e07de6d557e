"""Accuracy and speed of denoiser.noise_curve.estimate_noise_curve on synthetic scenes.

Part 1: white Poisson-Gaussian noise on synthetic colour scenes (ramps, waves, blotches,
stripes; no dataset), for a few (a, b), made two ways: in the image values themselves,
``y + N(0, a y + b)`` (fitted with ``linear_light=False``), and as a sensor makes it, in
linear light ``x + N(0, a x + b)`` with the sRGB curve re-applied (the default fit). Both
clipped to 0..1. Per setting: the fitted a and b (mean over channels and scenes), the mean
and worst relative error of the fitted std over image values 0.2 .. 0.9 (the linear-light
truth is the first-order std slope(x) sqrt(a x + b)), and milliseconds per estimate.

Part 2 (needs torch): camera-like noise from ``training.noise_synth`` (white balance and
CCM, with and without the Bayer mosaic, no JPEG), estimated with the default fit; the table
gives the median ratio of the estimated sigma map to the one the synthesis states. The
demosaiced noise is spatially correlated, with little power at high frequencies, and a
patch-PCA estimate reads the smallest-eigenvalue direction: it sees far less than the
per-pixel std. benchmarks/camera_noise_estimation.py measures the estimate made for that
noise (``estimate_sigma(..., noise_type="camera")``).

Part 3: the time on one large photo (``--megapixels``, 12 by default; 0 skips it), a colour
ramp with Poisson-Gaussian noise: the fit (``linear_light=False``), and a sigma map of the
whole photo from a curve fitted on its corner. The cost of the fit follows the sampled patch
count, not the image size; a busy machine reads slower (best of ``--repeat`` runs).

    python benchmarks/noise_curve.py
    python benchmarks/noise_curve.py --scenes 5 --size 720 960
    python benchmarks/noise_curve.py --scenes 0 --no-camera    # only the 12 MP timing
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from denoiser.noise_curve import NoiseCurve, estimate_noise_curve, srgb_slope, srgb_to_linear

SETTINGS = [(1e-2, 1e-4), (4e-3, 2e-5), (1e-3, 1e-5), (5e-4, 4e-5), (0.0, 4e-4), (4e-3, 0.0)]
LEVELS = np.linspace(0.2, 0.9, 8)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=2, help="synthetic scenes per setting")
    parser.add_argument("--size", type=int, nargs=2, default=[480, 640], metavar=("H", "W"))
    parser.add_argument("--no-camera", action="store_true", help="skip part 2 (torch)")
    parser.add_argument("--megapixels", type=float, default=12.0,
                        help="size of the photo timed in part 3 (0 skips it)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs in part 3")
    return parser.parse_args(argv)


def grey_scene(height: int, width: int, seed: int) -> np.ndarray:
    """Nearly the full 0..1 range: a ramp (direction varies), waves, blotches and stripes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = (x * np.cos(angle) + y * np.sin(angle)) / np.hypot(height, width)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    img = 0.85 * (0.02 + 0.96 * ramp) + 0.07 * np.sin(y / 23.0) * np.cos(x / 31.0)
    blotches = rng.random((height // 16 + 1, width // 16 + 1)).repeat(16, 0).repeat(16, 1)
    img += 0.1 * blotches[:height, :width]
    block = (slice(height // 3, height // 2), slice(width // 4, width // 2))
    img[block] += 0.1 * np.sign(np.sin(x[block] / 2.0))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def colour_scene(height: int, width: int, seed: int) -> np.ndarray:
    return np.dstack([grey_scene(height, width, 3 * seed + k) for k in range(3)])


def std_errors(curve: NoiseCurve, a: float, b: float) -> np.ndarray:
    """Relative errors of the fitted std at LEVELS, all channels (truth in the curve's space)."""
    if curve.linear_light:
        x = srgb_to_linear(LEVELS)
        truth = srgb_slope(x) * np.sqrt(a * x + b)
    else:
        truth = np.sqrt(a * LEVELS + b)
    return np.stack([curve.std(LEVELS, c) / truth - 1.0 for c in range(len(curve.a))])


def add_noise(clean: np.ndarray, a: float, b: float, seed: int, linear: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(clean.shape)
    if not linear:
        return np.clip(clean + np.sqrt(a * clean + b) * noise, 0.0, 1.0).astype(np.float32)
    x = srgb_to_linear(clean)
    x = x + np.sqrt(a * x + b) * noise
    y = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.abs(x) ** (1 / 2.4) - 0.055)
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def white_noise_table(scenes: list[np.ndarray], linear: bool) -> None:
    print(f"\nnoise made in {'linear light' if linear else 'image values'}, "
          f"fit linear_light={linear}")
    print(f"{'a':>8} {'b':>8} | {'a est':>8} {'b est':>8} | "
          f"{'mean err':>8} {'worst err':>9} | {'ms':>5}")
    for a, b in SETTINGS:
        fits, errors, elapsed = [], [], 0.0
        for i, clean in enumerate(scenes):
            noisy = add_noise(clean, a, b, 100 + i, linear)
            start = time.perf_counter()
            curve = estimate_noise_curve(noisy, linear_light=linear)
            elapsed += time.perf_counter() - start
            fits.append((curve.a.mean(), curve.b.mean()))
            errors.append(np.abs(std_errors(curve, a, b)))
        err = np.stack(errors)
        a_est, b_est = np.mean(fits, axis=0)
        print(f"{a:8.1e} {b:8.1e} | {a_est:8.2e} {b_est:8.2e} | "
              f"{100 * err.mean():7.1f}% {100 * err.max():8.1f}% | "
              f"{1000 * elapsed / len(scenes):5.0f}")


def camera_noise_table(scenes: list[np.ndarray]) -> None:
    import torch

    from training.noise_synth import NoiseParams, synthesize

    print(f"\n{'a':>8} {'b':>8} {'mosaic':>6} | {'median est/stated':>17}")
    for a, b in SETTINGS[:3]:
        for mosaic in (0.0, 1.0):
            params = NoiseParams(a_range=(a, a), b_range=(b + 1e-12, b + 1e-12),
                                 colour_prob=1.0, mosaic_prob=mosaic, jpeg_prob=0.0)
            ratios = []
            for i, clean in enumerate(scenes):
                gen = torch.Generator().manual_seed(i)
                batch = torch.from_numpy(clean).permute(2, 0, 1)[None]
                noisy, stated = synthesize(batch, gen, params)
                noisy_np = noisy[0].permute(1, 2, 0).numpy()
                estimated = estimate_noise_curve(noisy_np).sigma_map(noisy_np)
                inner = (slice(8, -8), slice(8, -8))
                ratios.append(np.median(estimated[inner] / (255 * stated[0, 0].numpy()[inner])))
            print(f"{a:8.1e} {b:8.1e} {mosaic:6.0f} | {np.mean(ratios):17.2f}")


def best_time(run: Callable[[], object], repeat: int) -> tuple[object, float]:
    """The last result of ``run`` and its fastest time in seconds over ``repeat`` runs."""
    result, times = None, []
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return result, min(times)


def large_photo_times(megapixels: float, repeat: int, a: float = 2e-3, b: float = 1e-5) -> None:
    """Seconds for the fit and for a whole-photo sigma map on a ``megapixels`` photo."""
    width = round(np.sqrt(megapixels * 1e6 * 4 / 3))
    height = round(width * 3 / 4)
    ramp = np.linspace(0.05, 0.95, width, dtype=np.float32)[None, :, None]
    noise = np.random.default_rng(0).standard_normal((height, width, 3), dtype=np.float32)
    noisy = ramp + noise * np.sqrt(np.float32(a) * ramp + np.float32(b))
    estimate_noise_curve(noisy[:64, :64])  # warm-up (lazy set-up)
    curve, fit_s = best_time(lambda: estimate_noise_curve(noisy, linear_light=False), repeat)
    worst = float(np.abs(std_errors(curve, a, b)).max())
    corner = estimate_noise_curve(noisy[:512, :512])
    _, map_s = best_time(lambda: corner.sigma_map(noisy), repeat)
    print(f"\n{width} x {height} ({megapixels:g} MP) ramp, a {a:.0e}, b {b:.0e}; "
          f"best of {repeat}")
    print(f"fit (linear_light=False) {fit_s:6.2f} s, worst std error {100 * worst:.1f}%")
    print(f"sigma map of the photo   {map_s:6.2f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    height, width = args.size
    scenes = [colour_scene(height, width, s) for s in range(args.scenes)]
    if scenes:
        estimate_noise_curve(scenes[0][:64, :64])  # warm-up
        print(f"{args.scenes} synthetic colour scenes of {width} x {height}; "
              f"std errors over image values {LEVELS[0]:.1f}..{LEVELS[-1]:.1f}, all channels")
        white_noise_table(scenes, linear=False)
        white_noise_table(scenes, linear=True)
        if not args.no_camera:
            camera_noise_table(scenes)
    if args.megapixels > 0:
        large_photo_times(args.megapixels, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
