"""Auto strength on camera-like noise: the estimate against the sigma map the synthesis states.

Part 1: clean images (every ``--stride``-th of a folder, ``--images`` of them) get camera noise
from ``training.noise_synth.synthesize`` (white balance and CCM always; with and without the
Bayer mosaic and bilinear demosaic; with and without JPEG at quality 75-90) at three fixed
shot/read-noise strengths. The sigma map it returns is the per-pixel std a camera-noise model
is trained to receive. Per setting and estimator (``gaussian``: the white-noise estimate the
protocol models get; ``camera``: ``estimate_sigma(..., noise_type="camera")``) the table gives
the mean of the true map, the bias and mean absolute error of the estimate against that mean,
and the mean absolute per-pixel error of the constant map the estimate makes (the map varies
with brightness, a constant cannot follow it), all on the 0-255 scale. ``--curve`` adds the
per-pixel error of ``estimate_noise_curve(...).sigma_map``, the signal-dependent alternative.

Part 2: each real noisy photo of ``--real`` (no clean reference) with both estimates and a
rough, independent cross-check: the median std of the flattest 5 % of 16 x 16 blocks after a
plane fit (what a person would read off a flat patch; any texture left makes it read high).

    python benchmarks/camera_noise_estimation.py
    python benchmarks/camera_noise_estimation.py --images 5 --curve
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from denoiser.imageio import is_supported, read_image
from denoiser.noise import estimate_sigma
from denoiser.noise_curve import estimate_noise_curve

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
STRENGTHS = {"low": (5e-4, 5e-6), "mid": (3e-3, 3e-5), "high": (1.2e-2, 2e-4)}  # (a, b)
ESTIMATORS = ("gaussian", "camera")
BLOCK = 16
BORDER = 8  # map comparisons skip the edge, where the demosaic pads by reflection


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA / "test" / "CBSD68")
    parser.add_argument("--real", type=Path, default=DATA / "real" / "RNI6")
    parser.add_argument("--images", type=int, default=10, help="clean images used")
    parser.add_argument("--stride", type=int, default=7, help="take every n-th image")
    parser.add_argument("--curve", action="store_true", help="also the noise-curve map")
    return parser.parse_args(argv)


def image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_supported(p))
    if not files:
        raise SystemExit(f"No supported images in {folder}")
    return files


def settings() -> list[tuple[str, float, float, bool, bool]]:
    """(name, a, b, mosaic, jpeg) for every strength and processing combination."""
    return [
        (f"{name} {'mosaic' if mosaic else 'rgb'} {'jpeg' if jpeg else 'raw'}", a, b, mosaic, jpeg)
        for name, (a, b) in STRENGTHS.items()
        for mosaic in (False, True)
        for jpeg in (False, True)
    ]


def synthesize(clean: np.ndarray, a: float, b: float, mosaic: bool, jpeg: bool,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy H x W x 3 in 0..1, true sigma map H x W on the 0-255 scale) for fixed params."""
    import torch

    from training.noise_synth import NoiseParams
    from training.noise_synth import synthesize as synth

    params = NoiseParams(a_range=(a, a), b_range=(b, b), colour_prob=1.0,
                         mosaic_prob=float(mosaic), jpeg_prob=float(jpeg), jpeg_quality=(75, 90))
    batch = torch.from_numpy(np.ascontiguousarray(clean)).permute(2, 0, 1)[None]
    noisy, sigma = synth(batch, torch.Generator().manual_seed(seed), params)
    return noisy[0].permute(1, 2, 0).numpy(), 255.0 * sigma[0, 0].numpy()


def inner(a: np.ndarray) -> np.ndarray:
    return a[BORDER:-BORDER, BORDER:-BORDER]


def score(noisy: np.ndarray, truth: np.ndarray, curve: bool) -> dict[str, float]:
    """Errors of each estimator on one image: scalar vs the map's mean, constant map per pixel."""
    row: dict[str, float] = {}
    for kind in ESTIMATORS:
        value = estimate_sigma(noisy, noise_type=kind)
        row[f"{kind} err"] = value - float(inner(truth).mean())
        row[f"{kind} map"] = float(np.abs(value - inner(truth)).mean())
    if curve:
        estimated = estimate_noise_curve(noisy).sigma_map(noisy)
        row["curve map"] = float(np.abs(inner(estimated) - inner(truth)).mean())
    return row


def synthetic_table(cleans: list[np.ndarray], curve: bool) -> None:
    columns = [f"{k} {m}" for k in ESTIMATORS for m in ("bias", "|err|", "map")]
    columns += ["curve map"] if curve else []
    print(f"\n{'setting':18} {'true':>6} " + " ".join(f"{c:>14}" for c in columns))
    for name, a, b, mosaic, jpeg in settings():
        rows, truths = [], []
        for index, clean in enumerate(cleans):
            noisy, truth = synthesize(clean, a, b, mosaic, jpeg, seed=1000 + index)
            truths.append(float(inner(truth).mean()))
            rows.append(score(noisy, truth, curve))
        cells = []
        for kind in ESTIMATORS:
            errors = np.array([r[f"{kind} err"] for r in rows])
            maps = np.array([r[f"{kind} map"] for r in rows])
            cells += [errors.mean(), np.abs(errors).mean(), maps.mean()]
        cells += [np.mean([r["curve map"] for r in rows])] if curve else []
        print(f"{name:18} {np.mean(truths):6.2f} " + " ".join(f"{c:14.2f}" for c in cells),
              flush=True)


def flat_block_std(pixels: np.ndarray) -> float:
    """Median residual std (0-255) of the flattest 5 % of 16 x 16 blocks after a plane fit.

    Blocks are ranked by the std of their 2 x 2-binned residual (texture shows there, noise
    is halved), so the ranking does not simply pick the blocks whose noise happened to be
    low. Channels combine as the root mean square, as ``estimate_sigma`` does.
    """
    image = pixels if pixels.ndim == 3 else pixels[..., None]
    residual = np.stack([_block_residuals(image[..., c]) for c in range(image.shape[2])])
    binned = residual.reshape(*residual.shape[:2], BLOCK // 2, 2, BLOCK // 2, 2)
    texture = binned.mean(axis=(3, 5)).reshape(*residual.shape[:2], -1).std(axis=2).mean(axis=0)
    flattest = np.argsort(texture)[: max(1, len(texture) // 20)]
    stds = residual[:, flattest].reshape(residual.shape[0], len(flattest), -1).std(axis=2)
    return float(np.median(np.sqrt((stds**2).mean(axis=0))) * 255.0)


def _block_residuals(channel: np.ndarray) -> np.ndarray:
    """(blocks, 16, 16) of one channel minus each block's least-squares plane."""
    h, w = (s - s % BLOCK for s in channel.shape)
    blocks = channel[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2)
    blocks = blocks.reshape(-1, BLOCK * BLOCK).astype(np.float64)
    y, x = np.mgrid[0:BLOCK, 0:BLOCK].reshape(2, -1)
    design = np.stack([np.ones(BLOCK * BLOCK), x, y], axis=1)
    fitted = (blocks @ np.linalg.pinv(design).T) @ design.T
    return (blocks - fitted).reshape(-1, BLOCK, BLOCK)


def real_table(folder: Path) -> None:
    print(f"\n{folder}: no clean reference; flat-block std is a rough cross-check (grey)")
    print(f"{'image':24} {'size':>10} {'gaussian':>9} {'camera':>7} {'flat-block':>10} {'ms':>6}")
    for path in image_files(folder):
        pixels = read_image(path).pixels
        white = estimate_sigma(pixels)
        start = time.perf_counter()
        camera = estimate_sigma(pixels, noise_type="camera")
        ms = 1000.0 * (time.perf_counter() - start)
        size = f"{pixels.shape[1]}x{pixels.shape[0]}"
        print(f"{path.name:24} {size:>10} {white:9.2f} {camera:7.2f} "
              f"{flat_block_std(pixels):10.2f} {ms:6.0f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = image_files(args.data)[:: args.stride][: args.images]
    cleans = [read_image(p).pixels for p in files]
    if any(c.ndim != 3 or c.shape[2] != 3 for c in cleans):
        raise SystemExit("camera noise needs colour images")
    print(f"{args.data}: {len(cleans)} images (every {args.stride}th); 0-255 scale; "
          "bias and |err| of the estimate against the true map's mean, map = mean per-pixel "
          "|error| of the map")
    synthetic_table(cleans, args.curve)
    if args.real.is_dir():
        real_table(args.real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
