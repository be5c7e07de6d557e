"""What averaging a model over the eight flips and quarter turns of the input would gain.

The "+" results of restoration papers run the network on the eight dihedral versions of the
picture and average the outputs, turned back. This measures, under the test-set protocol,
the PSNR with 1, 2, 4 and 8 of them and the time it costs, to decide whether the app should
offer it:

    python benchmarks/self_ensemble.py --model resources/models/ae-gray.onnx \
        --data ../shared/datasets/test/BSD68 --sigmas 25 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages come first
    sys.path.insert(0, str(ROOT))

from denoiser.engine import Engine  # noqa: E402
from denoiser.metrics import psnr  # noqa: E402
from denoiser.models import load_model_info  # noqa: E402
from denoiser.noise import add_gaussian_noise  # noqa: E402
from training.evaluate import load_clean  # noqa: E402

# which of the eight versions each count averages: identity first, then the mirror images
SUBSETS = {1: (0,), 2: (0, 4), 4: (0, 2, 4, 6), 8: tuple(range(8))}


def turned(x: np.ndarray, k: int) -> np.ndarray:
    """Version ``k`` (0..7) of an H x W x C picture: k % 4 quarter turns, mirrored if k >= 4."""
    x = np.rot90(x, k % 4)
    return np.ascontiguousarray(x[:, ::-1] if k >= 4 else x)


def turned_back(y: np.ndarray, k: int) -> np.ndarray:
    """The inverse of :func:`turned`."""
    y = y[:, ::-1] if k >= 4 else y
    return np.ascontiguousarray(np.rot90(y, -(k % 4)))


def measure(engine: Engine, cleans: list[np.ndarray], sigma: float) -> dict:
    """Mean PSNR for each count of averaged versions, and seconds per megapixel per version."""
    psnrs: dict[int, list[float]] = {n: [] for n in SUBSETS}
    seconds, mp = 0.0, 0.0
    for i, clean in enumerate(cleans):
        noisy = add_gaussian_noise(clean, sigma, seed=i)
        t = time.perf_counter()
        outs = [turned_back(engine.denoise(turned(noisy, k), sigma, tile=1024), k)
                for k in range(8)]
        seconds += time.perf_counter() - t
        mp += 8 * clean.shape[0] * clean.shape[1] / 1e6
        for n, ks in SUBSETS.items():
            psnrs[n].append(psnr(clean, np.mean([outs[k] for k in ks], axis=0)))
    return {"psnr": {str(n): float(np.mean(v)) for n, v in psnrs.items()},
            "sec_per_mp_per_version": seconds / mp, "images": len(cleans)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True, help="ONNX file")
    p.add_argument("--data", type=Path, required=True, help="folder of clean test images")
    p.add_argument("--sigmas", type=float, nargs="+", default=[25.0])
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    engine = Engine(load_model_info(args.model), device="cpu", threads=args.threads)
    cleans = load_clean(args.data, engine.model.channels, args.limit)
    used = argv if argv is not None else sys.argv[1:]
    results = {"model": args.model.name, "data": args.data.name, "sigmas": {},
               "command": "python benchmarks/self_ensemble.py " + " ".join(used)}
    for sigma in args.sigmas:
        r = measure(engine, cleans, sigma)
        results["sigmas"][f"{sigma:g}"] = r
        cells = "  ".join(f"x{n} {v:.3f}" for n, v in r["psnr"].items())
        print(f"{args.model.name} {args.data.name} sigma {sigma:g}: {cells} dB "
              f"({r['images']} images, {r['sec_per_mp_per_version']:.2f} s/MP per version)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
